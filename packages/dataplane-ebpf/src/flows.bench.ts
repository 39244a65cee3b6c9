/**
 * Flow-log benchmarks (`npm run bench:flows`), JSON lines via `emit`, all from one run:
 *  - `flows.pipeline` `flow_events_per_s`: verdict events from the datapath's real ring buffer
 *    through the eBPF flow source (decoded in place) and the collector (identity, enforced and
 *    pending traces, aggregation) on one core. The events are real: the datapath program runs
 *    under BPF_PROG_TEST_RUN with flow logs on, once per packet of distinct connections (pod b →
 *    pod a, both evaluated), filling the ring buffer; only the drains are timed (root only).
 *    The rate is per CPU second of this process (`process.cpuUsage`), as the machine is shared;
 *    `flow_events_per_wall_s` is the same over wall time.
 *  - `flows.memory`: `table_bytes_per_flow`, the aggregated flow itself (the collector's
 *    struct-of-arrays table over its flows), and `bytes_per_flow_with_connection`, heap growth
 *    (after GC, `--expose-gc`) per aggregated flow when each of AGG_FLOWS flows also has its own
 *    live connection and a new remote address (the worst case: nothing shared).
 * Goals: ≥ 1,000,000 events/s, ≤ 300 B per aggregated flow. The throughput ratio with flow logs
 * on ÷ off (iperf3) is `npm run bench:ebpf`'s `ebpf.iperf` pattern and is not repeated here.
 * It never touches the root namespace: the maps pin into a privately mounted bpffs, removed in
 * `finally`; the program runs only under BPF_PROG_TEST_RUN.
 */
import { buildSnapshot, createEngine, loadManifests, applyMessage, emptyDataplaneState, type DataplaneMessage, type FlowDecision, type FlowVerdictEvent } from '@gingham/core';
import { createCollection, loadCollectionSpec, testRun } from '@gingham/ebpf-loader';
import { mountScratchBpffs } from '@gingham/ebpf-loader/testing';
import { createFlowCollector } from '@gingham/flows';
import { compile, policyNames } from './compile/index.js';
import { DATAPATH_PROGRAM, encodeMetaValue, encodeSkbContext, META_FLOW_LOGS, META_NO_CT_INSERT, readDatapathObject, writeTables } from './datapath.js';
import { createEbpfFlowSource } from './flow-source.js';
import { buildPacket, TCP_SYN } from './packet.js';
import { MAP_NAMES, type MapName } from './wire.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

const ROUNDS = Number(process.env.FLOWS_BENCH_ROUNDS ?? 40);
const PER_ROUND = 1_500; // packets per fill: 2 events each (64 B + 8 B header) fit the 256 KiB ring
const AGG_FLOWS = 100_000;

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
    const collector = createFlowCollector({ source, snapshot: () => snapshot, timers: false, maxFlows: 1_000_000, maxConnections: 1_000_000 });
    try {
      const { tables, writes } = compile(state);
      writeTables(Object.fromEntries(MAP_NAMES.map((n) => [n, c.map(n)])) as Record<MapName, ReturnType<typeof c.map>>, writes);
      names = policyNames(tables.memory);
      c.map('meta').update(new Uint8Array(4), encodeMetaValue(1n, META_FLOW_LOGS | META_NO_CT_INSERT));
      const program = c.program(DATAPATH_PROGRAM);
      const ctxIn = encodeSkbContext({ ingressIfindex: 1, ifindex: 1 });
      let drainNs = 0n;
      let drainCpuUs = 0;
      let port = 0;
      const before = collector.stats().events;
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < PER_ROUND; i++, port++) {
          const data = buildPacket({ src: '10.1.0.1', dst: '10.0.0.1', protocol: 6, srcPort: 10_000 + (port % 50_000), dstPort: 1000 + (port % 1000) }, { tcpFlags: TCP_SYN });
          if (testRun(program, { data, ctxIn }).retval !== 0) throw new Error('flows bench: the datapath dropped an allowed packet');
        }
        const t0 = process.hrtime.bigint();
        const cpu0 = process.cpuUsage();
        await collector.poll();
        const cpu = process.cpuUsage(cpu0);
        drainNs += process.hrtime.bigint() - t0;
        drainCpuUs += cpu.user + cpu.system;
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
    } finally {
      await collector.close();
      c.close();
    }
  } finally {
    bpffs.release();
  }
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
  const collector = createFlowCollector({ source, snapshot: () => snapshot, timers: false, aggregation: { allowed: 1, denied: 1 }, maxFlows: AGG_FLOWS * 2, maxConnections: AGG_FLOWS * 2 });
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
  for (let start = 0; start < AGG_FLOWS; start += 10_000) {
    for (let i = start; i < start + 10_000; i++) pending.push(event(i));
    await collector.poll();
  }
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  const s = collector.stats();
  emit({ bench, metric: 'aggregated_flows', value: s.aggregatedFlows, unit: 'flows' });
  emit({ bench, metric: 'bytes_per_flow_with_connection', value: (after - before) / s.aggregatedFlows, unit: 'B' });
  emit({ bench, metric: 'table_bytes_per_flow', value: s.tableBytes / s.aggregatedFlows, unit: 'B' });
  await collector.close();
}

export async function runFlowsBench(emit: Emit): Promise<void> {
  await memoryBench(emit);
  if (process.getuid?.() === 0) await pipelineBench(emit);
  else process.stderr.write('bench flows: the ring-buffer pipeline needs root (BPF_PROG_TEST_RUN, bpffs); skipped\n');
}
