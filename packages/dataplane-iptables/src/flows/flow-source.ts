/**
 * The iptables dataplane's flow source (core's `FlowSource` port, for `@gingham/flows`), as
 * Felix collects: NFLOG packets of the flow-log rules the renderer adds with `flowLogs` (one per
 * new allowed connection and endpoint decision, one per denied packet; the prefix names the
 * policy or profile rule, tier end or missing profile), and conntrack dumps (ctnetlink, with
 * `nf_conntrack_acct` on) for the packets and bytes of allowed connections and their end.
 *
 * Both netlink sockets live in the dataplane's network namespace (channel.ts: plain sockets in
 * this process's namespace, a relay child for another one). NFLOG sequence numbers are on, so a
 * gap (the kernel dropped messages under pressure) and a socket overrun (ENOBUFS) are counted as
 * lost events, never silently. It only reads: it never writes rules, and it leaves conntrack as
 * it is, except that it turns conntrack accounting on in that namespace.
 */
import type { FlowConnectionUpdate, FlowDecision, FlowSink, FlowSource, FlowSourcePollOptions, FlowSourceStats, FlowVerdictEvent } from '@gingham/core';
import { enableConntrackAccounting, openLocalChannel, openRelayChannel, type NetlinkChannel } from './channel.js';
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

export interface IptablesFlowSource extends FlowSource {
  /** Resolves once the NFLOG groups are bound (rejects when the kernel refused). */
  readonly ready: Promise<void>;
}

const DUMP_TIMEOUT_MS = 10_000;

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

  let channel: NetlinkChannel;
  let opened: Promise<void>;
  if (options.netns) {
    const relay = openRelayChannel(options.netns, rcvbuf);
    channel = relay.channel;
    opened = relay.ready.catch((cause) => {
      throw new IptablesError('IPTABLES_FLOW_SOURCE', `cannot open the flow-log sockets in ${options.netns}: ${(cause as Error).message}`, { cause });
    });
  } else {
    if (!enableConntrackAccounting()) {
      throw new IptablesError('IPTABLES_FLOW_SOURCE', 'cannot turn conntrack accounting on (/proc/sys/net/netfilter/nf_conntrack_acct): flow logs need it for packet and byte counts (run as root)');
    }
    channel = openLocalChannel(rcvbuf);
    opened = Promise.resolve();
  }

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
  let failure: Error | undefined;
  channel.onProblem((socket, problem, detail) => {
    // An overrun (ENOBUFS): the kernel dropped messages; NFLOG's sequence gap counts them.
    if (problem === 'failed') failure ??= new IptablesError('IPTABLES_FLOW_SOURCE', `flow-log ${socket} socket failed: ${detail}`);
  });

  let seq = 1;
  const bind = async (): Promise<void> => {
    await opened;
    for (const group of new Set([groups.ingressGroup, groups.egressGroup])) {
      const msgs = nflogBindMessages(group, seq);
      seq += msgs.length;
      // The first (unbind) may fail harmlessly; the bind and the mode must succeed.
      const waits = msgs.map((msg, i) => {
        const s = new DataView(msg.buffer).getUint32(8, true);
        const p = new Promise<void>((resolve, reject) => acks.set(s, { resolve, reject }));
        return i === 0 ? p.catch(() => undefined) : p;
      });
      for (const msg of msgs) channel.send('nflog', msg);
      await Promise.all(waits);
    }
  };
  const ready = bind();
  ready.catch(() => undefined);

  // ---- conntrack ----
  let dump: { seq: number; entries: FlowConnectionUpdate[]; done: () => void; fail: (e: Error) => void } | undefined;
  channel.onMessage((socket, msg) => {
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
  });
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
      channel.send('ct', conntrackDumpMessage(s));
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
      if (failure) throw failure;
      const n = Math.min(queue.length, o.maxEvents ?? Number.POSITIVE_INFINITY);
      for (let i = 0; i < n; i++) sink.verdict(queue[i]!);
      queue.splice(0, n);
      totals.events += n;
      if (pendingLost > 0) {
        totals.lost += pendingLost;
        sink.lost(pendingLost);
        pendingLost = 0;
      }
      if (!o.counters) return;
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
    stats: (): FlowSourceStats => ({ ...totals }),
    close() {
      if (closed) return;
      closed = true;
      dump?.fail(new IptablesError('IPTABLES_FLOW_SOURCE', 'flow source closed'));
      channel.close();
    },
  };
}
