/**
 * Flow-log benchmarks (`npm run bench:flows`), JSON lines via `emit`, all from one run:
 *  - `flows.pipeline` `flow_events_per_s`: verdict events from the datapath's real ring buffer
 *    through the eBPF flow source (decoded in place) and the collector (identity, enforced and
 *    pending traces, aggregation) on one core. The events are real: the datapath program runs
 *    under BPF_PROG_TEST_RUN with flow logs on, once per packet of distinct connections (pod b →
 *    pod a, both evaluated), filling the ring buffer; only the drains are timed (root only).
 *    Every connection is new (no tuple repeats); the collector has the default connection cap,
 *    preallocated, as the agent runs it (or one for all of the bench's connections, if more). The fill makes no garbage (`synRunner`), so no
 *    collection of the harness's runs beside the drains. The rate is per CPU second of this process
 *    (`process.cpuUsage`: user + system of all its threads, GC included), as the machine is
 *    shared; `flow_events_per_wall_s` is the same over wall time. It is a throughput, so it is
 *    measured after WARMUP_ROUNDS drains of other connections (JIT, the snapshot's identity
 *    index, the first trace evaluations); `flow_events_per_s_cold` is those first drains alone.
 *  - `flows.collector` `collector_events_per_s`: the same events (the same connections, the same
 *    warm-up) through the collector alone, from an in-memory source (no root needed), per CPU
 *    second.
 *  - `flows.memory`: `table_bytes_per_flow`, the aggregated flow itself (the collector's
 *    struct-of-arrays table over its flows), and `bytes_per_flow_with_connection`, what the
 *    collector holds per aggregated flow when each of AGG_FLOWS flows also has its own live
 *    connection and a new remote address (the worst case: nothing shared): V8 heap growth (after
 *    GC, `--expose-gc`; `heap_bytes_per_flow_with_connection`) plus its typed arrays (the flow
 *    table's growth, and the connection tables whole, slot arrays sized for maxConnections
 *    included, as the collector counts them: storage written, not heap, so `heapUsed` alone
 *    misses them), from a collector that does not preallocate its connection table;
 *    `preallocated_connection_bytes` and `preallocate_cpu_ms` are what a collector with the
 *    default cap commits at creation, and the CPU that takes.
 *  - `flows.iperf` `flowlogs_throughput_ratio`: iperf3 TCP throughput between two pods through the
 *    eBPF dataplane with flow logs on (and the collector draining them, with its timers) ÷ off,
 *    median of per-round pairs, the order alternated each round (root only).
 * Goals: ≥ 1,000,000 events/s, ≤ 300 B per aggregated flow, throughput ratio ≥ 0.97.
 * It never touches the root namespace: the maps pin into a privately mounted bpffs, removed in
 * `finally`; the program runs only under BPF_PROG_TEST_RUN.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createTopology, iperf3Gbps, type Topology } from '@gingham/dataplane-conformance';
import { createEbpfDataplane } from './dataplane/index.js';
import { buildSnapshot, createEngine, loadManifests, applyMessage, emptyDataplaneState, type DataplaneMessage, type FlowDecision, type FlowVerdictEvent } from '@gingham/core';
import { BpfSyscallError, createCollection, getBpfBinding, loadCollectionSpec, testRun, type BpfProgram } from '@gingham/ebpf-loader';
import { mountScratchBpffs } from '@gingham/ebpf-loader/testing';
import { createFlowCollector } from '@gingham/flows';
import { compile, policyNames } from './compile/index.js';
import { DATAPATH_PROGRAM, encodeMetaValue, encodeSkbContext, META_FLOW_LOGS, META_NO_CT_INSERT, readDatapathObject, writeTables } from './datapath.js';
import { createEbpfFlowSource } from './flow-source.js';
import { buildPacket, TCP_ACK, TCP_SYN } from './packet.js';
import { MAP_NAMES, type MapName } from './wire.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

const ROUNDS = Number(process.env.FLOWS_BENCH_ROUNDS ?? 40);
const WARMUP_ROUNDS = Number(process.env.FLOWS_BENCH_WARMUP ?? 10);
const PER_ROUND = 1_500; // packets per fill: 2 events each (64 B + 8 B header) fit the 256 KiB ring

/** The ports of connection `n` (pod b → pod a): distinct pairs for every n below 50,000,000. */
const srcPortOf = (n: number): number => 10_000 + (n % 50_000);
const dstPortOf = (n: number): number => 1000 + ((n + Math.floor(n / 50_000)) % 1000);
const AGG_FLOWS = 100_000;
/** The collectors' connection cap: the default, or every connection the bench makes. */
const CONNECTIONS = Math.max(262_144, (WARMUP_ROUNDS + ROUNDS) * PER_ROUND);

