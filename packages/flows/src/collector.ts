/**
 * The flow collector: one dataplane's flow source in, flow records out.
 *
 *   FlowSource.poll ─▶ verdict events ─┬─ identity (IP → endpoint/set/net, per snapshot)
 *                                       ├─ traces (enforced hits checked against the kernel's
 *                                       │  decision, pending hits with staged policies enforced)
 *                                       └─▶ window table (aggregated at the level of the verdict)
 *                  ─▶ connection counters ─▶ deltas into the flows of each live connection
 *   every flushInterval (15 s, aligned): records ─▶ outputs (files, stream, HTTP), metrics, history
 *   every 0.8 × flushInterval (jittered): pending traces of live flows re-evaluated
 *
 * Memory is bounded: at most `maxFlows` aggregated flows per window (further events are counted
 * as overflow), at most `maxConnections` tracked connections (further ones are counted and not
 * tracked), and the history the stream and HTTP serve holds at most `historyRecords` records.
 * It never blocks the dataplane: a slow output only delays its own writes.
 */
import type { EvaluateOptions, FlowConnectionUpdate, FlowRecord, FlowSink, FlowSource, FlowVerdictEvent, Snapshot } from '@gingham/core';
import { GinghamError, protocolName } from '@gingham/core';
import { type FlowFilter, matchesFilter } from './filter.js';
import {
  A_DST_LABELS,
  A_PENDING,
  A_PENDING_ACTION,
  A_PENDING_GEN,
  A_REP_DPORT,
  A_REP_DST,
  A_REP_SPORT,
  A_REP_SRC,
  A_SRC_LABELS,
  C_BYTES_IN,
  C_BYTES_OUT,
  C_COMPLETED,
  C_LIVE,
  C_PACKETS_IN,
  C_PACKETS_OUT,
  C_STARTED,
  FlowTable,
  KEY_WORDS,
} from './flow-table.js';
import { AddressTable } from './address-table.js';
import { createIdentityIndex, type Entity, type IdentityIndex } from './identity.js';
import { RuleMetrics, type CollectorHealth } from './metrics.js';
import { createTraceResolver, TraceTable, type TraceQuery, type TraceResolver } from './traces.js';
import { TupleTable } from './tuple-table.js';

/** Calico's aggregation levels: 0 none, 1 source ports, 2 plus addresses (names, sets, pub/pvt), 3 plus destination ports. */
export type AggregationLevel = 0 | 1 | 2 | 3;

export interface AggregationOptions {
  /** Level for allowed flows (default 2, as Calico Enterprise's `flowLogsFileAggregationKindForAllowed`). */
  readonly allowed?: AggregationLevel;
  /** Level for denied flows (default 1, as `flowLogsFileAggregationKindForDenied`). */
  readonly denied?: AggregationLevel;
}

/** What a window summary says besides its records. */
export interface WindowSummary {
  readonly type: 'window';
  readonly start_time: number;
  readonly end_time: number;
  readonly flows: number;
  readonly events: number;
  /** Events of flows that did not fit in the window (the `maxFlows` cap). */
  readonly overflow_events: number;
  /** Events the dataplane dropped before the collector read them. */
  readonly lost_events: number;
  /** Connections not tracked for counters (the `maxConnections` cap). */
  readonly untracked_connections: number;
}

export interface FlowWindow {
  readonly summary: WindowSummary;
  readonly records: readonly FlowRecord[];
}

/** Where windows go (files, the local stream, HTTP). */
export interface FlowOutput {
  write(window: FlowWindow): void | Promise<void>;
  close(): void | Promise<void>;
}

