/**
 * The iptables dataplane's flow source (core's `FlowSource` port, for `@gingham/flows`), as
 * Felix collects: NFLOG packets of the flow-log rules the renderer adds with `flowLogs` (one per
 * new allowed connection and endpoint decision, one per denied packet; the prefix names the
 * policy or profile rule, tier end or missing profile), and conntrack dumps (ctnetlink, with
 * `nf_conntrack_acct` on) for the packets and bytes of allowed connections and their end.
 *
 * Both netlink sockets live in a relay child in the dataplane's network namespace (channel.ts:
 * the `netlink` package can abort its process, so never this one). The source supervises it: a
 * relay that dies (a native abort on a socket overrun, a kill) is restarted with backoff and its
 * NFLOG groups bound again; the restarts and the last cause show in `stats()`, and the verdicts
 * of the moments without a reader are missing (said there, never silently). NFLOG sequence
 * numbers are on, so a gap (the kernel dropped messages under pressure) is counted as lost
 * events. It only reads: it never writes rules, and it leaves conntrack as it is, except that
 * it turns conntrack accounting on in that namespace.
 */
import type { FlowConnectionUpdate, FlowDecision, FlowSink, FlowSource, FlowSourcePollOptions, FlowSourceStats, FlowVerdictEvent } from '@gingham/core';
import { openRelayChannel, type NetlinkChannel, type RelayChannel } from './channel.js';
import { IptablesError } from '../errors.js';
import { parseNflogPrefix } from '../render/nflog-prefix.js';
import { resolveRenderOptions } from '../render/options.js';
import type { Rendered } from '../render/rendered.js';
import {
  conntrackDumpMessage,
  isConntrack,
  isDone,
  isNflogPacket,
  netlinkError,
  netlinkMessages,
  nflogBindMessages,
  parseConntrack,
  parseNflogPacket,
  type NetlinkMessage,
} from './netlink.js';

export interface IptablesFlowSourceOptions {
  /** Network namespace of the dataplane (`ip netns` name or path; default: this process's). */
  readonly netns?: string;
  /** The dataplane (created with `flowLogs`), for hashed NFLOG names; optional. */
  readonly dataplane?: { rendered(family: 4 | 6): Rendered | undefined };
  /** The NFLOG groups (default: the render defaults, 1 ingress and 2 egress). */
  readonly flowLogs?: true | { readonly ingressGroup?: number; readonly egressGroup?: number };
  /** Queue bound: NFLOG packets held between polls beyond this are counted as lost (default 65536). */
  readonly maxQueued?: number;
  /** Socket receive buffer (default 4 MiB). */
  readonly receiveBufferBytes?: number;
}

export interface IptablesFlowSourceStats extends FlowSourceStats {
  /** Times the netlink relay died and was started again (each a stretch of missing verdicts). */
  readonly restarts: number;
  /** Why the relay last died or could not start (absent while it never did). */
  readonly problem?: string;
  /** The relay child's process id now (undefined between a death and its restart). */
  readonly relayPid?: number;
}

export interface IptablesFlowSource extends FlowSource {
  /** Resolves once the NFLOG groups are bound (rejects when the kernel refused). */
  readonly ready: Promise<void>;
  stats(): IptablesFlowSourceStats;
}

const DUMP_TIMEOUT_MS = 10_000;
const BIND_TIMEOUT_MS = 10_000;
/** Restart delays of a dying relay: 250 ms doubling to 30 s; back to 250 ms after a minute alive. */
const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 30_000;
const RESTART_RESET_MS = 60_000;

