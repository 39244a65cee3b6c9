/**
 * `npm run bench:agent [-- --dataplane ebpf]` (root): the agent against a real etcd on loopback,
 * both inside a network namespace this bench creates (it re-runs itself there with
 * `nsenter --net`, so the agent's rtnetlink socket, iptables or eBPF hooks and etcd are all in
 * that namespace) and removes; the eBPF dataplane pins into a bpffs the bench mounts in a
 * temporary directory (never /sys/fs/bpf) and unmounts. Default scale 10,000 endpoints × 1,000 policies with 250
 * local endpoints; GINGHAM_BENCH_AGENT_SCALE=large for 100,000 × 10,000. Every metric ends in
 * `_<scale>_<dataplane>`. Rows:
 *  - initial_sync_ms: agent start to ready (first complete sync and first successful apply), in
 *    an agent process of its own (agent-sync-child.bench.ts: nothing of the bench's writer in
 *    it), split into `initial_sync_stage_list` (start → the etcd source's `LISTED`: the paged list
 *    returned; the etcd source decodes, takes and emits each page of its first list as it
 *    arrives, so this includes the JSON parse, validation, the source's bookkeeping and the
 *    Engine taking every page), `_stage_decode` (→ the batch ending the sync, with the in-sync,
 *    reaching the agent), `_stage_engine` (the Engine taking that batch), `_stage_flush` (→ the first
 *    dataplane apply called: the Engine's first flush), `_stage_apply` (the first apply),
 *    `_stage_ready` (→ ready), with iptables `_stage_apply_render|plan|ipset|restore` (the
 *    dataplane's split of that apply); `initial_sync_engine_busy_ms` the Engine's time over every
 *    batch of the sync and `initial_sync_batches` their number; `initial_sync_cpu_ms` that process's CPU time over the
 *    sync (its `iptables-restore` and `ipset` children not included);
 *    `initial_sync_in_bench_process_ms` the same sync again by the bench's own agent (which then
 *    takes the latency rows);
 *  - etcd_to_kernel_label_change_p50/p99_ms, etcd_to_kernel_new_policy_p50/p99_ms: from the
 *    etcd put to the dataplane apply that carries it having returned. The put is made by a
 *    writer in a process of its own (etcd-writer.bench.ts, since 2026-12-07 16:30: before, the
 *    writer's gRPC call ran on the agent's event loop inside each sample), which reads
 *    CLOCK_MONOTONIC just before its put; the bench reads the same clock when the apply returned
 *    (200 samples after 10
 *    warm-ups, `GINGHAM_BENCH_AGENT_SAMPLES`; p99 is the nearest rank, so with 50 samples, as
 *    before 2026-12-07 15:00, it was the maximum);
 *    per stage (p50 and p99 of each sample's share): `_stage_watch` put → the source batch
 *    reaching the agent, `_stage_calc` the Engine taking it, `_stage_flush` the Engine's flush
 *    up to the dataplane call, `_stage_apply` the dataplane apply, `_stage_handoff` apply
 *    returned → the bench seeing it; with iptables also `_stage_apply_render|plan|ipset|restore`,
 *    the dataplane's own split of its apply (`timings()`); beside the stages, `_stage_put_ack`
 *    (put → the writer's put acknowledged: etcd's commit as a client sees it, reported beside the
 *    figure, not taken out of it), `_stage_gc` (GC time inside the sample) and `_stage_loop_block`
 *    (the event loop's longest block inside it, `monitorEventLoopDelay`), and per row
 *    `_tail_samples` (those at or above p95) with how many of them had a GC, a put acknowledged
 *    after ≥ 5 ms, a loop block of ≥ 5 ms before the watch event arrived, or an apply of at least
 *    twice the row's median (`_tail_with_gc|slow_put_ack|loop_block_in_watch|slow_apply`; the samples
 *    themselves on stderr, all of them as JSON lines into GINGHAM_BENCH_AGENT_TRACE=FILE), and
 *    `_etcd_wal_fsync|backend_commit[_over_8ms|_over_32ms]`: etcd's own fsyncs and commits over
 *    the row (its `/metrics`). The bench waits for each apply on the loop's `nextApply()` event
 *    (until 2026-12-07 it polled `applies` in a setImmediate loop, which kept a core busy and
 *    filled the young generation: scavenges landed in the samples); the agent reaches etcd
 *    through the bench's TCP proxy (to cut it for `relist_ms`), which sets TCP_NODELAY as etcd and
 *    grpc-js do (without it, Nagle against the agent's delayed ACK held 7 % of watch events
 *    ~40 ms);
 *  - etcd_to_packet_label_change_p50/max_ms: a subset confirmed with real packets (10 flips of
 *    one local endpoint with a real workload namespace behind its veth, see packet-flips.bench.ts):
 *    from the etcd put to the first connection attempt from which on every attempt shows the new
 *    verdict (attempts every 4 ms), beside etcd_to_kernel_label_change_probed_p50_ms (the same
 *    flips, put → the apply returned); packet_flips_confirmed counts the flips seen (10 expected; GINGHAM_BENCH_AGENT_FLIPS for more),
 *    packet_flip_early_attempts the attempts that showed a verdict before its put (0 expected), split
 *    into `packet_flip_early_allowed` (a connection through before the put that allows it: a
 *    flow both states deny getting through, were it real) and `packet_flip_early_denied` (a
 *    refusal before a denying put), with `packet_probe_stalled_attempts` (attempts whose
 *    timeout fired over 50 ms late, the prober stalled: their outcome is unknown and left out,
 *    as a stalled prober would report connections that completed as refused);
 *  - new_interface_to_enforced_p50/p99_ms: from `ip link add` of a local endpoint's interface
 *    having returned (the link exists) to the agent's interface re-check (triggered by the
 *    rtnetlink event) having returned; `_stage_event` link → the rtnetlink event, `_stage_sync`
 *    the re-check (190 samples after 10 warm-ups: the local endpoints below PROBED);
 *    `ip_link_add_p50_ms` the `ip` child itself (not part of the figure); beside them
 *    `_stage_dispatch` (event → the re-check called), `_stage_after` (re-check returned → the
 *    bench seeing it), `_stage_syncs` (re-checks per sample), `_stage_gc`, `_stage_loop_block`;
 *    `new_interface_reported_syncs` counts the samples whose re-check was told which interfaces
 *    the kernel reported (the rtnetlink events' names); each sample's split is appended to
 *    GINGHAM_BENCH_AGENT_TRACE as a `new_interface` row;
 *  - interface_full_recheck_p50/max_ms and `_loop_block_max_ms`: the agent's periodic full
 *    interface re-check (every 30 s), requested 10 times: its length and how long it holds the
 *    event loop (a change arriving meanwhile waits that long). With
 *    iptables a workload's rules match by interface name and exist before the link does, so this
 *    is the agent's reaction time; the eBPF dataplane attaches its programs in that re-check;
 *  - relist_ms: after a compaction past the cut-off watcher (1% of endpoints changed meanwhile),
 *    from reconnecting to the relist applied;
 *  - agent_rss_mb: the agent process's RSS once ready (after a full GC with --expose-gc), with
 *    `agent_peak_rss_mb` (its maximum so far), `agent_rss_ready_1s_mb` (one second later, nothing
 *    done meanwhile: V8's background unmapper has handed back what that GC freed),
 *    `agent_rss_settled_mb` and
 *    `agent_heap_total_settled_mb` (10 s later, idle, after another GC), `agent_heap_total_mb`, `agent_heap_used_mb`,
 *    `agent_external_mb` (Buffers) and `agent_baseline_rss_mb` (before the agent was created:
 *    the runtime and the loaded modules; the child runs on plain node and the built packages,
 *    as `gingham agent` does, so `npm run bench:agent` builds first); `bench_process_rss_mb` this process
 *    at the end (the bench's agent + the etcd writer + its 110k resources: the figure
 *    `agent_rss_mb` was before). GINGHAM_BENCH_AGENT_HEAP=DIR writes the agent process's heap
 *    snapshot into DIR once ready; GINGHAM_BENCH_AGENT_CPU_PROF=DIR its CPU profile
 *    (`--cpu-prof`, written when it exits). GINGHAM_BENCH_IPTABLES_GROUP_DISPATCH=ipset runs the
 *    iptables agent with `--iptables-group-dispatch ipset` (the metrics keep their names; stderr
 *    says which).
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '@gingham/core';
import { encodeValue, etcdKey, kindOf } from '@gingham/datastore';
import { startEtcd, startTcpProxy } from '@gingham/datastore/testing';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import ts from 'typescript';
import { createAgent } from './agent.js';
import type { ApplyLoop, ApplyRecord } from './apply-loop.js';
import type { SyncChildReport, SyncChildRequest } from './agent-sync-child.bench.js';
import { resolveAgentConfig } from './config.js';
import { type AgentDataplane, createAgentDataplane } from './dataplane-adapter.js';
import { createPacketProbe, probeNamespaces } from './packet-flips.bench.js';
import { createTailTrace } from './tail-trace.bench.js';
import { startWriterProcess, type WriterProcess } from './etcd-writer.bench.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

const WEP = kindOf('projectcalico.org/v3', 'WorkloadEndpoint')!;
const GNP = kindOf('projectcalico.org/v3', 'GlobalNetworkPolicy')!;
const LOCAL = 250;

const wepIface = (i: number) => `cali${i.toString(16).padStart(11, '0')}`;
const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
/** The local endpoint the packet probe flips between app0 (p0 admits app1 on TCP 1000) and app7 (nothing admits app1 on 1000), and the remote app1 endpoint whose address the probe connects from. */
const PROBED = 200;
const PROBE_SOURCE = 251;
const wep = (i: number, gen = 0): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `w${i}`, namespace: `ns${i % 100}`, labels: { app: `app${i % 50}`, gen: String(gen) } },
  spec: {
    node: i < LOCAL ? 'bench-node' : `node${i % 400}`,
    orchestrator: 'k8s',
    workload: `w${i}`,
    endpoint: 'eth0',
    interfaceName: wepIface(i),
    ipNetworks: [`${ipOf(i)}/32`],
  },
});
const gnp = (j: number, extra = ''): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `p${j}${extra}` },
  spec: { order: j, selector: `app == 'app${j % 50}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == 'app${(j + 1) % 50}'` }, destination: { ports: [1000 + (j % 1000)] } }] },
});
const keyOf = (r: Resource) => etcdKey(r.kind === 'WorkloadEndpoint' ? WEP : GNP, { name: r.metadata.name, namespace: r.metadata.namespace ?? '' });

