/**
 * Compliance reports in the shape of Calico Enterprise's `inventory` and `network-access`
 * reports: per endpoint, whether a policy (not only profiles) governs its ingress and egress,
 * the policies that apply, and — for network access — whether it can be reached from the
 * internet or from another namespace and reach them, with the peers the flow logs actually saw.
 *
 * Calico decides exposure from the rules' shape (a rule with no source selector "allows the
 * internet"), which over-counts what higher tiers deny and under-counts nothing it cannot see.
 * Here exposure is exact: it is `reachability()` over the snapshot (every address, protocol and
 * port, tiers and profiles included), and each "yes" carries a witness flow `evaluate()` allows,
 * so an auditor can check it. "Another namespace" is about the endpoints the snapshot holds: a
 * rule that would admit a pod nobody runs yet is not exposure until the pod exists, and a node
 * talking to its own pods (which Calico never polices) is not counted. Exposure is decided by
 * the endpoints' own policies (the source's egress, the destination's ingress), as
 * `reachability()` answers it: host endpoint policy of a node the traffic is forwarded through
 * can only narrow it, so a report errs towards "exposed". Pure data.
 */
import type { Endpoint, Snapshot } from '../model/types.js';
import type { EvaluateOptions, Flow } from '../evaluate/types.js';
import { endpointAddresses } from '../evaluate/evaluate.js';
import { indexSnapshot } from '../evaluate/snapshot-index.js';
import { formatIp, parseCidr } from '../net/cidr.js';
import { compareBytewise } from '../convert/strings.js';
import { GinghamError } from '../errors.js';
import { protocolName } from '../convert/protocol.js';
import type { Selector } from '../selector/index.js';
import { reachability } from '../analysis/reachability.js';
import { cidrBounds, rangeToCidrs, toAddr } from '../analysis/address-space.js';
import { aggregatedName, PRIVATE_NETWORKS } from './flow-log.js';
import type { ServiceGraph } from './service-graph.js';

export type ComplianceReportType = 'inventory' | 'network-access';

export interface ComplianceOptions {
  readonly type: ComplianceReportType;
  /** Endpoints in scope: these namespaces only (host endpoints are out of scope when set). */
  readonly namespaces?: readonly string[];
  /** Endpoints in scope: those whose effective labels this selector matches. */
  readonly selector?: string;
  /** The service graph of the flow logs (workloads view): with it, each endpoint lists the peers seen. */
  readonly graph?: ServiceGraph;
  readonly evaluate?: EvaluateOptions;
}

/** A peer the flow logs saw talking with an endpoint's workload, with connections by verdict. */
export interface PeerTraffic {
  /** The service graph node: `workload/shop/frontend-*`, `network/pub`, `networkset/…`, `host/…`. */
  readonly peer: string;
  readonly allowed: number;
  readonly denied: number;
}

/** Evidence for an exposure: a flow `evaluate()` allows. */
export interface ExposureWitnesses {
  readonly ingressFromInternet?: Flow;
  readonly egressToInternet?: Flow;
  readonly ingressFromOtherNamespace?: Flow;
  readonly egressToOtherNamespace?: Flow;
}

export interface EndpointCompliance {
  /** `namespace/pod` for a workload, the HostEndpoint name for a host. */
  readonly endpoint: string;
  readonly kind: 'workload' | 'host';
  readonly namespace?: string;
  readonly node: string;
  readonly serviceAccount?: string;
  /** The name flow logs aggregate it under (`web-7d9f8b6c4-*`). */
  readonly trafficAggregationPrefix: string;
  /** A policy of type Ingress applies to it (profiles do not count). */
  readonly ingressProtected: boolean;
  readonly egressProtected: boolean;
  /** Enforced policies that apply, in evaluation order, by direction. */
  readonly appliedPolicies: { readonly ingress: readonly string[]; readonly egress: readonly string[] };
  readonly profiles: readonly string[];
  /** network-access only: some public (non-RFC 1918) address can open a connection to it. */
  readonly ingressFromInternet?: boolean;
  readonly egressToInternet?: boolean;
  /** network-access only: an endpoint of another namespace (for a host: any pod) can open a connection to it. */
  readonly ingressFromOtherNamespace?: boolean;
  readonly egressToOtherNamespace?: boolean;
  readonly witnesses?: ExposureWitnesses;
  /** With flow logs: the peers that sent to / received from this endpoint's workload. */
  readonly trafficFrom?: readonly PeerTraffic[];
  readonly trafficTo?: readonly PeerTraffic[];
}

