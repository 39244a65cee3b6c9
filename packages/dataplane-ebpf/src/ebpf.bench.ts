/**
 * eBPF dataplane benchmarks (root only). JSON lines via `emit`, all from one run:
 *  - `ebpf.packet`: ns per packet of the datapath program under BPF_PROG_TEST_RUN (the kernel's
 *    average over REPEAT runs; median of ROUNDS such runs, all configurations interleaved round
 *    by round so that the shared machine's noise hits them alike): a new flow at 10, 1,000 and
 *    10,000 rules (meta.flags = META_NO_CT_INSERT, so every repetition takes the policy path; the
 *    bench checks that no conntrack entry appeared and that the rule counter saw every run), an
 *    established flow (conntrack hit), and two references, an empty tc program and one LPM-trie
 *    lookup (bpf/bench/*.bpf.c). Goals: 10k rules ≤ 1.3× 10 rules; new flow ≤ 4× one LPM lookup.
 *  - `ebpf.update`: map writes and time of one label change vs. the full fill at 10k rules,
 *    message → compile → map writes through the dataplane's `apply()` (goal ≤ 1/100);
 *    `ebpf.update.maps`: the same with the compiler and the live maps alone.
 *  - `ebpf.iperf` (TCP throughput against no policy and the iptables dataplane) is a comparison
 *    between dataplanes and lives in `scripts/dataplane-throughput.bench.ts` (no dataplane
 *    depends on another); `npm run bench:ebpf` runs both.
 * It must never touch the root namespace (routes, iptables, tc) or the host's /sys/fs/bpf: the
 * packet rows use unpinned maps, the dataplanes pin into a bpffs mounted privately here, every
 * namespace gets a unique name, and processes (by pid), namespaces and the mount are removed in
 * `finally` blocks.
 * Run: `npm run bench:ebpf` (or `npx tsx packages/dataplane-ebpf/src/ebpf.bench.ts` after a build;
 * `GINGHAM_EBPF_BENCH=packet` for the packet rows alone). The packet rows also time a new flow
 * the node forwards to a pod through its `*` host endpoint (two forwarding checks) and one routed
 * between two outside addresses (a FIB lookup, in a scratch namespace).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type CompiledRule, type DataplaneMessage, type DataplaneState, emptyDataplaneState, type WorkloadEndpointState } from '@gingham/core';
import { type BpfMap, type BpfProgram, type Collection, createCollection, loadCollectionSpec, testRun, withNetns } from '@gingham/ebpf-loader';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { compile } from './compile/index.js';
import { DATAPATH_PROGRAM, encodeSkbContext, readDatapathObject, TC_ACT_OK, writeTables } from './datapath.js';
import { createEbpfDataplane } from './dataplane/index.js';
import { buildPacket, TCP_ACK, TCP_SYN } from './packet.js';
import { simulate } from './simulate.js';
import { decodeU32Value, encodeClassKey, hexKey, MAP_NAMES, type MapName } from './wire.js';
import { parseWireAddr } from './addr.js';

type Row = { bench: string; metric: string; value: number; unit: string };
type Emit = (row: Row) => void;

const SIZES = [10, 1_000, 10_000] as const;
const ROUNDS = 11;
const REPEAT = 100_000;
const LABEL_CHANGES = 21;
/** meta.flags bit0 (datapath ABI): never insert conntrack entries, so every packet takes the policy path. */
const META_NO_CT_INSERT = 1;

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

// ---------------------------------------------------------------------------------------------
// Policy state: the shape of compile.bench.ts. 100 selector IP sets of two remote addresses each
// (s<k> = 10.1.k.1, 10.1.k.2); rule i allows TCP from set s(i % 100) to port 1000 + (i % 5000).

const LOCAL = '10.0.0.1';
const PEER = '10.1.0.1'; // in s0: rule 0 (s0 → tcp/1000) allows it

function ruleList(rules: number, setId: (k: number) => string): CompiledRule[] {
  return Array.from({ length: rules }, (_, i) => ({
    action: 'Allow',
    protocol: 6,
    source: { ipSetId: setId(i % 100) },
    destination: { ports: [{ min: 1000 + (i % 5000), max: 1000 + (i % 5000) }] },
  }));
}

