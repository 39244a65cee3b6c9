/**
 * Insights over flow logs: recommendation over 1M flow records, the service graph of 100k,
 * staged preview of 100k, and the network-access report, on a generated cluster (`@gingham/testkit`
 * `generateCluster`, seed 42, 10k endpoints × 1k policies in 100 namespaces).
 *
 * Records are what a collector writes: 20k distinct observations (pod to pod on the ports the
 * policies name, pods to private and public addresses, outside to pods) evaluated by
 * `flowLogRecords`, then repeated over later 15 s windows up to the count (a day of logs repeats
 * the same flows). Records are generated before the clock starts.
 *
 * - `recommend_1m_flows_ms`: `createRecommender` fed 1M records, then `result()`.
 * - `recommend_check_500_ms`: `verifyRecommendation` over 500 distinct records, and
 *   `recommend_check_distinct_ms` over every distinct record (what the CLI checks: each distinct
 *   allowed key resolved to every one of today's peers, one evaluation per pair of peer classes).
 * - `recommend_closure_ms`: `recommendationClosure` (an exact diff: what the recommendations close).
 * - `graph_100k_flows_ms`: `createServiceGraph` fed 100k records, then `result()`.
 * - `preview_500_distinct_ms`: `createFlowPreview` over 500 distinct records (each resolved, one
 *   evaluation per pair of peer classes), then `preview_100k_repeated_ms` over 100k records that
 *   repeat them (memoised per distinct key); `preview_500_distinct_per_pair_ms`: the same 500 with
 *   every peer pair evaluated (the reference previewer: what preview cost before classes).
 * - `report_network_access_ms`: `complianceReport` network-access of the cluster (exposure exact,
 *   per class, one witness per endpoint and direction).
 *
 * Run: `npx tsx packages/core/src/insights/insights.bench.ts` or `npm run bench:insights`.
 */
import { generateCluster, Prng } from '@gingham/testkit';
import type { Snapshot } from '../model/types.js';
import type { Flow } from '../evaluate/types.js';
import type { FlowRecord } from '../flows/types.js';
import { buildSnapshot } from '../convert/index.js';
import { flowLogRecords, type FlowObservation } from './flow-log.js';
import { createRecommender, recommendationClosure, verifyRecommendation } from './recommend.js';
import { createServiceGraph } from './service-graph.js';
import { createFlowPreview, createFlowPreviewPerPair } from './preview.js';
import { complianceReport } from './compliance.js';

type Row = { bench: string; metric: string; value: number; unit: string; size?: string };
type Emit = (row: Row) => void;

const now = (): number => performance.now();

/** Distinct observations over the cluster, then the records a collector writes for them. */
function distinctRecords(snapshot: Snapshot, observations: number, seed: number): FlowRecord[] {
  const seeded = new Prng(seed);
  const rnd = (): number => seeded.next();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const pods = snapshot.workloadEndpoints.filter((w) => w.addresses.length > 0);
  const ports = [80, 443, 5432, 6379, 8080, 8443, 9090, 53];
  const obs: FlowObservation[] = [];
  const t0 = 1_765_065_600;
  for (let i = 0; i < observations; i++) {
    const src = pick(pods);
    const r = rnd();
    let flow: Flow;
    if (r < 0.7) {
      // Mostly within a few namespaces of each other: services talk to their neighbours.
      const dst = pick(pods.filter((p, j) => j % 50 === i % 50 && p !== src)) ?? pick(pods);
      flow = { src: src.id, dst: dst.id, protocol: 'TCP', dstPort: pick(ports) };
    } else if (r < 0.8) flow = { src: src.id, dst: `10.96.${Math.floor(rnd() * 4)}.${1 + Math.floor(rnd() * 250)}`, protocol: 'UDP', dstPort: 53 };
    else if (r < 0.9) flow = { src: src.id, dst: `${20 + Math.floor(rnd() * 150)}.${Math.floor(rnd() * 250)}.${Math.floor(rnd() * 250)}.${1 + Math.floor(rnd() * 250)}`, protocol: 'TCP', dstPort: 443 };
    else flow = { src: `203.0.113.${1 + Math.floor(rnd() * 250)}`, dst: src.id, protocol: 'TCP', dstPort: pick(ports) };
    obs.push({ flow, time: t0 + 15 * Math.floor(rnd() * 4), connections: 1 + Math.floor(rnd() * 3), packets: 10, bytes: 1500 });
  }
  return flowLogRecords(snapshot, obs).records;
}

