/**
 * The C datapath (bpf/gingham.bpf.o) on the real kernel with BPF_PROG_TEST_RUN: no namespaces,
 * no interfaces, no pins. The headline test is differential: random clusters compiled to tables,
 * written into the live maps, and random flows run through the program must get the verdict of
 * `simulate()` over the same tables and of core's model dataplane. Needs root; skips without it
 * except under CI=true, where a missing capability fails the suite.
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CompiledRule, type DataplaneState, emptyDataplaneState, modelVerdict, type TierRef } from '@gingham/core';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BpfMap, type Collection, createCollection, loadCollectionSpec, RingBufReader, testRun, withNetns } from '@gingham/ebpf-loader';
import { arbCluster, arbUpdateStream, NODES, propRuns } from '@gingham/testkit';
import { arbSpec, engineStates, IFACES, nodeFacts, packets, placedPackets } from './support/flows.js';
import { ACTION_ALLOW, ACTION_DENY, compile, type DatapathEvent, type HostFacts, type MapName, type Packet, type SimContext, type SimDirectionVerdict, type SimVerdict, simulate, type Tables } from '../src/index.js';
import {
  buildArp, buildIcmpError, buildPacket, cloneMaps, conntrackKey, decodeConntrackValue, decodeEvent, encodeConntrackValue, encodeMetaValue, encodeSkbContext,
  FLAG_LOG, FLAG_UNTRACKED, IPV6_DSTOPTS, IPV6_HOPOPTS, IPV6_ROUTING, MAP_NAMES, META_NO_CT_INSERT, META_NO_EVENTS, NONE32, type PacketOptions,
  readCounters, readDatapathObject, TC_ACT_OK, TC_ACT_SHOT, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, writeTables,
} from '../src/testing.js';

function probe(): { ok: boolean; missing: string[] } {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  try {
    BpfMap.create({ name: 'gh_probe', type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, pinning: 'none' }).close();
  } catch (e) {
    missing.push(`bpf(2) map create (${(e as Error).message})`);
  }
  return { ok: missing.length === 0, missing };
}

const caps = probe();
/** GINGHAM_DATAPATH_OBJECT runs the suite against another build of the program. */
const OBJECT = process.env.GINGHAM_DATAPATH_OBJECT || undefined;
const mustRun = process.env.CI === 'true';

// ---- state builders ----

const ANY = {};
const tier = (name: string, policyIds: string[], defaultAction: 'Deny' | 'Pass' = 'Deny'): TierRef => ({ name, defaultAction, policyIds });

/** Pods A (10.0.0.1, fd00::1) and B (10.0.0.2, fd00::2); each pod's ingress is one tier with its policy; egress falls to an allow-all profile. */
function twoPods(aIngress: CompiledRule[], bIngress: CompiledRule[]): DataplaneState {
  const s = emptyDataplaneState();
  s.policies.set('pA', { id: 'pA', tier: 't1', ingress: aIngress, egress: [], staged: false });
  s.policies.set('pB', { id: 'pB', tier: 't1', ingress: bIngress, egress: [], staged: false });
  s.profiles.set('prof', { id: 'prof', ingress: [], egress: [{ action: 'Allow', source: ANY, destination: ANY }] });
  const pod = (name: string, addrs: string[], policy: string): void => {
    s.workloadEndpoints.set(`ns/${name}`, {
      id: `ns/${name}`, name, node: 'n1', interfaceName: `cali${name}`, addresses: addrs,
      ingressTiers: [tier('t1', [policy])], egressTiers: [], profileIds: ['prof'], stagedPolicyIds: [],
    });
  };
  pod('a', ['10.0.0.1/32', 'fd00::1/128'], 'pA');
  pod('b', ['10.0.0.2/32', 'fd00::2/128'], 'pB');
  return s;
}

const A = '10.0.0.1';
const B = '10.0.0.2';
const A6 = 'fd00::1';
const B6 = 'fd00::2';
const tcp = (src: string, dst: string, srcPort: number, dstPort: number): Packet => ({ src, dst, protocol: 6, srcPort, dstPort });
const udp = (src: string, dst: string, srcPort: number, dstPort: number): Packet => ({ src, dst, protocol: 17, srcPort, dstPort });

// ---- the live datapath ----

