/**
 * Flow records as Calico's collector writes them, from observed traffic: each observation (a
 * concrete flow at a time, with counters) is evaluated, named the way Felix names the two sides
 * (pods by their generate-name prefix `web-7f9c4d-*`, host endpoints by name, other addresses by
 * the network set holding them or as the `pub`/`pvt` network), and reported by the source
 * (its egress verdict) and, when the packet got there, by the destination (its ingress verdict).
 * Records with the same key in the same window are merged (counters summed, labels
 * intersected). Pure: used to simulate flow logs for tests, benchmarks and "what would the log
 * say" questions; it never reads a clock.
 */
import type { Endpoint, Snapshot } from '../model/types.js';
import type { EvaluateOptions, EvaluationResult, Flow } from '../evaluate/types.js';
import { evaluate } from '../evaluate/evaluate.js';
import { indexSnapshot, type SnapshotIndex } from '../evaluate/snapshot-index.js';
import { cidrContains, type IpAddr, parseCidr, parseIp } from '../net/cidr.js';
import { compareBytewise } from '../convert/strings.js';
import { formatPolicyHit } from '../flows/policy-hit.js';
import { policyTraceHits, reporterAction } from '../flows/trace-hits.js';
import type { FlowEndpointType, FlowRecord, FlowReporter, PolicyHit } from '../flows/types.js';

