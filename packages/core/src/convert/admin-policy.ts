/**
 * AdminNetworkPolicy / BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy (v1alpha2)
 * → global policies in the `kube-admin` / `kube-baseline` tiers, following libcalico-go's
 * cluster-network-policy conversion (one rule per protocol × peer, Accept → Allow, types only for
 * directions with rules, fail-closed replacement of unconvertible rules). Where Calico departs
 * from the upstream spec (named ports, `nodes` peers) we follow the spec; see docs/conversion.md.
 */
import type { NodeInfo, Policy, PolicyKind, PolicyType, RuleAction } from '../model/types.js';
import type { AnpPeer, AnpPort, AnpRule, AnpSpec, LabelSelector, Resource, V3EntityRule, V3Port, V3Rule } from '../model/resources.js';
import { convertV3Rules, RULE_NAME_ANNOTATION } from './calico-rules.js';
import { assemblePolicy, globalPolicySelectorText } from './calico-policy.js';
import { canonicalCidr, canonicalHostCidr } from '../net/cidr.js';
import { labelSelectorToCalico } from './label-selector.js';
import { protocolName, protocolNumber } from './protocol.js';
import { type ConvertOptions, type Converted, Reporter } from './report.js';
import { simplifyPorts } from './kubernetes-policy.js';
import { compareBytewise } from './strings.js';
import { parseSelector } from '../selector/index.js';

export const KUBE_ADMIN_TIER = 'kube-admin';
export const KUBE_BASELINE_TIER = 'kube-baseline';
/** Order of the (singleton) BaselineAdminNetworkPolicy inside `kube-baseline`. */
export const BASELINE_ADMIN_POLICY_ORDER = 1000;

export interface AdminPolicyOptions extends ConvertOptions {
  /** Cluster nodes, to resolve `nodes` egress peers to node addresses (upstream semantics). */
  readonly nodes?: readonly NodeInfo[];
}

class AdminRuleError extends Error {}

function convertAction(action: string): RuleAction | undefined {
  switch (action) {
    case 'Allow':
    case 'Accept':
      return 'Allow';
    case 'Deny':
      return 'Deny';
    case 'Pass':
      return 'Pass';
    default:
      return undefined;
  }
}

interface PortGroups {
  /** protocol name → ports, or `null` for all ports of that protocol. */
  readonly byProtocol: Map<string, V3Port[] | null>;
  readonly named: string[];
  readonly all: boolean;
}

/** v1alpha2 `protocols` entries, accepted defensively and mapped onto v1alpha1 `ports`. */
function protocolsToPorts(protocols: unknown): AnpPort[] | undefined {
  if (!Array.isArray(protocols)) return undefined;
  const out: AnpPort[] = [];
  for (const p of protocols as Record<string, unknown>[]) {
    if (typeof p?.['destinationNamedPort'] === 'string') {
      out.push({ namedPort: p['destinationNamedPort'] });
      continue;
    }
    const found = (['tcp', 'udp', 'sctp'] as const).find((k) => p?.[k] !== undefined || p?.[k.toUpperCase()] !== undefined);
    if (!found) {
      out.push({});
      continue;
    }
    const body = (p[found] ?? p[found.toUpperCase()]) as { destinationPort?: { number?: number; range?: { start: number; end: number } } };
    const protocol = found.toUpperCase() as 'TCP' | 'UDP' | 'SCTP';
    const dp = body?.destinationPort;
    if (dp?.number) out.push({ portNumber: { protocol, port: dp.number } });
    else if (dp?.range) out.push({ portRange: { protocol, start: dp.range.start, end: dp.range.end } });
    else out.push({ portRange: { protocol, start: 1, end: 65535 } });
  }
  return out;
}

function groupAdminPorts(ports: readonly AnpPort[] | undefined): PortGroups {
  const byProtocol = new Map<string, V3Port[] | null>();
  const named: string[] = [];
  if (!ports || ports.length === 0) return { byProtocol, named, all: true };
  for (const p of ports) {
    let proto: string;
    let port: V3Port;
    if (p.portNumber) {
      const n = protocolNumber(p.portNumber.protocol ?? 'TCP');
      if (n === undefined) throw new AdminRuleError(`unknown protocol "${p.portNumber.protocol}"`);
      proto = protocolName(n);
      port = p.portNumber.port;
    } else if (p.portRange) {
      const n = protocolNumber(p.portRange.protocol ?? 'TCP');
      if (n === undefined) throw new AdminRuleError(`unknown protocol "${p.portRange.protocol}"`);
      proto = protocolName(n);
      if (p.portRange.start > p.portRange.end) throw new AdminRuleError(`invalid port range ${p.portRange.start}-${p.portRange.end}`);
      port = p.portRange.start === p.portRange.end ? p.portRange.start : `${p.portRange.start}:${p.portRange.end}`;
    } else if (p.namedPort) {
      named.push(p.namedPort);
      continue;
    } else {
      // An empty port entry means "all traffic" (as in Calico).
      return { byProtocol: new Map(), named: [], all: true };
    }
    const existing = byProtocol.get(proto);
    if (existing === undefined) byProtocol.set(proto, [port]);
    else if (existing !== null) existing.push(port);
  }
  return { byProtocol, named, all: false };
}