export interface FlowCollectorOptions {
  /** The dataplane's flow source. */
  readonly source: FlowSource;
  /** The snapshot the dataplane enforces now (called often; a new object means the state changed). */
  readonly snapshot: () => Snapshot;
  /** Options of `evaluate()` (failsafes, endpoint-to-host action) as the dataplane has them. */
  readonly evaluateOptions?: EvaluateOptions;
  readonly aggregation?: AggregationOptions;
  /** Window length (default 15 000 ms, Goldmane's bucket). Windows are aligned to multiples of it. */
  readonly flushIntervalMs?: number;
  /** How often events are drained (default 100 ms). */
  readonly pollIntervalMs?: number;
  /** How often connection counters are read (default 5000 ms, and at every flush). */
  readonly countersIntervalMs?: number;
  /** Most aggregated flows per window (default 100 000). */
  readonly maxFlows?: number;
  /** Most connections tracked for counters (default 262 144, the eBPF conntrack's size). */
  readonly maxConnections?: number;
  /**
   * Commit the connection table's storage for `maxConnections` at creation (113 B a connection
   * with its hash slots: 28 MiB at the default cap), as the kernel preallocates its conntrack map,
   * rather than page by page as connections first arrive (default true). A first-touched page
   * costs CPU in the drain that touches it (~20 µs each on a VM: about a fifth of a drain of new
   * connections); preallocated, the drains never touch new memory for connections.
   */
  readonly preallocate?: boolean;
  /** Records kept for `records()`, the stream and HTTP (default 20 000). */
  readonly historyRecords?: number;
  readonly outputs?: readonly FlowOutput[];
  /** Per-rule metric series expire after this long without growth (default 60 000 ms). */
  readonly metricsExpiryMs?: number;
  /** false: no timers; the caller drives `poll()`, `flush()` and `reevaluate()` (tests, benchmarks). Default true. */
  readonly timers?: boolean;
  /** The clock, unix ms (default `Date.now`). */
  readonly now?: () => number;
  /** Where errors of timers and outputs go (default: stderr, once per distinct message a minute). */
  readonly onError?: (error: Error) => void;
}

export interface CollectorStats extends CollectorHealth {
  readonly windowStartMs: number;
  /** Bytes of the window's aggregated-flow table (its typed arrays). */
  readonly tableBytes: number;
  /** Bytes of the typed arrays of the followed connections (all of their storage when preallocated) and the window's denied-connection set (its slot array is sized for `maxConnections` up front). */
  readonly connectionBytes: number;
  /** Address texts held as ids (by followed connections, the window and the trace cache). */
  readonly addresses: number;
  readonly historyRecords: number;
}

