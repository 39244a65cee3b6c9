/**
 * `npm run bench:agent-flows`: what flow logs cost the agent besides the collector itself (whose
 * figures are `npm run bench:flows`). The collector asks for the snapshot on every event; the
 * agent's `ResourceMirror` rebuilds it once after the resources changed and otherwise returns
 * the same object. Rows, at 10,000 workload endpoints × 1,000 policies (the agent bench's scale):
 *  - flow_snapshot_rebuild_ms: one label changed → the next snapshot() (median of 9);
 *  - flow_snapshot_cached_ns: snapshot() with nothing changed (the per-event cost);
 *  - flow_mirror_ingest_ms: the full list into the mirror (the initial sync's extra work).
 * Pure computation: no kernel, no I/O.
 */
import type { Resource, SourceMessage } from '@gingham/core';
import { ResourceMirror } from './resource-mirror.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

const N = 10_000;
const P = 1_000;
const wep = (i: number, gen = 0): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `w${i}`, namespace: `ns${i % 100}`, labels: { app: `app${i % 50}`, gen: String(gen) } },
  spec: { node: `node${i % 400}`, orchestrator: 'k8s', workload: `w${i}`, endpoint: 'eth0', interfaceName: `cali${i.toString(16).padStart(11, '0')}`, ipNetworks: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`] },
});
const gnp = (j: number): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `p${j}` },
  spec: { order: j, selector: `app == 'app${j % 50}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == 'app${(j + 1) % 50}'` }, destination: { ports: [1000 + (j % 1000)] } }] },
});

export async function runAgentFlowsBench(emit: Emit): Promise<void> {
  const bench = 'agent-flows';
  const scale = `${N / 1000}k_x_${P / 1000}k`;
  const list: SourceMessage[] = [{ kind: 'resync-started' }];
  for (let i = 0; i < N; i++) list.push({ kind: 'upsert', resource: wep(i) });
  for (let j = 0; j < P; j++) list.push({ kind: 'upsert', resource: gnp(j) });
  list.push({ kind: 'in-sync' });
  const mirror = new ResourceMirror();
  let t = performance.now();
  mirror.onMessages(list);
  emit({ bench, metric: `flow_mirror_ingest_ms_${scale}`, value: performance.now() - t, unit: 'ms' });
  mirror.snapshot();
  const times: number[] = [];
  for (let k = 1; k <= 9; k++) {
    mirror.onMessages([{ kind: 'upsert', resource: wep(k, k) }]);
    t = performance.now();
    mirror.snapshot();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  emit({ bench, metric: `flow_snapshot_rebuild_ms_${scale}`, value: times[4]!, unit: 'ms' });
  const calls = 1_000_000;
  let same = 0;
  const first = mirror.snapshot();
  t = performance.now();
  for (let k = 0; k < calls; k++) if (mirror.snapshot() === first) same++;
  const ns = ((performance.now() - t) * 1e6) / calls;
  if (same !== calls) throw new Error('bench: the snapshot changed with no resource change');
  emit({ bench, metric: 'flow_snapshot_cached_ns', value: ns, unit: 'ns' });
}
