/**
 * The eBPF dataplane's first full apply at the agent bench's scale, without etcd or the agent
 * (root only): the resources of `packages/agent/src/agent.bench.ts` (10,000 workload endpoints ×
 * 1,000 policies, 250 of them local; `GINGHAM_BENCH_FILL_SCALE=large`: 100,000 × 10,000) go
 * through core's Engine once, and the one in-sync batch it sends is applied by a fresh
 * `createEbpfDataplane` in a network namespace and a scratch bpffs this bench makes (the local
 * interfaces do not exist: every hook stays pending, as in the agent's sync child). Rows
 * (`bench: 'ebpf-fill'`, metric suffix `_<scale>`):
 *  - `first_apply_ms` / `first_apply_cpu_ms`: the dataplane's whole first apply (state, compile,
 *    maps, pins, hooks), wall and this process's CPU time;
 *  - `dataplane_heap_mb`: heap held after the apply (after a GC) minus before it, with the
 *    Engine's messages kept in both (the compiler's parse cache included); `rss_mb` after it;
 *  - then `compile_ms` / `compile_cpu_ms`, `write_ms` / `write_cpu_ms`: the compiler alone over
 *    the same state (its caches warm now), then those writes to a fresh, unpinned collection's
 *    maps (`writeTables`), split per map (`writes_<map>`);
 *  - `mem_<stage>_{heap_used,heap_total,external,array_buffers,rss,peak_rss}_mb` at each stage:
 *    `start`, `engine` (the Engine's batch built), `before_apply`, `after_apply` (what the apply
 *    left, no GC: its transient garbage included), `ready` (after a GC), `compiled` (the compiler
 *    alone, its result live: memory and the writes array), `compiled_without_writes`.
 * `GINGHAM_BENCH_FILL_HEAP=FILE` writes a heap snapshot after the apply,
 * `GINGHAM_BENCH_FILL_PROF=FILE` a CPU profile of the compiler alone (`.cpuprofile`; not of the
 * apply: the profiler's signals every millisecond make the verifier give up with EAGAIN, more
 * often than the loader's retries). It never touches the root namespace or /sys/fs/bpf: the
 * namespace and the bpffs mount are its own and removed in `finally`.
 * Run: `npm run bench:ebpf-fill` (or, after a build, `node --expose-gc --import tsx
 * packages/dataplane-ebpf/src/fill.bench.ts`); ~1 minute at 100k × 10k.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { applyMessage, createEngine, type DataplaneMessage, emptyDataplaneState, type Resource } from '@gingham/core';
import { createCollection } from '@gingham/ebpf-loader';
import { mountScratchBpffs } from '@gingham/ebpf-loader/testing';
import { compile, type CompileResult } from './compile/index.js';
import { DATAPATH_OBJECT, writeTables } from './datapath.js';
import { createEbpfDataplane } from './dataplane/index.js';
import { loadDatapathSpec } from './dataplane/generations.js';
import { MAP_NAMES, type MapName, type MapWrite } from './wire.js';

type Row = { bench: string; metric: string; value: number; unit: string };
type Emit = (row: Row) => void;

const NODE = 'bench-node';
const LOCAL = 250;
const ipOf = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const iface = (i: number): string => `cali${i.toString(16).padStart(11, '0')}`;

/** The agent bench's resources: endpoint i has app `app<i % 50>`; policy j admits app j+1 to app j on TCP 1000 + j % 1000. */
function resources(n: number, p: number): Resource[] {
  const out: Resource[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name: `w${i}`, namespace: `ns${i % 100}`, labels: { app: `app${i % 50}`, gen: '0' } },
      spec: { node: i < LOCAL ? NODE : `node${i % 400}`, orchestrator: 'k8s', workload: `w${i}`, endpoint: 'eth0', interfaceName: iface(i), ipNetworks: [`${ipOf(i)}/32`] },
    } as Resource);
  }
  for (let j = 0; j < p; j++) {
    out.push({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `p${j}` },
      spec: { order: j, selector: `app == 'app${j % 50}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == 'app${(j + 1) % 50}'` }, destination: { ports: [1000 + (j % 1000)] } }] },
    } as Resource);
  }
  return out;
}

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
};
/** This process's CPU time (user + system) since `from`, ms. */
const cpuMs = (from: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1000;
};
const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * `mem_<stage>_*` rows: heap used and committed, external memory, array buffers and RSS now, and
 * the process's peak RSS so far (`maxRSS`), MiB. `gc` first: what is live; without: what is held.
 */
function memRows(row: RowFn, stage: string, collect: boolean): void {
  if (collect) gc();
  const m = process.memoryUsage();
  row(`mem_${stage}_heap_used_mb`, mb(m.heapUsed), 'MiB');
  row(`mem_${stage}_heap_total_mb`, mb(m.heapTotal), 'MiB');
  row(`mem_${stage}_external_mb`, mb(m.external), 'MiB');
  row(`mem_${stage}_array_buffers_mb`, mb(m.arrayBuffers), 'MiB');
  row(`mem_${stage}_rss_mb`, mb(m.rss), 'MiB');
  row(`mem_${stage}_peak_rss_mb`, mb(process.resourceUsage().maxRSS * 1024), 'MiB');
}

