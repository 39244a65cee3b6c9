/**
 * eBPF compiler micro-benchmark: table sizes and compile time for one endpoint with 10 / 1,000 /
 * 10,000 ingress rules (each: from one of 100 selector IP sets, to one TCP port), and the map
 * writes and compile time of one label change vs. a full compile.
 *
 * The label change is the one of `ebpf.bench.ts`: a remote pod (10.1.0.1) leaves set s0 and joins
 * s1 in one batch (and back on the next change). Timed two ways, median of LABEL_CHANGES:
 *  - `label-change-compile`: the state mutated in place, as the dataplane keeps it (core's
 *    `applyMessage` edits IP set member Sets in place and replaces policy/endpoint objects);
 *  - `label-change-compile-cloned`: every state a `structuredClone` of the previous one (no
 *    object is shared with the state the previous tables were compiled from).
 * Run: `npx tsx packages/dataplane-ebpf/src/compile.bench.ts` (JSON lines).
 */
import { pathToFileURL } from 'node:url';
import { type CompiledRule, type DataplaneState, emptyDataplaneState } from '@gingham/core';
import { compile as defaultCompile } from './compile/index.js';

type Row = { bench: string; metric: string; value: number; unit: string; size?: string };
type Compile = typeof defaultCompile;

const FULL_RUNS = 5;
const LABEL_CHANGES = 20;
const PEER = '10.1.0.1/32';

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

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Change i: PEER leaves s0 and joins s1 (i even) or back (i odd). */
function move(s: DataplaneState, i: number): void {
  const [from, to] = i % 2 === 0 ? [0, 1] : [1, 0];
  s.ipSets.get(`s${from}`)!.members.delete(PEER);
  s.ipSets.get(`s${to}`)!.members.add(PEER);
}

/** Median time and writes of LABEL_CHANGES label changes after a full compile. */
function labelChanges(compile: Compile, rules: number, cloned: boolean): { ms: number; writes: number } {
  let state = build(rules);
  let tables = compile(state).tables;
  const times: number[] = [];
  const writes: number[] = [];
  for (let i = 0; i < LABEL_CHANGES; i++) {
    if (cloned) state = structuredClone(state);
    move(state, i);
    const t = performance.now();
    const r = compile(state, tables);
    times.push(performance.now() - t);
    writes.push(r.writes.length);
    tables = r.tables;
  }
  return { ms: median(times), writes: median(writes) };
}

export function runEbpfCompileBench(emit: (row: Row) => void, compile: Compile = defaultCompile): void {
  for (const n of [10, 1_000, 10_000]) {
    const size = `${n}-rules`;
    const s = build(n);
    const fullTimes: number[] = [];
    let full = compile(s);
    for (let k = 0; k < FULL_RUNS; k++) {
      const t0 = performance.now();
      full = compile(s);
      fullTimes.push(performance.now() - t0);
    }
    const fullMs = median(fullTimes);
    emit({ bench: 'ebpf-compile', size, metric: 'full-compile', value: fullMs, unit: 'ms' });
    emit({ bench: 'ebpf-compile', size, metric: 'full-fill-writes', value: full.writes.length, unit: 'writes' });
    for (const m of ['classes', 'verdicts', 'sports', 'slots', 'endpoints'] as const) {
      emit({ bench: 'ebpf-compile', size, metric: `${m}-entries`, value: full.tables.maps[m].size, unit: 'entries' });
    }
    // Joining a set: 10.1.0.1 joins s1 (a new class: {s0, s1}), then 10.1.0.2 too (that class exists).
    const next = structuredClone(s);
    next.ipSets.get('s1')!.members.add('10.1.0.1/32');
    const t1 = performance.now();
    const inc = compile(next, full.tables);
    emit({ bench: 'ebpf-compile', size, metric: 'join-new-class-compile', value: performance.now() - t1, unit: 'ms' });
    emit({ bench: 'ebpf-compile', size, metric: 'join-new-class-writes', value: inc.writes.length, unit: 'writes' });
    const again = structuredClone(next);
    again.ipSets.get('s1')!.members.add('10.1.0.2/32');
    const inc2 = compile(again, inc.tables);
    emit({ bench: 'ebpf-compile', size, metric: 'join-existing-class-writes', value: inc2.writes.length, unit: 'writes' });
    // The label change of ebpf.bench.ts (s0 -> s1 and back), median of LABEL_CHANGES.
    for (const cloned of [false, true]) {
      const lc = labelChanges(compile, n, cloned);
      const metric = cloned ? 'label-change-compile-cloned' : 'label-change-compile';
      emit({ bench: 'ebpf-compile', size, metric, value: lc.ms, unit: 'ms' });
      emit({ bench: 'ebpf-compile', size, metric: `${metric}-over-full`, value: lc.ms / fullMs, unit: 'ratio' });
      if (!cloned) emit({ bench: 'ebpf-compile', size, metric: 'label-change-writes', value: lc.writes, unit: 'writes' });
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runEbpfCompileBench((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
