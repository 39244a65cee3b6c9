/**
 * eBPF compiler micro-benchmark: table sizes and compile time for one endpoint with 10 / 1,000 /
 * 10,000 ingress rules (each: from one of 100 selector IP sets, to one TCP port), and the map
 * writes of one label change (an address joining a set) vs. a full fill.
 * Run: `npx tsx packages/dataplane-ebpf/src/compile.bench.ts` (JSON lines).
 */
import { pathToFileURL } from 'node:url';
import { type CompiledRule, type DataplaneState, emptyDataplaneState } from '@gingham/core';
import { compile } from './compile/index.js';

type Row = { bench: string; metric: string; value: number; unit: string; size?: string };

function build(rules: number): DataplaneState {
  const s = emptyDataplaneState();
  for (let k = 0; k < 100; k++) s.ipSets.set(`s${k}`, { type: 'nets', members: new Set([`10.1.${k}.1/32`, `10.1.${k}.2/32`]) });
  const ingress: CompiledRule[] = Array.from({ length: rules }, (_, i) => ({
    action: 'Allow',
    protocol: 6,
    source: { ipSetId: `s${i % 100}` },
    destination: { ports: [{ min: 1000 + (i % 5000), max: 1000 + (i % 5000) }] },
  }));
  s.policies.set('p', { id: 'p', tier: 'default', ingress, egress: [], staged: false });
  s.workloadEndpoints.set('n/a', { id: 'n/a', name: 'a', node: 'x', interfaceName: 'cali1', addresses: ['10.0.0.1/32'], ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['p'] }], egressTiers: [], profileIds: [], stagedPolicyIds: [] });
  return s;
}

export function runEbpfCompileBench(emit: (row: Row) => void): void {
  for (const n of [10, 1_000, 10_000]) {
    const size = `${n}-rules`;
    const s = build(n);
    const t0 = performance.now();
    const full = compile(s);
    const ms = performance.now() - t0;
    emit({ bench: 'ebpf-compile', size, metric: 'full-compile', value: ms, unit: 'ms' });
    emit({ bench: 'ebpf-compile', size, metric: 'full-fill-writes', value: full.writes.length, unit: 'writes' });
    for (const m of ['classes', 'verdicts', 'sports', 'slots', 'endpoints'] as const) {
      emit({ bench: 'ebpf-compile', size, metric: `${m}-entries`, value: full.tables.maps[m].size, unit: 'entries' });
    }
    // Label change: 10.1.0.1 joins s1 (a new class: {s0, s1}).
    const next = structuredClone(s);
    next.ipSets.get('s1')!.members.add('10.1.0.1/32');
    const t1 = performance.now();
    const inc = compile(next, full.tables);
    emit({ bench: 'ebpf-compile', size, metric: 'label-change-writes', value: inc.writes.length, unit: 'writes' });
    emit({ bench: 'ebpf-compile', size, metric: 'label-change-compile', value: performance.now() - t1, unit: 'ms' });
    // Second label change into an existing class: 10.1.0.2 joins s1 too.
    const again = structuredClone(next);
    again.ipSets.get('s1')!.members.add('10.1.0.2/32');
    const inc2 = compile(again, inc.tables);
    emit({ bench: 'ebpf-compile', size, metric: 'label-change-existing-class-writes', value: inc2.writes.length, unit: 'writes' });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runEbpfCompileBench((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
