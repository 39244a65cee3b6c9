/**
 * `tsx scripts/bench.ts iptables-label-change` (no root, no kernel): the render and plan of one
 * label change against the dataplane state the agent bench builds (agent.bench.ts), without
 * etcd, the Engine or the kernel. 250 local endpoints in 50 apps; policy j applies to app j mod 50
 * and allows TCP from app (j + 1) mod 50, so each endpoint has policies/50 ingress policies and
 * each of the 50 selector sets holds endpoints/50 addresses. A label change moves one local
 * endpoint to another app: its endpoint upsert (the other app's policies) and its address leaving
 * one set and joining another, in one batch, as the Engine sends it. The plan runs against the
 * model the previous plan left (what the dataplane does between applies). Rows per scale
 * (`small` 10k × 1k, `large` 100k × 10k): render and plan p50/max in ms and CPU ms per change.
 */
import { applyMessage, emptyDataplaneState, type CompiledPolicy, type DataplaneMessage, type WorkloadEndpointState } from '@gingham/core';
import { pathToFileURL } from 'node:url';
import { emptyKernelState, type KernelState } from './apply/kernel-state.js';
import { planConverge } from './apply/plan.js';
import { resolveRenderOptions } from './render/options.js';
import { createRenderCache, forgetSetMembers } from './render/render-cache.js';
import { renderState } from './render/render.js';
import type { Rendered } from './render/rendered.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

const LOCAL = 250;
const APPS = 50;
const iface = (i: number): string => `cali${i.toString(16).padStart(11, '0')}`;
const addr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`;

function policy(j: number): CompiledPolicy {
  return {
    id: `gnp/p${j}`,
    tier: 'default',
    staged: false,
    egress: [],
    ingress: [{ action: 'Allow', protocol: 6, source: { ipSetId: `s:app${(j + 1) % APPS}` }, destination: { ports: [{ min: 1000 + (j % 1000), max: 1000 + (j % 1000) }] } }],
  };
}

function endpoint(i: number, app: number, policies: number): WorkloadEndpointState {
  const mine: string[] = [];
  for (let j = app; j < policies; j += APPS) mine.push(`gnp/p${j}`);
  return {
    id: `ns${i % 100}/w${i}`,
    name: `w${i}`,
    node: 'bench-node',
    interfaceName: iface(i),
    addresses: [addr(i)],
    ingressTiers: mine.length > 0 ? [{ name: 'default', defaultAction: 'Deny', policyIds: mine }] : [],
    egressTiers: [],
    profileIds: ['kns.ns'],
    stagedPolicyIds: [],
  };
}

/** The messages of the agent's first apply at this scale. */
export function labelChangeState(endpoints: number, policies: number): DataplaneMessage[] {
  const msgs: DataplaneMessage[] = [];
  const members: string[][] = Array.from({ length: APPS }, () => []);
  for (let i = 0; i < endpoints; i++) members[i % APPS]!.push(addr(i));
  for (let a = 0; a < APPS; a++) msgs.push({ kind: 'ipset-replace', id: `s:app${a}`, type: 'nets', members: members[a]! });
  msgs.push({ kind: 'profile-upsert', profile: { id: 'kns.ns', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } });
  for (let j = 0; j < policies; j++) msgs.push({ kind: 'policy-upsert', policy: policy(j) });
  for (let i = 0; i < LOCAL; i++) msgs.push({ kind: 'workload-endpoint-upsert', endpoint: endpoint(i, i % APPS, policies) });
  return msgs;
}

/** The batch that moves local endpoint `i` from app `from` to app `to`. */
export function labelChange(i: number, from: number, to: number, policies: number): DataplaneMessage[] {
  return [
    { kind: 'workload-endpoint-upsert', endpoint: endpoint(i, to, policies) },
    { kind: 'ipset-remove-members', id: `s:app${from}`, members: [addr(i)] },
    { kind: 'ipset-add-members', id: `s:app${to}`, members: [addr(i)] },
  ];
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

export async function runLabelChangeBench(emit: Emit, scales: readonly ('small' | 'large')[] = ['small', 'large']): Promise<void> {
  for (const scale of scales) {
    const [endpoints, policies] = scale === 'large' ? [100_000, 10_000] : [10_000, 1_000];
    const o = resolveRenderOptions({});
    const po = { setPrefix: o.setPrefix, commentTag: o.commentTag, consume: true };
    const state = emptyDataplaneState();
    const cache = createRenderCache();
    for (const m of labelChangeState(endpoints, policies)) applyMessage(state, m);
    let k: KernelState = emptyKernelState();
    let last: Rendered | undefined;
    const step = (): { render: number; plan: number; cpu: number } => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const r = renderState(state, 4, o, {}, cache);
      const t1 = performance.now();
      const plan = planConverge(k, r, po, last);
      const t2 = performance.now();
      const c = process.cpuUsage(c0);
      k = plan.next;
      last = plan.rendered;
      return { render: t1 - t0, plan: t2 - t1, cpu: (c.user + c.system) / 1000 };
    };
    const first = step();
    emit({ bench: `iptables.label_change.${scale}`, metric: 'full_render_plan', value: first.render + first.plan, unit: 'ms' });
    const app = new Map<number, number>();
    const samples = Number(process.env['GINGHAM_BENCH_LABEL_SAMPLES'] ?? 30);
    const rows: { render: number; plan: number; cpu: number }[] = [];
    for (let s = 0; s < samples + 5; s++) {
      const i = (s * 37) % LOCAL;
      const from = app.get(i) ?? i % APPS;
      const to = (from + 7) % APPS;
      app.set(i, to);
      const batch = labelChange(i, from, to, policies);
      for (const m of batch) applyMessage(state, m);
      forgetSetMembers(cache, [`s:app${from}`, `s:app${to}`]);
      const row = step();
      if (s >= 5) rows.push(row);
    }
    const b = `iptables.label_change.${scale}`;
    for (const key of ['render', 'plan', 'cpu'] as const) {
      const xs = rows.map((r) => r[key]);
      emit({ bench: b, metric: `${key}_p50`, value: pct(xs, 50), unit: 'ms' });
      emit({ bench: b, metric: `${key}_max`, value: Math.max(...xs), unit: 'ms' });
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const scales = (process.argv[2] ?? 'small,large').split(',') as ('small' | 'large')[];
  await runLabelChangeBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`), scales);
}
