/**
 * Engine benchmark: full sync, label-change and policy-change latency, heap, and a naive
 * endpoints × selectors recomputation measured in the same run, at 100k endpoints × 10k
 * policies × 1,000 nodes (local node: 250 endpoints) and 10k × 1k × 100 (local: 250).
 * Run: `npx tsx --expose-gc packages/core/src/engine/engine.bench.ts` or via scripts/bench.ts
 * (`--expose-gc` makes heap figures exact; without it they are plain heapUsed deltas).
 * Rows: {bench: 'engine', size, metric, value, unit}.
 */
import type { Resource } from '../model/resources.js';
import type { Labels, Policy } from '../model/types.js';
import { buildSnapshot } from '../convert/index.js';
import { parseSelector, type Selector } from '../selector/index.js';
import type { Dataplane, DataplaneMessage } from '../dataplane/index.js';
import { createEngine } from './index.js';
import { generateCluster, Prng } from '@gingham/testkit';

type Row = { bench: string; metric: string; value: number; unit: string; size?: string };
type Emit = (row: Row) => void;

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
};
const heapUsed = (): number => (globalThis as unknown as { process: { memoryUsage(): { heapUsed: number } } }).process.memoryUsage().heapUsed;
const now = (): number => performance.now();

class CountingDataplane implements Dataplane {
  messages = 0;
  batches = 0;
  apply(messages: readonly DataplaneMessage[]): void {
    this.messages += messages.length;
    this.batches++;
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** The straightforward recomputation: every local endpoint × every policy selector, then every referenced rule selector × every entity. */
function naiveFullSync(resources: readonly Resource[], node: string): { ms: number; evaluations: number } {
  const t0 = now();
  const { snapshot } = buildSnapshot(resources);
  const profiles = new Map(snapshot.profiles.map((p) => [p.name, p]));
  const effective = (own: Labels, names: readonly string[]): Labels => {
    const out: Record<string, string> = { ...own };
    for (const n of names) for (const [k, v] of Object.entries(profiles.get(n)?.labelsToApply ?? {})) if (!(k in out)) out[k] = v;
    return out;
  };
  const cache = new Map<string, Selector>();
  const sel = (t: string): Selector => {
    let s = cache.get(t);
    if (!s) cache.set(t, (s = parseSelector(t)));
    return s;
  };
  let evaluations = 0;
  const entities = [
    ...snapshot.workloadEndpoints.map((w) => ({ labels: effective(w.labels, w.profiles), cidrs: w.addresses, local: w.node === node })),
    ...snapshot.hostEndpoints.map((h) => ({ labels: effective(h.labels, h.profiles), cidrs: h.expectedIPs, local: h.node === node })),
    ...snapshot.networkSets.map((s) => ({ labels: effective(s.labels, s.profiles), cidrs: s.nets, local: false })),
  ];
  const active = new Set<Policy>();
  for (const e of entities) {
    if (!e.local) continue;
    for (const p of snapshot.policies) {
      evaluations++;
      if (sel(p.selector).matches(e.labels)) active.add(p);
    }
  }
  const selectors = new Set<string>();
  for (const p of active) for (const r of [...p.ingress, ...p.egress]) for (const s of [r.source, r.destination]) {
    if (s.selector) selectors.add(s.selector);
    if (s.notSelector) selectors.add(s.notSelector);
  }
  const members = new Map<string, Set<string>>();
  for (const t of selectors) {
    const m = new Set<string>();
    const s = sel(t);
    for (const e of entities) {
      evaluations++;
      if (s.matches(e.labels)) for (const c of e.cidrs) m.add(c);
    }
    members.set(t, m);
  }
  return { ms: now() - t0, evaluations };
}

async function runSize(emit: Emit, size: string, opts: { endpoints: number; policies: number; nodes: number; namespaces: number; local: number; samples: number }): Promise<void> {
  const row = (metric: string, value: number, unit: string): void => emit({ bench: 'engine', size, metric, value, unit });
  const localNode = 'node-local';
  gc();
  const heap0 = heapUsed();
  const cluster = generateCluster({
    seed: 42,
    namespaces: opts.namespaces,
    endpoints: opts.endpoints,
    appsPerNamespace: 10,
    nodes: opts.nodes,
    policies: opts.policies,
    tiers: 3,
    networkSets: Math.max(4, opts.nodes / 5),
    hostEndpoints: opts.nodes,
    localNode,
    localEndpoints: opts.local,
  });
  gc();
  const heapBase = heapUsed();
  void heap0;
  row('endpoints', cluster.pods.length + cluster.hostEndpoints.length, 'count');
  row('policies', cluster.policies.length, 'count');

  const dp = new CountingDataplane();
  const engine = createEngine({ node: localNode, dataplane: dp });
  const t0 = now();
  for (const r of cluster.resources) engine.upsert(r);
  engine.flush();
  const fullMs = now() - t0;
  gc();
  const heapAfter = heapUsed();
  const st = engine.state();
  row('full_sync_ms', fullMs, 'ms');
  row('heap_mb', (heapAfter - heapBase) / 1048576, 'MB');
  row('heap_bytes_per_endpoint', (heapAfter - heapBase) / (cluster.pods.length + cluster.hostEndpoints.length), 'B');
  row('local_endpoints', st.localEndpoints, 'count');
  row('active_policies', st.activePolicies, 'count');
  row('ip_sets', st.ipSets, 'count');
  row('full_sync_messages', dp.messages, 'count');

  // Label changes: relabel random pods (a quarter of them local), one change per flush.
  const rng = new Prng(7);
  const pods = cluster.pods;
  const localPods = pods.filter((p) => (p.spec as { nodeName?: string }).nodeName === localNode);
  const label: number[] = [];
  // Warm-up changes (JIT, first-touch allocations) are not measured; a GC before the loop keeps
  // the full sync's garbage out of the samples.
  const warmup = 300;
  let evals0 = 0;
  for (let i = 0; i < warmup + opts.samples; i++) {
    if (i === warmup) {
      gc();
      evals0 = engine.state().selectorEvaluations;
    }
    const pod = i % 4 === 0 ? rng.pick(localPods) : rng.pick(pods);
    const labels = { ...pod.metadata.labels!, app: `app-${rng.int(10)}`, version: `v${rng.int(5)}` };
    const next: Resource = { ...pod, metadata: { ...pod.metadata, labels } };
    const t = now();
    engine.upsert(next);
    engine.flush();
    if (i >= warmup) label.push((now() - t) * 1000);
  }
  const evalsPerChange = (engine.state().selectorEvaluations - evals0) / opts.samples;
  const p50 = percentile(label, 50);
  const p99 = percentile(label, 99);
  row('label_change_p50_us', p50, 'us');
  row('label_change_p99_us', p99, 'us');
  row('label_change_selector_evaluations', evalsPerChange, 'count');

  // Policy changes: edit a random policy's ingress ports / peer app (same selector), one per flush.
  const policyTimes: number[] = [];
  const k8s = cluster.policies.filter((p) => p.kind === 'NetworkPolicy');
  gc();
  for (let i = 0; i < 100 + Math.min(opts.samples, 1000); i++) {
    const p = rng.pick(k8s) as Resource<string, { ingress?: unknown[] }>;
    const next = {
      ...p,
      spec: { ...p.spec, ingress: [{ from: [{ podSelector: { matchLabels: { app: `app-${rng.int(10)}` } } }], ports: [{ protocol: 'TCP', port: 8000 + rng.int(100) }] }] },
    } as Resource;
    const t = now();
    engine.upsert(next);
    engine.flush();
    if (i >= 100) policyTimes.push((now() - t) * 1000);
  }
  row('policy_change_p50_us', percentile(policyTimes, 50), 'us');
  row('policy_change_p99_us', percentile(policyTimes, 99), 'us');

  gc();
  const naive = naiveFullSync(cluster.resources, localNode);
  row('naive_full_sync_ms', naive.ms, 'ms');
  row('naive_selector_evaluations', naive.evaluations, 'count');
  row('naive_over_full_sync', naive.ms / fullMs, 'x');
  row('naive_over_label_change_p99', (naive.ms * 1000) / p99, 'x');
  row('full_sync_over_label_change_p99', (fullMs * 1000) / p99, 'x');
}

export async function runEngineBench(emit: Emit): Promise<void> {
  await runSize(emit, '10k', { endpoints: 10_000, policies: 1_000, nodes: 100, namespaces: 100, local: 250, samples: 2000 });
  await runSize(emit, '100k', { endpoints: 100_000, policies: 10_000, nodes: 1_000, namespaces: 1_000, local: 250, samples: 2000 });
}

const argv1 = (globalThis as { process?: { argv?: string[] } }).process?.argv?.[1];
if (argv1 !== undefined && import.meta.url.endsWith(argv1.replace(/\\/g, '/'))) {
  await runEngineBench((row) => {
    const value = Number.isInteger(row.value) ? row.value : Number(row.value.toPrecision(6));
    process.stdout.write(`${JSON.stringify({ ...row, value })}\n`);
  });
}
