/**
 * evaluate() throughput on a deterministic synthetic cluster at 10, 1,000 and 10,000 policies:
 * conversion time, one-time index build, first pass over every endpoint (policy lists are
 * computed lazily per endpoint) and steady-state flows per second (median of repetitions).
 * Run: `npx tsx packages/core/src/evaluate/evaluate.bench.ts` (prints JSON lines), or through
 * scripts/bench.ts.
 */
import type { Resource } from '../model/resources.js';
import type { Snapshot } from '../model/types.js';
import { buildSnapshot } from '../convert/index.js';
import { evaluate } from './evaluate.js';
import { indexSnapshot } from './snapshot-index.js';
import type { Flow } from './types.js';

type Row = { bench: string; metric: string; value: number; unit: string };

/** mulberry32: a tiny seeded PRNG, so every run builds the same cluster. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMESPACES = 50;
const PODS_PER_NAMESPACE = 20;
const APPS = 10;
const TIERS = ['web', 'api', 'db'];

export interface SyntheticCluster {
  readonly resources: Resource[];
  readonly pods: string[];
}

/** A cluster of 1,000 pods in 50 namespaces with `policies` policies: ~70% k8s NPs, the rest GNPs in two tiers. */
export function syntheticCluster(policies: number, seed = 42): SyntheticCluster {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const resources: Resource[] = [];
  const pods: string[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns-${n}`;
    resources.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { team: `team-${n % 7}`, env: n % 2 ? 'prod' : 'dev' } } });
    for (let p = 0; p < PODS_PER_NAMESPACE; p++) {
      const name = `pod-${p}`;
      resources.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: ns, labels: { app: `app-${p % APPS}`, tier: TIERS[p % 3]! } },
        spec: {
          nodeName: `node-${n % 10}`,
          containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9090 }] }],
        },
        status: { podIP: `10.${n}.${Math.floor(p / 250)}.${(p % 250) + 1}` },
      });
      pods.push(`${ns}/${name}`);
    }
  }
  resources.push(
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100, defaultAction: 'Deny' } },
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'platform' }, spec: { order: 200, defaultAction: 'Pass' } },
  );
  const k8sCount = Math.round(policies * 0.7);
  for (let i = 0; i < policies; i++) {
    if (i < k8sCount) {
      const ns = `ns-${i % NAMESPACES}`;
      resources.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `np-${i}`, namespace: ns },
        spec: {
          podSelector: { matchLabels: { app: `app-${Math.floor(r() * APPS)}` } },
          policyTypes: r() < 0.5 ? ['Ingress'] : ['Ingress', 'Egress'],
          ingress: [
            {
              from: [{ podSelector: { matchLabels: { tier: pick(TIERS) } } }, { namespaceSelector: { matchLabels: { team: `team-${Math.floor(r() * 7)}` } } }],
              ports: [{ port: pick(['http', 8080, 5432]) }],
            },
          ],
          egress: [{ to: [{ podSelector: {} }], ports: [{ port: 'http' }, { protocol: 'UDP', port: 53 }] }],
        },
      });
    } else {
      const inSecurity = r() < 0.5;
      resources.push({
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: `gnp-${i}` },
        spec: {
          tier: inSecurity ? 'security' : 'platform',
          order: Math.floor(r() * 1000),
          selector: `app == 'app-${Math.floor(r() * APPS)}' && tier == '${pick(TIERS)}'`,
          namespaceSelector: r() < 0.5 ? `env == '${pick(['prod', 'dev'])}'` : '',
          types: ['Ingress', 'Egress'],
          ingress: [
            { action: 'Deny', protocol: 'TCP', source: { namespaceSelector: `team == 'team-${Math.floor(r() * 7)}'` }, destination: { ports: [Math.floor(r() * 1000) + 1] } },
            ...(inSecurity ? [{ action: 'Pass' }] : []),
          ],
          egress: [{ action: 'Deny', destination: { nets: [`192.0.${Math.floor(r() * 255)}.0/24`] } }, ...(inSecurity ? [{ action: 'Pass' }] : [])],
        },
      });
    }
  }
  return { resources, pods };
}

function flowsFor(pods: readonly string[], count: number, seed: number): Flow[] {
  const r = rng(seed);
  const out: Flow[] = [];
  while (out.length < count) {
    const src = pods[Math.floor(r() * pods.length)]!;
    const dst = pods[Math.floor(r() * pods.length)]!;
    if (src === dst) continue;
    out.push({ src, dst, protocol: 'TCP', dstPort: [8080, 9090, 5432][Math.floor(r() * 3)]! });
  }
  return out;
}

const now = (): number => performance.now();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function runEvaluateBench(emit: (row: Row) => void): Promise<void> {
  for (const size of [10, 1_000, 10_000]) {
    const bench = `evaluate/${size}-policies`;
    const { resources, pods } = syntheticCluster(size);
    let t = now();
    const { snapshot } = buildSnapshot(resources);
    emit({ bench, metric: 'convert', value: now() - t, unit: 'ms' });

    const fresh: Snapshot = { ...snapshot };
    t = now();
    indexSnapshot(fresh);
    emit({ bench, metric: 'index-build', value: now() - t, unit: 'ms' });

    // First pass: every pod as source and destination once (computes per-endpoint policy lists).
    t = now();
    for (let i = 0; i < pods.length; i++) evaluate(fresh, { src: pods[i]!, dst: pods[(i + 1) % pods.length]!, protocol: 'TCP', dstPort: 8080 });
    emit({ bench, metric: 'first-pass-all-endpoints', value: now() - t, unit: 'ms' });

    const flows = flowsFor(pods, 2_000, size);
    for (const f of flows) evaluate(fresh, f); // warm-up
    const rates: number[] = [];
    let allowed = 0;
    for (let rep = 0; rep < 5; rep++) {
      allowed = 0;
      t = now();
      for (const f of flows) if (evaluate(fresh, f).allowed) allowed++;
      rates.push(flows.length / ((now() - t) / 1000));
    }
    emit({ bench, metric: 'throughput', value: median(rates), unit: 'flows/s' });
    emit({ bench, metric: 'allowed-fraction', value: allowed / flows.length, unit: 'ratio' });
    emit({ bench, metric: 'policies-in-snapshot', value: snapshot.policies.length, unit: 'count' });
  }
}

const argv1 = (globalThis as { process?: { argv?: string[] } }).process?.argv?.[1];
if (argv1 !== undefined && import.meta.url.endsWith(argv1.replace(/\\/g, '/'))) {
  await runEvaluateBench((row) => console.log(JSON.stringify(row)));
}