/** Creates the flow source of an iptables dataplane and binds its NFLOG groups. */
export function createIptablesFlowSource(options: IptablesFlowSourceOptions = {}): IptablesFlowSource {
  const groups = resolveRenderOptions({ flowLogs: options.flowLogs ?? true }).flowLogs!;
  const maxQueued = options.maxQueued ?? 65_536;
  const rcvbuf = options.receiveBufferBytes ?? 4 * 1024 * 1024;
  const totals = { events: 0, lost: 0, connections: 0 };
  let pendingLost = 0;
  const queue: FlowVerdictEvent[] = [];
  const lastSeq = new Map<number, number>();
  let closed = false;

  let names = new Map<string, string>();
  const refreshNames = (): void => {
    names = new Map([...(options.dataplane?.rendered(4)?.nflogNames ?? []), ...(options.dataplane?.rendered(6)?.nflogNames ?? [])]);
  };

  // ---- NFLOG ----
  const acks = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const onNflog = (m: NetlinkMessage): void => {
    const err = netlinkError(m);
    if (err !== undefined) {
      const waiter = acks.get(m.seq);
      acks.delete(m.seq);
      if (waiter) (err === 0 ? waiter.resolve() : waiter.reject(new IptablesError('IPTABLES_FLOW_SOURCE', `NFLOG bind refused (errno ${err})`)));
      return;
    }
    if (!isNflogPacket(m)) return;
    const p = parseNflogPacket(m);
    if (p.seq !== undefined) {
      const prev = lastSeq.get(p.group);
      if (prev !== undefined && p.seq > prev + 1) pendingLost += p.seq - prev - 1;
      lastSeq.set(p.group, p.seq);
    }
    if (!p.tuple) return;
    let d = parseNflogPrefix(p.prefix, names);
    if (d?.name.startsWith('~')) {
      refreshNames();
      d = parseNflogPrefix(p.prefix, names);
    }
    if (!d) return; // a Log rule's NFLOG, not flow logs
    if (queue.length >= maxQueued) {
      pendingLost++;
      return;
    }
    const decision: FlowDecision =
      d.kind === 'policy' ? { kind: 'rule', policyId: d.name, ruleIndex: d.rule } : d.kind === 'profile' ? { kind: 'profile', profile: d.name, ruleIndex: d.rule } : d.kind === 'end-of-tier' ? { kind: 'end-of-tier', tier: d.name } : { kind: 'no-profile' };
    queue.push({ tsMs: Date.now(), direction: d.direction, action: d.action, decision, ...p.tuple });
  };
  // ---- conntrack ----
  let dump: { seq: number; entries: FlowConnectionUpdate[]; done: () => void; fail: (e: Error) => void } | undefined;
  const onMessage = (socket: 'nflog' | 'ct', msg: Uint8Array): void => {
    if (socket === 'nflog') {
      for (const m of netlinkMessages(msg)) onNflog(m);
      return;
    }
    if (!dump) return;
    for (const m of netlinkMessages(msg)) {
      if (m.seq !== dump.seq) continue;
      const err = netlinkError(m);
      if (err !== undefined && err !== 0) return dump.fail(new IptablesError('IPTABLES_FLOW_SOURCE', `conntrack dump refused (errno ${err})`));
      if (isDone(m)) return dump.done();
      if (!isConntrack(m)) continue;
      const e = parseConntrack(m);
      if (!e) continue;
      dump.entries.push({ family: e.family, protocol: e.protocol, src: e.src, dst: e.dst, srcPort: e.srcPort, dstPort: e.dstPort, packetsOut: e.packetsOrig, bytesOut: e.bytesOrig, packetsIn: e.packetsReply, bytesIn: e.bytesReply, closed: e.closed });
    }
  };

  // ---- the relay and its supervision ----
  let relay: RelayChannel | undefined;
  let restarts = 0;
  let problem: string | undefined;
  let failures = 0;
  let restartTimer: ReturnType<typeof setTimeout> | undefined;
  let seq = 1;
  /** Sends and waits for the ACKs, with a (referenced) timer: the process stays up while it waits. */
  const bind = async (channel: NetlinkChannel): Promise<void> => {
    for (const group of new Set([groups.ingressGroup, groups.egressGroup])) {
      const msgs = nflogBindMessages(group, seq);
      seq += msgs.length;
      // The first (unbind) may fail harmlessly; the bind and the mode must succeed.
      const waits = msgs.map((msg, i) => {
        const s = new DataView(msg.buffer).getUint32(8, true);
        const p = new Promise<void>((resolve, reject) => acks.set(s, { resolve, reject }));
        return i === 0 ? p.catch(() => undefined) : p;
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new IptablesError('IPTABLES_FLOW_SOURCE', `NFLOG group ${group}: no answer from the kernel within ${BIND_TIMEOUT_MS} ms`)), BIND_TIMEOUT_MS);
      });
      for (const msg of msgs) channel.send('nflog', msg);
      try {
        await Promise.race([Promise.all(waits), timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
  };
  /** A relay died (or its restart failed): drop it, fail what waited on it, start another later. */
  const died = (r: RelayChannel, detail: string, startedAt: number): void => {
    if (relay !== r || closed) return;
    problem = detail;
    const restart = started; // a relay that never got ready fails `ready` instead
    relay = undefined;
    r.channel.close();
    for (const w of acks.values()) w.reject(new IptablesError('IPTABLES_FLOW_SOURCE', detail));
    acks.clear();
    dump?.fail(new IptablesError('IPTABLES_FLOW_SOURCE', `conntrack dump lost: ${detail}`));
    if (!restart) return;
    failures = Date.now() - startedAt >= RESTART_RESET_MS ? 1 : failures + 1;
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (failures - 1));
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (closed) return;
      restarts++;
      const next = Date.now();
      start().catch((e: Error) => {
        if (relay) died(relay, e.message, next);
      });
    }, delay);
    restartTimer.unref();
  };
  const start = async (): Promise<void> => {
    const r = openRelayChannel(options.netns, rcvbuf);
    relay = r;
    const startedAt = Date.now();
    lastSeq.clear(); // a new NFLOG binding numbers from 0 again
    r.channel.onMessage(onMessage);
    r.channel.onProblem((_socket, what, detail) => {
      // An overrun (ENOBUFS): the kernel dropped messages; NFLOG's sequence gap counts them.
      if (what === 'failed') died(r, detail, startedAt);
    });
    // A wait with a referenced timer, as bind's: a process with nothing else to do waits for the relay.
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        r.ready.catch((cause) => {
          throw new IptablesError('IPTABLES_FLOW_SOURCE', `cannot open the flow-log sockets${options.netns ? ` in ${options.netns}` : ''}: ${(cause as Error).message}`, { cause });
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new IptablesError('IPTABLES_FLOW_SOURCE', `the netlink relay did not start within ${BIND_TIMEOUT_MS} ms`)), BIND_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    await bind(r.channel);
  };
  let started = false;
  const ready = start().then(() => void (started = true));
  ready.catch(() => undefined);

  const dumpConntrack = (): Promise<FlowConnectionUpdate[]> =>
    new Promise((resolve, reject) => {
      const s = seq++;
      const entries: FlowConnectionUpdate[] = [];
      const timer = setTimeout(() => finish(new IptablesError('IPTABLES_FLOW_SOURCE', 'conntrack dump timed out')), DUMP_TIMEOUT_MS);
      const finish = (e?: Error): void => {
        clearTimeout(timer);
        dump = undefined;
        e ? reject(e) : resolve(entries);
      };
      dump = { seq: s, entries, done: () => finish(), fail: finish };
      if (!relay) return finish(new IptablesError('IPTABLES_FLOW_SOURCE', `no netlink relay (restarting: ${problem ?? 'starting'})`));
      relay.channel.send('ct', conntrackDumpMessage(s));
    });
  // Connections seen alive in the last dump: one missing from the next one ended (expired).
  let live = new Map<string, FlowConnectionUpdate>();
  const tupleKey = (u: FlowConnectionUpdate): string => `${u.protocol} ${u.src} ${u.srcPort} ${u.dst} ${u.dstPort}`;

  return {
    name: 'iptables',
    ready,
    async poll(sink: FlowSink, o: FlowSourcePollOptions = {}) {
      if (closed) return;
      await ready;
      const n = Math.min(queue.length, o.maxEvents ?? Number.POSITIVE_INFINITY);
      for (let i = 0; i < n; i++) sink.verdict(queue[i]!);
      queue.splice(0, n);
      totals.events += n;
      if (pendingLost > 0) {
        totals.lost += pendingLost;
        sink.lost(pendingLost);
        pendingLost = 0;
      }
      // Without a relay (it is being restarted) the connections are left as they were, not ended.
      if (!o.counters || !relay) return;
      const entries = await dumpConntrack();
      const next = new Map<string, FlowConnectionUpdate>();
      const seen = new Set<string>();
      for (const u of entries) {
        totals.connections++;
        sink.connection(u);
        const k = tupleKey(u);
        seen.add(k);
        if (!u.closed) next.set(k, u);
      }
      for (const [k, u] of live) if (!seen.has(k)) sink.connection({ ...u, closed: true });
      live = next;
    },
    stats: (): IptablesFlowSourceStats => ({ ...totals, restarts, ...(problem !== undefined ? { problem } : {}), ...(relay?.pid !== undefined ? { relayPid: relay.pid } : {}) }),
    close() {
      if (closed) return;
      closed = true;
      if (restartTimer) clearTimeout(restartTimer);
      dump?.fail(new IptablesError('IPTABLES_FLOW_SOURCE', 'flow source closed'));
      relay?.channel.close();
      relay = undefined;
    },
  };
}
