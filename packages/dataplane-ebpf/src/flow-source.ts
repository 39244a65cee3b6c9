/**
 * The eBPF dataplane's flow source (core's `FlowSource` port, for `@gingham/flows`): verdict
 * events straight from the `events` ring buffer, decoded in place (no copy, no object per event:
 * one reused event object, cached address texts and decisions), connection counters from the
 * `flowstats` map the program fills with flow logs on, and the program's count of events it
 * could not reserve (`event_lost`). Reads the instance's pinned maps, so it needs the dataplane
 * only for the pin path and the policy numbering; it must be the only reader of the ring buffer
 * (the dataplane's `readEvents()` would take events from it).
 *
 * Events of failsafe, forwarding and untracked (doNotTrack) decisions are left out: flow logs
 * cover endpoint policy, as Calico's do by default (`FlowLogsPolicyScope: EndpointPolicies`).
 */
import { existsSync } from 'node:fs';
import { formatIp, type FlowConnectionUpdate, type FlowDecision, type FlowSink, type FlowSource, type FlowSourcePollOptions, type FlowSourceStats, type FlowVerdictEvent } from '@gingham/core';
import { BpfMap, RingBufReader } from '@gingham/ebpf-loader';
import { conntrackTimeoutNs, decodeConntrackKey, decodeFlowStats, EVENT_SIZE } from './datapath.js';
import { FLAG_DEFAULT, FLAG_FAILSAFE, FLAG_FORWARD, FLAG_PROFILE, FLAG_UNTRACKED, NONE16, NONE32 } from './wire.js';
import { EbpfDataplaneError, type EbpfDataplane } from './dataplane/index.js';

export interface EbpfFlowSourceOptions {
  /** The dataplane (created with `flowLogs: true`) whose pins and policy numbering to read. */
  readonly dataplane: Pick<EbpfDataplane, 'pinPath' | 'policyNames' | 'flowLogs'>;
  /** Unix ms of a monotonic nanosecond timestamp (default: the offset between Date.now and process.hrtime at creation). */
  readonly wallClockMs?: (monotonicNs: number) => number;
}

export interface EbpfFlowSource extends FlowSource {
  /** Events left out (failsafe, forwarding, untracked decisions). */
  readonly skipped: number;
}

const SKIP = FLAG_FAILSAFE | FLAG_FORWARD | FLAG_UNTRACKED;
const TEXT_CACHE = 65_536;
const CLOSING_IDLE_NS = 2_000_000_000n;