/**
 * One local endpoint (LOCAL) whose ingress policy has `rules` rules. With `bothSides`, PEER is a
 * local endpoint too, with the mirrored egress rules (to set s(i % 100), LOCAL added to s0), so a
 * PEER → LOCAL packet is evaluated at both enforcement points (pod to pod on one node).
 */
function ruleState(rules: number, bothSides = false): DataplaneState {
  const s = emptyDataplaneState();
  for (let k = 0; k < 100; k++) s.ipSets.set(`s${k}`, { type: 'nets', members: new Set([`10.1.${k}.1/32`, `10.1.${k}.2/32`]) });
  s.policies.set('p', { id: 'p', tier: 'default', ingress: ruleList(rules, (k) => `s${k}`), egress: [], staged: false });
  s.workloadEndpoints.set('n/a', {
    id: 'n/a', name: 'a', node: 'x', interfaceName: 'cali1', addresses: [`${LOCAL}/32`],
    ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['p'] }], egressTiers: [], profileIds: [], stagedPolicyIds: [],
  });
  if (bothSides) {
    s.ipSets.get('s0')!.members.add(`${LOCAL}/32`);
    const egress = ruleList(rules, (k) => `s${k}`).map((r) => ({ ...r, source: {}, destination: { ...r.destination, ipSetId: r.source.ipSetId! } }));
    s.policies.set('q', { id: 'q', tier: 'default', ingress: [], egress, staged: false });
    s.workloadEndpoints.set('n/b', {
      id: 'n/b', name: 'b', node: 'x', interfaceName: 'cali2', addresses: [`${PEER}/32`],
      ingressTiers: [], egressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['q'] }], profileIds: [], stagedPolicyIds: [],
    });
  }
  return s;
}

/** The same state as dataplane messages (for `apply()`), endpoint and interface configurable. */
export function ruleMessages(rules: number, endpoints: readonly WorkloadEndpointState[], extraMembers: Record<number, string[]> = {}): DataplaneMessage[] {
  const msgs: DataplaneMessage[] = [];
  for (let k = 0; k < 100; k++) {
    msgs.push({ kind: 'ipset-replace', id: `s:bench${k}`, type: 'nets', members: [`10.1.${k}.1/32`, `10.1.${k}.2/32`, ...(extraMembers[k] ?? [])] });
  }
  msgs.push({ kind: 'profile-upsert', profile: { id: 'kns.bench', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } });
  msgs.push({ kind: 'policy-upsert', policy: { id: 'gnp/bench-rules', tier: 'default', staged: false, egress: [], ingress: ruleList(rules, (k) => `s:bench${k}`) } });
  for (const endpoint of endpoints) msgs.push({ kind: 'workload-endpoint-upsert', endpoint });
  msgs.push({ kind: 'in-sync' });
  return msgs;
}

export function benchEndpoint(name: string, iface: string, addr: string): WorkloadEndpointState {
  return {
    id: `bench/${name}`, name, node: 'n1', interfaceName: iface, addresses: [`${addr}/32`],
    ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/bench-rules'] }],
    egressTiers: [], profileIds: ['kns.bench'], stagedPolicyIds: [],
  };
}

// ---------------------------------------------------------------------------------------------
// ns per packet (BPF_PROG_TEST_RUN)

export const benchObject = (name: 'empty' | 'lpm'): Uint8Array => new Uint8Array(readFileSync(new URL(`../bpf/bench/${name}.bpf.o`, import.meta.url)));

/** meta[0]: generation u64, flags u32, reserved u32. */
function setMetaFlags(c: Collection, flags: number): void {
  const v = new Uint8Array(16);
  new DataView(v.buffer).setUint32(8, flags, true);
  c.map('meta').update(u32(0), v);
}

function countEntries(m: BpfMap): number {
  let n = 0;
  for (let k = m.nextKey(); k !== undefined; k = m.nextKey(k)) n++;
  return n;
}