function k8sNamespaceSelector(sel: LabelSelector | undefined): string {
  return labelSelectorToCalico(sel ?? {}, 'namespace');
}

function nodeNets(selector: LabelSelector, nodes: readonly NodeInfo[]): string[] {
  const text = labelSelectorToCalico(selector, 'namespace');
  const sel = parseSelector(text);
  const nets = new Set<string>();
  for (const node of nodes) {
    if (!sel.matches(node.labels)) continue;
    for (const a of node.addresses) {
      const c = canonicalHostCidr(a);
      if (c) nets.add(c);
    }
  }
  return [...nets].sort(compareBytewise);
}

/** One peer → entity fields, or `null` when it matches nothing (a `nodes` peer with no node). */
function peerToEntity(peer: AnpPeer, egress: boolean, nodes: readonly NodeInfo[]): V3EntityRule | null {
  if (peer.namespaces) return { namespaceSelector: k8sNamespaceSelector(peer.namespaces) };
  if (peer.pods) {
    return {
      selector: labelSelectorToCalico(peer.pods.podSelector ?? {}, 'pod'),
      namespaceSelector: k8sNamespaceSelector(peer.pods.namespaceSelector),
    };
  }
  if (egress && peer.networks && peer.networks.length > 0) {
    const nets = peer.networks.map((n) => {
      const c = canonicalCidr(n);
      if (!c) throw new AdminRuleError(`invalid CIDR "${n}" in networks`);
      return c;
    });
    return { nets };
  }
  if (egress && peer.nodes) {
    let nets: string[];
    try {
      nets = nodeNets(peer.nodes, nodes);
    } catch (err) {
      throw new AdminRuleError(`invalid nodes selector: ${(err as Error).message}`);
    }
    return nets.length === 0 ? null : { nets };
  }
  if (egress && peer.domainNames && peer.domainNames.length > 0) return { domains: [...peer.domainNames] };
  throw new AdminRuleError(`none of the supported fields in '${egress ? 'to' : 'from'}' is set`);
}

/** One ANP/BANP/CNP rule → Calico v3 rules (one per protocol × peer). Throws AdminRuleError. */
function adminRuleToV3Rules(rule: AnpRule & { protocols?: unknown }, egress: boolean, nodes: readonly NodeInfo[]): V3Rule[] {
  const action = convertAction(rule.action);
  if (!action) throw new AdminRuleError(`unsupported action "${rule.action}"`);
  const groups = groupAdminPorts(rule.ports ?? protocolsToPorts(rule.protocols));
  type Group = { protocol?: string; ports?: V3Port[] };
  const list: Group[] = [];
  if (groups.all) list.push({});
  else {
    for (const [proto, ports] of [...groups.byProtocol.entries()].sort((a, b) => compareBytewise(a[0], b[0]))) {
      list.push(ports === null ? { protocol: proto } : { protocol: proto, ports: simplifyPorts(ports) });
    }
    // Named ports: protocol-less rules (the endpoint's declared protocol applies).
    if (groups.named.length > 0) list.push({ ports: groups.named });
  }
  const peers = (egress ? rule.to : rule.from) ?? [];
  if (peers.length === 0) throw new AdminRuleError(`no peers in '${egress ? 'to' : 'from'}'`);
  const entities = peers.map((p) => peerToEntity(p, egress, nodes));
  const out: V3Rule[] = [];
  for (const g of list) {
    for (const entity of entities) {
      if (entity === null) continue;
      const portsPart = g.ports && g.ports.length > 0 ? { ports: g.ports } : {};
      out.push({
        action,
        ...(rule.name ? { metadata: { annotations: { [RULE_NAME_ANNOTATION]: rule.name } } } : {}),
        ...(g.protocol ? { protocol: g.protocol } : {}),
        ...(egress ? { destination: { ...portsPart, ...entity } } : { source: entity, destination: portsPart }),
      });
    }
  }
  return out;
}