/** Starts the inspector's CPU profiler when `file` is set; the returned function stops it and writes the profile there. */
async function startProfile(file: string | undefined): Promise<() => Promise<void>> {
  if (!file) return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    process.stderr.write(`bench: CPU profile of the first apply in ${file}\n`);
  };
}

/** The Engine's first (in-sync) batch for the agent bench's cluster. */
async function engineBatch(n: number, p: number): Promise<DataplaneMessage[]> {
  let batch: DataplaneMessage[] = [];
  const engine = createEngine({ node: NODE, dataplane: { apply: (m) => void (batch = [...m]) } });
  for (const r of resources(n, p)) engine.upsert(r);
  await engine.flush();
  return batch;
}

type RowFn = (metric: string, value: number, unit: string) => void;

/** The compiler alone over the dataplane's state, then its writes to a fresh, unpinned collection (a function of its own: nothing of it outlives the call). */
async function compileAndWrite(messages: readonly DataplaneMessage[], row: RowFn): Promise<void> {
  const state = emptyDataplaneState();
  for (const m of messages) applyMessage(state, m);
  const profile = await startProfile(process.env['GINGHAM_BENCH_FILL_PROF']);
  let c0 = process.cpuUsage();
  const t0 = performance.now();
  let result: CompileResult | undefined = compile(state);
  row('compile_ms', performance.now() - t0, 'ms');
  row('compile_cpu_ms', cpuMs(c0), 'ms');
  await profile();
  // Live after the compile: the state, the compiler's memory and the writes; then without the writes.
  memRows(row, 'compiled', true);
  const writes = result.writes;
  const per = new Map<MapName, number>(MAP_NAMES.map((m) => [m, 0]));
  for (const w of writes) per.set(w.map, per.get(w.map)! + 1);
  row('writes', writes.length, 'writes');
  for (const [m, k] of per) if (k > 0) row(`writes_${m}`, k, 'writes');
  const collection = createCollection(loadDatapathSpec(DATAPATH_OBJECT), { programs: [] });
  try {
    const maps = Object.fromEntries(MAP_NAMES.map((m) => [m, collection.map(m)])) as Record<MapName, ReturnType<typeof collection.map>>;
    c0 = process.cpuUsage();
    const t1 = performance.now();
    writeTables(maps, writes);
    row('write_ms', performance.now() - t1, 'ms');
    row('write_cpu_ms', cpuMs(c0), 'ms');
  } finally {
    collection.close();
  }
  const tables = result.tables;
  result = undefined;
  (writes as MapWrite[]).length = 0;
  memRows(row, 'compiled_without_writes', true);
  row('compiled_slots', tables.memory.slots.size, 'slots');
}

/** A fresh dataplane's first apply of `messages` in a namespace and bpffs of its own; what it holds afterwards. */
async function firstApply(messages: readonly DataplaneMessage[], row: RowFn): Promise<void> {
  const ns = `gh-fill-${randomBytes(4).toString('hex')}`;
  const made = spawnSync('ip', ['netns', 'add', ns]);
  if (made.status !== 0) throw new Error(`bench: ip netns add ${ns} failed: ${made.stderr.toString()}`);
  const locks = mkdtempSync(join(tmpdir(), 'gh-ebpf-fill-locks-'));
  let bpffs: ReturnType<typeof mountScratchBpffs> | undefined;
  try {
    bpffs = mountScratchBpffs('gh-ebpf-fill-bpffs-');
    const dp = createEbpfDataplane({ netns: ns, bpffs: bpffs.path, name: `fill-${randomBytes(3).toString('hex')}`, lockDir: locks });
    try {
      memRows(row, 'before_apply', true);
      const heap0 = process.memoryUsage().heapUsed;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await dp.apply(messages);
      row('first_apply_ms', performance.now() - t0, 'ms');
      row('first_apply_cpu_ms', cpuMs(cpu0), 'ms');
      row('first_apply_writes', dp.stats().mapWrites, 'writes');
      memRows(row, 'after_apply', false);
      memRows(row, 'ready', true);
      const mem = process.memoryUsage();
      row('dataplane_heap_mb', mb(mem.heapUsed - heap0), 'MiB');
      row('rss_mb', mb(mem.rss), 'MiB');
      const heapFile = process.env['GINGHAM_BENCH_FILL_HEAP'];
      if (heapFile) process.stderr.write(`bench: heap snapshot ${writeHeapSnapshot(heapFile)}\n`);
      await dp.clean();
    } finally {
      await dp.close();
    }
  } finally {
    bpffs?.release();
    rmSync(locks, { recursive: true, force: true });
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }
}

export async function runEbpfFillBench(emit: Emit): Promise<void> {
  const large = process.env['GINGHAM_BENCH_FILL_SCALE'] === 'large';
  const n = large ? 100_000 : 10_000;
  const p = large ? 10_000 : 1_000;
  const scale = `${n / 1000}k_x_${p / 1000}k`;
  const row: RowFn = (metric, value, unit) => emit({ bench: 'ebpf-fill', metric: `${metric}_${scale}`, value, unit });
  memRows(row, 'start', true);
  const messages = await engineBatch(n, p);
  row('engine_messages', messages.length, 'messages');
  memRows(row, 'engine', true);
  // The apply first, as in the agent: the compiler's caches are cold.
  await firstApply(messages, row);
  await compileAndWrite(messages, row);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runEbpfFillBench((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
}
