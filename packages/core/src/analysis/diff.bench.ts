/**
 * Insights benchmark: `diffSnapshots` on generated clusters (`@gingham/testkit`'s
 * `generateCluster`, seed 42) at 10k endpoints × 1k policies and 100k × 10k.
 *
 * - `diff_one_policy_ms`: one Kubernetes NetworkPolicy gains a port; `after` shares every other
 *   array with `before` (how a library user or an editor builds it), `before` already analysed
 *   once (its index and peers cached). Median of repetitions.
 * - `diff_one_policy_cold_ms`: the same on a freshly built `before` (index, peers and classes
 *   built inside the timed call).
 * - `diff_new_policy_ms`: a new default-deny NetworkPolicy for one namespace (every source of
 *   the cluster is a peer it touches).
 * - `diff_full_cluster_ms` (10k only): the same one-policy change with both snapshots built
 *   from resources, as `gingham diff -f main --against branch` does (nothing shared).
 * - `diff_all_policies_replaced_ms` (size `2k`): a stress case, every policy replaced.
 *
 * Run: `npx tsx packages/core/src/analysis/diff.bench.ts [10k|100k]` or `npm run bench:insights`.
 * Rows: {bench: 'insights', size, metric, value, unit}.
 */
import { generateCluster } from '@gingham/testkit';
import type { Resource } from '../model/resources.js';
import type { Policy, Snapshot } from '../model/types.js';
import { buildSnapshot } from '../convert/index.js';
import { diffSnapshots } from './diff.js';

type Row = { bench: string; metric: string; value: number; unit: string; size?: string };
type Emit = (row: Row) => void;

const now = (): number => performance.now();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Size {
  readonly name: '10k' | '100k';
  readonly namespaces: number;
  readonly endpoints: number;
  readonly policies: number;
  readonly nodes: number;
  readonly networkSets: number;
  readonly hostEndpoints: number;
}

const SIZES: readonly Size[] = [
  { name: '10k', namespaces: 100, endpoints: 10_000, policies: 1_000, nodes: 100, networkSets: 20, hostEndpoints: 100 },
  { name: '100k', namespaces: 1_000, endpoints: 100_000, policies: 10_000, nodes: 1_000, networkSets: 200, hostEndpoints: 1_000 },
];

function resourcesOf(size: Size, seed: number): Resource[] {
  return generateCluster({ seed, namespaces: size.namespaces, endpoints: size.endpoints, nodes: size.nodes, policies: size.policies, tiers: 3, networkSets: size.networkSets, hostEndpoints: size.hostEndpoints }).resources;
}

function withPolicy(s: Snapshot, id: string, change: (p: Policy) => Policy): Snapshot {
  return { ...s, policies: s.policies.map((p) => (p.id === id ? change(p) : p)) };
}

function firstPortPolicy(s: Snapshot): Policy {
  return s.policies.find((p) => p.kind === 'KubernetesNetworkPolicy' && p.ingress[0]?.destination.ports !== undefined)!;
}

/** The first Kubernetes NetworkPolicy with a port-limited ingress rule, with one more port. */
function onePolicyChange(s: Snapshot, port: number): Snapshot {
  const target = firstPortPolicy(s);
  return withPolicy(s, target.id, (p) => ({
    ...p,
    ingress: p.ingress.map((r, i) => (i === 0 ? { ...r, destination: { ...r.destination, ports: [...(r.destination.ports ?? []), { kind: 'range', min: port, max: port }] } } : r)),
  }));
}

function newDenyPolicy(s: Snapshot): Snapshot {
  const deny: Policy = {
    id: 'knp/ns-1/bench-default-deny',
    kind: 'KubernetesNetworkPolicy',
    name: 'bench-default-deny',
    namespace: 'ns-1',
    tier: 'default',
    order: 1000,
    selector: '(projectcalico.org/orchestrator == "k8s" && projectcalico.org/namespace == "ns-1")',
    types: ['Ingress'],
    ingress: [],
    egress: [],
    doNotTrack: false,
    preDNAT: false,
    applyOnForward: false,
  };
  return { ...s, policies: [...s.policies, deny] };
}

