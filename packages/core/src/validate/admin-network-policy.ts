/**
 * Cluster-scoped Kubernetes policy: AdminNetworkPolicy and BaselineAdminNetworkPolicy
 * (`policy.networking.k8s.io/v1alpha1`) and ClusterNetworkPolicy (`v1alpha2`). The CRDs'
 * OpenAPI and CEL rules: priority range, exactly-one-of subject, peer and port fields, CIDRs,
 * port ranges, named ports with network peers, BANP's fixed name, CNP tiers and actions.
 */
import { checkLabelSelector } from './k8s-network-policy.js';
import { parseWrittenCidr } from '../net/cidr.js';
import type { FieldPath } from './path.js';
import type { Reporter } from './report.js';
import { field, isObject, isSet, list, num, obj, show, str, type JsonObject } from './values.js';

export type AdminFlavour = 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy' | 'ClusterNetworkPolicy';

const DOMAIN_NAME = /^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$/;

function setFields(o: JsonObject, keys: readonly string[]): string[] {
  return keys.filter((k) => isSet(field(o, k)));
}

function exactlyOne(r: Reporter, o: JsonObject, keys: readonly string[], path: FieldPath, what: string): void {
  const set = setFields(o, keys);
  if (set.length !== 1) {
    const detail = set.length === 0 ? 'none is set' : `${set.join(' and ')} are set`;
    r.error('invalid-value', path, `${what} must set exactly one of ${keys.join(', ')} (${detail})`);
  }
}

function checkPodsPeer(r: Reporter, pods: unknown, path: FieldPath): void {
  checkLabelSelector(r, field(pods, 'namespaceSelector'), [...path, 'namespaceSelector']);
  checkLabelSelector(r, field(pods, 'podSelector'), [...path, 'podSelector']);
}

function checkPortRange(r: Reporter, start: number | undefined, end: number | undefined, path: FieldPath): void {
  for (const [k, v] of [['start', start], ['end', end]] as const) {
    if (v !== undefined && Number.isInteger(v) && (v < 1 || v > 65535)) r.error('invalid-port', [...path, k], `${k} must be between 1 and 65535 (not ${v})`);
  }
  if (start !== undefined && end !== undefined && start >= end) r.error('invalid-port', path, 'Start port must be less than End port');
}

/** v1alpha1-style `ports` (also accepted on ClusterNetworkPolicy). Returns whether a namedPort is used. */
function checkAnpPorts(r: Reporter, rule: JsonObject, path: FieldPath): boolean {
  let named = false;
  list(rule, 'ports').forEach((p, i) => {
    if (!isObject(p)) return;
    const at = [...path, 'ports', i];
    exactlyOne(r, p, ['portNumber', 'namedPort', 'portRange'], at, 'a port');
    if (isSet(field(p, 'namedPort'))) named = true;
    const port = num(obj(p, 'portNumber'), 'port');
    if (port !== undefined && Number.isInteger(port) && (port < 1 || port > 65535)) {
      r.error('invalid-port', [...at, 'portNumber', 'port'], `port must be between 1 and 65535 (not ${port})`);
    }
    const range = obj(p, 'portRange');
    if (range) checkPortRange(r, num(range, 'start'), num(range, 'end'), [...at, 'portRange']);
  });
  return named;
}

/** v1alpha2 `protocols`. Returns whether a destinationNamedPort is used. */
function checkCnpProtocols(r: Reporter, rule: JsonObject, path: FieldPath): boolean {
  let named = false;
  list(rule, 'protocols').forEach((p, i) => {
    if (!isObject(p)) return;
    const at = [...path, 'protocols', i];
    exactlyOne(r, p, ['tcp', 'udp', 'sctp', 'destinationNamedPort'], at, 'a protocol');
    if (isSet(field(p, 'destinationNamedPort'))) named = true;
    for (const proto of ['tcp', 'udp', 'sctp'] as const) {
      const dp = obj(obj(p, proto), 'destinationPort');
      if (!dp) continue;
      const dpAt = [...at, proto, 'destinationPort'];
      exactlyOne(r, dp, ['number', 'range'], dpAt, 'a destinationPort');
      const n = num(dp, 'number');
      if (n !== undefined && Number.isInteger(n) && (n < 1 || n > 65535)) r.error('invalid-port', [...dpAt, 'number'], `port must be between 1 and 65535 (not ${n})`);
      const range = obj(dp, 'range');
      if (range) checkPortRange(r, num(range, 'start'), num(range, 'end'), [...dpAt, 'range']);
    }
  });
  return named;
}