export interface NamespaceCompliance {
  readonly namespace: string;
  readonly endpoints: number;
  /** Every in-scope endpoint of the namespace is protected. */
  readonly ingressProtected: boolean;
  readonly egressProtected: boolean;
}

export interface ComplianceSummary {
  readonly endpointsNumInScope: number;
  readonly endpointsNumIngressProtected: number;
  readonly endpointsNumEgressProtected: number;
  readonly endpointsNumIngressUnprotected: number;
  readonly endpointsNumEgressUnprotected: number;
  readonly namespacesNumInScope: number;
  readonly namespacesNumIngressProtected: number;
  readonly namespacesNumEgressProtected: number;
  readonly serviceAccountsNumInScope: number;
  /** network-access only. */
  readonly endpointsNumIngressFromInternet?: number;
  readonly endpointsNumEgressToInternet?: number;
  readonly endpointsNumIngressFromOtherNamespace?: number;
  readonly endpointsNumEgressToOtherNamespace?: number;
}

export interface ComplianceReport {
  readonly type: ComplianceReportType;
  readonly scope: { readonly namespaces?: readonly string[]; readonly selector?: string };
  readonly summary: ComplianceSummary;
  readonly endpoints: readonly EndpointCompliance[];
  readonly namespaces: readonly NamespaceCompliance[];
  /** Unix seconds of the flow logs the traffic columns come from (absent without flows). */
  readonly flows?: { readonly records: number; readonly start: number; readonly end: number };
}

/** Every address that is not in an RFC 1918 network (what flow logs name `pub`), as CIDRs. */
function publicCidrs(): string[] {
  const holes = PRIVATE_NETWORKS.map((c) => cidrBounds(parseCidr(c)!)).sort((a, b) => (a.lo < b.lo ? -1 : 1));
  const out: string[] = [];
  let next = 0n;
  for (const h of holes) {
    if (h.lo > next) out.push(...rangeToCidrs(4, next, h.lo - 1n));
    next = h.hi + 1n;
  }
  out.push(...rangeToCidrs(4, next, (1n << 32n) - 1n), '::/0');
  return out;
}

const refOf = (e: Endpoint): string => (e.kind === 'WorkloadEndpoint' ? e.id : e.name);
const namespaceOf = (e: Endpoint): string | undefined => (e.kind === 'WorkloadEndpoint' ? e.namespace : undefined);

/** Whether `peer` sits in another namespace than `e` (for a host endpoint: any pod does). */
function otherNamespace(e: Endpoint, peer: Endpoint): boolean {
  if (e.kind !== peer.kind && e.node === peer.node) return false;
  const mine = namespaceOf(e);
  const theirs = namespaceOf(peer);
  return theirs !== undefined && theirs !== mine;
}

/** Addresses people recognise as "somewhere on the internet" (documentation ranges), tried first. */
const EXAMPLE_ADDRESSES = ['203.0.113.10', '198.51.100.10', '192.0.2.10', '8.8.8.8', '2001:db8::10'].map((a) => parseCidr(`${a}/${a.includes(':') ? 128 : 32}`)!);

/** An address of a set of CIDRs: a documentation address where one fits, else the first address after a network address. */
function anAddress(cidrs: readonly string[]): string {
  const parsed = cidrs.map((c) => parseCidr(c)!);
  for (const x of EXAMPLE_ADDRESSES) {
    const { lo } = cidrBounds(x);
    if (parsed.some((c) => c.version === x.version && cidrBounds(c).lo <= lo && lo <= cidrBounds(c).hi)) return formatIp(toAddr(x.version, lo));
  }
  const c = parsed[0]!;
  const { lo, hi } = cidrBounds(c);
  return formatIp(toAddr(c.version, hi > lo ? lo + 1n : lo));
}

/** A peer as a flow can name it in one family: its ref when that is unambiguous, else its address of the family. */
function inFamily(peer: string, e: Endpoint, family: 4 | 6): string {
  if (peer !== refOf(e)) return peer;
  const addrs = endpointAddresses(e);
  if (addrs.every((a) => a.version === family)) return peer;
  const a = addrs.find((x) => x.version === family);
  return a ? formatIp(a) : peer;
}

interface Exposure {
  ingressFromInternet?: Flow;
  egressToInternet?: Flow;
  ingressFromOtherNamespace?: Flow;
  egressToOtherNamespace?: Flow;
}

