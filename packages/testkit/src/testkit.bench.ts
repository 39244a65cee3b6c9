/**
 * Testkit benchmark (`npm run bench:testkit`): how many fast-check runs it takes to find a
 * planted one-port hole with `arbFlowIn`'s biased draws against uniform draws (ports 1–65535),
 * in the quick start and in a 1k-endpoint generated cluster, over many seeds; and the cost of an
 * exact `assertNoPath` at 10k endpoints × 1k policies.
 *
 * Rows: {bench: 'testkit', case, metric, value, unit}. "runs" metrics are over seeds: the
 * median, the 90th percentile and the maximum number of runs until the first counterexample,
 * and how many seeds found it within the cap.
 */
import fc from 'fast-check';
import { buildSnapshot, evaluate, reachability, type Flow, type Policy, type Resource, type Snapshot } from '@gingham/core';
import { arbFlowIn, type FlowArbOptions } from './arb-flow-in.js';
import { generateCluster } from './generate-cluster.js';
import { snapshotFromFiles } from './snapshot-from-files.js';

type Row = { bench: string; metric: string; value: number; unit: string; case?: string };
type Emit = (row: Row) => void;

const now = (): number => performance.now();

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

/** Runs until the first counterexample per seed (undefined: not found within `cap`). */
function runsToFind(arb: fc.Arbitrary<Flow>, holds: (f: Flow) => boolean, seeds: number, cap: number): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const r = fc.check(fc.property(arb, holds), { seed, numRuns: cap, endOnFailure: true });
    out.push(r.failed ? r.numRuns : undefined);
  }
  return out;
}

function report(emit: Emit, name: string, mode: string, runs: readonly (number | undefined)[], cap: number): void {
  const found = runs.filter((n): n is number => n !== undefined);
  const row = (metric: string, value: number, unit: string): void => emit({ bench: 'testkit', case: name, metric: `${mode}_${metric}`, value, unit });
  row('seeds', runs.length, 'count');
  row('found_within_cap', found.length, 'count');
  row('cap', cap, 'runs');
  if (found.length > 0) {
    row('runs_median', percentile(found, 0.5), 'runs');
    row('runs_p90', percentile(found, 0.9), 'runs');
    row('runs_max', Math.max(...found), 'runs');
  }
}

function compare(emit: Emit, name: string, after: Snapshot, options: FlowArbOptions, holds: (f: Flow) => boolean): void {
  const t = now();
  report(emit, name, 'biased', runsToFind(arbFlowIn(after, options), holds, 200, 2_000), 2_000);
  emit({ bench: 'testkit', case: name, metric: 'biased_ms', value: now() - t, unit: 'ms' });
  const u = now();
  report(emit, name, 'uniform', runsToFind(arbFlowIn(after, { ...options, bias: 0 }), holds, 20, 20_000), 20_000);
  emit({ bench: 'testkit', case: name, metric: 'uniform_ms', value: now() - u, unit: 'ms' });
}

/** The quick start with one rule more: Prometheus may reach the database on 6000. */
async function quickstart(emit: Emit): Promise<void> {
  const root = new URL('../../../examples/quickstart/', import.meta.url).pathname;
  const before = await snapshotFromFiles(root);
  const hole: Resource = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'planted-hole', namespace: 'shop' },
    spec: {
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 6000 }] }],
    },
  };
  const planted = buildSnapshot([hole]).snapshot.policies;
  const after: Snapshot = { ...before, policies: [...before.policies, ...planted] };
  // The invariant: the database accepts only the backend on 5432 and Prometheus on 9090.
  const holds = (flow: Flow): boolean => {
    if (!evaluate(after, flow).allowed) return true;
    return flow.protocol === 'TCP' && ((flow.src === 'shop/backend-0' && flow.dstPort === 5432) || (flow.src === 'monitoring/prometheus-0' && flow.dstPort === 9090));
  };
  compare(emit, 'quickstart', after, { to: { endpoints: ['shop/db-0'] } }, holds);
}

/** A 1k-endpoint generated cluster and a NetworkPolicy letting one app of another namespace in on 6000. */
function generated(emit: Emit): void {
  const cluster = generateCluster({ seed: 42, namespaces: 10, endpoints: 1_000, nodes: 10, policies: 100, tiers: 2, networkSets: 4, hostEndpoints: 10 });
  const before = buildSnapshot(cluster.resources).snapshot;
  const hole: Resource = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'planted-hole', namespace: 'ns-3' },
    spec: {
      podSelector: { matchLabels: { app: 'app-2' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns-5' } }, podSelector: { matchLabels: { app: 'app-7' } } }], ports: [{ port: 6000 }] }],
    },
  };
  const planted: readonly Policy[] = buildSnapshot([hole]).snapshot.policies;
  const after: Snapshot = { ...before, policies: [...before.policies, ...planted] };
  // The invariant: the change opens nothing towards app-2 in ns-3.
  const holds = (flow: Flow): boolean => !(evaluate(after, flow).allowed && !evaluate(before, flow).allowed);
  emit({ bench: 'testkit', case: 'generated-1k', metric: 'endpoints', value: before.workloadEndpoints.length + before.hostEndpoints.length, unit: 'count' });
  compare(emit, 'generated-1k', after, { to: { namespace: 'ns-3', selector: "app == 'app-2'" } }, holds);
}

/** The cost of an exact "no path" question at 10k endpoints × 1k policies. */
function exact(emit: Emit): void {
  const cluster = generateCluster({ seed: 42, namespaces: 100, endpoints: 10_000, nodes: 100, policies: 1_000, tiers: 3, networkSets: 20, hostEndpoints: 100 });
  const snapshot = buildSnapshot(cluster.resources).snapshot;
  const row = (metric: string, value: number, unit: string): void => emit({ bench: 'testkit', case: 'exact-10k', metric, value, unit });
  // "Nothing in dev reaches the payments team", and the same limited to one port.
  const query = { from: "pcns.env == 'dev'", to: "pcns.team == 'payments'" };
  let t = now();
  let r = reachability(snapshot, query);
  row('assert_no_path_cold_ms', now() - t, 'ms');
  row('paths', r.paths.length, 'count');
  row('pairs_matched', r.matched.from * r.matched.to, 'count');
  t = now();
  r = reachability(snapshot, query);
  row('assert_no_path_ms', now() - t, 'ms');
  t = now();
  r = reachability(snapshot, { ...query, ports: [{ protocol: 'TCP', port: 5432 }] });
  row('assert_no_path_one_port_ms', now() - t, 'ms');
  row('one_port_paths', r.paths.length, 'count');
}

export async function runTestkitBench(emit: Emit): Promise<void> {
  await quickstart(emit);
  generated(emit);
  exact(emit);
}

const argv1 = (globalThis as { process?: { argv?: string[] } }).process?.argv?.[1];
if (argv1 !== undefined && import.meta.url.endsWith(argv1.replace(/\\/g, '/'))) {
  await runTestkitBench((row) => {
    const value = Number.isInteger(row.value) ? row.value : Number(row.value.toPrecision(6));
    console.log(JSON.stringify({ ...row, value }));
  });
}