function sumCounterPackets(m: BpfMap): bigint {
  let sum = 0n;
  for (let k = m.nextKey(); k !== undefined; k = m.nextKey(k)) {
    const v = m.lookup(k);
    if (v) sum += new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(0, true);
  }
  return sum;
}

interface PacketCase {
  readonly metric: string;
  readonly program: BpfProgram;
  readonly data: Uint8Array;
  readonly samples: number[];
  /** `__sk_buff` context (default ARRIVAL) and the namespace to run in (for a FIB lookup). */
  readonly ctx?: Uint8Array;
  readonly netns?: string;
}

function datapathCollection(state: DataplaneState): { c: Collection; verdictRows: number; classEntries: number; classes: Map<string, Uint8Array> } {
  const c = createCollection(loadCollectionSpec(readDatapathObject()));
  try {
    const { tables, writes } = compile(state);
    writeTables(policyMaps(c), writes);
    return { c, verdictRows: tables.maps.verdicts.size, classEntries: tables.maps.classes.size, classes: tables.maps.classes };
  } catch (e) {
    c.close();
    throw e;
  }
}

function policyMaps(c: Collection): Record<MapName, BpfMap> {
  return Object.fromEntries(MAP_NAMES.map((n) => [n, c.map(n)])) as Record<MapName, BpfMap>;
}

/**
 * `ruleState(rules)` with the node's all-interfaces host endpoint whose applyOnForward ingress
 * policy has 10 rules of the same shape (from set s(i) to tcp/1000 + i): a packet the node
 * forwards meets its forwarding slots on arrival and departure besides the endpoints.
 */
function forwardState(rules: number): DataplaneState {
  const s = ruleState(rules);
  s.policies.set('f', { id: 'f', tier: 'default', ingress: ruleList(10, (k) => `s${k}`), egress: [], staged: false });
  s.hostEndpoints.set('star', {
    id: 'star', node: 'x', binding: { kind: 'all-interfaces' }, expectedIPs: [],
    ingressTiers: [], egressTiers: [], untrackedIngressTiers: [], untrackedEgressTiers: [], preDnatIngressTiers: [],
    forwardIngressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['f'] }], forwardEgressTiers: [],
    profileIds: [], stagedPolicyIds: [], failsafeInbound: [], failsafeOutbound: [],
  });
  return s;
}

/** Where the packet rows see their packets: arriving on the loopback (ifindex 1), as `simulate()`'s default. */
const ARRIVAL = encodeSkbContext({ ingressIfindex: 1, ifindex: 1 });

