/**
 * Kubernetes NetworkPolicy (and StagedKubernetesNetworkPolicy) → a model policy in tier
 * `default` at order 1000, following libcalico-go's `K8sNetworkPolicyToCalico`: one Allow rule per
 * (protocol × peer), ports merged per protocol, ipBlock → nets/notNets. One deliberate deviation:
 * `policyTypes` gets the apiserver's defaulting (users feed raw manifests), see docs/conversion.md.
 */
import type { Policy, PolicyType, StagedAction } from '../model/types.js';
import type { K8sNetworkPolicyPeer, K8sNetworkPolicyPort, K8sNetworkPolicySpec, Resource, V3EntityRule, V3Port, V3Rule } from '../model/resources.js';
import { convertV3Rules } from './calico-rules.js';
import { assemblePolicy, namespacedPolicySelectorText } from './calico-policy.js';
import { canonicalCidr } from '../net/cidr.js';
import { labelSelectorToCalico } from './label-selector.js';
import { protocolName, protocolNumber } from './protocol.js';
import { type ConvertOptions, type Converted, Reporter } from './report.js';
import { compareBytewise } from './strings.js';

/** The order every converted Kubernetes NetworkPolicy gets. */
export const K8S_NETWORK_POLICY_ORDER = 1000;

class K8sRuleError extends Error {}

/** numorstring.PortFromString: `80`, `80:90`, or a name. */
function portFromString(text: string): V3Port {
  const range = /^(\d+):(\d+)$/.exec(text);
  if (range) {
    const min = Number(range[1]);
    const max = Number(range[2]);
    if (min < 1 || max > 65535 || min > max) throw new K8sRuleError(`invalid port range "${text}"`);
    return text;
  }
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > 65535) throw new K8sRuleError(`invalid port "${text}"`);
    return n;
  }
  if (/^[a-zA-Z0-9_.-]{1,128}$/.test(text)) return text;
  throw new K8sRuleError(`invalid port "${text}"`);
}

type NumericRange = { min: number; max: number };

function parseRange(p: V3Port): NumericRange | undefined {
  if (typeof p === 'number') return { min: p, max: p };
  const m = /^(\d+):(\d+)$/.exec(p);
  return m ? { min: Number(m[1]), max: Number(m[2]) } : undefined;
}

/** `SimplifyPorts`: named ports first (as given), then numeric ports merged into minimal ranges. */
export function simplifyPorts(ports: readonly V3Port[]): V3Port[] {
  if (ports.length <= 1) return [...ports];
  const named: V3Port[] = [];
  const ranges: NumericRange[] = [];
  for (const p of ports) {
    const r = parseRange(p);
    if (r) ranges.push(r);
    else named.push(p);
  }
  const count = ranges.reduce((n, r) => n + (r.max - r.min + 1), 0);
  if (count <= 1) return [...ports];
  ranges.sort((a, b) => a.min - b.min || a.max - b.max);
  const out: V3Port[] = [...named];
  let cur: NumericRange | undefined;
  for (const r of ranges) {
    if (cur && r.min <= cur.max + 1) cur.max = Math.max(cur.max, r.max);
    else {
      if (cur) out.push(cur.min === cur.max ? cur.min : `${cur.min}:${cur.max}`);
      cur = { ...r };
    }
  }
  if (cur) out.push(cur.min === cur.max ? cur.min : `${cur.min}:${cur.max}`);
  return out;
}

/**
 * Groups a rule's ports by protocol (missing protocol = TCP). Returns `null` for "all traffic"
 * (no ports listed), else protocol name → ports (`null` = all ports of that protocol).
 */
function groupPorts(ports: readonly K8sNetworkPolicyPort[] | undefined): Map<string, V3Port[] | null> | null {
  if (!ports || ports.length === 0) return null;
  const groups = new Map<string, V3Port[] | null>();
  for (const p of ports) {
    const number = protocolNumber(p.protocol ?? 'TCP');
    if (number === undefined) throw new K8sRuleError(`unknown protocol "${p.protocol}"`);
    const proto = protocolName(number);
    let list: V3Port[] | null = null;
    if (p.port !== undefined && p.port !== null) {
      let text = String(p.port);
      if (p.endPort !== undefined && p.endPort !== null) text = `${text}:${p.endPort}`;
      list = [portFromString(text)];
    }
    if (list === null) groups.set(proto, null);
    else {
      const existing = groups.get(proto);
      if (existing === undefined) groups.set(proto, list);
      else if (existing !== null) existing.push(...list);
    }
  }
  return groups;
}