/** Exposure of every endpoint, exactly, with one witness flow each. */
function exposures(snapshot: Snapshot, endpoints: readonly Endpoint[], evaluateOptions: EvaluateOptions | undefined): Map<Endpoint, Exposure> {
  const byRef = new Map<string, Endpoint[]>();
  const add = (k: string, e: Endpoint): void => {
    const list = byRef.get(k);
    if (list) list.push(e);
    else byRef.set(k, [e]);
  };
  for (const e of [...snapshot.workloadEndpoints, ...snapshot.hostEndpoints]) {
    add(refOf(e), e);
    for (const a of endpointAddresses(e)) add(formatIp(a), e);
  }
  const out = new Map<Endpoint, Exposure>(endpoints.map((e) => [e, {}]));
  const everything = { selector: 'all()', outside: publicCidrs() };
  const result = reachability(snapshot, { from: everything, to: everything, ...(evaluateOptions ? { evaluate: evaluateOptions } : {}) });
  for (const path of result.paths) {
    const { src: _src, dst: _dst, ...l4 } = path.witness;
    if (typeof l4.protocol === 'number') l4.protocol = protocolName(l4.protocol);
    const flow = (src: string, dst: string): Flow => ({ ...l4, src, dst } as Flow);
    const from = path.from.endpoints.map((p) => ({ p, es: byRef.get(p) ?? [] }));
    const to = path.to.endpoints.map((p) => ({ p, es: byRef.get(p) ?? [] }));
    const outsideFrom = path.from.outside.length > 0 ? anAddress(path.from.outside) : undefined;
    const outsideTo = path.to.outside.length > 0 ? anAddress(path.to.outside) : undefined;
    for (const { p: named, es } of to) {
      for (const e of es) {
        const p = inFamily(named, e, path.ipVersion);
        const x = out.get(e);
        if (!x) continue;
        if (outsideFrom !== undefined) x.ingressFromInternet ??= flow(outsideFrom, p);
        if (x.ingressFromOtherNamespace === undefined) {
          const other = from.find((f) => f.es.length === 1 && otherNamespace(e, f.es[0]!));
          if (other) x.ingressFromOtherNamespace = flow(inFamily(other.p, other.es[0]!, path.ipVersion), p);
        }
      }
    }
    for (const { p: named, es } of from) {
      for (const e of es) {
        const p = inFamily(named, e, path.ipVersion);
        const x = out.get(e);
        if (!x) continue;
        if (outsideTo !== undefined) x.egressToInternet ??= flow(p, outsideTo);
        if (x.egressToOtherNamespace === undefined) {
          const other = to.find((t) => t.es.length === 1 && otherNamespace(e, t.es[0]!));
          if (other) x.egressToOtherNamespace = flow(p, inFamily(other.p, other.es[0]!, path.ipVersion));
        }
      }
    }
  }
  return out;
}

function trafficOf(graph: ServiceGraph, node: string): { from: PeerTraffic[]; to: PeerTraffic[] } {
  const from: PeerTraffic[] = [];
  const to: PeerTraffic[] = [];
  for (const e of graph.edges) {
    const t = { allowed: e.allowed.connections, denied: e.deniedAtSource.connections + e.deniedAtDest.connections };
    if (e.target === node) from.push({ peer: e.source, ...t });
    if (e.source === node) to.push({ peer: e.target, ...t });
  }
  const order = (a: PeerTraffic, b: PeerTraffic): number => b.allowed + b.denied - (a.allowed + a.denied) || compareBytewise(a.peer, b.peer);
  return { from: from.sort(order), to: to.sort(order) };
}

/**
 * The `inventory` or `network-access` report of a snapshot's endpoints (workloads and host
 * endpoints), in scope by namespace and selector, sorted by endpoint.
 * @throws GinghamError `INVALID_QUERY` for an invalid scope selector.
 */