const MANIFESTS = `
apiVersion: v1
kind: Pod
metadata: {name: a-0, namespace: bench, labels: {app: a}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b-0, namespace: bench, labels: {app: b}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.1.0.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-in, namespace: bench}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}], ports: [{port: 1000, endPort: 1999}]}]
`;

/** `BPF_PROG_TEST_RUN`'s command number and its attribute block's size (`union bpf_attr`). */
const PROG_TEST_RUN = 10;
const ATTR_BYTES = 144;

/**
 * Runs the datapath on TCP SYNs pod b → pod a, one per port pair, with no allocation per packet:
 * one frame whose ports are rewritten in place (L4 checksums are left zero, as `buildPacket`
 * leaves them) and one `BPF_PROG_TEST_RUN` attribute block with its output buffers, reused.
 * Connections `first` … `first + count - 1` (`srcPortOf`, `dstPortOf`). `testRun` allocates its
 * attributes, output buffers and result per call, about 10 KB a packet: the young-generation
 * collections that garbage brings run beside the timed drains (V8's helper threads count in
 * process CPU), so the fill makes none. The loop is a function of its own so that what the JIT
 * optimizes for it is small (an on-stack replacement of the whole bench function took its
 * compiler thread ~300 ms, beside the drains).
 */
function synRunner(program: BpfProgram, ctxIn: Uint8Array): (first: number, count: number) => void {
  const data = buildPacket({ src: '10.1.0.1', dst: '10.0.0.1', protocol: 6, srcPort: 1, dstPort: 1 }, { tcpFlags: TCP_SYN });
  const l4 = 14 + (data[14]! & 0x0f) * 4;
  const dataOut = new Uint8Array(data.length + 512);
  const ctxOut = new Uint8Array(ctxIn.length);
  const attr = new Uint8Array(ATTR_BYTES);
  const view = new DataView(attr.buffer);
  const ptrs = [16, data, 24, dataOut, 48, ctxIn, 56, ctxOut];
  const bpf = getBpfBinding().bpf;
  return (first, count) => {
    for (let n = first; n < first + count; n++) {
      const srcPort = srcPortOf(n);
      const dstPort = dstPortOf(n);
      data[l4] = srcPort >>> 8;
      data[l4 + 1] = srcPort & 0xff;
      data[l4 + 2] = dstPort >>> 8;
      data[l4 + 3] = dstPort & 0xff;
      attr.fill(0);
      view.setUint32(0, program.fd, true);
      view.setUint32(8, data.length, true);
      view.setUint32(12, dataOut.length, true);
      view.setUint32(32, 1, true);
      view.setUint32(40, ctxIn.length, true);
      view.setUint32(44, ctxOut.length, true);
      const r = bpf(PROG_TEST_RUN, attr, ptrs);
      if (r < 0) throw new BpfSyscallError('BPF_PROG_TEST_RUN', -r, `program ${program.name}`);
      if (view.getInt32(4, true) !== 0) throw new Error('flows bench: the datapath dropped an allowed packet');
    }
  };
}

function model() {
  const loaded = loadManifests([{ file: 'bench.yaml', text: MANIFESTS }]);
  if (!loaded.ok) throw new Error(`flows bench: ${loaded.issues.map((i) => i.message).join('; ')}`);
  const resources = loaded.resources.map((r) => r.resource);
  const messages: DataplaneMessage[] = [];
  const engine = createEngine({ node: 'n1', dataplane: { apply: (m) => void messages.push(...m) } });
  for (const r of resources) engine.upsert(r);
  return { snapshot: buildSnapshot(resources).snapshot, engine, messages };
}

