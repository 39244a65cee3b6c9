/**
 * Kubernetes `networking.k8s.io/v1` NetworkPolicy (and Calico's StagedKubernetesNetworkPolicy,
 * whose spec is the same plus `stagedAction`), following apiserver validation: label selectors,
 * peers, ipBlock CIDRs and exceptions, ports and endPort.
 */
import { checkLabels } from './metadata.js';
import { checkLabelValue, checkPortName, checkQualifiedName } from './names.js';
import { cidrContainsCidr, makeCidr, parseWrittenCidr } from '../net/cidr.js';
import type { FieldPath } from './path.js';
import type { Reporter } from './report.js';
import { field, isObject, isSet, isZero, list, num, obj, show, str, type JsonObject } from './values.js';

/** A `metav1.LabelSelector`: label keys and values, operators and their values. */
export function checkLabelSelector(r: Reporter, selector: unknown, path: FieldPath): void {
  if (!isObject(selector)) return;
  checkLabels(r, [...path, 'matchLabels'], field(selector, 'matchLabels'));
  list(selector, 'matchExpressions').forEach((e, i) => {
    if (!isObject(e)) return;
    const at = [...path, 'matchExpressions', i];
    const key = str(e, 'key');
    if (key !== undefined) for (const problem of checkQualifiedName(key)) r.error('invalid-label', [...at, 'key'], `invalid label key ${show(key)}: ${problem}`);
    const op = str(e, 'operator');
    const values = list(e, 'values');
    if ((op === 'In' || op === 'NotIn') && values.length === 0) {
      r.error('invalid-selector', [...at, 'values'], `values must be non-empty when operator is ${op}`);
    }
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) {
      r.error('invalid-selector', [...at, 'values'], `values must be empty when operator is ${op}`);
    }
    values.forEach((v, j) => {
      if (typeof v === 'string') for (const problem of checkLabelValue(v)) r.error('invalid-label', [...at, 'values', j], `invalid label value ${show(v)}: ${problem}`);
    });
  });
}

function checkPeer(r: Reporter, peer: unknown, path: FieldPath): void {
  if (!isObject(peer)) return;
  const hasPod = isSet(field(peer, 'podSelector'));
  const hasNs = isSet(field(peer, 'namespaceSelector'));
  const ipBlock = field(peer, 'ipBlock');
  checkLabelSelector(r, field(peer, 'podSelector'), [...path, 'podSelector']);
  checkLabelSelector(r, field(peer, 'namespaceSelector'), [...path, 'namespaceSelector']);
  if (!hasPod && !hasNs && !isSet(ipBlock)) r.error('invalid-peer', path, 'must specify a peer (podSelector, namespaceSelector or ipBlock)');
  if (isSet(ipBlock) && (hasPod || hasNs)) r.error('invalid-peer', [...path, 'ipBlock'], 'may not specify both ipBlock and another peer');
  if (!isObject(ipBlock)) return;
  const cidrText = str(ipBlock, 'cidr');
  if (cidrText === undefined) return;
  const cidr = parseWrittenCidr(cidrText, false);
  if (!cidr) {
    r.error('invalid-cidr', [...path, 'ipBlock', 'cidr'], `invalid CIDR ${show(cidrText)}: must be a valid CIDR value (e.g. 10.9.8.0/24 or 2001:db8::/64)`);
    return;
  }
  list(ipBlock, 'except').forEach((x, i) => {
    if (typeof x !== 'string') return;
    const at = [...path, 'ipBlock', 'except', i];
    const ex = parseWrittenCidr(x, false);
    if (!ex) r.error('invalid-cidr', at, `invalid CIDR ${show(x)}: must be a valid CIDR value (e.g. 10.9.8.0/24 or 2001:db8::/64)`);
    else if (!cidrContainsCidr(makeCidr(cidr.addr, cidr.prefix), makeCidr(ex.addr, ex.prefix)) || ex.prefix <= cidr.prefix) r.error('invalid-cidr', at, `${show(x)} must be a strict subset of cidr ${show(cidrText)}`);
  });
}

function checkPort(r: Reporter, port: unknown, path: FieldPath): void {
  if (!isObject(port)) return;
  const p = field(port, 'port');
  if (typeof p === 'number' && Number.isInteger(p) && (p < 1 || p > 65535)) {
    r.error('invalid-port', [...path, 'port'], `port must be between 1 and 65535, inclusive (not ${p})`);
  }
  if (typeof p === 'string') for (const problem of checkPortName(p)) r.error('invalid-port', [...path, 'port'], `invalid named port ${show(p)}: ${problem.replace(/^port name /, '')}`);
  const endPort = num(port, 'endPort');
  if (endPort === undefined) return;
  const at = [...path, 'endPort'];
  if (!isSet(p)) r.error('invalid-port', at, 'endPort may not be specified when port is not specified');
  else if (typeof p === 'string') r.error('invalid-port', at, 'endPort may not be specified when port is a named port');
  else if (typeof p === 'number' && endPort < p) r.error('invalid-port', at, `endPort must be greater than or equal to port (${endPort} < ${p})`);
  if (Number.isInteger(endPort) && (endPort < 1 || endPort > 65535)) r.error('invalid-port', at, `endPort must be between 1 and 65535, inclusive (not ${endPort})`);
}

function checkSpec(r: Reporter, spec: JsonObject): void {
  checkLabelSelector(r, field(spec, 'podSelector'), ['spec', 'podSelector']);
  const types = list(spec, 'policyTypes');
  if (types.length > 2) r.error('invalid-types', ['spec', 'policyTypes'], 'may not specify more than two policyTypes');
  for (const [direction, peers] of [['ingress', 'from'], ['egress', 'to']] as const) {
    list(spec, direction).forEach((rule, i) => {
      const at = ['spec', direction, i];
      list(rule, peers).forEach((peer, j) => checkPeer(r, peer, [...at, peers, j]));
      list(rule, 'ports').forEach((port, j) => checkPort(r, port, [...at, 'ports', j]));
    });
  }
}

export function checkK8sNetworkPolicy(r: Reporter, resource: JsonObject): void {
  const spec = obj(resource, 'spec');
  if (spec) checkSpec(r, spec);
}

export function checkStagedKubernetesNetworkPolicy(r: Reporter, resource: JsonObject): void {
  const spec = obj(resource, 'spec');
  if (!spec) return;
  if (str(spec, 'stagedAction') === 'Delete') {
    const extra = Object.keys(spec).find((k) => k !== 'stagedAction' && !isZero(spec[k]));
    if (extra !== undefined) r.error('invalid-staged-policy', ['spec', extra], 'Spec fields should all be zero-value if stagedAction is Delete', 'key');
    return;
  }
  checkSpec(r, spec);
}