export function complianceReport(snapshot: Snapshot, options: ComplianceOptions): ComplianceReport {
  const index = indexSnapshot(snapshot);
  let selector: Selector | undefined;
  if (options.selector !== undefined) {
    try {
      selector = index.selector(options.selector);
    } catch (e) {
      throw new GinghamError('INVALID_QUERY', `invalid scope selector "${options.selector}": ${(e as Error).message}`);
    }
  }
  const namespaces = options.namespaces ? new Set(options.namespaces) : undefined;
  const inScope = (e: Endpoint): boolean =>
    (namespaces === undefined || (e.kind === 'WorkloadEndpoint' && namespaces.has(e.namespace))) && (selector === undefined || selector.matches(index.effectiveLabels(e)));
  const endpoints = [...snapshot.workloadEndpoints, ...snapshot.hostEndpoints].filter(inScope).sort((a, b) => compareBytewise(refOf(a), refOf(b)));
  const access = options.type === 'network-access';
  const exposure = access ? exposures(snapshot, endpoints, options.evaluate) : undefined;
  const graph = options.graph;

  const rows: EndpointCompliance[] = endpoints.map((e) => {
    const plan = index.enforced.plan(e);
    const applied = (ids: ReadonlySet<string>): string[] => index.enforced.policies.filter((p) => ids.has(p.id)).map((p) => p.id);
    const ingress = applied(plan.applied.ingress);
    const egress = applied(plan.applied.egress);
    const prefix = e.kind === 'WorkloadEndpoint' ? aggregatedName(e.name) : e.name;
    const x = exposure?.get(e);
    const witnesses: ExposureWitnesses | undefined = x ? { ...x } : undefined;
    const traffic = graph ? trafficOf(graph, e.kind === 'WorkloadEndpoint' ? `workload/${e.namespace}/${prefix}` : `host/${e.name}`) : undefined;
    return {
      endpoint: refOf(e),
      kind: e.kind === 'WorkloadEndpoint' ? 'workload' : 'host',
      ...(e.kind === 'WorkloadEndpoint' ? { namespace: e.namespace } : {}),
      node: e.node,
      ...(e.kind === 'WorkloadEndpoint' && e.serviceAccount !== undefined ? { serviceAccount: e.serviceAccount } : {}),
      trafficAggregationPrefix: prefix,
      ingressProtected: ingress.length > 0,
      egressProtected: egress.length > 0,
      appliedPolicies: { ingress, egress },
      profiles: [...e.profiles],
      ...(x
        ? {
            ingressFromInternet: x.ingressFromInternet !== undefined,
            egressToInternet: x.egressToInternet !== undefined,
            ingressFromOtherNamespace: x.ingressFromOtherNamespace !== undefined,
            egressToOtherNamespace: x.egressToOtherNamespace !== undefined,
            witnesses: witnesses!,
          }
        : {}),
      ...(traffic ? { trafficFrom: traffic.from, trafficTo: traffic.to } : {}),
    };
  });

  const perNamespace = new Map<string, { endpoints: number; ingress: boolean; egress: boolean }>();
  for (const r of rows) {
    if (r.namespace === undefined) continue;
    const n = perNamespace.get(r.namespace) ?? { endpoints: 0, ingress: true, egress: true };
    n.endpoints++;
    n.ingress &&= r.ingressProtected;
    n.egress &&= r.egressProtected;
    perNamespace.set(r.namespace, n);
  }
  const nsRows: NamespaceCompliance[] = [...perNamespace.entries()]
    .sort(([a], [b]) => compareBytewise(a, b))
    .map(([namespace, n]) => ({ namespace, endpoints: n.endpoints, ingressProtected: n.ingress, egressProtected: n.egress }));
  const count = (f: (r: EndpointCompliance) => boolean | undefined): number => rows.filter((r) => f(r) === true).length;
  const accounts = new Set(rows.filter((r) => r.serviceAccount !== undefined).map((r) => `${r.namespace}/${r.serviceAccount}`));
  const summary: ComplianceSummary = {
    endpointsNumInScope: rows.length,
    endpointsNumIngressProtected: count((r) => r.ingressProtected),
    endpointsNumEgressProtected: count((r) => r.egressProtected),
    endpointsNumIngressUnprotected: count((r) => !r.ingressProtected),
    endpointsNumEgressUnprotected: count((r) => !r.egressProtected),
    namespacesNumInScope: nsRows.length,
    namespacesNumIngressProtected: nsRows.filter((n) => n.ingressProtected).length,
    namespacesNumEgressProtected: nsRows.filter((n) => n.egressProtected).length,
    serviceAccountsNumInScope: accounts.size,
    ...(access
      ? {
          endpointsNumIngressFromInternet: count((r) => r.ingressFromInternet),
          endpointsNumEgressToInternet: count((r) => r.egressToInternet),
          endpointsNumIngressFromOtherNamespace: count((r) => r.ingressFromOtherNamespace),
          endpointsNumEgressToOtherNamespace: count((r) => r.egressToOtherNamespace),
        }
      : {}),
  };
  return {
    type: options.type,
    scope: { ...(options.namespaces ? { namespaces: [...options.namespaces] } : {}), ...(options.selector !== undefined ? { selector: options.selector } : {}) },
    summary,
    endpoints: rows,
    namespaces: nsRows,
    ...(graph ? { flows: { records: graph.records, start: graph.start, end: graph.end } } : {}),
  };
}
