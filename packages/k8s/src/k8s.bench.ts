/**
 * `npm run bench:sources` (Kubernetes part): the test API server in its own process holding a
 * synthetic cluster of API-shaped objects (default 100k pods, 2k namespaces, 10k
 * NetworkPolicies, ~1.1k Calico policies as CRDs, 100 nodes; GINGHAM_K8S_BENCH_SCALE scales
 * it), and the source over HTTPS:
 *   k8s_initial_sync_ms          start → in-sync, every message applied to an Engine
 *   k8s_initial_flush_ms         start → the Engine's first flush to the dataplane
 *   k8s_engine_only_sync_ms      the same resources upserted into a fresh Engine from memory and
 *                                flushed (same run: the source's own share is the difference)
 *   k8s_initial_sync_cpu_ms, k8s_engine_only_cpu_ms   CPU time (user + system) of this process for
 *                                the two: less sensitive than wall time to a busy machine
 *   k8s_source_heap_mb           heap held by the source's cache after the sync (source only)
 *   k8s_source_heap_bytes_per_pod that heap divided by the pods
 *   k8s_event_to_engine_p50/p99_us  a pod label change: from the watch event's arrival to the
 *                                Engine's dataplane message (an IP set member change)
 * Run with --expose-gc (the npm script does) for the heap figures.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { applySourceMessages, createEngine, type Dataplane, type DataplaneMessage } from '@gingham/core';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubernetesSource } from './kubernetes-source.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const heapUsed = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

export async function runK8sBench(emit: Emit): Promise<void> {
  const scale = Number(process.env['GINGHAM_K8S_BENCH_SCALE'] ?? 1);
  const options = { pods: Math.round(100_000 * scale), namespaces: Math.max(1, Math.round(2000 * scale)), nodes: 100, policies: Math.round(11_111 * scale) };
  const script = fileURLToPath(new URL('../bench/api-server-process.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error('bench: the API server process exited');
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  const send = (o: unknown): void => void child.stdin!.write(`${JSON.stringify(o)}\n`);
  const row = (metric: string, value: number, unit: string): void => emit({ bench: 'k8s', metric, value, unit });
  try {
    process.stderr.write(`bench k8s: generating ${options.pods} pods in the API server process…\n`);
    const ready = await next();
    const counts = ready['counts'] as Record<string, number>;
    row('k8s_bench_pods', counts['pods']!, 'count');
    row('k8s_bench_namespaces', counts['namespaces']!, 'count');
    row('k8s_bench_networkpolicies', counts['networkPolicies']!, 'count');
    row('k8s_bench_calico_crds', counts['calico']!, 'count');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(String(ready['kubeconfig']));
    const timing = { resyncPeriodMs: 0, maxIdleMs: 600_000 };

    // 1. Heap of the source's cache alone (no Engine), after a full sync.
    {
      const before = heapUsed();
      const source = createKubernetesSource({ kubeConfig, timing });
      let messages = 0;
      await source.start((ms) => void (messages += ms.length));
      await source.synced(600_000);
      const after = heapUsed();
      row('k8s_source_heap_mb', (after - before) / 1048576, 'MB');
      row('k8s_source_heap_bytes_per_pod', (after - before) / counts['pods']!, 'bytes');
      row('k8s_source_messages', messages, 'count');
      await source.close();
    }

    // 2. Initial sync into an Engine, then the label-change latency on the same source.
    let waiter: (() => void) | undefined;
    let applied = 0;
    let appliedAt = 0;
    const dataplane: Dataplane = {
      apply(ms: readonly DataplaneMessage[]) {
        if (ms.length === 0) return;
        applied++;
        appliedAt = performance.now();
        waiter?.();
      },
    };
    const engine = createEngine({ node: 'node-0', dataplane });
    let inSync = false;
    let eventAt = 0;
    const source = createKubernetesSource({
      kubeConfig,
      timing,
      trace: (resource, type) => {
        if (resource === 'pods' && type === 'MODIFIED') eventAt = performance.now();
      },
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await source.start((ms) => {
      if (applySourceMessages(engine, ms).inSync) inSync = true;
      if (inSync) void engine.flush();
    });
    await source.synced(600_000);
    const synced = performance.now() - t0;
    await engine.flush();
    row('k8s_initial_sync_ms', synced, 'ms');
    row('k8s_initial_flush_ms', performance.now() - t0, 'ms');
    const cpu = process.cpuUsage(cpu0);
    row('k8s_initial_sync_cpu_ms', (cpu.user + cpu.system) / 1000, 'ms');
    {
      const held = source.resources();
      const reference = createEngine({ node: 'node-0', dataplane: { apply: () => undefined } });
      const cpu1 = process.cpuUsage();
      const t1 = performance.now();
      for (const r of held) reference.upsert(r);
      await reference.flush();
      row('k8s_engine_only_sync_ms', performance.now() - t1, 'ms');
      const c = process.cpuUsage(cpu1);
      row('k8s_engine_only_cpu_ms', (c.user + c.system) / 1000, 'ms');
    }

    const latencies: number[] = [];
    const rounds = Number(process.env['GINGHAM_K8S_BENCH_ROUNDS'] ?? 300);
    for (let i = 0; i < rounds; i++) {
      const before = applied;
      const done = new Promise<void>((resolve) => (waiter = () => applied > before && resolve()));
      send({ op: 'label', i, on: i % 2 === 0 });
      await next();
      await done;
      if (i >= 10) latencies.push((appliedAt - eventAt) * 1000);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
    row('k8s_event_to_engine_p50_us', pct(0.5), 'us');
    row('k8s_event_to_engine_p99_us', pct(0.99), 'us');
    await source.close();
  } finally {
    send({ op: 'exit' });
    child.stdin!.end();
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) resolve();
      else child.once('exit', () => resolve());
      setTimeout(() => {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      }, 10_000).unref();
    });
  }
}