/**
 * Converts an AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy into a global
 * policy in `kube-admin` (order = priority) or `kube-baseline` (BANP order 1000, CNP order = priority).
 */
export function convertAdminNetworkPolicy(
  resource: Resource<string, AnpSpec & { readonly tier?: 'Admin' | 'Baseline' }>,
  options?: AdminPolicyOptions,
): Converted<Policy> {
  const reporter = new Reporter(resource, options);
  const spec = resource.spec;
  const nodes = options?.nodes ?? [];
  let kind: PolicyKind;
  let tier: string;
  let order: number | undefined;
  if (resource.kind === 'AdminNetworkPolicy') {
    kind = 'AdminNetworkPolicy';
    tier = KUBE_ADMIN_TIER;
    order = spec?.priority;
  } else if (resource.kind === 'BaselineAdminNetworkPolicy') {
    kind = 'BaselineAdminNetworkPolicy';
    tier = KUBE_BASELINE_TIER;
    order = BASELINE_ADMIN_POLICY_ORDER;
  } else if (resource.kind === 'ClusterNetworkPolicy') {
    kind = 'ClusterNetworkPolicy';
    if (spec?.tier !== 'Admin' && spec?.tier !== 'Baseline') {
      reporter.error('invalid-tier', 'spec.tier', `policy skipped: tier must be Admin or Baseline, got "${String(spec?.tier)}"`);
      return reporter.skip();
    }
    tier = spec.tier === 'Admin' ? KUBE_ADMIN_TIER : KUBE_BASELINE_TIER;
    order = spec.priority;
  } else {
    reporter.error('unsupported-kind', 'kind', `not an admin network policy kind: ${resource.kind}`);
    return reporter.skip();
  }
  if (!spec) {
    reporter.error('missing-spec', 'spec', 'policy skipped: no spec');
    return reporter.skip();
  }
  // Subject → GNP selector + namespaceSelector.
  let podSelector: string;
  let namespaceSelector: string;
  if (spec.subject?.namespaces) {
    namespaceSelector = k8sNamespaceSelector(spec.subject.namespaces);
    podSelector = labelSelectorToCalico(undefined, 'pod');
  } else if (spec.subject?.pods) {
    namespaceSelector = k8sNamespaceSelector(spec.subject.pods.namespaceSelector);
    podSelector = labelSelectorToCalico(spec.subject.pods.podSelector ?? {}, 'pod');
  } else {
    reporter.error('invalid-subject', 'spec.subject', 'policy skipped: subject must set namespaces or pods');
    return reporter.skip();
  }
  const convertDirection = (direction: 'ingress' | 'egress'): V3Rule[] => {
    const out: V3Rule[] = [];
    (spec[direction] ?? []).forEach((rule, i) => {
      try {
        out.push(...adminRuleToV3Rules(rule, direction === 'egress', nodes));
      } catch (err) {
        if (!(err instanceof AdminRuleError)) throw err;
        const action = convertAction(rule.action);
        const failClosed = action === 'Deny' || action === 'Pass';
        reporter.warn(
          'rule-fail-closed',
          `spec.${direction}[${i}]`,
          `${err.message}; ${failClosed ? 'rule replaced by a deny-all rule (fail closed)' : 'Allow rule dropped (fail closed)'}`,
        );
        if (failClosed) out.push({ action: 'Deny', ...(rule.name ? { metadata: { annotations: { [RULE_NAME_ANNOTATION]: rule.name } } } : {}) });
      }
    });
    return out;
  };
  const v3Ingress = convertDirection('ingress');
  const v3Egress = convertDirection('egress');
  const ingress = convertV3Rules(v3Ingress, '', 'spec.ingress', reporter);
  const egress = convertV3Rules(v3Egress, '', 'spec.egress', reporter);
  const types: PolicyType[] = [];
  if (ingress.length > 0) types.push('Ingress');
  if (egress.length > 0) types.push('Egress');
  let selectorText: string;
  try {
    selectorText = globalPolicySelectorText({ selector: podSelector, namespaceSelector });
  } catch (err) {
    reporter.error('invalid-selector', 'spec.subject', `policy skipped: ${(err as Error).message}`);
    return reporter.skip();
  }
  return reporter.done(
    assemblePolicy(
      {
        kind,
        name: resource.metadata.name,
        namespace: '',
        tier,
        order: typeof order === 'number' ? order : undefined,
        selectorText,
        types,
        ingress,
        egress,
      },
      reporter,
    ),
  );
}