/** Latency samples per row after the warm-ups: enough that p99 is not simply the worst sample. */
const SAMPLES = Number(process.env.GINGHAM_BENCH_AGENT_SAMPLES ?? 200);
/** Packet flips confirmed with real packets (GINGHAM_BENCH_AGENT_FLIPS, default 10, even). */
const FLIPS = Number(process.env.GINGHAM_BENCH_AGENT_FLIPS ?? 10);
/** iptables: the agent's `--iptables-group-dispatch` (GINGHAM_BENCH_IPTABLES_GROUP_DISPATCH, default the agent's). */
const groupDispatch = process.env.GINGHAM_BENCH_IPTABLES_GROUP_DISPATCH;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/**
 * Polls `check` every millisecond (a timer: no busy loop that keeps a core and the allocator
 * busy beside etcd and the agent; the latency rows wait on `nextApply` events instead).
 */
async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench: timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** The next apply the loop completes for which `wanted` holds (the first one by default). */
async function applied(loop: ApplyLoop, timeoutMs: number, wanted: (r: ApplyRecord) => boolean = () => true): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('bench: timed out waiting for an apply')), timeoutMs)));
  try {
    for (;;) if (wanted(await Promise.race([loop.nextApply(), late]))) return;
  } finally {
    clearTimeout(timer);
  }
}

