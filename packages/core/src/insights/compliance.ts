/**
 * Compliance reports in the shape of Calico Enterprise's `inventory` and `network-access`
 * reports: per endpoint, whether a policy (not only profiles) governs its ingress and egress,
 * the policies that apply, and — for network access — whether it can be reached from the
 * internet or from another namespace and reach them, with the peers the flow logs actually saw.
 *
 * Calico decides exposure from the rules' shape (a rule with no source selector "allows the
 * internet"), which over-counts what higher tiers deny and under-counts nothing it cannot see.
 * Here exposure is exact: it is what `reachability()` over the snapshot answers (every address,
 * protocol and port, tiers and profiles included), decided per equivalence class with one witness
 * per endpoint and direction (exposure.ts), and each "yes" carries a witness flow `evaluate()`
 * allows, so an auditor can check it. "Another namespace" is about the endpoints the snapshot holds: a
 * rule that would admit a pod nobody runs yet is not exposure until the pod exists, and a node
 * talking to its own pods (which Calico never polices) is not counted. Exposure is decided by
 * the endpoints' own policies (the source's egress, the destination's ingress), as
 * `reachability()` answers it: host endpoint policy of a node the traffic is forwarded through
 * can only narrow it, so a report errs towards "exposed". Pure data.
 */
import type { Endpoint, Snapshot } from '../model/types.js';
import type { EvaluateOptions, Flow } from '../evaluate/types.js';
import { indexSnapshot } from '../evaluate/snapshot-index.js';
import { compareBytewise } from '../convert/strings.js';
import { GinghamError } from '../errors.js';
import type { Selector } from '../selector/index.js';
import { aggregatedName } from './flow-log.js';
import { exposures } from './exposure.js';
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

const refOf = (e: Endpoint): string => (e.kind === 'WorkloadEndpoint' ? e.id : e.name);

/** The peers each service graph node was seen with, by node (one pass over the edges). */
function trafficByNode(graph: ServiceGraph): (node: string) => { from: PeerTraffic[]; to: PeerTraffic[] } {
  const byNode = new Map<string, { from: PeerTraffic[]; to: PeerTraffic[] }>();
  const at = (node: string): { from: PeerTraffic[]; to: PeerTraffic[] } => {
    let t = byNode.get(node);
    if (!t) byNode.set(node, (t = { from: [], to: [] }));
    return t;
  };
  for (const e of graph.edges) {
    const t = { allowed: e.allowed.connections, denied: e.deniedAtSource.connections + e.deniedAtDest.connections };
    at(e.target).from.push({ peer: e.source, ...t });
    at(e.source).to.push({ peer: e.target, ...t });
  }
  const order = (a: PeerTraffic, b: PeerTraffic): number => b.allowed + b.denied - (a.allowed + a.denied) || compareBytewise(a.peer, b.peer);
  for (const t of byNode.values()) {
    t.from.sort(order);
    t.to.sort(order);
  }
  return (node) => {
    const t = byNode.get(node);
    return t ? { from: [...t.from], to: [...t.to] } : { from: [], to: [] };
  };
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
  const trafficOf = graph ? trafficByNode(graph) : undefined;
  // The enforced policies' order, so an endpoint's applied policies list in it without a scan of them all.
  const position = new Map(index.enforced.policies.map((p, i) => [p.id, i]));

  const rows: EndpointCompliance[] = endpoints.map((e) => {
    const plan = index.enforced.plan(e);
    const applied = (ids: ReadonlySet<string>): string[] => [...ids].filter((id) => position.has(id)).sort((a, b) => position.get(a)! - position.get(b)!);
    const ingress = applied(plan.applied.ingress);
    const egress = applied(plan.applied.egress);
    const prefix = e.kind === 'WorkloadEndpoint' ? aggregatedName(e.name) : e.name;
    const x = exposure?.get(e);
    const witnesses: ExposureWitnesses | undefined = x ? { ...x } : undefined;
    const traffic = trafficOf ? trafficOf(e.kind === 'WorkloadEndpoint' ? `workload/${e.namespace}/${prefix}` : `host/${e.name}`) : undefined;
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