async function pipelineBench(emit: Emit): Promise<void> {
  const bench = 'flows.pipeline';
  const { snapshot, engine, messages } = model();
  await engine.flush();
  const state = emptyDataplaneState();
  for (const m of messages) applyMessage(state, m);
  const bpffs = mountScratchBpffs('gh-flows-bench-');
  try {
    const c = createCollection(loadCollectionSpec(readDatapathObject()), { pinPath: bpffs.path });
    let names = new Map<number, string>();
    const source = createEbpfFlowSource({ dataplane: { pinPath: bpffs.path, flowLogs: true, policyNames: () => names } });
    // The default connection cap (262,144, preallocated) as the agent runs it, or more when the
    // bench makes more connections (FLOWS_BENCH_ROUNDS), so that it follows all of them.
    const collector = createFlowCollector({ source, snapshot: () => snapshot, timers: false, maxFlows: 1_000_000, maxConnections: CONNECTIONS });
    try {
      const { tables, writes } = compile(state);
      writeTables(Object.fromEntries(MAP_NAMES.map((n) => [n, c.map(n)])) as Record<MapName, ReturnType<typeof c.map>>, writes);
      names = policyNames(tables.memory);
      c.map('meta').update(new Uint8Array(4), encodeMetaValue(1n, META_FLOW_LOGS | META_NO_CT_INSERT));
      const program = c.program(DATAPATH_PROGRAM);
      const ctxIn = encodeSkbContext({ ingressIfindex: 1, ifindex: 1 });
      const fill = synRunner(program, ctxIn);
      let drainNs = 0n;
      let drainCpuUs = 0;
      let coldCpuUs = 0;
      let coldEvents = 0;
      let before = collector.stats().events;
      let port = 0;
      for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
        if (r === WARMUP_ROUNDS) {
          coldEvents = collector.stats().events - before;
          before += coldEvents;
        }
        fill(port, PER_ROUND);
        port += PER_ROUND;
        const t0 = process.hrtime.bigint();
        const cpu0 = process.cpuUsage();
        await collector.poll();
        const cpu = process.cpuUsage(cpu0);
        if (r < WARMUP_ROUNDS) coldCpuUs += cpu.user + cpu.system;
        else {
          drainNs += process.hrtime.bigint() - t0;
          drainCpuUs += cpu.user + cpu.system;
        }
        if (r % 10 === 9) await collector.flush(); // windows close as they would (not timed)
      }
      const s = collector.stats();
      const events = s.events - before;
      if (events < ROUNDS * PER_ROUND * 2 * 0.99) throw new Error(`flows bench: ${events} events of ${ROUNDS * PER_ROUND * 2} reached the collector (lost ${s.lostEvents})`);
      emit({ bench, metric: 'events', value: events, unit: 'events' });
      emit({ bench, metric: 'lost_events', value: s.lostEvents, unit: 'events' });
      emit({ bench, metric: 'mismatches', value: s.mismatches, unit: 'events' });
      emit({ bench, metric: 'evaluations', value: s.evaluations, unit: 'evaluations' });
      // Per CPU second of this process (the machine is shared: wall time counts other work too).
      emit({ bench, metric: 'flow_events_per_s', value: events / (drainCpuUs / 1e6), unit: 'events/s' });
      emit({ bench, metric: 'flow_events_per_wall_s', value: events / (Number(drainNs) / 1e9), unit: 'events/s' });
      if (coldEvents > 0) emit({ bench, metric: 'flow_events_per_s_cold', value: coldEvents / (coldCpuUs / 1e6), unit: 'events/s' });

      // The datapath's own cost of flow logs on an established packet (a conntrack hit), in ns
      // under BPF_PROG_TEST_RUN: flowstats lookup and two atomic adds; median of interleaved runs.
      const flow = { src: '10.1.0.1', dst: '10.0.0.1', protocol: 6, srcPort: 9999, dstPort: 1000 };
      const samples: Record<'off' | 'on', number[]> = { off: [], on: [] };
      for (const [name, flags] of [['off', 0], ['on', META_FLOW_LOGS]] as const) {
        c.map('meta').update(new Uint8Array(4), encodeMetaValue(1n, flags));
        testRun(program, { data: buildPacket(flow, { tcpFlags: TCP_SYN }), ctxIn }); // creates the conntrack (and flowstats) entry
      }
      const ack = buildPacket(flow, { tcpFlags: TCP_ACK });
      for (let r = 0; r < 11; r++) {
        for (const [name, flags] of [['off', 0], ['on', META_FLOW_LOGS]] as const) {
          c.map('meta').update(new Uint8Array(4), encodeMetaValue(1n, flags));
          samples[name].push(testRun(program, { data: ack, ctxIn, repeat: 100_000 }).duration);
        }
      }
      const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
      emit({ bench, metric: 'established_packet_ns_flowlogs_off', value: med(samples.off), unit: 'ns' });
      emit({ bench, metric: 'established_packet_ns_flowlogs_on', value: med(samples.on), unit: 'ns' });
    } finally {
      await collector.close();
      c.close();
    }
  } finally {
    bpffs.release();
  }
}