/** One latency sample with where its time went (ms). */
interface TailSample {
  readonly row: string;
  readonly k: number;
  readonly total: number;
  readonly put: number;
  readonly watch: number;
  readonly calc: number;
  readonly flush: number;
  readonly apply: number;
  readonly handoff: number;
  readonly gc: number;
  readonly majorGc: number;
  readonly minorGc: number;
  readonly gcInWatch: number;
  readonly gcInHandoff: number;
  readonly loopMax: number;
  /** The longest block before the source batch arrived (the watch stage; the apply's own block is not in it). */
  readonly loopInWatch: number;
  /** Sample start, watch event, end, in µs of CLOCK_MONOTONIC (the clock of `--cpu-prof` profiles' timestamps). */
  readonly at: number;
  readonly eventAt: number;
  readonly doneAt: number;
  /** CPU time of the bench process (every thread: the agent, the writer, V8's helpers) over the sample. */
  readonly cpu: number;
  /** Time in the agent's periodic full interface re-check inside the sample. */
  readonly fullSync: number;
}

const MONO0 = Number(process.hrtime.bigint() / 1000n);
const PERF0 = performance.now();
/** A performance.now() time in µs of CLOCK_MONOTONIC (process.hrtime, and V8's profile timestamps). */
const monotonicUs = (ms: number): number => MONO0 + Math.round((ms - PERF0) * 1000);
/** A CLOCK_MONOTONIC time (ns, e.g. from another process) as this process's performance.now(). */
const perfOf = (ns: bigint): number => PERF0 + (Number(ns / 1000n) - MONO0) / 1000;

/**
 * The slowest samples of each row (those at or above its p95) with their split, on stderr, and
 * how many of them had a GC, a slow etcd acknowledgement or a blocked event loop of ≥ 5 ms
 * before the watch event arrived, or an apply of twice the row's median or more;
 * every sample as JSON lines into GINGHAM_BENCH_AGENT_TRACE when set.
 */
function reportTails(tails: readonly TailSample[], emit: Emit, scale: string): void {
  const file = process.env['GINGHAM_BENCH_AGENT_TRACE'];
  if (file) writeFileSync(file, tails.map((t) => JSON.stringify(t)).join('\n') + '\n');
  const f = (x: number) => x.toFixed(1).padStart(6);
  for (const row of new Set(tails.map((t) => t.row))) {
    const xs = tails.filter((t) => t.row === row);
    const p95 = pct(xs.map((t) => t.total), 95);
    const slow = xs.filter((t) => t.total >= p95).sort((a, b) => b.total - a.total);
    process.stderr.write(`bench: ${row}: the ${slow.length} samples at or above p95 (${p95.toFixed(1)} ms)\n  total    put  watch   calc  flush  apply handoff    gc  major  minor gcWatch gcHand loopMax loopWatch   cpu fullSync\n`);
    for (const t of slow) process.stderr.write(`  ${[t.total, t.put, t.watch, t.calc, t.flush, t.apply, t.handoff, t.gc, t.majorGc, t.minorGc, t.gcInWatch, t.gcInHandoff, t.loopMax, t.loopInWatch, t.cpu, t.fullSync].map(f).join(' ')}\n`);
    emit({ bench: 'agent', metric: `${row}_tail_samples_${scale}`, value: slow.length, unit: 'count' });
    emit({ bench: 'agent', metric: `${row}_tail_with_gc_${scale}`, value: slow.filter((t) => t.gc >= 5).length, unit: 'count' });
    emit({ bench: 'agent', metric: `${row}_tail_with_slow_put_ack_${scale}`, value: slow.filter((t) => t.put >= 5).length, unit: 'count' });
    emit({ bench: 'agent', metric: `${row}_tail_with_loop_block_in_watch_${scale}`, value: slow.filter((t) => t.loopInWatch >= 5).length, unit: 'count' });
    emit({ bench: 'agent', metric: `${row}_tail_with_slow_apply_${scale}`, value: slow.filter((t) => t.apply >= 2 * pct(xs.map((x) => x.apply), 50)).length, unit: 'count' });
  }
}