describe.skipIf(!caps.ok && !mustRun)('C datapath under BPF_PROG_TEST_RUN', () => {
  let coll: Collection;
  let maps: Record<MapName, BpfMap>;
  let events: RingBufReader;

  const drain = (m: BpfMap): void => {
    for (let k = m.nextKey(); k; k = m.nextKey()) m.delete(k);
  };
  const reset = (): void => {
    for (const n of MAP_NAMES) drain(maps[n]);
    drain(coll.map('conntrack'));
    drain(coll.map('counters'));
    events.read();
  };
  /** Runs the program on a frame seen where `ctx` says (default: arriving on ifindex 1, as `simulate()`'s default). */
  const runFrame = (data: Uint8Array, ctx: SimContext = { ingressIfindex: 1, ifindex: 1 }): number =>
    testRun(coll.program('gingham_tc'), { data, ctxIn: encodeSkbContext(ctx) }).retval;
  const run = (p: Packet, opts?: PacketOptions, ctx?: SimContext): number => runFrame(buildPacket(p, opts), ctx);
  const fill = (state: DataplaneState, prev?: Tables, facts?: HostFacts): Tables => {
    const r = compile(state, prev, facts);
    writeTables(maps, r.writes);
    return r.tables;
  };
  const liveSizes = (): Record<MapName, number> =>
    Object.fromEntries(MAP_NAMES.map((n) => [n, [...maps[n].keys()].length])) as Record<MapName, number>;
  const tableSizes = (t: Tables): Record<MapName, number> =>
    Object.fromEntries(MAP_NAMES.map((n) => [n, t.maps[n].size])) as Record<MapName, number>;
  const policyId = (t: Tables, name: string): number => {
    for (const [n, id] of t.memory.policyNums) if (n === name || n.endsWith(`/${name}`) || n.endsWith(`:${name}`)) return id;
    throw new Error(`no policy ${name} in ${[...t.memory.policyNums.keys()].join(', ')}`);
  };

  /**
   * The events the program must emit for a new flow, per simulate(), in the order it checks:
   * the arrival host endpoint (when it runs), egress, ingress, the departure host endpoint;
   * nothing after the first deny.
   */
  const expectedEvents = (sim: SimVerdict): Array<Partial<DatapathEvent>> => {
    const out: Array<Partial<DatapathEvent>> = [];
    const order: [SimDirectionVerdict | undefined, 'ingress' | 'egress'][] = [[sim.via?.in, 'ingress'], [sim.egress, 'egress'], [sim.ingress, 'ingress'], [sim.via?.out, 'egress']];
    for (const [d, direction] of order) {
      if (!d) continue;
      if (d.stage === 'table' && ((d.verdict!.flags & FLAG_LOG) !== 0 || d.verdict!.action === ACTION_DENY)) {
        const { action, flags, tier: t, policy, rule } = d.verdict!;
        out.push({ direction, slot: d.slot!, action, flags, tier: t, policy, rule });
      }
      if (!d.allowed) break;
    }
    return out;
  };
  const pick = (e: DatapathEvent): Partial<DatapathEvent> => ({
    direction: e.direction, slot: e.slot, action: e.action, flags: e.flags, tier: e.tier, policy: e.policy, rule: e.rule,
  });

  beforeAll(() => {
    if (!caps.ok) return; // the capability test below fails instead (CI)
    coll = createCollection(loadCollectionSpec(readDatapathObject(OBJECT)));
    maps = Object.fromEntries(MAP_NAMES.map((n) => [n, coll.map(n)])) as Record<MapName, BpfMap>;
    events = new RingBufReader(coll.map('events'));
  });
  afterAll(() => {
    events?.close();
    coll?.close();
  });
  afterEach(() => {
    if (coll) reset();
  });

  it('has what the suite needs (root, bpf(2))', () => {
    expect(caps.missing).toEqual([]);
  });

  it('loads with verifier log level 0, is small, and verifies in few steps', () => {
    const spec = loadCollectionSpec(readDatapathObject(OBJECT));
    const insns = spec.programs.gingham_tc!.instructions.length / 8;
    expect(insns).toBeLessThan(4096);
    expect(Object.keys(spec.maps).sort()).toEqual(['classes', 'conntrack', 'counters', 'endpoints', 'event_lost', 'events', 'flowstats', 'fwd_classes', 'ifaces', 'meta', 'slots', 'sports', 'verdicts']);
    expect(spec.maps.conntrack).toMatchObject({ type: 'lru_hash', keySize: 40, valueSize: 16, maxEntries: 262144, pinning: 'by-name' });
    expect(spec.maps.verdicts).toMatchObject({ type: 'lpm_trie', keySize: 21, valueSize: 12, maxEntries: 1048576, pinning: 'none' });
    expect(spec.maps.events).toMatchObject({ type: 'ringbuf', maxEntries: 262144, pinning: 'by-name' });
    expect(spec.maps.counters).toMatchObject({ type: 'hash', keySize: 8, valueSize: 16, pinning: 'by-name' });
    expect(spec.maps.meta).toMatchObject({ type: 'array', keySize: 4, valueSize: 16, maxEntries: 1, pinning: 'by-name' });
    expect(spec.maps.flowstats).toMatchObject({ type: 'lru_hash', keySize: 40, valueSize: 64, maxEntries: 262144, pinning: 'by-name' });
    expect(spec.maps.event_lost).toMatchObject({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, pinning: 'by-name' });
    using logged = createCollection(spec, { logLevel: 1 });
    const processed = Number(/processed (\d+) insns/.exec(logged.program('gingham_tc').verifierLog)?.[1]);
    expect(processed).toBeGreaterThan(0);
    expect(processed).toBeLessThan(100_000);
    expect(logged.program('gingham_tc').hasBtf).toBe(true);
  });

  // ---- a. differential ----

  // One node's program in a namespace of its own (`IFACES` with their ifindexes, so contexts name
  // real devices and the FIB lookup runs there), seeing each packet where `placedPackets` puts it.
  const netns = `gh-dp-${randomBytes(3).toString('hex')}`;
  let netnsMade = false;
  const inNetns = <T>(fn: () => T): T => withNetns(netns, fn);

  test.prop([arbCluster, fc.array(arbSpec, { minLength: 15, maxLength: 40 }), fc.constantFrom(...NODES)], { numRuns: propRuns(150) })(
    'every flow, wherever the node sees it (from the host, to it, forwarded through it), gets the verdict of simulate() and of the model dataplane, and the events simulate() predicts',
    (resources, specs, node) => {
      reset();
      if (!netnsMade) {
        spawnSync('ip', ['netns', 'add', netns]);
        netnsMade = true;
        spawnSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
        IFACES.forEach((i, k) => {
          const r = spawnSync('ip', ['-n', netns, 'link', 'add', i.name, 'index', String(i.ifindex), 'type', 'veth', 'peer', 'name', `p${k}`, 'index', String(i.ifindex + 10)], { encoding: 'utf8' });
          expect(r.status, r.stderr).toBe(0);
        });
      }
      const [state] = engineStates(resources, [], node).states;
      const known = [...state!.workloadEndpoints.values(), ...state!.hostEndpoints.values()].some((e) => e.node === node) || state!.hosts.has(node);
      if (!known) return;
      const tables = fill(state!, undefined, nodeFacts(node));
      for (const { packet: p, ctx, flow } of placedPackets(state!, node, specs)) {
        const sim = simulate(tables.maps, p, ctx);
        const model = modelVerdict(state!, flow);
        expect({ flow, sim: sim.allowed }).toEqual({ flow, sim: model.allowed });
        const got = inNetns(() => run(p, { tcpFlags: TCP_SYN }, ctx));
        expect({ p, ctx, got }).toEqual({ p, ctx, got: sim.allowed ? TC_ACT_OK : TC_ACT_SHOT });
        expect({ p, events: events.read().map((e) => pick(decodeEvent(e))) }).toEqual({ p, events: expectedEvents(sim) });
        drain(coll.map('conntrack')); // the next flow may be this one's reply
      }
    },
  );
  afterAll(() => {
    if (netnsMade) spawnSync('ip', ['netns', 'del', netns]);
  });

  // ---- b. incremental, with real maps ----

  test.prop([arbCluster, arbUpdateStream, fc.array(arbSpec, { minLength: 1, maxLength: 6 })], { numRuns: propRuns(10) })(
    'after every single write of an incremental diff the program agrees with simulate() over the same writes, and each direction keeps its old or new verdict',
    (resources, ops, specs) => {
      reset();
      const { states } = engineStates(resources, ops.slice(0, 3));
      let tables = fill(states[0]!);
      for (let i = 1; i < states.length; i++) {
        const r = compile(states[i]!, tables);
        const pkts = packets(states[i]!, specs).concat(packets(states[i - 1]!, specs));
        const olds = pkts.map((p) => simulate(tables.maps, p));
        const news = pkts.map((p) => simulate(r.tables.maps, p));
        const work = cloneMaps(tables.maps);
        for (const w of r.writes) {
          writeTables(maps, [w]);
          const m = work[w.map];
          const key = Buffer.from(w.key).toString('hex');
          if (w.op === 'update') m.set(key, w.value!);
          else m.delete(key);
          pkts.forEach((p, j) => {
            const now = simulate(work, p);
            const got = run(p);
            drain(coll.map('conntrack'));
            expect({ p, w, got }).toEqual({ p, w, got: now.allowed ? TC_ACT_OK : TC_ACT_SHOT });
            for (const dir of ['egress', 'ingress'] as const) {
              expect([olds[j]![dir].allowed, news[j]![dir].allowed]).toContain(now[dir].allowed);
            }
          });
          events.read();
        }
        expect(liveSizes()).toEqual(tableSizes(r.tables));
        tables = r.tables;
      }
    },
  );

  // ---- c. conntrack ----

  const allowB = (): CompiledRule[] => [
    { action: 'Allow', protocol: 6, source: ANY, destination: { ports: [{ min: 80, max: 80 }] } },
    { action: 'Allow', protocol: 17, source: ANY, destination: { ports: [{ min: 53, max: 53 }] } },
    { action: 'Allow', protocol: 1, icmp: { type: 8 }, source: ANY, destination: ANY },
    { action: 'Allow', protocol: 58, icmp: { type: 128 }, source: ANY, destination: ANY },
    { action: 'Allow', protocol: 1, icmp: { type: 3 }, source: ANY, destination: ANY },
  ];

  it('a reply passes on the entry its allowed request created, though policy alone denies it', () => {
    const t = fill(twoPods([], allowB()));
    const req = tcp(A, B, 40000, 80);
    const reply = tcp(B, A, 80, 40000);
    expect(simulate(t.maps, reply).allowed).toBe(false);
    expect(run(reply, { tcpFlags: TCP_SYN | TCP_ACK })).toBe(TC_ACT_SHOT); // no entry yet
    expect(run(req)).toBe(TC_ACT_OK);
    const entry = coll.map('conntrack').lookup(conntrackKey(req));
    expect(entry && decodeConntrackValue(entry).closing).toBe(false);
    expect(coll.map('conntrack').lookup(conntrackKey(reply))).toEqual(entry); // one normalized key for both directions
    expect(run(reply, { tcpFlags: TCP_SYN | TCP_ACK })).toBe(TC_ACT_OK);
    expect(run(tcp(B, A, 80, 40001), { tcpFlags: TCP_ACK })).toBe(TC_ACT_SHOT); // another flow
  });

  it('a policy change to deny keeps established flows and drops new ones', () => {
    const t = fill(twoPods([], allowB()));
    expect(run(tcp(A, B, 40000, 80))).toBe(TC_ACT_OK);
    fill(twoPods([], []), t);
    expect(run(tcp(A, B, 40000, 80), { tcpFlags: TCP_ACK })).toBe(TC_ACT_OK);
    expect(run(tcp(B, A, 80, 40000), { tcpFlags: TCP_ACK })).toBe(TC_ACT_OK);
    expect(run(tcp(A, B, 40001, 80))).toBe(TC_ACT_SHOT);
  });

  it('TCP RST marks the entry closing: it then expires after 10 s instead of an hour', () => {
    const t = fill(twoPods([], allowB()));
    const flow = tcp(A, B, 40000, 80);
    const ct = coll.map('conntrack');
    expect(run(flow)).toBe(TC_ACT_OK);
    fill(twoPods([], []), t); // from now on only the entry lets the flow through
    const key = conntrackKey(flow);
    const old = process.hrtime.bigint() - 11_000_000_000n; // bpf_ktime_get_ns and hrtime are both CLOCK_MONOTONIC
    ct.update(key, encodeConntrackValue({ lastSeenNs: old, flags: 0 }));
    expect(run(flow, { tcpFlags: TCP_ACK })).toBe(TC_ACT_OK); // 11 s idle is fine for an open TCP flow
    expect(decodeConntrackValue(ct.lookup(key)!).lastSeenNs).toBeGreaterThan(old); // refreshed
    expect(run(tcp(B, A, 80, 40000), { tcpFlags: TCP_RST })).toBe(TC_ACT_OK);
    expect(decodeConntrackValue(ct.lookup(key)!).closing).toBe(true);
    ct.update(key, encodeConntrackValue({ lastSeenNs: old, flags: 1 }));
    expect(run(flow, { tcpFlags: TCP_ACK })).toBe(TC_ACT_SHOT);
  });

  it('a bare SYN on a closing entry (a recycled 5-tuple) is decided by policy again; allowed, it opens a fresh entry', () => {
    let t = fill(twoPods([], allowB()));
    const flow = tcp(A, B, 40000, 80);
    const ct = coll.map('conntrack');
    const key = conntrackKey(flow);
    expect(run(flow)).toBe(TC_ACT_OK);
    expect(run(tcp(B, A, 80, 40000), { tcpFlags: TCP_FIN | TCP_ACK })).toBe(TC_ACT_OK); // the server closes first
    expect(decodeConntrackValue(ct.lookup(key)!).closing).toBe(true);
    // The client reuses its port at once (no TIME_WAIT on its side) after policy turned to deny.
    t = fill(twoPods([], []), t);
    expect(run(flow, { tcpFlags: TCP_SYN })).toBe(TC_ACT_SHOT);
    expect(run(flow, { tcpFlags: TCP_ACK })).toBe(TC_ACT_OK); // the old flow's own packets still pass while it closes
    expect(run(tcp(B, A, 80, 40000), { tcpFlags: TCP_SYN })).toBe(TC_ACT_SHOT); // nor from the other side
    // Allowed again: the new connection gets an entry of its own, not the closing one.
    t = fill(twoPods([], allowB()), t);
    expect(run(flow, { tcpFlags: TCP_SYN })).toBe(TC_ACT_OK);
    expect(decodeConntrackValue(ct.lookup(key)!).closing).toBe(false);
    fill(twoPods([], []), t);
    expect(run(tcp(B, A, 80, 40000), { tcpFlags: TCP_SYN | TCP_ACK })).toBe(TC_ACT_OK);
    expect(run(flow, { tcpFlags: TCP_SYN })).toBe(TC_ACT_OK); // a retransmitted SYN of an open flow is that flow's
  });

  it('ICMP echo: the reply with the same identifier passes, another identifier does not (v4 and v6)', () => {
    fill(twoPods([], allowB()));
    expect(run({ src: A, dst: B, protocol: 1, icmp: { type: 8 } }, { icmpId: 77 })).toBe(TC_ACT_OK);
    expect(run({ src: B, dst: A, protocol: 1, icmp: { type: 0 } }, { icmpId: 77 })).toBe(TC_ACT_OK);
    expect(run({ src: B, dst: A, protocol: 1, icmp: { type: 0 } }, { icmpId: 78 })).toBe(TC_ACT_SHOT);
    expect(coll.map('conntrack').lookup(conntrackKey({ src: B, dst: A, protocol: 1, icmp: { type: 0 } }, 77))).toBeDefined();
    expect(run({ src: A6, dst: B6, protocol: 58, icmp: { type: 128 } }, { icmpId: 9 })).toBe(TC_ACT_OK);
    expect(run({ src: B6, dst: A6, protocol: 58, icmp: { type: 129 } }, { icmpId: 9 })).toBe(TC_ACT_OK);
    expect(run({ src: B6, dst: A6, protocol: 58, icmp: { type: 129 } }, { icmpId: 10 })).toBe(TC_ACT_SHOT);
  });

  it('an ICMP error about a tracked flow passes as RELATED; an unrelated one is evaluated by policy', () => {
    const t = fill(twoPods([], allowB()));
    const flow = udp(A, B, 5000, 53);
    const unreachable = (src: string, dst: string, about: Packet): Uint8Array =>
      buildIcmpError({ src, dst, type: 3, code: 3, original: buildPacket(about) });
    expect(simulate(t.maps, { src: B, dst: A, protocol: 1, icmp: { type: 3, code: 3 } }).allowed).toBe(false);
    expect(runFrame(unreachable(B, A, flow))).toBe(TC_ACT_SHOT); // nothing tracked yet
    expect(run(flow)).toBe(TC_ACT_OK);
    expect(runFrame(unreachable(B, A, flow))).toBe(TC_ACT_OK); // from the destination
    expect(runFrame(unreachable('10.0.0.9', A, flow))).toBe(TC_ACT_OK); // from a router on the way
    expect(runFrame(unreachable(B, A, udp(A, B, 5001, 53)))).toBe(TC_ACT_SHOT); // unrelated, A's policy denies
    expect(runFrame(unreachable(A, B, udp(B, A, 7, 7)))).toBe(TC_ACT_OK); // unrelated, B's policy allows ICMP type 3
    expect(coll.map('conntrack').lookup(conntrackKey(flow))).toBeDefined();
    const flow6 = udp(A6, B6, 5000, 53);
    expect(run(flow6)).toBe(TC_ACT_OK);
    expect(runFrame(buildIcmpError({ src: B6, dst: A6, type: 1, code: 4, original: buildPacket(flow6) }))).toBe(TC_ACT_OK);
    expect(runFrame(buildIcmpError({ src: B6, dst: A6, type: 1, code: 4, original: buildPacket(udp(A6, B6, 5001, 53)) }))).toBe(TC_ACT_SHOT);
    // An error about an echo request is related to the echo flow.
    const ping = { src: A, dst: B, protocol: 1, icmp: { type: 8 } };
    expect(run(ping, { icmpId: 5 })).toBe(TC_ACT_OK);
    expect(runFrame(buildIcmpError({ src: '10.0.0.9', dst: A, type: 11, original: buildPacket(ping, { icmpId: 5 }) }))).toBe(TC_ACT_OK);
    expect(runFrame(buildIcmpError({ src: '10.0.0.9', dst: A, type: 11, original: buildPacket(ping, { icmpId: 6 }) }))).toBe(TC_ACT_SHOT);
  });

  it('IPv6 extension headers are skipped to reach the ports; non-first fragments are evaluated with ports 0', () => {
    fill(twoPods([], allowB()));
    for (const ext of [[IPV6_HOPOPTS], [IPV6_HOPOPTS, IPV6_ROUTING, IPV6_DSTOPTS], [IPV6_DSTOPTS]]) {
      expect(run(tcp(A6, B6, 40000, 80), { ipv6Extensions: ext })).toBe(TC_ACT_OK);
      expect(run(tcp(A6, B6, 40001, 81), { ipv6Extensions: ext })).toBe(TC_ACT_SHOT);
      drain(coll.map('conntrack'));
    }
    expect(run(tcp(A6, B6, 40000, 80), { ipv6Extensions: [IPV6_HOPOPTS], moreFragments: true })).toBe(TC_ACT_OK); // first fragment
    drain(coll.map('conntrack'));
    expect(run(tcp(A6, B6, 40000, 80), { fragmentOffset: 100 })).toBe(TC_ACT_SHOT); // policy sees port 0
    expect(run(tcp(A, B, 40000, 80), { moreFragments: true })).toBe(TC_ACT_OK);
    drain(coll.map('conntrack'));
    expect(run(tcp(A, B, 40000, 80), { fragmentOffset: 100 })).toBe(TC_ACT_SHOT);
    expect([...coll.map('conntrack').keys()]).toEqual([]); // fragments without ports create no entries
  });

  it('non-IP frames, ICMPv6 neighbour discovery and VLAN-tagged IP', () => {
    fill(twoPods([], []));
    expect(runFrame(buildArp(A, B))).toBe(TC_ACT_OK);
    expect(run({ src: A6, dst: B6, protocol: 58, icmp: { type: 135 } })).toBe(TC_ACT_OK); // neighbour solicitation
    expect(run({ src: B6, dst: A6, protocol: 58, icmp: { type: 136 } })).toBe(TC_ACT_OK); // neighbour advertisement
    expect(run({ src: A6, dst: B6, protocol: 58, icmp: { type: 128 } })).toBe(TC_ACT_SHOT); // echo is policy's
    expect(run(tcp(A, B, 40000, 80), { vlan: 7 })).toBe(TC_ACT_SHOT);
    const badIhl = buildPacket(tcp(A, B, 40000, 80));
    badIhl[14] = 0x43; // IHL 3 (< 5): malformed, never guessed at
    expect(runFrame(badIhl)).toBe(TC_ACT_SHOT);
    expect(run(tcp('192.168.0.1', '192.168.0.2', 1, 2))).toBe(TC_ACT_OK); // no endpoint on either side
  });

  it('source-port conditions go through the sports trie (5 lookups) and match like the model', () => {
    const s = twoPods([], [
      { action: 'Deny', protocol: 6, source: { ports: [{ min: 1000, max: 1999 }] }, destination: { ports: [{ min: 22, max: 22 }] } },
      { action: 'Allow', source: { ports: [{ min: 53, max: 53 }, { min: 1024, max: 4095 }] }, destination: ANY },
      { action: 'Allow', protocol: 1, source: ANY, destination: ANY },
    ]);
    const t = fill(s);
    const seen = new Set<number>();
    for (const protocol of [6, 17, 132]) {
      for (const srcPort of [52, 53, 54, 999, 1000, 1023, 1024, 1500, 1999, 2000, 4095, 4096, 65535]) {
        for (const dstPort of [22, 80]) {
          const p: Packet = { src: A, dst: B, protocol, srcPort, dstPort };
          const sim = simulate(t.maps, p);
          const m = modelVerdict(s, p);
          expect(sim.ingress.lookups).toBe(5);
          const got = run(p);
          drain(coll.map('conntrack'));
          expect({ p, got }).toEqual({ p, got: m.egress.allowed && m.ingress.allowed ? TC_ACT_OK : TC_ACT_SHOT });
          seen.add(got);
        }
      }
    }
    expect(run({ src: A, dst: B, protocol: 1, icmp: { type: 8 } })).toBe(TC_ACT_OK); // no ports: no sports lookup
    expect([...seen].sort()).toEqual([TC_ACT_OK, TC_ACT_SHOT]);
  });

  // ---- d. events and counters ----

  it('Log then Allow emits a logged event with the deciding policy and rule; Deny emits one; counters follow the deciding rule', () => {
    const t = fill(twoPods([], [
      { action: 'Log', protocol: 6, source: ANY, destination: ANY },
      { action: 'Deny', protocol: 6, source: ANY, destination: { ports: [{ min: 22, max: 22 }] } },
      { action: 'Allow', protocol: 6, source: ANY, destination: { ports: [{ min: 80, max: 80 }] } },
    ]));
    const pB = policyId(t, 'pB');
    const web = tcp(A, B, 40000, 80);
    const frame = buildPacket(web);
    expect(runFrame(frame)).toBe(TC_ACT_OK);
    const [logged, ...more] = events.read().map(decodeEvent);
    expect(more).toEqual([]);
    expect(logged).toMatchObject({ direction: 'ingress', action: ACTION_ALLOW, policy: pB, rule: 2, family: 4, protocol: 6, src: A, dst: B, srcPort: 40000, dstPort: 80 });
    expect(logged!.flags & FLAG_LOG).toBe(FLAG_LOG);
    expect(logged!.tsNs).toBeGreaterThan(0n);

    expect(run(tcp(A, B, 40000, 22))).toBe(TC_ACT_SHOT);
    const [denied] = events.read().map(decodeEvent);
    expect(denied).toMatchObject({ direction: 'ingress', action: ACTION_DENY, policy: pB, rule: 1, dstPort: 22 });

    expect(runFrame(frame)).toBe(TC_ACT_OK); // established: no event, not counted
    expect(events.read()).toEqual([]);
    const counters = readCounters(coll.map('counters'));
    expect(counters).toContainEqual({ policy: pB, rule: 2, direction: 'ingress', packets: 1n, bytes: BigInt(frame.length) });
    expect(counters).toContainEqual(expect.objectContaining({ policy: pB, rule: 1, direction: 'ingress', packets: 1n }));
    const prof = policyId(t, 'prof');
    expect(counters).toContainEqual(expect.objectContaining({ policy: prof, direction: 'egress', packets: 2n })); // A's egress allowed both
    expect(counters.every((c) => c.policy !== NONE32)).toBe(true);
  });

  it('meta flags: NO_CT_INSERT sends every packet through policy, NO_EVENTS silences the ring buffer but not the counters', () => {
    const meta = coll.map('meta');
    const zero = new Uint8Array(4);
    try {
      fill(twoPods([], allowB()));
      meta.update(zero, encodeMetaValue(0n, META_NO_CT_INSERT));
      expect(run(tcp(A, B, 40000, 80))).toBe(TC_ACT_OK);
      expect([...coll.map('conntrack').keys()]).toEqual([]);
      expect(run(tcp(B, A, 80, 40000), { tcpFlags: TCP_SYN | TCP_ACK })).toBe(TC_ACT_SHOT); // no entry: the reply meets policy
      events.read();
      meta.update(zero, encodeMetaValue(0n, META_NO_EVENTS));
      expect(run(tcp(A, B, 40000, 22))).toBe(TC_ACT_SHOT);
      expect(events.read()).toEqual([]);
      expect(readCounters(coll.map('counters')).some((c) => c.direction === 'ingress' && c.packets > 0n)).toBe(true);
    } finally {
      meta.update(zero, encodeMetaValue(0n, 0));
    }
  });

  it('doNotTrack: an untracked Allow creates no conntrack entry, so the reply needs its own untracked (or tracked) allow', () => {
    const H = '10.0.0.9';
    const state = (egressAllow: boolean): DataplaneState => {
      const s = twoPods([], []);
      s.policies.set('untracked-in', { id: 'untracked-in', tier: 't1', staged: false, egress: [], ingress: [{ action: 'Allow', protocol: 6, source: ANY, destination: { ports: [{ min: 80, max: 80 }] } }] });
      s.policies.set('untracked-out', { id: 'untracked-out', tier: 't1', staged: false, ingress: [], egress: egressAllow ? [{ action: 'Allow', protocol: 6, source: { ports: [{ min: 80, max: 80 }] }, destination: ANY }] : [] });
      s.hostEndpoints.set('host', {
        id: 'host', node: 'n1', binding: { kind: 'interface', interfaceName: 'eth0' }, expectedIPs: [H],
        ingressTiers: [], egressTiers: [], untrackedIngressTiers: [tier('t1', ['untracked-in'], 'Pass')],
        untrackedEgressTiers: [tier('t1', ['untracked-out'], 'Pass')], preDnatIngressTiers: [], forwardIngressTiers: [], forwardEgressTiers: [],
        profileIds: [], stagedPolicyIds: [], failsafeInbound: [], failsafeOutbound: [],
      });
      return s;
    };
    const t = fill(state(false));
    const R = '192.168.7.7'; // a remote client (no endpoint here), reaching the host through its interface
    const req = tcp(R, H, 40000, 80);
    const reply = tcp(H, R, 80, 40000);
    expect(simulate(t.maps, req).ingress.verdict!.flags & FLAG_UNTRACKED).toBe(FLAG_UNTRACKED);
    expect(run(req)).toBe(TC_ACT_OK);
    expect([...coll.map('conntrack').keys()]).toEqual([]);
    expect(run(reply, { tcpFlags: TCP_SYN | TCP_ACK })).toBe(TC_ACT_SHOT); // no entry, and the host's egress denies
    fill(state(true), t);
    expect(run(reply, { tcpFlags: TCP_SYN | TCP_ACK })).toBe(TC_ACT_OK);
    expect([...coll.map('conntrack').keys()]).toEqual([]);
  });

  // ---- e. 10,000 rules ----

  it('10,000 rules on one endpoint: the same program, the rows in the maps, verdicts equal the model', () => {
    const rules: CompiledRule[] = Array.from({ length: 10_000 }, (_, i) => ({
      action: i % 7 === 3 ? 'Deny' : 'Allow',
      protocol: 6,
      source: { nets: [`10.${i % 100}.0.0/16`] },
      destination: { ports: [{ min: 10_000 + i, max: 10_000 + i }] },
    }));
    const s = twoPods([], rules);
    const t = fill(s);
    expect(liveSizes()).toEqual(tableSizes(t));
    expect(t.maps.verdicts.size).toBeGreaterThan(1000);
    const flows = [
      tcp('10.3.1.1', B, 40000, 10_003), tcp('10.3.1.1', B, 40000, 10_103), tcp('10.4.1.1', B, 40000, 10_003),
      tcp('10.99.0.1', B, 40000, 19_999), tcp('10.10.0.1', B, 40000, 10_010), tcp('10.10.0.1', B, 40000, 10_017),
      tcp(A, B, 40000, 80), udp('10.3.1.1', B, 40000, 10_003),
    ];
    const verdicts = flows.map((p) => {
      const got = run(p);
      drain(coll.map('conntrack'));
      const m = modelVerdict(s, p);
      expect({ p, got }).toEqual({ p, got: m.egress.allowed && m.ingress.allowed ? TC_ACT_OK : TC_ACT_SHOT });
      expect(simulate(t.maps, p).ingress.lookups).toBe(4);
      return got;
    });
    expect(verdicts).toContain(TC_ACT_OK);
    expect(verdicts).toContain(TC_ACT_SHOT);
  });
});