function peerFields(peer: K8sNetworkPolicyPeer | undefined): V3EntityRule {
  if (!peer) return {};
  if (peer.ipBlock) {
    const nets = [canonicalCidr(peer.ipBlock.cidr)];
    const notNets = (peer.ipBlock.except ?? []).map((e) => canonicalCidr(e));
    if (nets[0] === undefined || notNets.some((n) => n === undefined)) {
      throw new K8sRuleError(`invalid ipBlock ${JSON.stringify(peer.ipBlock)}`);
    }
    return notNets.length > 0 ? { nets: nets as string[], notNets: notNets as string[] } : { nets: nets as string[] };
  }
  const out: { selector?: string; namespaceSelector?: string } = {};
  const selector = labelSelectorToCalico(peer.podSelector, 'pod');
  const namespaceSelector = labelSelectorToCalico(peer.namespaceSelector, 'namespace');
  if (selector !== '') out.selector = selector;
  if (namespaceSelector !== '') out.namespaceSelector = namespaceSelector;
  return out;
}

/** `k8sRuleToCalico`: one Kubernetes rule → Calico v3 Allow rules (one per protocol × peer). */
export function k8sRuleToV3Rules(
  peers: readonly K8sNetworkPolicyPeer[] | undefined,
  ports: readonly K8sNetworkPolicyPort[] | undefined,
  ingress: boolean,
): V3Rule[] {
  const groups = groupPorts(ports);
  const protocolList: [string, V3Port[] | null][] =
    groups === null ? [['', null]] : [...groups.entries()].sort((a, b) => compareBytewise(a[0], b[0]));
  const peerList: (K8sNetworkPolicyPeer | undefined)[] = peers && peers.length > 0 ? [...peers] : [undefined];
  const rules: V3Rule[] = [];
  for (const [proto, portList] of protocolList) {
    const simplified = portList === null ? undefined : simplifyPorts(portList);
    for (const peer of peerList) {
      const fields = peerFields(peer);
      const portsPart = simplified && simplified.length > 0 ? { ports: simplified } : {};
      const rule: V3Rule = {
        action: 'Allow',
        ...(proto !== '' ? { protocol: proto } : {}),
        ...(ingress
          ? { source: fields, destination: portsPart }
          : { destination: { ...portsPart, ...fields } }),
      };
      rules.push(rule);
    }
  }
  return rules;
}

/** The apiserver's `policyTypes` defaulting: `[Ingress]`, plus `Egress` iff egress rules exist. */
export function k8sPolicyTypes(spec: K8sNetworkPolicySpec): PolicyType[] {
  const given = spec.policyTypes ?? [];
  if (given.length > 0) {
    const out: PolicyType[] = [];
    if (given.includes('Ingress')) out.push('Ingress');
    if (given.includes('Egress')) out.push('Egress');
    return out;
  }
  return (spec.egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** Converts a Kubernetes NetworkPolicy (networking.k8s.io/v1) or a StagedKubernetesNetworkPolicy. */
export function convertKubernetesNetworkPolicy(
  resource: Resource<string, K8sNetworkPolicySpec & { readonly stagedAction?: StagedAction }>,
  options?: ConvertOptions,
): Converted<Policy> {
  const reporter = new Reporter(resource, options);
  const spec = resource.spec ?? {};
  const namespace = resource.metadata.namespace || 'default';
  const staged = resource.kind === 'StagedKubernetesNetworkPolicy' ? (spec.stagedAction ?? 'Set') : undefined;
  const convertDirection = (direction: 'ingress' | 'egress'): V3Rule[] => {
    const out: V3Rule[] = [];
    const list = direction === 'ingress' ? spec.ingress : spec.egress;
    (list ?? []).forEach((r, i) => {
      const peers = direction === 'ingress' ? (r as { from?: K8sNetworkPolicyPeer[] }).from : (r as { to?: K8sNetworkPolicyPeer[] }).to;
      try {
        out.push(...k8sRuleToV3Rules(peers, r.ports, direction === 'ingress'));
      } catch (err) {
        if (!(err instanceof K8sRuleError)) throw err;
        reporter.warn('rule-dropped', `spec.${direction}[${i}]`, `Kubernetes rule dropped: ${err.message}`);
      }
    });
    return out;
  };
  const v3Ingress = staged === 'Delete' ? [] : convertDirection('ingress');
  const v3Egress = staged === 'Delete' ? [] : convertDirection('egress');
  const types = k8sPolicyTypes(spec);
  if ((spec.policyTypes ?? []).length === 0 && (spec.egress?.length ?? 0) > 0) {
    reporter.warn(
      'policy-types-defaulted',
      'spec.policyTypes',
      'policyTypes not set: defaulted as the apiserver does to [Ingress, Egress] (egress rules present), so ingress is isolated too',
    );
  }
  const selectorText = namespacedPolicySelectorText({ selector: labelSelectorToCalico(spec.podSelector ?? {}, 'pod') }, namespace);
  return reporter.done(
    assemblePolicy(
      {
        kind: staged ? 'StagedKubernetesNetworkPolicy' : 'KubernetesNetworkPolicy',
        name: resource.metadata.name,
        namespace,
        tier: 'default',
        order: K8S_NETWORK_POLICY_ORDER,
        selectorText,
        types,
        ingress: convertV3Rules(v3Ingress, namespace, 'spec.ingress', reporter),
        egress: convertV3Rules(v3Egress, namespace, 'spec.egress', reporter),
        ...(staged ? { staged } : {}),
      },
      reporter,
    ),
  );
}
