/**
 * The service graph of flow records, as Calico Cloud's service graph draws it: nodes for
 * namespaces, workloads (pods aggregated by their generate-name prefix, inside their
 * namespace), host endpoints, network sets and the public and private networks; one edge per
 * (source node, destination node) with the traffic allowed, denied at the source (its egress
 * policy) and denied at the destination (its ingress policy), the ports, the policies that
 * decided, and the flows behind it. A flow allowed by its source and then reported by its
 * destination is counted once, by the destination; a source's allow counts only where the
 * destination does not report (an address outside the cluster, or no record from it). Pure data
 * for renderers; building it costs a map update per record.
 */
import type { Snapshot } from '../model/types.js';
import { compareBytewise } from '../convert/strings.js';
import { aggregatedName } from './flow-log.js';
import { formatPolicyHit } from '../flows/policy-hit.js';
import type { FlowRecord, FlowReporter } from '../flows/types.js';

export type GraphNodeKind = 'namespace' | 'workload' | 'host' | 'networkset' | 'network';

export interface GraphNode {
  readonly id: string;
  readonly kind: GraphNodeKind;
  /** What people read: `frontend-*`, `public network`, `host node-1`, the namespace name. */
  readonly label: string;
  /** The namespace node this node sits in (workloads and namespaced network sets in the workloads view). */
  readonly parent?: string;
}

/** Counters summed over records. */
export interface GraphStats {
  readonly records: number;
  readonly connections: number;
  readonly packets: number;
  readonly bytes: number;
}

/** The flows behind an edge, aggregated by (source, destination, protocol, port, reporter, verdict, deciding policy). */
export interface GraphFlow {
  readonly source: string;
  readonly dest: string;
  readonly proto: string;
  readonly port: number;
  readonly reporter: FlowReporter;
  readonly action: 'allow' | 'deny';
  /** The enforced hit that decided (`0|default|knp:shop/db|allow|0` without the index), or `-`. */
  readonly policy: string;
  readonly records: number;
  readonly connections: number;
  /** Unix seconds. */
  readonly firstSeen: number;
  readonly lastSeen: number;
}

export interface GraphEdge {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly allowed: GraphStats;
  readonly deniedAtSource: GraphStats;
  readonly deniedAtDest: GraphStats;
  /** `TCP 8080`, `UDP 53`, `ICMP`, sorted. */
  readonly ports: readonly string[];
  /** Deciding policies with how many records each decided. */
  readonly policies: readonly { readonly policy: string; readonly action: 'allow' | 'deny'; readonly records: number }[];
  readonly flows: readonly GraphFlow[];
  /** Distinct flows beyond `maxFlowsPerEdge`, counted only. */
  readonly flowsOmitted: number;
}

export interface ServiceGraph {
  readonly view: 'workloads' | 'namespaces';
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly records: number;
  /** Unix seconds of the first and last record (0 when none). */
  readonly start: number;
  readonly end: number;
}

export interface ServiceGraphOptions {
  /** `workloads` (default): pods by prefix inside namespaces; `namespaces`: one node per namespace. */
  readonly view?: 'workloads' | 'namespaces';
  /** Distinct flows kept per edge for people to click through (default 50). */
  readonly maxFlowsPerEdge?: number;
  /** The cluster: its pods (by prefix), hosts and network sets become nodes even when quiet. */
  readonly snapshot?: Snapshot;
}

export interface ServiceGraphBuilder {
  add(record: FlowRecord): void;
  result(): ServiceGraph;
}

interface MutableStats {
  records: number;
  connections: number;
  packets: number;
  bytes: number;
}

interface EdgeAcc {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly allowed: MutableStats;
  /** Source-reported allows towards a reporting destination: used only if the destination never reported. */
  readonly allowedBySource: MutableStats;
  readonly deniedAtSource: MutableStats;
  readonly deniedAtDest: MutableStats;
  destReported: boolean;
  readonly ports: Set<string>;
  readonly policies: Map<string, { policy: string; action: 'allow' | 'deny'; records: number }>;
  readonly flows: Map<string, { -readonly [K in keyof GraphFlow]: GraphFlow[K] }>;
  omitted: Set<string>;
}

const stats = (): MutableStats => ({ records: 0, connections: 0, packets: 0, bytes: 0 });

function bump(s: MutableStats, r: FlowRecord): void {
  s.records++;
  s.connections += r.num_connections_started;
  s.packets += r.packets_in + r.packets_out;
  s.bytes += r.bytes_in + r.bytes_out;
}