/**
 * The collector alone (no kernel, no root): the pipeline's events, the same two per connection
 * pod b → pod a for the same connections after the same warm-up, from an in-memory source that
 * reuses one event object and its decisions as the eBPF source does; per CPU second. Against
 * `flows.pipeline` it splits the drain's cost between the collector and the ring buffer with its
 * decoding.
 */
async function collectorBench(emit: Emit): Promise<void> {
  const bench = 'flows.collector';
  const { snapshot } = model();
  const egress: FlowDecision = { kind: 'profile', profile: 'kns.bench', ruleIndex: 0 };
  const ingress: FlowDecision = { kind: 'rule', policyId: 'knp/bench/a-in', ruleIndex: 0 };
  const ev: { -readonly [K in keyof FlowVerdictEvent]: FlowVerdictEvent[K] } = {
    tsMs: Date.now(), direction: 'egress', action: 'allow', decision: egress, family: 4, protocol: 6, src: '10.1.0.1', dst: '10.0.0.1', srcPort: 0, dstPort: 0, bytes: 60,
  };
  let port = 0;
  const source = {
    name: 'bench',
    poll(sink: { verdict(e: FlowVerdictEvent): void }, o?: { counters?: boolean }) {
      if (o?.counters) return; // the flush's own poll (untimed) brings no events
      for (let i = 0; i < PER_ROUND; i++, port++) {
        ev.srcPort = srcPortOf(port);
        ev.dstPort = dstPortOf(port);
        ev.direction = 'egress';
        ev.decision = egress;
        sink.verdict(ev);
        ev.direction = 'ingress';
        ev.decision = ingress;
        sink.verdict(ev);
      }
    },
    stats: () => ({ events: 0, lost: 0, connections: 0 }),
    close: () => undefined,
  };
  const collector = createFlowCollector({ source, snapshot: () => snapshot, timers: false, maxFlows: 1_000_000, maxConnections: CONNECTIONS });
  let cpuUs = 0;
  let before = 0;
  for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
    if (r === WARMUP_ROUNDS) before = collector.stats().events;
    const cpu0 = process.cpuUsage();
    await collector.poll();
    const cpu = process.cpuUsage(cpu0);
    if (r >= WARMUP_ROUNDS) cpuUs += cpu.user + cpu.system;
    if (r % 10 === 9) await collector.flush(); // not timed
  }
  const s = collector.stats();
  if (s.mismatches !== 0) throw new Error(`flows bench: ${s.mismatches} mismatches in the collector bench`);
  emit({ bench, metric: 'collector_events_per_s', value: (s.events - before) / (cpuUs / 1e6), unit: 'events/s' });
  await collector.close();
}