/** Creates the flow source of an eBPF dataplane. */
export function createEbpfFlowSource(options: EbpfFlowSourceOptions): EbpfFlowSource {
  const dp = options.dataplane;
  if (!dp.flowLogs) {
    throw new EbpfDataplaneError('EBPF_INVALID_ARGUMENT', `the eBPF dataplane ${dp.pinPath} runs without flow logs: create it with flowLogs: true (it reports only denied and logged flows otherwise)`, { detail: [dp.pinPath] });
  }
  const offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  const wall = options.wallClockMs ?? ((ns: number) => offsetMs + ns / 1e6);
  let events: BpfMap | undefined;
  let reader: RingBufReader | undefined;
  let flowstats: BpfMap | undefined;
  let lostMap: BpfMap | undefined;
  let lostSeen: bigint | undefined;
  const totals = { events: 0, lost: 0, connections: 0 };
  let skipped = 0;
  let closed = false;

  const open = (): boolean => {
    if (reader) return true;
    const root = dp.pinPath;
    if (!existsSync(`${root}/events`)) return false;
    events = BpfMap.fromPin(`${root}/events`);
    reader = new RingBufReader(events);
    if (existsSync(`${root}/flowstats`)) flowstats = BpfMap.fromPin(`${root}/flowstats`);
    if (existsSync(`${root}/event_lost`)) lostMap = BpfMap.fromPin(`${root}/event_lost`);
    return true;
  };

  // Address texts: IPv4 by value, IPv6 by its 16 bytes.
  const v4 = new Map<number, string>();
  const v6 = new Map<string, string>();
  // The last address of each side: a node's events mostly repeat their pair (no map lookup then).
  let lastSrc4 = -1;
  let lastSrcText = '';
  let lastDst4 = -1;
  let lastDstText = '';
  const text4 = (n: number): string => {
    let t = v4.get(n);
    if (t === undefined) {
      t = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      if (v4.size >= TEXT_CACHE) v4.clear();
      v4.set(n, t);
    }
    return t;
  };
  const text6 = (b: Uint8Array, o: number): string => {
    let hex = '';
    for (let i = 0; i < 16; i++) hex += (b[o + i]! < 16 ? '0' : '') + b[o + i]!.toString(16);
    let t = v6.get(hex);
    if (t === undefined) {
      t = formatIp({ version: 6, value: BigInt(`0x${hex}`) });
      if (v6.size >= TEXT_CACHE) v6.clear();
      v6.set(hex, t);
    }
    return t;
  };

  // Decisions by (policy number, rule, profile flag); names refreshed when a number is unknown.
  let names: ReadonlyMap<number, string> = new Map();
  // Rules and profiles apart, so a key (policy × 65,536 + rule) stays a small integer for the
  // policy numbers a node has (no heap number per lookup).
  const ruleDecisions = new Map<number, FlowDecision>();
  const profileDecisions = new Map<number, FlowDecision>();
  const END_OF_TIER: FlowDecision = { kind: 'end-of-tier' };
  const NO_PROFILE: FlowDecision = { kind: 'no-profile' };
  const UNKNOWN: FlowDecision = { kind: 'unknown' };
  const decisionOf = (policy: number, rule: number, tier: number, flags: number): FlowDecision => {
    if (flags & FLAG_DEFAULT) return tier === NONE16 ? NO_PROFILE : END_OF_TIER;
    if (policy === NONE32) return UNKNOWN;
    const decisions = flags & FLAG_PROFILE ? profileDecisions : ruleDecisions;
    const k = policy * 65_536 + rule;
    let d = decisions.get(k);
    if (d === undefined) {
      let name = names.get(policy);
      if (name === undefined) {
        names = dp.policyNames();
        ruleDecisions.clear();
        profileDecisions.clear();
        name = names.get(policy);
      }
      d = name === undefined ? UNKNOWN : flags & FLAG_PROFILE ? { kind: 'profile', profile: name, ruleIndex: rule } : { kind: 'rule', policyId: name, ruleIndex: rule };
      decisions.set(k, d);
    }
    return d;
  };

  const ev: { -readonly [K in keyof FlowVerdictEvent]: FlowVerdictEvent[K] } = {
    tsMs: 0, direction: 'egress', action: 'allow', decision: UNKNOWN, family: 4, protocol: 0, src: '', dst: '', srcPort: 0, dstPort: 0, bytes: 0,
  };
  let view: DataView | undefined;
  let viewOf: Uint8Array | undefined;

  const pollEvents = (sink: FlowSink, max: number): void => {
    reader!.consume((data, o, size) => {
      if (size !== EVENT_SIZE) return;
      if (viewOf !== data) {
        viewOf = data;
        view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      }
      const d = view!;
      const flags = data[o + 21]!;
      if (flags & SKIP) {
        skipped++;
        return;
      }
      const family = data[o + 23]!;
      if (family !== 4 && family !== 6) return;
      totals.events++;
      ev.tsMs = wall(d.getUint32(o, true) + d.getUint32(o + 4, true) * 4_294_967_296);
      ev.decision = decisionOf(d.getUint32(o + 12, true), d.getUint16(o + 18, true), d.getUint16(o + 16, true), flags);
      ev.action = data[o + 20] === 1 ? 'allow' : 'deny';
      ev.direction = data[o + 22] === 1 ? 'egress' : 'ingress';
      ev.family = family;
      ev.protocol = data[o + 24]!;
      ev.bytes = d.getUint16(o + 26, true);
      ev.srcPort = d.getUint16(o + 28, true);
      ev.dstPort = d.getUint16(o + 30, true);
      if (family === 4) {
        const src = d.getUint32(o + 32);
        if (src !== lastSrc4) {
          lastSrcText = text4(src);
          lastSrc4 = src;
        }
        const dst = d.getUint32(o + 48);
        if (dst !== lastDst4) {
          lastDstText = text4(dst);
          lastDst4 = dst;
        }
        ev.src = lastSrcText;
        ev.dst = lastDstText;
      } else {
        ev.src = text6(data, o + 32);
        ev.dst = text6(data, o + 48);
      }
      sink.verdict(ev);
    }, max);
  };

  const pollLost = (sink: FlowSink): void => {
    if (!lostMap) return;
    const v = lostMap.lookup(new Uint8Array(4));
    if (!v) return;
    const count = new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
    if (lostSeen !== undefined && count > lostSeen) {
      const n = Number(count - lostSeen);
      totals.lost += n;
      sink.lost(n);
    }
    lostSeen = count;
  };

  const pollCounters = (sink: FlowSink): void => {
    if (!flowstats) return;
    const nowNs = process.hrtime.bigint();
    const done: Uint8Array[] = [];
    for (const [k, v] of flowstats.lookupBatch({ chunk: 1024 }).entries) {
      const key = decodeConntrackKey(k);
      const s = decodeFlowStats(v);
      // Completed: expired as conntrack expires it, or closing (FIN/RST seen) and idle for 2 s —
      // what the iptables source calls completed (conntrack's TIME_WAIT), not 10 s later.
      const idle = nowNs > s.lastNs ? nowNs - s.lastNs : 0n;
      const closed = idle > conntrackTimeoutNs(key.protocol, s.closing) || (s.closing && idle > CLOSING_IDLE_NS);
      const a = s.aInitiated;
      const u: FlowConnectionUpdate = {
        family: key.family,
        protocol: key.protocol,
        src: a ? key.addrA : key.addrB,
        dst: a ? key.addrB : key.addrA,
        srcPort: a ? key.portA : key.portB,
        dstPort: a ? key.portB : key.portA,
        packetsOut: a ? s.packetsAb : s.packetsBa,
        bytesOut: a ? s.bytesAb : s.bytesBa,
        packetsIn: a ? s.packetsBa : s.packetsAb,
        bytesIn: a ? s.bytesBa : s.bytesAb,
        closed,
      };
      totals.connections++;
      sink.connection(u);
      if (closed) done.push(k);
    }
    if (done.length > 0) flowstats.deleteBatch(done);
  };

  // Open now when the maps are pinned (else at the first poll). Opening may start a child
  // process (the ring reader asks getconf for the page size, once per process), and a fork
  // write-protects every private page of this one: each page is then faulted again on its next
  // write. Done here, before the collector commits its tables, not in their first drain.
  open();

  return {
    name: 'ebpf',
    get skipped() {
      return skipped;
    },
    poll(sink: FlowSink, o: FlowSourcePollOptions = {}) {
      if (closed || !open()) return;
      pollEvents(sink, o.maxEvents ?? Number.POSITIVE_INFINITY);
      pollLost(sink);
      if (o.counters) pollCounters(sink);
    },
    stats: (): FlowSourceStats => ({ ...totals }),
    close() {
      closed = true;
      reader?.close();
      events?.close();
      flowstats?.close();
      lostMap?.close();
      reader = undefined;
    },
  };
}