async function packetBench(emit: Emit): Promise<void> {
  const bench = 'ebpf.packet';
  let routedNs: { name: string; destroy(): void } | undefined;
  const flow = { src: PEER, dst: LOCAL, protocol: 6, srcPort: 40000, dstPort: 1000 };
  const syn = buildPacket(flow, { tcpFlags: TCP_SYN });
  const ack = buildPacket(flow, { tcpFlags: TCP_ACK });
  const open: Collection[] = [];
  try {
    const cases: PacketCase[] = [];
    const empty = createCollection(loadCollectionSpec(benchObject('empty')));
    open.push(empty);
    cases.push({ metric: 'empty_program', program: empty.program('bench_empty'), data: syn, samples: [] });

    const newFlow: Record<string, Collection> = {};
    let classes10k: Map<string, Uint8Array> | undefined;
    for (const n of SIZES) {
      const state = ruleState(n);
      const sim = simulate(compile(state).tables.maps, flow);
      if (!sim.allowed || sim.ingress.stage !== 'table') throw new Error(`ebpf bench: the ${n}-rule flow is not allowed by a table row in the simulator`);
      const d = datapathCollection(state);
      open.push(d.c);
      setMetaFlags(d.c, META_NO_CT_INSERT);
      newFlow[n] = d.c;
      emit({ bench, metric: `verdict_rows_${n}_rules`, value: d.verdictRows, unit: 'rows' });
      emit({ bench, metric: `class_entries_${n}_rules`, value: d.classEntries, unit: 'entries' });
      emit({ bench, metric: `lookups_per_new_flow_${n}_rules`, value: sim.egress.lookups + sim.ingress.lookups, unit: 'lookups' });
      cases.push({ metric: `new_flow_${n}_rules`, program: d.c.program(DATAPATH_PROGRAM), data: syn, samples: [] });
      if (n === 10_000) classes10k = d.classes;
    }

    // Pod to pod on one node: both enforcement points evaluated (egress of PEER, ingress of LOCAL).
    {
      const state = ruleState(10_000, true);
      const sim = simulate(compile(state).tables.maps, flow);
      if (!sim.allowed || sim.egress.stage !== 'table' || sim.ingress.stage !== 'table') throw new Error('ebpf bench: the two-sided flow is not allowed by table rows at both ends in the simulator');
      const d = datapathCollection(state);
      open.push(d.c);
      setMetaFlags(d.c, META_NO_CT_INSERT);
      newFlow.both = d.c;
      emit({ bench, metric: 'lookups_per_new_flow_both_sides_10000_rules', value: sim.egress.lookups + sim.ingress.lookups, unit: 'lookups' });
      cases.push({ metric: 'new_flow_both_sides_10000_rules', program: d.c.program(DATAPATH_PROGRAM), data: syn, samples: [] });
    }

    // Forwarded by the node to a local pod through its `*` host endpoint (10 applyOnForward
    // rules): the arrival and departure forwarding checks on top of the pod's 10k-rule ingress.
    {
      const state = forwardState(10_000);
      const sim = simulate(compile(state).tables.maps, flow);
      if (!sim.allowed || sim.via?.in?.stage !== 'table' || sim.via?.out?.stage !== 'table') throw new Error('ebpf bench: the forwarded flow does not meet both forwarding slots in the simulator');
      const d = datapathCollection(state);
      open.push(d.c);
      setMetaFlags(d.c, META_NO_CT_INSERT);
      newFlow.forwarded = d.c;
      cases.push({ metric: 'new_flow_forwarded_10000_rules', program: d.c.program(DATAPATH_PROGRAM), data: syn, samples: [] });
    }

    // Routed between two outside addresses at an ingress hook: no endpoint, so one FIB lookup
    // decides where it goes (in a scratch namespace: eth0 with ifindex 40 and a route out of it).
    {
      routedNs = scratchNetns();
      const ns = routedNs.name;
      for (const argv of [
        ['link', 'add', 'eth0', 'index', '40', 'type', 'veth', 'peer', 'name', 'eth0p', 'index', '41'],
        ['link', 'set', 'eth0', 'up'],
        ['link', 'set', 'eth0p', 'up'],
        ['addr', 'add', '192.0.2.1/24', 'dev', 'eth0'],
        ['route', 'add', '203.0.113.0/24', 'via', '192.0.2.2', 'dev', 'eth0'],
      ]) {
        const r = spawnSync('ip', ['-n', ns, ...argv], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`ebpf bench: ip ${argv.join(' ')}: ${r.stderr}`);
      }
      spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1']);
      const state = forwardState(10);
      const routed = { src: PEER, dst: '203.0.113.9', protocol: 6, srcPort: 40000, dstPort: 1000 };
      const ctx = { ingressIfindex: 40, ifindex: 40, route: { local: false, ifindex: 40 } } as const;
      const sim = simulate(compile(state).tables.maps, routed, ctx);
      if (!sim.allowed || sim.via?.in?.stage !== 'table') throw new Error('ebpf bench: the routed flow does not meet the arrival forwarding slot in the simulator');
      const d = datapathCollection(state);
      open.push(d.c);
      setMetaFlags(d.c, META_NO_CT_INSERT);
      newFlow.routed = d.c;
      cases.push({ metric: 'new_flow_routed', program: d.c.program(DATAPATH_PROGRAM), data: buildPacket(routed, { tcpFlags: TCP_SYN }), samples: [], ctx: encodeSkbContext(ctx), netns: ns });
    }

    // One LPM lookup over the 10k-rule classes trie, of the address the datapath's class lookup
    // resolves (the peer): the reference packet goes *to* PEER so the same /32 entry is found.
    const lpm = createCollection(loadCollectionSpec(benchObject('lpm')));
    open.push(lpm);
    const trie = lpm.map('bench_classes');
    for (const [k, v] of classes10k!) trie.update(fromHex(k), v);
    const lpmPacket = buildPacket({ src: LOCAL, dst: PEER, protocol: 6, srcPort: 1000, dstPort: 40000 }, { tcpFlags: TCP_SYN });
    cases.push({ metric: 'lpm_lookup', program: lpm.program('bench_lpm'), data: lpmPacket, samples: [] });

    // Established: conntrack on (flags 0); the SYN inserts the entry, then ACKs hit it.
    const est = datapathCollection(ruleState(10_000));
    open.push(est.c);
    setMetaFlags(est.c, 0);
    if (testRun(est.c.program(DATAPATH_PROGRAM), { data: syn, ctxIn: ARRIVAL }).retval !== TC_ACT_OK) throw new Error('ebpf bench: the established flow\'s SYN was dropped');
    if (countEntries(est.c.map('conntrack')) !== 1) throw new Error('ebpf bench: the SYN did not insert exactly one conntrack entry');
    cases.push({ metric: 'established_flow', program: est.c.program(DATAPATH_PROGRAM), data: ack, samples: [] });

    const runCase = (k: PacketCase, repeat: number) => withNetns(k.netns, () => testRun(k.program, { data: k.data, repeat, ctxIn: k.ctx ?? ARRIVAL }));
    for (const k of cases) {
      const r = runCase(k, 10_000); // warm-up
      if (r.retval !== TC_ACT_OK) throw new Error(`ebpf bench: ${k.metric} returned ${r.retval}, want TC_ACT_OK`);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const k of cases) {
        const r = runCase(k, REPEAT);
        if (r.retval !== TC_ACT_OK) throw new Error(`ebpf bench: ${k.metric} returned ${r.retval}, want TC_ACT_OK`);
        k.samples.push(r.duration);
      }
    }

    // Every new-flow repetition took the policy path: no conntrack entry, and the deciding rule's
    // counter saw every packet.
    const runs = BigInt(10_000 + ROUNDS * REPEAT);
    for (const [n, c] of Object.entries(newFlow)) {
      // One counted verdict per evaluated direction that a rule decided (the forwarding slot's
      // departure check allows by default: no rule, not counted).
      const want = n === 'both' || n === 'forwarded' ? 2n * runs : runs;
      if (countEntries(c.map('conntrack')) !== 0) throw new Error(`ebpf bench: ${n} rules: META_NO_CT_INSERT left a conntrack entry`);
      const counted = sumCounterPackets(c.map('counters'));
      if (counted !== want) throw new Error(`ebpf bench: ${n} rules: counters saw ${counted} packets, want ${want}`);
    }
    const bss = lpm.map('.bss').lookup(u32(0));
    const want = classes10k!.get(hexKey(encodeClassKey(parseWireAddr(PEER)!, 32)));
    if (!bss || !want || decodeU32Value(bss.subarray(0, 4)) !== decodeU32Value(want)) throw new Error('ebpf bench: the LPM reference did not find the peer\'s class entry');

    const value: Record<string, number> = {};
    for (const k of cases) {
      value[k.metric] = median(k.samples);
      emit({ bench, metric: k.metric, value: value[k.metric]!, unit: 'ns' });
    }
    const v = (m: string): number => value[m]!;
    const net = (m: string): number => v(m) - v('empty_program');
    emit({ bench, metric: 'new_flow_10k_over_10', value: v('new_flow_10000_rules') / v('new_flow_10_rules'), unit: 'ratio' });
    emit({ bench, metric: 'new_flow_over_lpm', value: v('new_flow_10000_rules') / v('lpm_lookup'), unit: 'ratio' });
    // The same two ratios with the harness's fixed cost (the empty program) taken off both sides.
    emit({ bench, metric: 'new_flow_10k_over_10_net', value: net('new_flow_10000_rules') / net('new_flow_10_rules'), unit: 'ratio' });
    emit({ bench, metric: 'new_flow_over_lpm_net', value: net('new_flow_10000_rules') / net('lpm_lookup'), unit: 'ratio' });
    emit({ bench, metric: 'new_flow_over_established', value: v('new_flow_10000_rules') / v('established_flow'), unit: 'ratio' });
    // Where a new flow's time goes: the established path (parse + conntrack lookup) is paid by
    // every packet; what a new flow adds on top is the policy path (endpoint, slot, class and
    // verdict lookups and the rule counter).
    emit({ bench, metric: 'policy_path_10000_rules', value: v('new_flow_10000_rules') - v('established_flow'), unit: 'ns' });
    emit({ bench, metric: 'policy_path_over_lpm', value: (v('new_flow_10000_rules') - v('established_flow')) / v('lpm_lookup'), unit: 'ratio' });
    emit({ bench, metric: 'established_over_lpm', value: v('established_flow') / v('lpm_lookup'), unit: 'ratio' });
    const spread = (m: string): number => {
      const c = cases.find((k) => k.metric === m)!;
      return (Math.max(...c.samples) - Math.min(...c.samples)) / median(c.samples);
    };
    emit({ bench, metric: 'new_flow_10000_rules_spread', value: spread('new_flow_10000_rules'), unit: 'ratio' });
    // What forwarding adds to a new flow: two forwarding checks (1 hash, 1 slot, 2 LPM, 1 verdict
    // lookup each), and for an address that is no endpoint one FIB lookup.
    emit({ bench, metric: 'forwarded_over_new_flow', value: v('new_flow_forwarded_10000_rules') / v('new_flow_10000_rules'), unit: 'ratio' });
    emit({ bench, metric: 'forwarded_over_lpm', value: v('new_flow_forwarded_10000_rules') / v('lpm_lookup'), unit: 'ratio' });
    emit({ bench, metric: 'routed_over_lpm', value: v('new_flow_routed') / v('lpm_lookup'), unit: 'ratio' });
  } finally {
    for (const c of open.reverse()) c.close();
    routedNs?.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Scratch namespaces

function scratchNetns(): { name: string; destroy(): void } {
  const name = `gh-ebpf-bench-${randomBytes(3).toString('hex')}`;
  const r = spawnSync('ip', ['netns', 'add', name]);
  if (r.status !== 0) throw new Error(`ip netns add ${name} failed: ${r.stderr}`);
  return { name, destroy: () => void spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' }) };
}

// ---------------------------------------------------------------------------------------------
// Label change vs. full fill at 10k rules. A label change of a remote pod: PEER leaves set s0
// and joins s1 in one batch (change i even), and back (i odd). Measured twice:
//  - `ebpf.update`: through the dataplane (message → state → compile → map writes), in a
//    scratch namespace holding the endpoint's interface. Its full apply builds a generation:
//    verifier load, full fill, pins, attach;
//  - `ebpf.update.maps`: the compiler and the live maps alone (compile + writeTables into an
//    unpinned collection), the pure "full fill vs. one change" of the tables.

async function labelChanges(change: (i: number) => Promise<{ took: number; writes: number }>): Promise<{ first: { took: number; writes: number }; p50: number; writes: number; maxWrites: number }> {
  const first = await change(0);
  const times: number[] = [];
  const writes: number[] = [];
  for (let i = 1; i <= LABEL_CHANGES; i++) {
    const c = await change(i);
    times.push(c.took);
    writes.push(c.writes);
  }
  return { first, p50: median(times), writes: median(writes), maxWrites: Math.max(first.writes, ...writes) };
}

function emitUpdate(emit: Emit, bench: string, full: { ms: number; writes: number }, r: Awaited<ReturnType<typeof labelChanges>>): void {
  emit({ bench, metric: 'full_fill_ms', value: full.ms, unit: 'ms' });
  emit({ bench, metric: 'full_fill_writes', value: full.writes, unit: 'writes' });
  emit({ bench, metric: 'label_change_first_ms', value: r.first.took, unit: 'ms' });
  emit({ bench, metric: 'label_change_ms', value: r.p50, unit: 'ms' });
  emit({ bench, metric: 'label_change_writes', value: r.writes, unit: 'writes' });
  emit({ bench, metric: 'label_change_writes_max', value: r.maxWrites, unit: 'writes' });
  emit({ bench, metric: 'label_change_over_full_ms', value: r.p50 / full.ms, unit: 'ratio' });
  emit({ bench, metric: 'label_change_first_over_full_ms', value: r.first.took / full.ms, unit: 'ratio' });
  emit({ bench, metric: 'label_change_over_full_writes', value: r.maxWrites / full.writes, unit: 'ratio' });
}

const moveMessages = (i: number): DataplaneMessage[] => {
  const [from, to] = i % 2 === 0 ? [0, 1] : [1, 0];
  return [
    { kind: 'ipset-remove-members', id: `s:bench${from}`, members: [`${PEER}/32`] },
    { kind: 'ipset-add-members', id: `s:bench${to}`, members: [`${PEER}/32`] },
  ];
};

async function updateBench(emit: Emit, bpffs: ScratchBpffs): Promise<void> {
  const ns = scratchNetns();
  try {
    const r = spawnSync('ip', ['-n', ns.name, 'link', 'add', 'cali1', 'type', 'veth', 'peer', 'name', 'eth0'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ebpf bench: veth in ${ns.name}: ${r.stderr}`);
    spawnSync('ip', ['-n', ns.name, 'link', 'set', 'cali1', 'up']);
    const dp = createEbpfDataplane({ netns: ns.name, bpffs: bpffs.path, name: `bench-${randomBytes(3).toString('hex')}` });
    try {
      const t0 = process.hrtime.bigint();
      await dp.apply(ruleMessages(10_000, [benchEndpoint('a', 'cali1', LOCAL)]));
      const full = { ms: ms(t0), writes: dp.stats().mapWrites };
      if (!dp.stats().fullFill || dp.stats().attached.length !== 2) throw new Error(`ebpf bench: the full apply did not fill and attach: ${JSON.stringify(dp.stats())}`);
      const changes = await labelChanges(async (i) => {
        const t = process.hrtime.bigint();
        await dp.apply(moveMessages(i));
        const took = ms(t);
        const st = dp.stats();
        if (st.fullFill) throw new Error('ebpf bench: a label change rebuilt the generation');
        return { took, writes: st.mapWrites };
      });
      emitUpdate(emit, 'ebpf.update', full, changes);
    } finally {
      await dp.clean();
      await dp.close();
    }
  } finally {
    ns.destroy();
  }

  // The tables alone, into unpinned maps.
  const c = createCollection(loadCollectionSpec(readDatapathObject()));
  try {
    const maps = policyMaps(c);
    let state = ruleState(10_000);
    const t0 = process.hrtime.bigint();
    let result = compile(state);
    writeTables(maps, result.writes);
    const full = { ms: ms(t0), writes: result.writes.length };
    const changes = await labelChanges(async (i) => {
      const [from, to] = i % 2 === 0 ? [0, 1] : [1, 0];
      const next = structuredClone(state);
      next.ipSets.get(`s${from}`)!.members.delete(`${PEER}/32`);
      next.ipSets.get(`s${to}`)!.members.add(`${PEER}/32`);
      const t = process.hrtime.bigint();
      const inc = compile(next, result.tables);
      writeTables(maps, inc.writes);
      const took = ms(t);
      state = next;
      result = inc;
      return { took, writes: inc.writes.length };
    });
    emitUpdate(emit, 'ebpf.update.maps', full, changes);
  } finally {
    c.close();
  }
}

export async function runEbpfBench(emit: Emit): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('ebpf bench needs root (BPF_PROG_TEST_RUN, scratch network namespaces, a private bpffs)');
  await packetBench(emit);
  // GINGHAM_EBPF_BENCH=packet: only the BPF_PROG_TEST_RUN rows (a minute instead of several).
  if (process.env.GINGHAM_EBPF_BENCH === 'packet') return;
  const bpffs = mountScratchBpffs('gh-ebpf-bench-bpffs-');
  try {
    await updateBench(emit, bpffs);
  } finally {
    bpffs.release();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runEbpfBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`));
}