async function memoryBench(emit: Emit): Promise<void> {
  const bench = 'flows.memory';
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('flows bench: run with node --expose-gc (npm run bench:flows does)');
  const { snapshot } = model();
  const pending: FlowVerdictEvent[] = [];
  const source = {
    name: 'bench',
    poll(sink: { verdict(e: FlowVerdictEvent): void }) {
      for (const e of pending) sink.verdict(e);
      pending.length = 0;
    },
    stats: () => ({ events: 0, lost: 0, connections: 0 }),
    close: () => undefined,
  };
  // What preallocating the connection table costs at the default cap, once per collector.
  const cpu0 = process.cpuUsage();
  const preallocated = createFlowCollector({ source, snapshot: () => snapshot, timers: false });
  const cpu = process.cpuUsage(cpu0);
  emit({ bench, metric: 'preallocated_connection_bytes', value: preallocated.stats().connectionBytes, unit: 'B' });
  emit({ bench, metric: 'preallocate_cpu_ms', value: (cpu.user + cpu.system) / 1000, unit: 'ms' });
  await preallocated.close();
  // Not preallocated here: the rows below are what each flow and its connection add.
  const collector = createFlowCollector({ source, snapshot: () => snapshot, timers: false, aggregation: { allowed: 1, denied: 1 }, maxFlows: AGG_FLOWS * 2, maxConnections: AGG_FLOWS * 2, preallocate: false });
  const decision: FlowDecision = { kind: 'profile', profile: 'kns.bench', ruleIndex: 0 };
  // Distinct aggregated flows at level 1 (source ports aggregated): distinct outside sources.
  const event = (i: number): FlowVerdictEvent => ({
    tsMs: Date.now(), direction: 'egress', action: 'allow', decision, family: 4, protocol: 6,
    src: '10.1.0.1', dst: `198.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, srcPort: 40_000, dstPort: 443, bytes: 60,
  });
  // Warm up (code, caches) with a window that is then closed.
  for (let i = 0; i < 1000; i++) pending.push(event(i));
  await collector.poll();
  await collector.flush();
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  // The connection tables' slot arrays are sized for maxConnections from their first entry on
  // (the warm-up's): counted whole here, not left out as a cost before the flows.
  const typedBefore = collector.stats().tableBytes;
  for (let start = 0; start < AGG_FLOWS; start += 10_000) {
    for (let i = start; i < start + 10_000; i++) pending.push(event(i));
    await collector.poll();
  }
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  const s = collector.stats();
  const typed = s.tableBytes + s.connectionBytes - typedBefore;
  emit({ bench, metric: 'aggregated_flows', value: s.aggregatedFlows, unit: 'flows' });
  emit({ bench, metric: 'bytes_per_flow_with_connection', value: (after - before + typed) / s.aggregatedFlows, unit: 'B' });
  emit({ bench, metric: 'heap_bytes_per_flow_with_connection', value: (after - before) / s.aggregatedFlows, unit: 'B' });
  emit({ bench, metric: 'connection_bytes_per_flow', value: s.connectionBytes / s.aggregatedFlows, unit: 'B' });
  emit({ bench, metric: 'table_bytes_per_flow', value: s.tableBytes / s.aggregatedFlows, unit: 'B' });
  await collector.close();
}

const IPERF_SECONDS = Number(process.env.FLOWS_BENCH_IPERF_SECONDS ?? 5);
/** Paired rounds: iperf3 alone swings ±10% between runs here, so the median needs more than a few. */
const IPERF_ROUNDS = Number(process.env.FLOWS_BENCH_IPERF_ROUNDS ?? 8);
const CLIENT_IP = '10.93.0.1';
const SERVER_IP = '10.93.0.2';

function iperf(topo: Topology): Promise<number> {
  return iperf3Gbps(topo.pod('bench', 'client').netns, SERVER_IP, { seconds: IPERF_SECONDS });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function iperfBench(emit: Emit): Promise<void> {
  const bench = 'flows.iperf';
  if (spawnSync('iperf3', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error('flows bench: iperf3 is missing (apt-get install iperf3)');
  const topo = createTopology([{ namespace: 'bench', name: 'client', ip: CLIENT_IP }, { namespace: 'bench', name: 'server', ip: SERVER_IP }], 'gh-flows-bench');
  const bpffs = mountScratchBpffs('gh-flows-iperf-');
  let serverPid: number | undefined;
  try {
    const client = topo.pod('bench', 'client');
    const server = topo.pod('bench', 'server');
    serverPid = topo.spawnIn(server.netns, ['iperf3', '-s']).pid;
    await new Promise((r) => setTimeout(r, 500));
    const allow = [{ action: 'Allow' as const, source: {}, destination: {} }];
    const endpoint = (name: string, iface: string, ip: string) => ({
      id: `bench/${name}`, name, node: 'n1', interfaceName: iface, addresses: [`${ip}/32`], ingressTiers: [], egressTiers: [], profileIds: ['kns.bench'], stagedPolicyIds: [],
    });
    const messages: DataplaneMessage[] = [
      { kind: 'profile-upsert', profile: { id: 'kns.bench', ingress: allow, egress: allow } },
      { kind: 'workload-endpoint-upsert', endpoint: endpoint('client', client.iface, CLIENT_IP) },
      { kind: 'workload-endpoint-upsert', endpoint: endpoint('server', server.iface, SERVER_IP) },
      { kind: 'in-sync' },
    ];
    const empty = buildSnapshot([]).snapshot;
    const sample = async (flowLogs: boolean): Promise<number> => {
      const dp = createEbpfDataplane({ netns: topo.node, bpffs: bpffs.path, name: `fl-${randomBytes(3).toString('hex')}`, flowLogs });
      const collector = flowLogs ? createFlowCollector({ source: createEbpfFlowSource({ dataplane: dp }), snapshot: () => empty, countersIntervalMs: 1000, flushIntervalMs: 2000 }) : undefined;
      try {
        await dp.apply(messages);
        const gbps = await iperf(topo);
        if (collector) {
          await collector.poll({ counters: true });
          await collector.flush();
          // Every window of the run (the collector's timers closed some already).
          const bytes = collector.records().reduce((n, r) => n + r.bytes_out + r.bytes_in, 0);
          if (bytes < gbps * 1e9 * IPERF_SECONDS * 0.1 / 8) throw new Error(`flows bench: the flow logs saw ${bytes} bytes of an iperf3 run at ${gbps} Gbit/s`);
        }
        return gbps;
      } finally {
        await collector?.close();
        await dp.clean();
        await dp.close();
      }
    };
    await iperf(topo); // warm-up
    const ratios: number[] = [];
    const on: number[] = [];
    const off: number[] = [];
    for (let round = 0; round < IPERF_ROUNDS; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      const r: Record<string, number> = {};
      for (const fl of order) r[String(fl)] = await sample(fl);
      on.push(r.true!);
      off.push(r.false!);
      ratios.push(r.true! / r.false!);
      process.stderr.write(`flows bench: iperf3 round ${round + 1}: flow logs off ${r.false!.toFixed(2)}, on ${r.true!.toFixed(2)} Gbit/s\n`);
    }
    emit({ bench, metric: 'flowlogs_off', value: median(off), unit: 'Gbit/s' });
    emit({ bench, metric: 'flowlogs_on', value: median(on), unit: 'Gbit/s' });
    emit({ bench, metric: 'flowlogs_throughput_ratio', value: median(ratios), unit: 'ratio' });
    emit({ bench, metric: 'flowlogs_throughput_ratio_min', value: Math.min(...ratios), unit: 'ratio' });
  } finally {
    if (serverPid !== undefined) {
      try {
        process.kill(serverPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await topo.destroy();
    bpffs.release();
  }
}

export async function runFlowsBench(emit: Emit): Promise<void> {
  await memoryBench(emit);
  await collectorBench(emit);
  if (process.getuid?.() === 0) {
    await pipelineBench(emit);
    if (process.env.FLOWS_BENCH !== 'no-iperf') await iperfBench(emit);
  } else process.stderr.write('bench flows: the ring-buffer pipeline needs root (BPF_PROG_TEST_RUN, bpffs); skipped\n');
}