/** `count` records: the distinct ones repeated over later windows. */
function repeated(distinct: readonly FlowRecord[], count: number): FlowRecord[] {
  const out: FlowRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const r = distinct[i % distinct.length]!;
    const shift = 60 * Math.floor(i / distinct.length);
    out[i] = shift === 0 ? r : { ...r, start_time: r.start_time + shift, end_time: r.end_time + shift };
  }
  return out;
}

export async function runInsightsFlowsBench(emit: Emit): Promise<void> {
  const size = '10k';
  const row = (metric: string, value: number, unit: string): void => emit({ bench: 'insights', size, metric, value, unit });
  const resources = generateCluster({ seed: 42, namespaces: 100, endpoints: 10_000, nodes: 100, policies: 1_000, tiers: 3, networkSets: 20, hostEndpoints: 100 }).resources;
  const { snapshot } = buildSnapshot(resources);
  let t = now();
  const distinct = distinctRecords(snapshot, 20_000, 42);
  row('flow_log_records_per_s', (distinct.length / (now() - t)) * 1000, 'records/s');
  row('distinct_records', distinct.length, 'count');

  const million = repeated(distinct, 1_000_000);
  t = now();
  const recommender = createRecommender({ snapshot, now: million[million.length - 1]!.end_time });
  for (const r of million) recommender.add(r);
  const result = recommender.result();
  row('recommend_1m_flows_ms', now() - t, 'ms');
  row('recommend_namespaces', result.recommendations.length, 'count');
  row('recommend_records_used', result.records.used, 'count');
  const sample = distinct.filter((_, i) => i % Math.ceil(distinct.length / 500) === 0).slice(0, 500);

  const hundred = million.slice(0, 100_000);
  t = now();
  const graph = createServiceGraph({ snapshot });
  for (const r of hundred) graph.add(r);
  const g = graph.result();
  row('graph_100k_flows_ms', now() - t, 'ms');
  row('graph_nodes', g.nodes.length, 'count');
  row('graph_edges', g.edges.length, 'count');

  t = now();
  const preview = createFlowPreview(snapshot);
  for (const r of sample) preview.preview(r);
  row('preview_500_distinct_ms', now() - t, 'ms');
  t = now();
  for (const r of repeated(sample, 100_000)) preview.preview(r);
  preview.summary();
  row('preview_100k_repeated_ms', now() - t, 'ms');
  t = now();
  const perPair = createFlowPreviewPerPair(snapshot);
  for (const r of sample) perPair.preview(r);
  row('preview_500_distinct_per_pair_ms', now() - t, 'ms');

  t = now();
  const report = complianceReport(snapshot, { type: 'network-access', graph: g });
  row('report_network_access_ms', now() - t, 'ms');
  row('report_endpoints', report.endpoints.length, 'count');

  t = now();
  const check = verifyRecommendation(snapshot, result, sample);
  row('recommend_check_500_ms', now() - t, 'ms');
  row('recommend_check_observed', check.observed, 'count');
  row('recommend_check_broken', check.broken.length, 'count');
  t = now();
  const checkAll = verifyRecommendation(snapshot, result, distinct);
  row('recommend_check_distinct_ms', now() - t, 'ms');
  row('recommend_check_distinct_observed', checkAll.observed, 'count');
  row('recommend_check_distinct_broken', checkAll.broken.length, 'count');
  t = now();
  const closure = recommendationClosure(snapshot, result);
  row('recommend_closure_ms', now() - t, 'ms');
  row('recommend_closure_closed', closure.closed, 'count');
}

const argv = (globalThis as { process?: { argv?: string[] } }).process?.argv;
if (argv?.[1] !== undefined && import.meta.url.endsWith(argv[1].replace(/\\/g, '/'))) {
  await runInsightsFlowsBench((row) => {
    const value = Number.isInteger(row.value) ? row.value : Number(row.value.toPrecision(6));
    console.log(JSON.stringify({ ...row, value }));
  });
}