/** etcd's own histograms (its `/metrics` on the client URL): WAL fsyncs and backend commits, total and ≥ 8 ms. */
async function etcdDisk(endpoint: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  const read = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const out: Record<string, number> = {};
  for (const [name, metric] of [['wal_fsync', 'etcd_disk_wal_fsync_duration_seconds'], ['backend_commit', 'etcd_disk_backend_commit_duration_seconds']] as const) {
    const count = read(new RegExp(`^${metric}_count (\\S+)$`, 'm'));
    out[name] = count;
    out[`${name}_over_8ms`] = count - read(new RegExp(`^${metric}_bucket\\{le="0.008"\\} (\\S+)$`, 'm'));
    out[`${name}_over_32ms`] = count - read(new RegExp(`^${metric}_bucket\\{le="0.032"\\} (\\S+)$`, 'm'));
  }
  return out;
}

const INSIDE = 'GINGHAM_BENCH_AGENT_NETNS';
const BPFFS = 'GINGHAM_BENCH_AGENT_BPFFS';

/** Runs the bench in a fresh network namespace (this same command, re-run inside it). */
export async function runAgentBench(emit: Emit): Promise<void> {
  if (process.env[INSIDE]) return runInside(emit);
  const ns = `gh-bench-agent-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) throw new Error(`bench: cannot create network namespace ${ns} (root needed)`);
  // eBPF: a bpffs of our own in the host's mount namespace (pins must outlive a private one;
  // never /sys/fs/bpf), unmounted below; the child enters only the network namespace.
  let bpffs: string | undefined;
  try {
    if (process.env['GINGHAM_BENCH_DATAPLANE'] === 'ebpf') {
      bpffs = join(mkdtempSync(join(tmpdir(), 'gingham-bench-bpffs-')), 'bpffs');
      mkdirSync(bpffs);
      const m = spawnSync('mount', ['-t', 'bpf', 'bpffs', bpffs], { encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`bench: mount -t bpf: ${m.stderr}`);
    }
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const child = spawn('nsenter', [`--net=/run/netns/${ns}`, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      env: { ...process.env, [INSIDE]: ns, ...(bpffs ? { [BPFFS]: bpffs } : {}) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    for await (const line of createInterface({ input: child.stdout! })) if (line.trim()) emit(JSON.parse(line) as Parameters<Emit>[0]);
    const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
    if (code !== 0) throw new Error(`bench: the agent bench in ${ns} exited with ${code}`);
  } finally {
    for (const x of [...probeNamespaces(ns), ns]) spawnSync('ip', ['netns', 'del', x], { stdio: 'ignore' });
    if (bpffs) {
      spawnSync('umount', [bpffs]);
      rmSync(join(bpffs, '..'), { recursive: true, force: true });
    }
  }
}

/** Timestamps of the stages one change passes through (performance.now(); undefined until seen). */
interface Marks {
  event?: number;
  calc?: number;
  applyStart?: number;
  applyEnd?: number;
  syncStart?: number;
  /** Interface re-checks called (a veth pair reports two links: one re-check or two). */
  syncs?: number;
  /** Interfaces the first re-check was told the kernel reported (0: told nothing, it looked at every one). */
  reported?: number;
  /** Time in full re-checks of every interface (the agent's periodic safety net). */
  fullSync?: number;
  /** The longest event-loop block seen when the source batch arrived (in the watch stage). */
  loopBeforeEvent?: number;
  syncEnd?: number;
}

/** The dataplane with its apply and interface re-check timed into `marks` (first call after a reset wins). */
function timed(dp: AgentDataplane, marks: () => Marks): AgentDataplane {
  return {
    ...dp,
    apply: async (messages) => {
      const m = marks();
      m.applyStart ??= performance.now();
      await dp.apply(messages);
      m.applyEnd = performance.now();
    },
    syncInterfaces: async (o) => {
      const m = marks();
      m.syncStart ??= performance.now();
      m.syncs = (m.syncs ?? 0) + 1;
      m.reported ??= o?.changed?.length ?? 0;
      const t = performance.now();
      await dp.syncInterfaces(o);
      m.syncEnd = performance.now();
      if (o?.full) m.fullSync = (m.fullSync ?? 0) + (m.syncEnd - t);
    },
  };
}

/**
 * agent-sync-child.bench.ts as plain JavaScript in `dir`, its package imports turned into the
 * files they resolve to here, so the child runs on plain node and the built packages (no tsx).
 */
function childScript(dir: string): string {
  const source = readFileSync(new URL('./agent-sync-child.bench.ts', import.meta.url), 'utf8');
  const js = ts
    .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    .outputText.replace(/from (['"])(@gingham\/agent|pino)\1/g, (_, q: string, spec: string) => `from ${q}${import.meta.resolve(spec)}${q}`);
  const file = join(dir, 'agent-sync-child.mjs');
  writeFileSync(file, js);
  return file;
}

/** Starts an agent in a process of its own (agent-sync-child.bench.ts) and returns its report. */
async function syncInChild(script: string, request: SyncChildRequest, cpuProfDir?: string): Promise<SyncChildReport> {
  const child = fork(script, [], {
    execArgv: ['--expose-gc', ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const reply = new Promise<{ ok: boolean; report?: SyncChildReport; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { ok: boolean; report?: SyncChildReport; error?: string }));
      child.once('exit', (code) => reject(new Error(`bench: the agent process exited with ${code} before reporting`)));
    });
    child.send(request);
    const r = await reply;
    if (!r.ok || !r.report) throw new Error(`bench: the agent process failed: ${r.error}`);
    await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    return r.report;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

async function runInside(emit: Emit): Promise<void> {
  const large = process.env['GINGHAM_BENCH_AGENT_SCALE'] === 'large';
  const kind = process.env['GINGHAM_BENCH_DATAPLANE'] ?? 'iptables';
  if (kind !== 'iptables' && kind !== 'ebpf') throw new Error(`bench: --dataplane is iptables or ebpf, got ${kind}`);
  const n = large ? 100_000 : 10_000;
  const p = large ? 10_000 : 1_000;
  const scale = `${n / 1000}k_x_${p / 1000}k_${kind}`;
  const dir = mkdtempSync(join(tmpdir(), 'gingham-bench-agent-'));
  const bpffs = process.env[BPFFS];
  if (kind === 'ebpf' && !bpffs) throw new Error('bench: the eBPF run needs the bpffs the outer bench mounts');
  const server = await startEtcd({ extraArgs: ['--quota-backend-bytes=4294967296'] });
  const raw = new Etcd3({ hosts: [server.endpoint] });
  const proxy = await startTcpProxy(Number(new URL(server.endpoint).port));
  try {
    process.stderr.write(`bench: writing ${n} endpoints and ${p} policies\n`);
    // Built 100 at a time: the bench process keeps none of them.
    const nth = (i: number): Resource => (i < n ? wep(i) : gnp(i - n));
    for (let i = 0; i < n + p; i += 100) {
      const puts = Array.from({ length: Math.min(100, n + p - i) }, (_, k) => nth(i + k)).map((r) => raw.put(keyOf(r)).value(encodeValue(r, r.kind === 'WorkloadEndpoint' ? WEP : GNP)));
      await raw.if('/bench/none', 'Version', '==', 0).then(...puts).commit();
    }
    const flags: Record<string, string> = {
      node: 'bench-node',
      datastore: 'etcd',
      'etcd-endpoints': `http://${proxy.address}`,
      'lock-dir': join(dir, 'locks'),
      'health-port': '0',
      'metrics-port': '0',
      dataplane: kind,
      ...(bpffs ? { bpffs, 'ebpf-instance': `bench${process.pid}` } : {}),
      ...(kind === 'iptables' && groupDispatch ? { 'iptables-group-dispatch': groupDispatch } : {}),
    };
    if (kind === 'iptables') process.stderr.write(`bench: iptables group dispatch ${groupDispatch ?? 'chain (default)'}\n`);
    // The initial sync and the RSS, by an agent alone in its process (which cleans up after).
    process.stderr.write(`bench: initial sync in an agent process of its own\n`);
    const heapDir = process.env['GINGHAM_BENCH_AGENT_HEAP'];
    const alone = await syncInChild(childScript(dir), { flags, ...(heapDir ? { heapSnapshotDir: heapDir } : {}) }, process.env['GINGHAM_BENCH_AGENT_CPU_PROF']);
    const st = alone.stages;
    emit({ bench: 'agent', metric: `initial_sync_ms_${scale}`, value: st['ready']!, unit: 'ms' });
    const order = ['listed', 'decoded', 'engine', 'apply_start', 'apply_end', 'ready'] as const;
    const names = ['list', 'decode', 'engine', 'flush', 'apply', 'ready'];
    for (const [i, stage] of order.entries()) {
      emit({ bench: 'agent', metric: `initial_sync_stage_${names[i]}_ms_${scale}`, value: (st[stage] ?? 0) - (i === 0 ? 0 : (st[order[i - 1]!] ?? 0)), unit: 'ms' });
    }
    for (const x of ['renderMs', 'planMs', 'ipsetMs', 'restoreMs']) {
      const v = alone.applyTimings?.[x];
      if (v !== undefined) emit({ bench: 'agent', metric: `initial_sync_stage_apply_${x.slice(0, -2)}_ms_${scale}`, value: v, unit: 'ms' });
    }
    emit({ bench: 'agent', metric: `initial_sync_engine_busy_ms_${scale}`, value: alone.engineBusyMs, unit: 'ms' });
    emit({ bench: 'agent', metric: `initial_sync_batches_${scale}`, value: alone.batches, unit: 'count' });
    emit({ bench: 'agent', metric: `initial_sync_cpu_ms_${scale}`, value: alone.cpuMs, unit: 'ms' });
    emit({ bench: 'agent', metric: `agent_rss_mb_${scale}`, value: alone.memory.rss / 1048576, unit: 'MiB' });
    emit({ bench: 'agent', metric: `agent_peak_rss_mb_${scale}`, value: alone.peakRssMb, unit: 'MiB' });
    emit({ bench: 'agent', metric: `agent_rss_ready_1s_mb_${scale}`, value: alone.soon.rss / 1048576, unit: 'MiB' });
    emit({ bench: 'agent', metric: `agent_rss_settled_mb_${scale}`, value: alone.settled.rss / 1048576, unit: 'MiB' });
    emit({ bench: 'agent', metric: `agent_heap_total_settled_mb_${scale}`, value: alone.settled.heapTotal / 1048576, unit: 'MiB' });
    emit({ bench: 'agent', metric: `agent_heap_total_mb_${scale}`, value: alone.memory.heapTotal / 1048576, unit: 'MiB' });
    emit({ bench: 'agent', metric: `agent_heap_used_mb_${scale}`, value: alone.memory.heapUsed / 1048576, unit: 'MiB' });
    emit({ bench: 'agent', metric: `agent_external_mb_${scale}`, value: alone.memory.external / 1048576, unit: 'MiB' });
    emit({ bench: 'agent', metric: `agent_baseline_rss_mb_${scale}`, value: alone.baseline.rss / 1048576, unit: 'MiB' });
    if (alone.heapSnapshot) process.stderr.write(`bench: the agent's heap snapshot is ${alone.heapSnapshot}\n`);
    const { config } = await resolveAgentConfig({ flags, env: {} });
    let marks: Marks = {};
    // The latency rows' writer, in a process of its own (etcd-writer.bench.ts).
    const writer: WriterProcess = await startWriterProcess(dir, server.endpoint);
    const trace = createTailTrace();
    const tails: TailSample[] = [];
    const dataplane = await createAgentDataplane(config);
    const agent = createAgent({ config, logger: pino({ level: 'warn' }, pino.destination(2)), dataplane: timed(dataplane, () => marks), linkEvents: true });
    // The source batch reaching the agent, and the Engine having taken it.
    const loop = agent.loop;
    const onSource = loop.onSourceMessages.bind(loop);
    loop.onSourceMessages = (messages) => {
      marks.event ??= performance.now();
      marks.loopBeforeEvent ??= trace.loopMaxMs();
      onSource(messages);
      marks.calc ??= performance.now();
    };
    const onLink = loop.requestInterfaceSync.bind(loop);
    loop.requestInterfaceSync = (full, changed) => {
      marks.event ??= performance.now();
      onLink(full, changed);
    };
    const t0 = performance.now();
    try {
      await agent.start();
      await agent.whenReady(1_800_000);
      emit({ bench: 'agent', metric: `initial_sync_in_bench_process_ms_${scale}`, value: performance.now() - t0, unit: 'ms' });

      /** p50 and p99 of each stage (a sample missing a stage counts 0 for it). */
      const stages = (what: string, samples: readonly (readonly [string, number][])[]): void => {
        for (const [i, [stage]] of (samples[0] ?? []).entries()) {
          const xs = samples.map((s) => s[i]![1]);
          emit({ bench: 'agent', metric: `${what}_stage_${stage}_p50_ms_${scale}`, value: pct(xs, 50), unit: 'ms' });
          emit({ bench: 'agent', metric: `${what}_stage_${stage}_p99_ms_${scale}`, value: pct(xs, 99), unit: 'ms' });
        }
      };
      const span = (a: number | undefined, b: number | undefined): number => (a === undefined || b === undefined ? 0 : Math.max(0, b - a));

      // End to end, and the share of each stage: etcd's watch delivery, the Engine, the dataplane.
      const measure = async (what: string, write: (k: number) => readonly [key: string, value: string]): Promise<number[]> => {
        const out: number[] = [];
        const split: [string, number][][] = [];
        const disk0 = await etcdDisk(server.endpoint);
        for (let k = 0; k < SAMPLES + 10; k++) {
          marks = {};
          trace.loopReset();
          const next = applied(loop, 60_000);
          const [key, value] = write(k);
          const cpu0 = process.cpuUsage();
          const put = writer.put(key, value);
          await next;
          await agent.settled();
          const done = performance.now();
          // From the writer's clock reading just before its put (another process, same clock).
          const times = await put;
          const t = perfOf(times.startNs);
          const acked = perfOf(times.ackNs);
          if (k < 10) continue; // the first ten warm up
          out.push(done - t);
          const m = marks;
          const cpu = process.cpuUsage(cpu0);
          await trace.flush();
          const loopMax = trace.loopMaxMs();
          const all = trace.cost(t, done);
          const inWatch = trace.cost(t, m.event ?? done);
          const inHandoff = trace.cost(m.applyEnd ?? done, done);
          tails.push({ row: what, k, total: done - t, put: acked - t, watch: span(t, m.event), calc: span(m.event, m.calc), flush: span(m.calc, m.applyStart), apply: span(m.applyStart, m.applyEnd), handoff: span(m.applyEnd, done), gc: all.gcMs, majorGc: all.majorGcMs, minorGc: all.minorGcMs, gcInWatch: inWatch.gcMs, gcInHandoff: inHandoff.gcMs, loopMax, loopInWatch: m.loopBeforeEvent ?? 0, at: monotonicUs(t), eventAt: monotonicUs(m.event ?? done), doneAt: monotonicUs(done), cpu: (cpu.user + cpu.system) / 1000, fullSync: m.fullSync ?? 0 });
          // iptables: the apply's own split (the last apply of the sample).
          const tm = (dataplane.stats() as { timings?: Record<string, number> }).timings;
          split.push([
            ['watch', span(t, m.event)],
            ['calc', span(m.event, m.calc)],
            ['flush', span(m.calc, m.applyStart)],
            ['apply', span(m.applyStart, m.applyEnd)],
            ['handoff', span(m.applyEnd, done)],
            // Beside the stages: the writer's put acknowledged (etcd's commit as a client sees
            // it), GC time inside the sample, the longest event-loop block inside it.
            ['put_ack', acked - t],
            ['gc', all.gcMs],
            ['loop_block', loopMax],
            ...(tm ? (['renderMs', 'planMs', 'ipsetMs', 'restoreMs'] as const).map((x): [string, number] => [`apply_${x.slice(0, -2)}`, tm[x] ?? 0]) : []),
          ]);
        }
        stages(what, split);
        // etcd's side over the whole row (warm-ups included): its fsyncs and commits, and the slow ones.
        const disk1 = await etcdDisk(server.endpoint);
        for (const [x, v] of Object.entries(disk1)) emit({ bench: 'agent', metric: `${what}_etcd_${x}_${scale}`, value: v - disk0[x]!, unit: 'count' });
        return out;
      };
      // Endpoint k moves from app k%50 to another app (never its own: a change the Engine does not
      // pass on would wait for the next interface re-check).
      // Endpoints 0..PROBED-1 only (PROBED keeps its labels for the packet flips below); a second
      // round over them moves each to yet another app.
      const label = await measure('label_change', (k) => {
        const e = k % PROBED;
        const app = (e + 7 + 13 * Math.floor(k / PROBED)) % 50;
        return [keyOf(wep(e)), encodeValue({ ...wep(e, k + 1), metadata: { ...wep(e).metadata, labels: { app: `app${app}`, gen: String(k + 1) } } }, WEP)] as const;
      });
      emit({ bench: 'agent', metric: `etcd_to_kernel_label_change_p50_ms_${scale}`, value: pct(label, 50), unit: 'ms' });
      emit({ bench: 'agent', metric: `etcd_to_kernel_label_change_p99_ms_${scale}`, value: pct(label, 99), unit: 'ms' });
      const policy = await measure('new_policy', (k) => [keyOf(gnp(k, '-new')), encodeValue(gnp(k, '-new'), GNP)] as const);
      emit({ bench: 'agent', metric: `etcd_to_kernel_new_policy_p50_ms_${scale}`, value: pct(policy, 50), unit: 'ms' });
      emit({ bench: 'agent', metric: `etcd_to_kernel_new_policy_p99_ms_${scale}`, value: pct(policy, 99), unit: 'ms' });
      reportTails(tails, emit, scale);

      // A subset with real packets: the verdict of app1 → endpoint PROBED on TCP 1000 flips with its app.
      const probe = await createPacketProbe({ node: process.env[INSIDE]!, iface: wepIface(PROBED), podIp: ipOf(PROBED), srcIp: ipOf(PROBE_SOURCE), port: 1000 });
      try {
        await probe.settle(true, 120_000);
        const flips: number[] = [];
        const applied: number[] = [];
        // Early attempts by direction: a connection that got through before the put that allows
        // it would be a flow both states deny (fail open); a refused one before a denying put is
        // a probe artefact (a late or lost SYN), not enforcement.
        const early = { allowed: 0, denied: 0 };
        for (let k = 0; k < FLIPS; k++) {
          const allowed = k % 2 === 1;
          const moved: Resource = { ...wep(PROBED, 100 + k), metadata: { ...wep(PROBED).metadata, labels: { app: allowed ? 'app0' : 'app7', gen: String(100 + k) } } };
          marks = {};
          const t = performance.now();
          const r = await probe.flip(() => raw.put(keyOf(moved)).value(encodeValue(moved, WEP)).exec(), allowed, 60_000);
          flips.push(r.ms);
          applied.push(span(t, marks.applyEnd));
          early[allowed ? 'allowed' : 'denied'] += r.early;
          if (process.env.GINGHAM_BENCH_AGENT_FLIP_LOG) process.stderr.write(`packet flip ${k} (to ${allowed ? 'allowed' : 'denied'}): ${r.ms.toFixed(1)} ms, applied after ${applied[applied.length - 1]!.toFixed(1)} ms; ${JSON.stringify(dataplane.stats())}\n`);
          if (r.early > 0) process.stderr.write(`packet flip ${k} (to ${allowed ? 'allowed' : 'denied'}): ${r.early} attempt(s) with the new verdict before the put, started / outcome seen at ${r.earlyMs.map(([a, b]) => `${a.toFixed(1)} / ${b.toFixed(1)}`).join(', ')} ms from the put\n`);
        }
        emit({ bench: 'agent', metric: `etcd_to_packet_label_change_p50_ms_${scale}`, value: pct(flips, 50), unit: 'ms' });
        emit({ bench: 'agent', metric: `etcd_to_packet_label_change_max_ms_${scale}`, value: Math.max(...flips), unit: 'ms' });
        emit({ bench: 'agent', metric: `etcd_to_kernel_label_change_probed_p50_ms_${scale}`, value: pct(applied, 50), unit: 'ms' });
        emit({ bench: 'agent', metric: `packet_flips_confirmed_${scale}`, value: flips.length, unit: 'count' });
        emit({ bench: 'agent', metric: `packet_flip_early_attempts_${scale}`, value: early.allowed + early.denied, unit: 'count' });
        emit({ bench: 'agent', metric: `packet_flip_early_allowed_${scale}`, value: early.allowed, unit: 'count' });
        emit({ bench: 'agent', metric: `packet_flip_early_denied_${scale}`, value: early.denied, unit: 'count' });
        emit({ bench: 'agent', metric: `packet_probe_stalled_attempts_${scale}`, value: probe.stalledAttempts(), unit: 'count' });
      } finally {
        probe.close();
      }

      // A local endpoint's interface appears (as a CNI plugin would create it).
      const links: number[] = [];
      const ipAdd: number[] = [];
      const linkSplit: [string, number][][] = [];
      // Each sample's split, appended to GINGHAM_BENCH_AGENT_TRACE (its own row, new_interface).
      const ifaceTrace: Record<string, number | string>[] = [];
      // Interfaces of endpoints 0..PROBED-1 (PROBED's exists: the packet probe made it).
      for (let k = 0; k < Math.min(SAMPLES + 10, PROBED); k++) {
        marks = {};
        const next = applied(loop, 60_000, (r) => r.interfaceSync);
        const t = performance.now();
        const made = spawnSync('ip', ['link', 'add', wepIface(k), 'type', 'veth', 'peer', 'name', `bpeer${k}`]);
        if (made.status !== 0) throw new Error(`bench: ip link add: ${made.stderr.toString()}`);
        // spawnSync blocks this thread: the rtnetlink event is read after it returns.
        const exists = performance.now();
        trace.loopReset();
        await next;
        await agent.settled();
        const done = performance.now();
        if (k < 10) continue;
        await trace.flush();
        const loopMax = trace.loopMaxMs();
        links.push(done - exists);
        ipAdd.push(exists - t);
        const m = marks;
        ifaceTrace.push({ row: 'new_interface', k, total: done - exists, event: span(exists, m.event), dispatch: span(m.event, m.syncStart), sync: span(m.syncStart, m.syncEnd), after: span(m.syncEnd, done), syncs: m.syncs ?? 0, reported: m.reported ?? 0, gc: trace.cost(exists, done).gcMs, loopMax, ipLinkAdd: exists - t, at: monotonicUs(exists), doneAt: monotonicUs(done) });
        linkSplit.push([
          ['event', span(exists, m.event)],
          ['dispatch', span(m.event, m.syncStart)],
          ['sync', span(m.syncStart, m.syncEnd)],
          ['after', span(m.syncEnd, done)],
          ['syncs', m.syncs ?? 0],
          ['gc', trace.cost(exists, done).gcMs],
          ['loop_block', loopMax],
        ]);
      }
      emit({ bench: 'agent', metric: `new_interface_to_enforced_p50_ms_${scale}`, value: pct(links, 50), unit: 'ms' });
      emit({ bench: 'agent', metric: `new_interface_to_enforced_p99_ms_${scale}`, value: pct(links, 99), unit: 'ms' });
      stages('new_interface', linkSplit);
      emit({ bench: 'agent', metric: `new_interface_reported_syncs_${scale}`, value: ifaceTrace.filter((x) => Number(x['reported']) > 0).length, unit: 'count' });
      const traceFile = process.env['GINGHAM_BENCH_AGENT_TRACE'];
      if (traceFile) appendFileSync(traceFile, ifaceTrace.map((x) => JSON.stringify(x)).join('\n') + '\n');
      emit({ bench: 'agent', metric: `ip_link_add_p50_ms_${scale}`, value: pct(ipAdd, 50), unit: 'ms' });

      // The agent's periodic work: a full interface re-check (every 30 s, the safety net for
      // missed link events) is the one that can hold its loop; how long it holds it (10 runs).
      const full: number[] = [];
      const fullBlock: number[] = [];
      for (let k = 0; k < 10; k++) {
        await agent.settled();
        trace.loopReset();
        const t = performance.now();
        const next = applied(loop, 60_000, (r) => r.interfaceSync);
        loop.requestInterfaceSync(true);
        await next;
        full.push(performance.now() - t);
        await trace.flush();
        fullBlock.push(trace.loopMaxMs());
      }
      emit({ bench: 'agent', metric: `interface_full_recheck_p50_ms_${scale}`, value: pct(full, 50), unit: 'ms' });
      emit({ bench: 'agent', metric: `interface_full_recheck_max_ms_${scale}`, value: Math.max(...full), unit: 'ms' });
      emit({ bench: 'agent', metric: `interface_full_recheck_loop_block_max_ms_${scale}`, value: Math.max(...fullBlock), unit: 'ms' });

      proxy.cut();
      await until(() => !agent.status().datastore.connected, 30_000);
      for (let i = 0; i < n / 100; i++) await raw.put(keyOf(wep((i * 97) % n))).value(encodeValue(wep((i * 97) % n, 1000), WEP));
      await server.compact();
      const relists = agent.status().datastore.counters['relists'] ?? 0;
      const t1 = performance.now();
      proxy.restore();
      await until(() => (agent.status().datastore.counters['relists'] ?? 0) > relists, 1_800_000);
      await agent.settled();
      emit({ bench: 'agent', metric: `relist_ms_${scale}`, value: performance.now() - t1, unit: 'ms' });
      emit({ bench: 'agent', metric: `bench_process_rss_mb_${scale}`, value: process.memoryUsage().rss / 1048576, unit: 'MiB' });
      emit({ bench: 'agent', metric: `applies_during_run_${scale}`, value: loop.applies, unit: 'count' });
      emit({ bench: 'agent', metric: `apply_failures_during_run_${scale}`, value: loop.failures, unit: 'count' });
    } finally {
      // stop() closes the dataplane and leaves its rules; iptables go with the namespace, the
      // eBPF hooks and pins are removed here (the outer bench unmounts the bpffs).
      trace.close();
      writer.close();
      await agent.stop();
      if (kind === 'ebpf') await dataplane.clean().catch(() => undefined);
    }
  } finally {
    raw.close();
    proxy.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