function checkRule(r: Reporter, rule: unknown, path: FieldPath, direction: 'ingress' | 'egress', flavour: AdminFlavour, tier: string | undefined): void {
  if (!isObject(rule)) return;
  const action = str(rule, 'action');
  const allow = flavour === 'ClusterNetworkPolicy' ? 'Accept' : 'Allow';
  if (flavour === 'ClusterNetworkPolicy' && action === 'Pass' && tier === 'Baseline') {
    r.error('invalid-action', [...path, 'action'], 'Pass is only valid in the Admin tier (nothing follows the Baseline tier)');
  }
  const peerKey = direction === 'ingress' ? 'from' : 'to';
  const peerFields = direction === 'ingress' ? ['namespaces', 'pods'] : ['namespaces', 'pods', 'nodes', 'networks', 'domainNames'];
  let nonPodPeer = false;
  list(rule, peerKey).forEach((peer, i) => {
    if (!isObject(peer)) return;
    const at = [...path, peerKey, i];
    exactlyOne(r, peer, peerFields, at, 'a peer');
    checkLabelSelector(r, field(peer, 'namespaces'), [...at, 'namespaces']);
    checkPodsPeer(r, field(peer, 'pods'), [...at, 'pods']);
    checkLabelSelector(r, field(peer, 'nodes'), [...at, 'nodes']);
    if (['nodes', 'networks', 'domainNames'].some((k) => isSet(field(peer, k)))) nonPodPeer = true;
    list(peer, 'networks').forEach((n, j) => {
      if (typeof n === 'string' && !parseWrittenCidr(n, false)) r.error('invalid-cidr', [...at, 'networks', j], `Invalid CIDR format provided: ${show(n)}`);
    });
    const domains = list(peer, 'domainNames');
    if (domains.length > 0 && action !== undefined && action !== allow) {
      r.error('invalid-peer', [...at, 'domainNames'], `domainNames peers are only supported in ${allow} rules`);
    }
    domains.forEach((d, j) => {
      if (typeof d === 'string' && !DOMAIN_NAME.test(d)) r.error('invalid-value', [...at, 'domainNames', j], `invalid domain name ${show(d)}`);
    });
  });
  let named = checkAnpPorts(r, rule, path);
  if (flavour === 'ClusterNetworkPolicy') {
    named = checkCnpProtocols(r, rule, path) || named;
    if (isSet(field(rule, 'ports')) && isSet(field(rule, 'protocols'))) {
      r.error('invalid-value', [...path, 'protocols'], 'use either ports or protocols, not both', 'key');
    }
  }
  if (direction === 'egress' && named && nonPodPeer) {
    r.error(
      'invalid-port',
      path,
      'networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames',
    );
  }
}

export function checkAdminPolicy(r: Reporter, resource: JsonObject, flavour: AdminFlavour): void {
  if (flavour === 'BaselineAdminNetworkPolicy') {
    const name = str(obj(resource, 'metadata'), 'name');
    if (name !== undefined && name !== 'default') {
      r.error('invalid-name', ['metadata', 'name'], 'only one BaselineAdminNetworkPolicy, named "default", may exist in a cluster');
    }
  }
  const spec = obj(resource, 'spec');
  if (!spec) {
    r.error('missing-field', ['spec'], 'spec is required');
    return;
  }
  if (flavour !== 'BaselineAdminNetworkPolicy') {
    const priority = num(spec, 'priority');
    if (priority !== undefined && Number.isInteger(priority) && (priority < 0 || priority > 1000)) {
      r.error('out-of-range', ['spec', 'priority'], `priority must be between 0 and 1000 (not ${priority})`);
    }
  }
  const subject = obj(spec, 'subject');
  if (subject) {
    exactlyOne(r, subject, ['namespaces', 'pods'], ['spec', 'subject'], 'subject');
    checkLabelSelector(r, field(subject, 'namespaces'), ['spec', 'subject', 'namespaces']);
    checkPodsPeer(r, field(subject, 'pods'), ['spec', 'subject', 'pods']);
  }
  const tier = str(spec, 'tier');
  for (const direction of ['ingress', 'egress'] as const) {
    list(spec, direction).forEach((rule, i) => checkRule(r, rule, ['spec', direction, i], direction, flavour, tier));
  }
}
