/**
 * The agent's label change and new policy, through the eBPF dataplane alone (root only): the
 * agent bench's cluster (`packages/agent/src/agent.bench.ts`: N workload endpoints, app = i % 50,
 * P GlobalNetworkPolicies "app j%50 admits app (j+1)%50 on TCP 1000 + j%1000", 250 endpoints
 * local, their interfaces absent) is fed to a core Engine once, then one local endpoint moves to
 * another app per sample (and, second, one new policy per sample), each flushed into a real
 * `createEbpfDataplane` pinned in a scratch bpffs, attached in a scratch namespace. No etcd, no
 * agent: the rows are the Engine's flush and the dataplane's apply, with the GC pauses that landed
 * in the apply. `GINGHAM_MOVE_SCALE=large` for 100k × 10k (default 10k × 1k);
 * `GINGHAM_MOVE_CPU_PROF=DIR` writes a CPU profile of the samples (the fill is not in it).
 * Rows (ms): move_{label_change,new_policy}_{apply,flush}_{p50,p99,max}_<scale>, and
 * move_..._cpu_per_sample_ms (process CPU time / samples), move_..._gc_in_apply_ms (sum of the GC
 * pauses that started inside an apply) and _max_ms, move_..._writes_p50, and the heap after the
 * fill and after each row's samples (`_heap_used_mb`).
 * It must never touch the root namespace or /sys/fs/bpf: everything is under the scratch mount
 * and namespace, removed in `finally`.
 * Run: `NODE_OPTIONS=--expose-gc npx tsx scripts/bench.ts ebpf-move` (or this file with tsx)
 * after a build (with --expose-gc the heap rows follow a full GC).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createEngine, type DataplaneMessage, type Resource } from '@gingham/core';
import { mountScratchBpffs } from '@gingham/ebpf-loader/testing';
import { createEbpfDataplane } from './dataplane/index.js';

type Row = { bench: string; metric: string; value: number; unit: string };
type Emit = (row: Row) => void;

const LOCAL = 250;
const SAMPLES = 60;
const WARMUP = 10;
const NODE = 'bench-node';

const ipOf = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const wep = (i: number, app = i % 50, gen = 0): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `w${i}`, namespace: `ns${i % 100}`, labels: { app: `app${app}`, gen: String(gen) } },
  spec: { node: i < LOCAL ? NODE : `node${i % 400}`, orchestrator: 'k8s', workload: `w${i}`, endpoint: 'eth0', interfaceName: `cali${i.toString(16).padStart(11, '0')}`, ipNetworks: [`${ipOf(i)}/32`] },
});
const gnp = (j: number, extra = ''): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `p${j}${extra}` },
  spec: { order: j, selector: `app == 'app${j % 50}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == 'app${(j + 1) % 50}'` }, destination: { ports: [1000 + (j % 1000)] } }] },
});

const pct = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

export async function runMoveBench(emit: Emit): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('move bench needs root (a scratch bpffs and network namespace)');
  const large = process.env['GINGHAM_MOVE_SCALE'] === 'large';
  const n = large ? 100_000 : 10_000;
  const p = large ? 10_000 : 1_000;
  const scale = `${n / 1000}k_x_${p / 1000}k`;
  const bpffs = mountScratchBpffs('gh-move-bench-bpffs-');
  const lockDir = mkdtempSync(join(tmpdir(), 'gh-move-bench-locks-'));
  const ns = `gh-move-bench-${randomBytes(3).toString('hex')}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) throw new Error(`move bench: ip netns add ${ns} failed`);
  try {
    const dp = createEbpfDataplane({ netns: ns, bpffs: bpffs.path, name: `move-${randomBytes(3).toString('hex')}`, lockDir });
    // GC entries arrive after the fact: kept, then matched against the applies' windows.
    const gcs: { start: number; ms: number }[] = [];
    const windows: { start: number; end: number }[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcs.push({ start: e.startTime, ms: e.duration });
    });
    obs.observe({ entryTypes: ['gc'] });
    let last: { applyMs: number; writes: number } = { applyMs: 0, writes: 0 };
    const engine = createEngine({
      node: NODE,
      dataplane: {
        async apply(messages: readonly DataplaneMessage[]) {
          const t = performance.now();
          await dp.apply(messages);
          const end = performance.now();
          windows.push({ start: t, end });
          last = { applyMs: end - t, writes: dp.stats().mapWrites };
        },
      },
    });
    try {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) engine.upsert(wep(i));
      for (let j = 0; j < p; j++) engine.upsert(gnp(j));
      await engine.flush();
      process.stderr.write(`move bench: ${scale} filled in ${((performance.now() - t0) / 1000).toFixed(1)} s (${dp.stats().mapWrites} writes)\n`);
      (globalThis as { gc?: () => void }).gc?.();
      emit({ bench: 'ebpf-move', metric: `move_filled_heap_used_mb_${scale}`, value: process.memoryUsage().heapUsed / 1048576, unit: 'MiB' });

      const profDir = process.env['GINGHAM_MOVE_CPU_PROF'];
      const session = profDir ? new Session() : undefined;
      if (session) {
        session.connect();
        await session.post('Profiler.enable');
      }
      const run = async (what: string, change: (k: number) => void): Promise<void> => {
        const apply: number[] = [];
        const flush: number[] = [];
        const writes: number[] = [];
        let from = 0;
        const cpu0 = process.cpuUsage();
        if (session) await session.post('Profiler.start');
        for (let k = 0; k < WARMUP + SAMPLES; k++) {
          if (k === WARMUP) {
            from = performance.now();
            Object.assign(cpu0, process.cpuUsage());
          }
          change(k);
          last = { applyMs: -1, writes: 0 };
          const t = performance.now();
          await engine.flush();
          const took = performance.now() - t;
          if (last.applyMs < 0) throw new Error(`move bench: ${what} sample ${k} reached no apply`);
          if (dp.stats().fullFill) throw new Error(`move bench: ${what} rebuilt the generation`);
          if (k < WARMUP) continue;
          apply.push(last.applyMs);
          flush.push(took);
          writes.push(last.writes);
        }
        for (const [name, xs] of [['apply', apply], ['flush', flush]] as const) {
          emit({ bench: 'ebpf-move', metric: `move_${what}_${name}_p50_ms_${scale}`, value: pct(xs, 50), unit: 'ms' });
          emit({ bench: 'ebpf-move', metric: `move_${what}_${name}_p99_ms_${scale}`, value: pct(xs, 99), unit: 'ms' });
          emit({ bench: 'ebpf-move', metric: `move_${what}_${name}_max_ms_${scale}`, value: Math.max(...xs), unit: 'ms' });
        }
        const cpu = process.cpuUsage(cpu0);
        if (session && profDir) {
          const { profile } = await session.post('Profiler.stop');
          mkdirSync(profDir, { recursive: true });
          writeFileSync(join(profDir, `move-${what}-${scale}.cpuprofile`), JSON.stringify(profile));
        }
        await new Promise((r) => setTimeout(r, 50));
        emit({ bench: 'ebpf-move', metric: `move_${what}_cpu_per_sample_ms_${scale}`, value: (cpu.user + cpu.system) / 1000 / SAMPLES, unit: 'ms' });
        const inApply = gcs.filter((g) => g.start >= from && windows.some((w) => g.start >= w.start && g.start < w.end));
        emit({ bench: 'ebpf-move', metric: `move_${what}_gc_in_apply_ms_${scale}`, value: inApply.reduce((a, g) => a + g.ms, 0), unit: 'ms' });
        emit({ bench: 'ebpf-move', metric: `move_${what}_gc_in_apply_max_ms_${scale}`, value: Math.max(0, ...inApply.map((g) => g.ms)), unit: 'ms' });
        emit({ bench: 'ebpf-move', metric: `move_${what}_writes_p50_${scale}`, value: pct(writes, 50), unit: 'count' });
        // Heap after the samples (after a full GC when node runs with --expose-gc): flat when no version leaks.
        (globalThis as { gc?: () => void }).gc?.();
        emit({ bench: 'ebpf-move', metric: `move_${what}_heap_used_mb_${scale}`, value: process.memoryUsage().heapUsed / 1048576, unit: 'MiB' });
      };
      // Endpoint k % 250 moves to another app (as the agent bench does), then back next round.
      await run('label_change', (k) => engine.upsert(wep(k % LOCAL, ((k % LOCAL) + 7 * (1 + Math.floor(k / LOCAL))) % 50, k + 1)));
      await run('new_policy', (k) => engine.upsert(gnp(k, '-new')));
      session?.disconnect();
    } finally {
      obs.disconnect();
      await dp.clean();
      await dp.close();
    }
  } finally {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    bpffs.release();
    rmSync(lockDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runMoveBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`));
}