/** Builds a service graph from records fed one by one. */
export function createServiceGraph(options: ServiceGraphOptions = {}): ServiceGraphBuilder {
  const view = options.view ?? 'workloads';
  const maxFlows = options.maxFlowsPerEdge ?? 50;
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, EdgeAcc>();
  let records = 0;
  let start = Number.POSITIVE_INFINITY;
  let end = 0;

  const nodeOf = (type: string, name: string, namespace: string): string => {
    const ns = namespace === '-' ? '' : namespace;
    let id: string;
    let node: GraphNode;
    if (type === 'wep' && ns !== '') {
      const nsId = `namespace/${ns}`;
      if (!nodes.has(nsId)) nodes.set(nsId, { id: nsId, kind: 'namespace', label: ns });
      if (view === 'namespaces') return nsId;
      id = `workload/${ns}/${name}`;
      node = { id, kind: 'workload', label: name, parent: nsId };
    } else if (type === 'hep') {
      id = `host/${name}`;
      node = { id, kind: 'host', label: `host ${name}` };
    } else if (type === 'ns') {
      id = ns ? `networkset/${ns}/${name}` : `networkset/${name}`;
      if (ns) {
        const nsId = `namespace/${ns}`;
        if (!nodes.has(nsId)) nodes.set(nsId, { id: nsId, kind: 'namespace', label: ns });
        if (view === 'namespaces') return nsId;
        node = { id, kind: 'networkset', label: name, parent: nsId };
      } else node = { id, kind: 'networkset', label: name };
    } else {
      id = `network/${name}`;
      node = { id, kind: 'network', label: name === 'pub' ? 'public network' : name === 'pvt' ? 'private network' : name };
    }
    if (!nodes.has(id)) nodes.set(id, node);
    return id;
  };

  if (options.snapshot) {
    for (const w of options.snapshot.workloadEndpoints) nodeOf('wep', aggregatedName(w.name), w.namespace);
    for (const h of options.snapshot.hostEndpoints) nodeOf('hep', h.name, '-');
    for (const n of options.snapshot.networkSets) nodeOf('ns', n.name, n.kind === 'NetworkSet' ? n.namespace : '-');
  }

  return {
    add(r) {
      records++;
      if (r.start_time < start) start = r.start_time;
      if (r.end_time > end) end = r.end_time;
      const source = nodeOf(r.source_type, r.source_name, r.source_namespace);
      const target = nodeOf(r.dest_type, r.dest_name, r.dest_namespace);
      const id = `${source} -> ${target}`;
      let e = edges.get(id);
      if (!e) {
        e = { id, source, target, allowed: stats(), allowedBySource: stats(), deniedAtSource: stats(), deniedAtDest: stats(), destReported: false, ports: new Set(), policies: new Map(), flows: new Map(), omitted: new Set() };
        edges.set(id, e);
      }
      const destReports = r.dest_type === 'wep' || r.dest_type === 'hep';
      if (r.reporter === 'dst') {
        e.destReported = true;
        bump(r.action === 'allow' ? e.allowed : e.deniedAtDest, r);
      } else if (r.action === 'deny') bump(e.deniedAtSource, r);
      else bump(destReports ? e.allowedBySource : e.allowed, r);
      const proto = r.proto.toUpperCase();
      e.ports.add(r.dest_port > 0 ? `${proto} ${r.dest_port}` : proto);
      const last = r.policies.enforced[r.policies.enforced.length - 1];
      const policy = last ? formatPolicyHit(last).split('|').slice(1).join('|') : '-';
      const p = e.policies.get(policy);
      if (p) p.records++;
      else e.policies.set(policy, { policy, action: r.action, records: 1 });
      const fk = [r.source_namespace, r.source_name, r.dest_namespace, r.dest_name, proto, r.dest_port, r.reporter, r.action, policy].join('|');
      const f = e.flows.get(fk);
      if (f) {
        f.records++;
        f.connections += r.num_connections_started;
        f.firstSeen = Math.min(f.firstSeen, r.start_time);
        f.lastSeen = Math.max(f.lastSeen, r.end_time);
      } else if (e.flows.size < maxFlows) {
        const side = (ns: string, name: string): string => (ns === '-' ? name : `${ns}/${name}`);
        e.flows.set(fk, { source: side(r.source_namespace, r.source_name), dest: side(r.dest_namespace, r.dest_name), proto, port: r.dest_port, reporter: r.reporter, action: r.action, policy, records: 1, connections: r.num_connections_started, firstSeen: r.start_time, lastSeen: r.end_time });
      } else if (e.omitted.size < 100_000) e.omitted.add(fk);
    },

    result() {
      const out: GraphEdge[] = [...edges.values()]
        .map((e) => {
          const allowed = e.destReported ? e.allowed : { records: e.allowed.records + e.allowedBySource.records, connections: e.allowed.connections + e.allowedBySource.connections, packets: e.allowed.packets + e.allowedBySource.packets, bytes: e.allowed.bytes + e.allowedBySource.bytes };
          return {
            id: e.id,
            source: e.source,
            target: e.target,
            allowed: { ...allowed },
            deniedAtSource: { ...e.deniedAtSource },
            deniedAtDest: { ...e.deniedAtDest },
            ports: [...e.ports].sort(compareBytewise),
            policies: [...e.policies.values()].sort((a, b) => b.records - a.records || compareBytewise(a.policy, b.policy)),
            flows: [...e.flows.values()].sort((a, b) => b.connections - a.connections || compareBytewise(a.source, b.source) || compareBytewise(a.dest, b.dest) || a.port - b.port),
            flowsOmitted: e.omitted.size,
          };
        })
        .sort((a, b) => compareBytewise(a.id, b.id));
      const nodeList = [...nodes.values()].sort((a, b) => compareBytewise(a.id, b.id));
      return { view, nodes: nodeList, edges: out, records, start: records > 0 ? start : 0, end };
    },
  };
}

/** The service graph of a batch of records (see `createServiceGraph`). */
export function serviceGraph(records: Iterable<FlowRecord>, options?: ServiceGraphOptions): ServiceGraph {
  const b = createServiceGraph(options);
  for (const r of records) b.add(r);
  return b.result();
}