async function runSize(size: Size, emit: Emit): Promise<void> {
  const row = (metric: string, value: number, unit: string): void => emit({ bench: 'insights', size: size.name, metric, value, unit });
  const resources = resourcesOf(size, 42);
  let t = now();
  const before = buildSnapshot(resources).snapshot;
  row('build_snapshot_ms', now() - t, 'ms');
  row('endpoints', before.workloadEndpoints.length + before.hostEndpoints.length, 'count');
  row('policies', before.policies.length, 'count');

  // Cold: a fresh snapshot object (nothing cached), one policy changed.
  t = now();
  const cold = diffSnapshots(before, onePolicyChange(before, 7000));
  row('diff_one_policy_cold_ms', now() - t, 'ms');
  row('classes', cold.stats.classes, 'count');

  // Warm: the same before, another one-policy change each time.
  const warm: number[] = [];
  let last = cold;
  for (let i = 0; i < 5; i++) {
    t = now();
    last = diffSnapshots(before, onePolicyChange(before, 7001 + i));
    warm.push(now() - t);
  }
  row('diff_one_policy_ms', median(warm), 'ms');
  row('diff_one_policy_changes', last.changes.length, 'count');
  row('diff_one_policy_direction_evaluations', last.stats.directionEvaluations, 'count');
  row('diff_one_policy_signatures', last.stats.signatures, 'count');

  const added: number[] = [];
  let deny = last;
  for (let i = 0; i < 3; i++) {
    t = now();
    deny = diffSnapshots(before, newDenyPolicy(before));
    added.push(now() - t);
  }
  row('diff_new_policy_ms', median(added), 'ms');
  row('diff_new_policy_changes', deny.changes.length, 'count');
  row('diff_new_policy_pairs', deny.changes.reduce((n, c) => n + c.pairs, 0), 'count');

  if (size.name === '10k') {
    // What `gingham diff -f main --against branch` pays: both sides built from resources
    // (separate indexes, every policy compared by content, every class computed), one policy changed.
    // The policy onePolicyChange edits (first in snapshot order), as a resource.
    const [, ns, name] = firstPortPolicy(before).id.split('/');
    const target = resources.find((r) => r.kind === 'NetworkPolicy' && r.metadata.namespace === ns && r.metadata.name === name)!;
    const edited = resources.map((r) => {
      if (r !== target) return r;
      const spec = structuredClone(r.spec) as { ingress: { ports: unknown[] }[] };
      spec.ingress[0]!.ports.push({ protocol: 'TCP', port: 7000 });
      return { ...r, spec };
    });
    const a = buildSnapshot(resources).snapshot;
    const b = buildSnapshot(edited).snapshot;
    t = now();
    const full = diffSnapshots(a, b);
    row('diff_full_cluster_ms', now() - t, 'ms');
    row('diff_full_cluster_changes', full.changes.length, 'count');
    row('diff_full_cluster_dirty_classes', full.stats.dirtyEgress + full.stats.dirtyIngress, 'count');
  }
}

/**
 * Stress: every policy replaced (policies of seed 43 over the same pods, namespaces and sets)
 * at 2k endpoints × 200 policies. Every class is dirty, so the work is quadratic in classes.
 */
async function allReplaced(emit: Emit): Promise<void> {
  const size: Size = { name: '10k', namespaces: 20, endpoints: 2_000, policies: 200, nodes: 20, networkSets: 8, hostEndpoints: 20 };
  const row = (metric: string, value: number, unit: string): void => emit({ bench: 'insights', size: '2k', metric, value, unit });
  const resources = resourcesOf(size, 42);
  const isPolicy = (r: Resource): boolean => r.kind === 'NetworkPolicy' || r.kind === 'GlobalNetworkPolicy';
  const replaced = [...resources.filter((r) => !isPolicy(r)), ...resourcesOf(size, 43).filter(isPolicy)];
  const a = buildSnapshot(resources).snapshot;
  const b = buildSnapshot(replaced).snapshot;
  const t = now();
  const d = diffSnapshots(a, b);
  row('diff_all_policies_replaced_ms', now() - t, 'ms');
  row('diff_all_policies_replaced_changes', d.changes.length, 'count');
  row('diff_all_policies_replaced_groups', d.groups.length, 'count');
  row('classes', d.stats.classes, 'count');
}

export async function runInsightsBench(emit: Emit, sizes: readonly string[] = ['10k', '100k', '2k']): Promise<void> {
  for (const size of SIZES) if (sizes.includes(size.name)) await runSize(size, emit);
  if (sizes.includes('2k')) await allReplaced(emit);
}

const argv = (globalThis as { process?: { argv?: string[] } }).process?.argv;
if (argv?.[1] !== undefined && import.meta.url.endsWith(argv[1].replace(/\\/g, '/'))) {
  const sizes = argv.slice(2);
  await runInsightsBench((row) => {
    const value = Number.isInteger(row.value) ? row.value : Number(row.value.toPrecision(6));
    console.log(JSON.stringify({ ...row, value }));
  }, sizes.length > 0 ? sizes : ['10k', '100k', '2k']);
}