export interface FlowCollector {
  /** Drains the source now (events; `counters` also reads connection counters). */
  poll(options?: { readonly counters?: boolean }): Promise<void>;
  /** Closes the current window now: reads counters, emits its records, starts the next one. */
  flush(): Promise<FlowWindow>;
  /** Re-evaluates the pending trace of every live flow against the current snapshot; returns how many changed. */
  reevaluate(): number;
  /** Records of past windows (newest last), filtered. */
  records(filter?: FlowFilter): FlowRecord[];
  /** Windows as they close; returns the unsubscribe function. */
  subscribe(listener: (window: FlowWindow) => void): () => void;
  /** Prometheus text exposition: per-rule metrics and the collector's health. */
  metrics(): string;
  stats(): CollectorStats;
  /** Flushes the current window, stops the timers, closes the outputs and the source. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Errors of the collector (message prefix `gingham: `). */
export class FlowsError extends GinghamError {
  constructor(code: 'FLOWS_INVALID_ARGUMENT' | 'FLOWS_CLOSED' | 'FLOWS_OUTPUT_FAILED' | 'FLOWS_STREAM_FAILED', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/*
 * Live connections: entries of a TupleTable keyed by (src, dst, protocol, ports; ICMP without its
 * type/code), their columns below: 93 bytes a connection with its key and live flag, written when
 * the connection is new (a first-touched page is what a new connection costs most). The source
 * port is the ports word's high half; the flags word carries the destination port (ICMP's type
 * and code) in its high half. Each allowed enforcement point that reported the connection (egress
 * at the source, ingress at the destination) is a verdict of four ints and a flag bit; the
 * window's flows take their deltas from the connection's cumulative counters.
 */
const CI_FLAGS = 0;
/** Verdict columns: base CI_VERDICT + direction × V_WIDTH (egress 0, ingress 1). */
const CI_VERDICT = 1;
const V_ENFORCED = 0;
const V_PENDING = 1;
const V_GEN = 2;
/** Window number this reporter was last counted live in. */
const V_WINDOW = 3;
const V_WIDTH = 4;
const CONN_INTS = CI_VERDICT + 2 * V_WIDTH;
const CF_PACKETS_OUT = 0;
const CF_BYTES_OUT = 1;
const CF_PACKETS_IN = 2;
const CF_BYTES_IN = 3;
const CF_SINCE = 4;
const CONN_FLOATS = 5;
/**
 * CI_FLAGS bits: counters seen; a verdict of direction d present (CONN_HAS << d); its pending
 * verdict denies (CONN_PENDING_DENY << d); the destination port from CONN_DPORT_SHIFT up.
 */
const CONN_COUNTED = 1;
const CONN_HAS = 2;
const CONN_PENDING_DENY = 8;
const CONN_DPORT_SHIFT = 16;
const EGRESS = 0;
const INGRESS = 1;
const DIRECTIONS = [EGRESS, INGRESS] as const;

const F_REPORTER_DST = 1;
const F_DENY = 2;
const NEVER_COUNTED_MS = 60_000;

const isIcmp = (protocol: number): boolean => protocol === 1 || protocol === 58;
/** The ports word of a connection key: ICMP's echo identifier is the flow, not its type/code. */
const portsWord = (protocol: number, srcPort: number, dstPort: number): number => ((srcPort << 16) | (isIcmp(protocol) ? 0 : dstPort)) | 0;

function levelOf(v: unknown, what: string, dflt: AggregationLevel): AggregationLevel {
  if (v === undefined) return dflt;
  if (v !== 0 && v !== 1 && v !== 2 && v !== 3) throw new FlowsError('FLOWS_INVALID_ARGUMENT', `aggregation.${what} must be 0, 1, 2 or 3, got ${String(v)}`);
  return v;
}

function positive(v: number | undefined, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw new FlowsError('FLOWS_INVALID_ARGUMENT', `${what} must be a positive number, got ${v}`);
  return v;
}

/** Creates a collector; with timers (the default) it starts polling at once. */
export function createFlowCollector(options: FlowCollectorOptions): FlowCollector {
  const source = options.source;
  const now = options.now ?? Date.now;
  const levels = { allow: levelOf(options.aggregation?.allowed, 'allowed', 2), deny: levelOf(options.aggregation?.denied, 'denied', 1) };
  const flushMs = positive(options.flushIntervalMs, 'flushIntervalMs', 15_000);
  const pollMs = positive(options.pollIntervalMs, 'pollIntervalMs', 100);
  const countersMs = positive(options.countersIntervalMs, 'countersIntervalMs', 5_000);
  const maxFlows = positive(options.maxFlows, 'maxFlows', 100_000);
  const maxConnections = positive(options.maxConnections, 'maxConnections', 262_144);
  const historyMax = positive(options.historyRecords, 'historyRecords', 20_000);
  const outputs = [...(options.outputs ?? [])];
  const metrics = new RuleMetrics(options.metricsExpiryMs);
  const errorsSeen = new Map<string, number>();
  const onError =
    options.onError ??
    ((e: Error) => {
      const last = errorsSeen.get(e.message) ?? 0;
      if (now() - last < 60_000) return;
      errorsSeen.set(e.message, now());
      process.stderr.write(`gingham: flows: ${e.message}\n`);
    });

  const traces = new TraceTable();
  /** Addresses as integer ids, held by the tables and the window that use them. */
  const addrs = new AddressTable();
  let snapshot: Snapshot | undefined;
  // The identity index and trace resolver of `snapshot` (set by `refresh`, before any use).
  let idx!: IdentityIndex;
  let res!: TraceResolver;
  let gen = 0;
  let evaluationsBefore = 0;
  let mismatchesBefore = 0;

  /** Brings `idx` and `res` to the snapshot the dataplane enforces now. */
  const refresh = (): void => {
    const s = options.snapshot();
    if (s === snapshot) return;
    if (snapshot) {
      evaluationsBefore += res.evaluations;
      mismatchesBefore += res.mismatches;
      res.release();
    }
    snapshot = s;
    idx = createIdentityIndex(s);
    res = createTraceResolver(s, traces, options.evaluateOptions, addrs);
    gen++;
  };

  // ---- per-window interning: addresses, aggregated identities, label sets ----
  // An address's window id by its id in `addrs`: valid while its stamp is windowNo + 1 (the
  // window holds a reference on the address until it closes, so the id cannot change hands).
  let localStamp = new Int32Array(1024);
  let localId = new Int32Array(1024);
  /** The `addrs` id of each window id. */
  const ipGlobal: number[] = [];
  const ipText: string[] = [];
  const ipEntity: Entity[] = [];
  const ipAggregate: number[] = [];
  const ipLabels: number[] = [];
  const aggIds = new Map<string, number>();
  const aggEntity: Entity[] = [];
  const labelIds = new Map<string, number>();
  const labelLists: (readonly string[])[] = [];
  const intersections = new Map<number, number>();

  const labelsId = (labels: readonly string[]): number => {
    const k = labels.join('\u0000');
    let id = labelIds.get(k);
    if (id === undefined) {
      id = labelLists.length;
      labelIds.set(k, id);
      labelLists.push(labels);
    }
    return id;
  };
  const intersect = (a: number, b: number): number => {
    if (a === b) return a;
    const k = a < b ? a * 0x100000 + b : b * 0x100000 + a;
    let id = intersections.get(k);
    if (id === undefined) {
      const other = new Set(labelLists[b]);
      id = labelsId(labelLists[a]!.filter((l) => other.has(l)));
      intersections.set(k, id);
    }
    return id;
  };
  const ipId = (g: number): number => {
    if (g < localStamp.length && localStamp[g] === windowNo + 1) return localId[g]!;
    if (g >= localStamp.length) {
      const n = Math.max(localStamp.length * 2, addrs.end);
      const stamps = new Int32Array(n);
      stamps.set(localStamp);
      localStamp = stamps;
      const ids = new Int32Array(n);
      ids.set(localId);
      localId = ids;
    }
    const ip = addrs.text[g]!;
    const id = ipText.length;
    localStamp[g] = windowNo + 1;
    localId[g] = id;
    ipGlobal.push(g);
    addrs.ref(g);
    const e = idx.lookup(ip);
    ipText.push(ip);
    ipEntity.push(e);
    ipLabels.push(labelsId(e.labels));
    const ak = `${e.type}\u0000${e.namespace}\u0000${e.aggregatedName}`;
    let agg = aggIds.get(ak);
    if (agg === undefined) {
      agg = aggEntity.length;
      aggIds.set(ak, agg);
      aggEntity.push(e);
    }
    ipAggregate.push(agg);
    return id;
  };
  const resetInterning = (): void => {
    for (const g of ipGlobal) addrs.unref(g);
    ipGlobal.length = 0;
    ipText.length = 0;
    ipEntity.length = 0;
    ipAggregate.length = 0;
    ipLabels.length = 0;
    aggIds.clear();
    aggEntity.length = 0;
    labelIds.clear();
    labelLists.length = 0;
    intersections.clear();
  };

  // ---- the window ----
  const table = new FlowTable(maxFlows);
  const key = new Int32Array(KEY_WORDS);
  const created = { value: false };
  let windowNo = 0;
  let windowStart = Math.floor(now() / flushMs) * flushMs;
  /** Denied connections counted as started in this window (w0 carries the direction). */
  const deniedSeen = new TupleTable(maxConnections, 0, 0, { addresses: addrs });
  let windowEvents = 0;
  let windowOverflow = 0;
  let windowLost = 0;
  let windowUntracked = 0;
  const totals = { events: 0, lost: 0, overflow: 0, unattributed: 0, windows: 0 };

  const conns = new TupleTable(maxConnections, CONN_INTS, CONN_FLOATS, { addresses: addrs, prefault: options.preallocate !== false });
  const query: { -readonly [K in keyof TraceQuery]: TraceQuery[K] } = { direction: 'egress', protocol: 0, src: '', dst: '', srcPort: 0, dstPort: 0, srcId: 0, dstId: 0 };

  /**
   * The flow (table index) of one reporter's view (`direction`: EGRESS, INGRESS) of a packet in
   * this window, created with its attributes when new; -1 when the window is full. `src`, `dst`:
   * ids in `addrs`.
   */
  const flowOf = (
    direction: number,
    deny: boolean,
    protocol: number,
    src: number,
    dst: number,
    srcPort: number,
    dstPort: number,
    enforced: number,
    pending: number,
    pendingDeny: number,
    pendingGen: number,
  ): number => {
    const level = deny ? levels.deny : levels.allow;
    const s = ipId(src);
    const d = ipId(dst);
    const icmp = isIcmp(protocol);
    key[0] = level >= 2 ? ipAggregate[s]! : s;
    key[1] = level >= 2 ? ipAggregate[d]! : d;
    key[2] = ((level >= 3 || icmp ? 0 : dstPort) | (protocol << 16)) | 0;
    key[3] = level === 0 ? srcPort : -1;
    key[4] = (direction === INGRESS ? F_REPORTER_DST : 0) | (deny ? F_DENY : 0) | (level << 2);
    key[5] = enforced;
    const f = table.upsert(key, created);
    if (f < 0) return -1;
    const sl = ipLabels[s]!;
    const dl = ipLabels[d]!;
    if (created.value) {
      table.setAttr(f, A_SRC_LABELS, sl);
      table.setAttr(f, A_DST_LABELS, dl);
      table.setAttr(f, A_PENDING, pending);
      table.setAttr(f, A_PENDING_ACTION, pendingDeny);
      table.setAttr(f, A_PENDING_GEN, pendingGen);
      table.setAttr(f, A_REP_SRC, s);
      table.setAttr(f, A_REP_DST, d);
      table.setAttr(f, A_REP_SPORT, srcPort);
      table.setAttr(f, A_REP_DPORT, dstPort);
    } else if (level >= 2) {
      table.setAttr(f, A_SRC_LABELS, intersect(table.attr(f, A_SRC_LABELS), sl));
      table.setAttr(f, A_DST_LABELS, intersect(table.attr(f, A_DST_LABELS), dl));
    }
    return f;
  };

  /** Counts connection `c`'s reporter `d` (EGRESS, INGRESS) into this window once (live, and started when new). */
  const touch = (c: number, d: number, started: boolean): number => {
    const ints = conns.ints;
    const o = c * CONN_INTS;
    const v = o + CI_VERDICT + d * V_WIDTH;
    const flags = ints[o + CI_FLAGS]!;
    const pendingDeny = (flags >> d) & CONN_PENDING_DENY ? 1 : 0;
    const f = flowOf(d, false, conns.w0(c) & 0xff, conns.a(c), conns.b(c), conns.w1(c) >>> 16, flags >>> CONN_DPORT_SHIFT, ints[v + V_ENFORCED]!, ints[v + V_PENDING]!, pendingDeny, ints[v + V_GEN]!);
    if (f < 0) return -1;
    if (ints[v + V_WINDOW] !== windowNo) {
      ints[v + V_WINDOW] = windowNo;
      table.add(f, C_LIVE, 1);
    }
    if (started) table.add(f, C_STARTED, 1);
    return f;
  };

  /** Counts an allowed first packet in its flow (`f` < 0: the flow overflowed). */
  const firstPacket = (f: number, e: FlowVerdictEvent): void => {
    if (f < 0) {
      windowOverflow++;
      totals.overflow++;
      return;
    }
    // The initiator's packet: out at the source, in at the destination.
    const out = e.direction === 'egress';
    table.add(f, out ? C_PACKETS_OUT : C_PACKETS_IN, 1);
    table.add(f, out ? C_BYTES_OUT : C_BYTES_IN, e.bytes);
  };

  const overflow = (): void => {
    windowOverflow++;
    totals.overflow++;
  };

  /** One verdict event, its addresses interned (`src`, `dst`: ids in `addrs`, held by the caller). */
  const verdict = (e: FlowVerdictEvent, src: number, dst: number): void => {
    query.direction = e.direction;
    query.protocol = e.protocol;
    query.src = e.src;
    query.dst = e.dst;
    query.srcPort = e.srcPort;
    query.dstPort = e.dstPort;
    query.srcId = src;
    query.dstId = dst;
    const t = res.resolve(query, e.decision, e.action);
    const ports = portsWord(e.protocol, e.srcPort, e.dstPort);
    const d = e.direction === 'egress' ? EGRESS : INGRESS;
    const pendingDeny = t.pendingAction === 'deny' ? 1 : 0;
    if (e.action === 'deny') {
      const f = flowOf(d, true, e.protocol, src, dst, e.srcPort, e.dstPort, t.enforced, t.pending, pendingDeny, gen);
      if (f < 0) return overflow();
      const out = d === EGRESS;
      table.add(f, out ? C_PACKETS_OUT : C_PACKETS_IN, 1);
      table.add(f, out ? C_BYTES_OUT : C_BYTES_IN, e.bytes);
      // -1 when full: counted again later.
      if (deniedSeen.upsert(src, dst, e.protocol | (out ? 0 : 0x100), ports) < 0 || deniedSeen.created) {
        table.add(f, C_STARTED, 1);
        table.add(f, C_LIVE, 1);
      }
      return;
    }
    const c = conns.upsert(src, dst, e.protocol, ports);
    if (c < 0) {
      windowUntracked++;
      // Still recorded as a start, without counters.
      const f = flowOf(d, false, e.protocol, src, dst, e.srcPort, e.dstPort, t.enforced, t.pending, pendingDeny, gen);
      if (f < 0) return overflow();
      table.add(f, C_STARTED, 1);
      table.add(f, C_LIVE, 1);
      return;
    }
    const o = c * CONN_INTS;
    if (conns.created) {
      // The first packet counts from its verdict event; the source's connection counters
      // include it, so they start from it.
      conns.ints[o + CI_FLAGS] = e.dstPort << CONN_DPORT_SHIFT;
      const of = c * CONN_FLOATS;
      conns.floats[of + CF_PACKETS_OUT] = 1;
      conns.floats[of + CF_BYTES_OUT] = e.bytes;
      conns.floats[of + CF_SINCE] = e.tsMs;
    }
    const flags = conns.ints[o + CI_FLAGS]!;
    if (flags & (CONN_HAS << d)) {
      // A retransmitted first packet: it counts while the connection has no counters (never
      // established: the other end denied it, or it was lost on the way).
      if (!(flags & CONN_COUNTED)) firstPacket(touch(c, d, false), e);
      return;
    }
    conns.ints[o + CI_FLAGS] = flags | (CONN_HAS << d) | (pendingDeny ? CONN_PENDING_DENY << d : 0);
    const v = o + CI_VERDICT + d * V_WIDTH;
    conns.ints[v + V_ENFORCED] = t.enforced;
    conns.ints[v + V_PENDING] = t.pending;
    conns.ints[v + V_GEN] = gen;
    conns.ints[v + V_WINDOW] = -1;
    firstPacket(touch(c, d, true), e);
  };

  // The ids of the last event's addresses (events mostly repeat their pair).
  let lastSrc = 0;
  let lastDst = 0;
  const sink: FlowSink = {
    verdict(e: FlowVerdictEvent) {
      windowEvents++;
      totals.events++;
      refresh();
      // The event holds its addresses while the tables it touches may let go of them.
      const src = (lastSrc = addrs.internAt(lastSrc, e.src));
      addrs.ref(src);
      const dst = (lastDst = addrs.internAt(lastDst, e.dst));
      addrs.ref(dst);
      verdict(e, src, dst);
      addrs.unref(src);
      addrs.unref(dst);
    },
    connection(u: FlowConnectionUpdate) {
      const src = addrs.find(u.src);
      const dst = addrs.find(u.dst);
      const c = src < 0 || dst < 0 ? -1 : conns.find(src, dst, u.protocol, portsWord(u.protocol, u.srcPort, u.dstPort));
      if (c < 0) {
        totals.unattributed++;
        return;
      }
      const cf = conns.floats;
      const of = c * CONN_FLOATS;
      const dpo = Math.max(0, u.packetsOut - cf[of + CF_PACKETS_OUT]!);
      const dbo = Math.max(0, u.bytesOut - cf[of + CF_BYTES_OUT]!);
      const dpi = Math.max(0, u.packetsIn - cf[of + CF_PACKETS_IN]!);
      const dbi = Math.max(0, u.bytesIn - cf[of + CF_BYTES_IN]!);
      cf[of + CF_PACKETS_OUT] = Math.max(cf[of + CF_PACKETS_OUT]!, u.packetsOut);
      cf[of + CF_BYTES_OUT] = Math.max(cf[of + CF_BYTES_OUT]!, u.bytesOut);
      cf[of + CF_PACKETS_IN] = Math.max(cf[of + CF_PACKETS_IN]!, u.packetsIn);
      cf[of + CF_BYTES_IN] = Math.max(cf[of + CF_BYTES_IN]!, u.bytesIn);
      const o = c * CONN_INTS;
      conns.ints[o + CI_FLAGS] = conns.ints[o + CI_FLAGS]! | CONN_COUNTED;
      refresh();
      for (const d of DIRECTIONS) {
        if (!(conns.ints[o + CI_FLAGS]! & (CONN_HAS << d))) continue;
        const f = touch(c, d, false);
        if (f < 0) {
          overflow();
          continue;
        }
        // The source's view: out = initiator → responder. The destination's: the reverse.
        const src = d === EGRESS;
        table.add(f, src ? C_PACKETS_OUT : C_PACKETS_IN, dpo);
        table.add(f, src ? C_BYTES_OUT : C_BYTES_IN, dbo);
        table.add(f, src ? C_PACKETS_IN : C_PACKETS_OUT, dpi);
        table.add(f, src ? C_BYTES_IN : C_BYTES_OUT, dbi);
        if (u.closed) table.add(f, C_COMPLETED, 1);
      }
      if (u.closed) conns.delete(c);
    },
    lost(n: number) {
      windowLost += n;
      totals.lost += n;
    },
  };

  // ---- records ----
  const hitsOf = (id: number) => traces.hits(id);
  const recordOf = (f: number, start: number, end: number): FlowRecord => {
    const flags = table.key(f, 4);
    const level = (flags >> 2) & 3;
    const protoPort = table.key(f, 2);
    const protocol = protoPort >>> 16;
    const rs = table.attr(f, A_REP_SRC);
    const rd = table.attr(f, A_REP_DST);
    const se = level >= 2 ? aggEntity[table.key(f, 0)]! : ipEntity[table.key(f, 0)]!;
    const de = level >= 2 ? aggEntity[table.key(f, 1)]! : ipEntity[table.key(f, 1)]!;
    const c = (col: number): number => table.counter(f, col);
    const record: FlowRecord = {
      source_name: level >= 2 ? se.aggregatedName : se.name,
      source_namespace: se.namespace,
      source_type: se.type,
      dest_name: level >= 2 ? de.aggregatedName : de.name,
      dest_namespace: de.namespace,
      dest_type: de.type,
      dest_port: protoPort & 0xffff,
      proto: protocolText(protocol),
      reporter: flags & F_REPORTER_DST ? 'dst' : 'src',
      action: flags & F_DENY ? 'deny' : 'allow',
      policies: { enforced: hitsOf(table.key(f, 5)), pending: hitsOf(table.attr(f, A_PENDING)) },
      start_time: Math.floor(start / 1000),
      end_time: Math.floor(end / 1000),
      source_labels: labelLists[table.attr(f, A_SRC_LABELS)] ?? [],
      dest_labels: labelLists[table.attr(f, A_DST_LABELS)] ?? [],
      packets_in: c(C_PACKETS_IN),
      packets_out: c(C_PACKETS_OUT),
      bytes_in: c(C_BYTES_IN),
      bytes_out: c(C_BYTES_OUT),
      num_connections_started: c(C_STARTED),
      num_connections_completed: c(C_COMPLETED),
      num_connections_live: c(C_LIVE),
      ...(level <= 1 ? { source_ip: ipText[rs]!, dest_ip: ipText[rd]! } : {}),
      ...(level === 0 ? { source_port: table.attr(f, A_REP_SPORT) } : {}),
    };
    return record;
  };

  // ---- history and subscribers ----
  const history: FlowRecord[] = [];
  const listeners = new Set<(w: FlowWindow) => void>();

  // ---- pending re-evaluation ----
  const reevaluate = (): number => {
    refresh();
    let changed = 0;
    const q = (protocol: number, srcId: number, dstId: number, srcPort: number, dstPort: number, direction: 'ingress' | 'egress'): TraceQuery => ({ direction, protocol, src: addrs.text[srcId]!, dst: addrs.text[dstId]!, srcId, dstId, srcPort, dstPort });
    for (let f = 0; f < table.size; f++) {
      if (table.attr(f, A_PENDING_GEN) === gen) continue;
      const protocol = table.key(f, 2) >>> 16;
      const direction = table.key(f, 4) & F_REPORTER_DST ? 'ingress' : 'egress';
      const p = res.pending(q(protocol, ipGlobal[table.attr(f, A_REP_SRC)]!, ipGlobal[table.attr(f, A_REP_DST)]!, table.attr(f, A_REP_SPORT), table.attr(f, A_REP_DPORT), direction));
      if (p.pending !== table.attr(f, A_PENDING)) changed++;
      table.setAttr(f, A_PENDING, p.pending);
      table.setAttr(f, A_PENDING_ACTION, p.pendingAction === 'deny' ? 1 : 0);
      table.setAttr(f, A_PENDING_GEN, gen);
    }
    const ints = conns.ints;
    for (let c = 0; c < conns.end; c++) {
      if (!conns.live(c)) continue;
      const o = c * CONN_INTS;
      for (const d of DIRECTIONS) {
        const v = o + CI_VERDICT + d * V_WIDTH;
        if (!(ints[o + CI_FLAGS]! & (CONN_HAS << d)) || ints[v + V_GEN] === gen) continue;
        const flags = ints[o + CI_FLAGS]!;
        const p = res.pending(q(conns.w0(c) & 0xff, conns.a(c), conns.b(c), conns.w1(c) >>> 16, flags >>> CONN_DPORT_SHIFT, d === EGRESS ? 'egress' : 'ingress'));
        ints[v + V_PENDING] = p.pending;
        ints[o + CI_FLAGS] = p.pendingAction === 'deny' ? flags | (CONN_PENDING_DENY << d) : flags & ~(CONN_PENDING_DENY << d);
        ints[v + V_GEN] = gen;
      }
    }
    return changed;
  };

  // ---- polling and flushing ----
  let closed = false;
  let polling: Promise<void> | undefined;
  let lastCounters = now();

  const poll = async (o: { counters?: boolean } = {}): Promise<void> => {
    if (closed) throw new FlowsError('FLOWS_CLOSED', 'the flow collector is closed');
    // One poll at a time: sources are not re-entrant.
    while (polling) await polling;
    const counters = o.counters === true || now() - lastCounters >= countersMs;
    polling = (async () => {
      try {
        await source.poll(sink, { counters });
        if (counters) lastCounters = now();
      } finally {
        polling = undefined;
      }
    })();
    await polling;
  };

  const expireConnections = (t: number): void => {
    // Allowed at one end and never established (the other end denied): no counters will come.
    for (let c = 0; c < conns.end; c++) {
      if (conns.live(c) && !(conns.int(c, CI_FLAGS) & CONN_COUNTED) && t - conns.float(c, CF_SINCE) > NEVER_COUNTED_MS) conns.delete(c);
    }
  };

  const flush = async (): Promise<FlowWindow> => {
    await poll({ counters: true });
    const end = Math.max(now(), windowStart + 1);
    const records: FlowRecord[] = [];
    for (let f = 0; f < table.size; f++) records.push(recordOf(f, windowStart, end));
    const summary: WindowSummary = {
      type: 'window',
      start_time: Math.floor(windowStart / 1000),
      end_time: Math.floor(end / 1000),
      flows: records.length,
      events: windowEvents,
      overflow_events: windowOverflow,
      lost_events: windowLost,
      untracked_connections: windowUntracked,
    };
    const window: FlowWindow = { summary, records };
    totals.windows++;
    metrics.record(records, end);
    history.push(...records);
    if (history.length > historyMax) history.splice(0, history.length - historyMax);
    // The next window: live connections stay in it (counted live again on their next touch).
    table.clear();
    resetInterning();
    deniedSeen.clear();
    windowEvents = windowOverflow = windowLost = windowUntracked = 0;
    windowNo++;
    windowStart = end;
    expireConnections(end);
    refresh();
    for (let c = 0; c < conns.end; c++) {
      if (!conns.live(c)) continue;
      const flags = conns.int(c, CI_FLAGS);
      if (!(flags & CONN_COUNTED)) continue;
      for (const d of DIRECTIONS) if (flags & (CONN_HAS << d) && touch(c, d, false) < 0) overflow();
    }
    for (const l of listeners) {
      try {
        l(window);
      } catch (e) {
        onError(e as Error);
      }
    }
    await Promise.all(
      outputs.map(async (o) => {
        try {
          await o.write(window);
        } catch (e) {
          onError(new FlowsError('FLOWS_OUTPUT_FAILED', `an output failed: ${(e as Error).message}`, { cause: e }));
        }
      }),
    );
    return window;
  };

  // ---- timers ----
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let pendingTimer: ReturnType<typeof setTimeout> | undefined;
  const guard = (p: Promise<unknown>): void => {
    p.catch((e: Error) => {
      if (!closed) onError(e);
    });
  };
  if (options.timers !== false) {
    pollTimer = setInterval(() => guard(poll()), pollMs);
    const scheduleFlush = (): void => {
      const due = Math.floor(now() / flushMs) * flushMs + flushMs;
      flushTimer = setTimeout(() => {
        guard(flush().finally(() => !closed && scheduleFlush()));
      }, Math.max(1, due - now()));
    };
    scheduleFlush();
    const schedulePending = (): void => {
      // Felix: a jittered ticker at 0.8 × the flush interval.
      pendingTimer = setTimeout(() => {
        try {
          reevaluate();
        } catch (e) {
          onError(e as Error);
        }
        if (!closed) schedulePending();
      }, flushMs * (0.8 + Math.random() * 0.1));
    };
    schedulePending();
  }

  const close = async (): Promise<void> => {
    if (closed) return;
    try {
      await flush();
    } catch (e) {
      onError(e as Error);
    }
    closed = true;
    if (pollTimer) clearInterval(pollTimer);
    if (flushTimer) clearTimeout(flushTimer);
    if (pendingTimer) clearTimeout(pendingTimer);
    listeners.clear();
    for (const o of outputs) {
      try {
        await o.close();
      } catch (e) {
        onError(e as Error);
      }
    }
    await source.close();
  };

  const health = (): CollectorHealth => ({
    events: totals.events,
    lostEvents: totals.lost,
    overflowEvents: totals.overflow,
    aggregatedFlows: table.size,
    liveConnections: conns.size,
    mismatches: mismatchesBefore + (snapshot ? res.mismatches : 0),
    evaluations: evaluationsBefore + (snapshot ? res.evaluations : 0),
    unattributedConnections: totals.unattributed,
    windows: totals.windows,
  });

  return {
    poll,
    flush: async () => {
      if (closed) throw new FlowsError('FLOWS_CLOSED', 'the flow collector is closed');
      return flush();
    },
    reevaluate,
    records: (filter) => (filter ? history.filter((r) => matchesFilter(r, filter)) : [...history]),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    metrics: () => metrics.render(now(), health(), source.name),
    stats: () => ({ ...health(), windowStartMs: windowStart, tableBytes: table.bytes, connectionBytes: conns.bytes + deniedSeen.bytes, addresses: addrs.size, historyRecords: history.length }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

const PROTOCOL_TEXT = new Map<number, string>();
function protocolText(n: number): string {
  let t = PROTOCOL_TEXT.get(n);
  if (t === undefined) PROTOCOL_TEXT.set(n, (t = protocolName(n).toLowerCase()));
  return t;
}