/** RFC 1918: the addresses Felix names `pvt` (every other address outside the cluster is `pub`). */
export const PRIVATE_NETWORKS: readonly string[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
const PRIVATE = PRIVATE_NETWORKS.map((c) => parseCidr(c)!);

/** Whether an address is in the private (RFC 1918) networks. */
export function isPrivateAddress(addr: IpAddr): boolean {
  return PRIVATE.some((c) => cidrContains(c, addr));
}

/**
 * The name Felix aggregates a pod under: its generate-name prefix and `*` (`web-7d9f8b6c4-x2k9p`
 * → `web-7d9f8b6c4-*`, StatefulSet `db-0` → `db-*`, DaemonSet `agent-4kx9z` → `agent-*`), or
 * the name itself for a pod no controller named.
 */
export function aggregatedName(podName: string): string {
  const suffix = /^(.+-)([a-z0-9]{5})$/.exec(podName);
  if (suffix && /\d/.test(suffix[2]!)) return `${suffix[1]}*`;
  const ordinal = /^(.+-)\d+$/.exec(podName);
  if (ordinal) return `${ordinal[1]}*`;
  return podName;
}

/** One side of a record: what Felix writes for it. */
export interface FlowSide {
  readonly name: string;
  readonly namespace: string;
  readonly type: FlowEndpointType;
  readonly labels: readonly string[];
}

function labelList(labels: Readonly<Record<string, string>>): string[] {
  return Object.keys(labels)
    .sort(compareBytewise)
    .map((k) => `${k}=${labels[k]}`);
}

/** How Felix names an endpoint in a record. */
export function endpointSide(e: Endpoint): FlowSide {
  if (e.kind === 'WorkloadEndpoint') return { name: aggregatedName(e.name), namespace: e.namespace, type: 'wep', labels: labelList(e.labels) };
  return { name: e.name, namespace: '-', type: 'hep', labels: labelList(e.labels) };
}

/** How Felix names an address that is not an endpoint's: the network set holding it (longest prefix), else `pvt` / `pub`. */
export function addressSide(index: SnapshotIndex, addr: IpAddr): FlowSide {
  let best: { prefix: number; id: string; side: FlowSide } | undefined;
  for (const m of index.membersAt(addr)) {
    if (m.kind !== 'NetworkSet' && m.kind !== 'GlobalNetworkSet') continue;
    for (const c of m.cidrs) {
      if (!cidrContains(c, addr)) continue;
      if (best && (c.prefix < best.prefix || (c.prefix === best.prefix && compareBytewise(m.id, best.id) >= 0))) continue;
      const slash = m.id.indexOf('/');
      const side: FlowSide =
        m.kind === 'NetworkSet'
          ? { name: m.id.slice(slash + 1), namespace: m.id.slice(0, slash), type: 'ns', labels: labelList(m.labels) }
          : { name: m.id, namespace: '-', type: 'ns', labels: labelList(m.labels) };
      best = { prefix: c.prefix, id: m.id, side };
    }
  }
  if (best) return best.side;
  return { name: isPrivateAddress(addr) ? 'pvt' : 'pub', namespace: '-', type: 'net', labels: [] };
}

/** Traffic seen on the wire: one flow (or many connections of it) at a time. */
export interface FlowObservation {
  readonly flow: Flow;
  /** Unix seconds. */
  readonly time: number;
  /** Connections started (default 1). */
  readonly connections?: number;
  readonly packets?: number;
  readonly bytes?: number;
}

export interface FlowLogOptions {
  /** Aggregation window in seconds (Felix flushes every 15 s when Goldmane runs). Default 15. */
  readonly window?: number;
  readonly evaluate?: EvaluateOptions;
}

interface Open {
  key: string;
  record: {
    -readonly [K in keyof FlowRecord]: FlowRecord[K];
  };
}

function sideOf(index: SnapshotIndex, result: EvaluationResult, which: 'src' | 'dst'): FlowSide {
  const peer = which === 'src' ? result.trace.flow.src : result.trace.flow.dst;
  if (peer.endpointId !== undefined) {
    const e = peer.kind === 'host' ? index.hosts.get(peer.endpointId) : index.workloads.get(peer.endpointId);
    if (e) return endpointSide(e);
  }
  const text = which === 'src' ? result.trace.flow.srcAddress : result.trace.flow.dstAddress;
  const addr = text !== undefined ? parseIp(text) : undefined;
  return addr ? addressSide(index, addr) : { name: 'pub', namespace: '-', type: 'net', labels: [] };
}

function hitsKey(hits: readonly PolicyHit[]): string {
  return hits.map(formatPolicyHit).join(',');
}

function intersect(a: readonly string[], b: readonly string[]): string[] {
  const set = new Set(b);
  return a.filter((x) => set.has(x));
}

/**
 * Builds the flow log a collector would write for `observations` (any order): records sorted by
 * window, then key. Observations whose peers are unknown are skipped and counted.
 */
export function flowLogRecords(snapshot: Snapshot, observations: Iterable<FlowObservation>, options: FlowLogOptions = {}): { records: FlowRecord[]; skipped: number } {
  const index = indexSnapshot(snapshot);
  const window = options.window ?? 15;
  const memo = new Map<string, { result: EvaluationResult; src: FlowSide; dst: FlowSide } | null>();
  const open = new Map<string, Open>();
  let skipped = 0;
  for (const o of observations) {
    const f = o.flow;
    const fk = `${f.src}|${f.dst}|${String(f.protocol)}|${f.dstPort ?? ''}|${f.srcPort ?? ''}|${f.icmp ? `${f.icmp.type}/${f.icmp.code ?? ''}` : ''}|${typeof f.via === 'string' ? f.via : ''}`;
    let e = memo.get(fk);
    if (e === undefined) {
      try {
        const result = evaluate(snapshot, f, options.evaluate);
        e = { result, src: sideOf(index, result, 'src'), dst: sideOf(index, result, 'dst') };
      } catch {
        e = null;
      }
      memo.set(fk, e);
    }
    if (e === null) {
      skipped++;
      continue;
    }
    const start = Math.floor(o.time / window) * window;
    const reporters: FlowReporter[] = [];
    if (e.src.type === 'wep' || e.src.type === 'hep') reporters.push('src');
    const egressAllowed = e.result.trace.egress.allowed;
    if ((e.dst.type === 'wep' || e.dst.type === 'hep') && egressAllowed) reporters.push('dst');
    const conns = o.connections ?? 1;
    const packets = o.packets ?? conns;
    const bytes = o.bytes ?? packets * 100;
    for (const reporter of reporters) {
      const hits = policyTraceHits(e.result, reporter);
      const action = reporterAction(e.result, reporter);
      const summary = e.result.trace.flow;
      const proto = summary.protocolName.toLowerCase();
      const port = summary.dstPort ?? 0;
      const key = [start, e.src.type, e.src.namespace, e.src.name, e.dst.type, e.dst.namespace, e.dst.name, proto, port, reporter, action, hitsKey(hits.enforced), hitsKey(hits.pending)].join('|');
      const current = open.get(key);
      if (current) {
        const r = current.record;
        r.end_time = Math.max(r.end_time, o.time);
        r.start_time = Math.min(r.start_time, start);
        r.source_labels = intersect(r.source_labels, e.src.labels);
        r.dest_labels = intersect(r.dest_labels, e.dst.labels);
        r.packets_out += reporter === 'src' ? packets : 0;
        r.packets_in += reporter === 'dst' ? packets : 0;
        r.bytes_out += reporter === 'src' ? bytes : 0;
        r.bytes_in += reporter === 'dst' ? bytes : 0;
        r.num_connections_started += conns;
        r.num_connections_live += conns;
        continue;
      }
      open.set(key, {
        key,
        record: {
          source_name: e.src.name,
          source_namespace: e.src.namespace,
          source_type: e.src.type,
          dest_name: e.dst.name,
          dest_namespace: e.dst.namespace,
          dest_type: e.dst.type,
          dest_port: port,
          proto,
          reporter,
          action,
          policies: hits,
          start_time: start,
          end_time: Math.max(start + window, o.time),
          source_labels: e.src.labels,
          dest_labels: e.dst.labels,
          packets_in: reporter === 'dst' ? packets : 0,
          packets_out: reporter === 'src' ? packets : 0,
          bytes_in: reporter === 'dst' ? bytes : 0,
          bytes_out: reporter === 'src' ? bytes : 0,
          num_connections_started: conns,
          num_connections_completed: 0,
          num_connections_live: conns,
        },
      });
    }
  }
  const records = [...open.values()].sort((a, b) => (a.record.start_time - b.record.start_time) || compareBytewise(a.key, b.key)).map((o) => o.record as FlowRecord);
  return { records, skipped };
}
