/**
 * The agent alone, for the agent bench's `initial_sync_ms` and `agent_rss_mb`: a process of its
 * own (forked by agent.bench.ts, in the bench's network namespace) that starts one agent against
 * the etcd the bench filled, waits until it is ready, reports the stage timestamps, its CPU time
 * and `process.memoryUsage()` (after a full GC when `--expose-gc` is on) over IPC, then stops the
 * agent and removes what its dataplane made, so the bench's own agent starts from a clean
 * namespace. The bench's writer, its 110k resources and its etcd client are in the parent, so
 * the memory figures are the agent's. It runs as `gingham agent` does: plain node on the built
 * packages (the bench transpiles this file alone and rewrites its two package imports to files;
 * the tsx loader would add its own worker, ~38 MiB of RSS). Never run on its own: it takes its
 * configuration from the parent's first message.
 */
import { writeHeapSnapshot } from 'node:v8';
import { type AgentDataplane, createAgent, createAgentDataplane, openDatastoreConnection, resolveAgentConfig } from '@gingham/agent';
import { pino } from 'pino';

/** What the parent sends: the agent's flags; `heapSnapshotDir` writes a heap snapshot once ready. */
export interface SyncChildRequest {
  readonly flags: Readonly<Record<string, string>>;
  readonly heapSnapshotDir?: string;
}

/** performance.now() of each stage of the initial sync, from the start of `agent.start()`. */
export interface SyncChildReport {
  readonly stages: Readonly<Record<string, number>>;
  /** User + system CPU time of the whole initial sync, ms. */
  readonly cpuMs: number;
  readonly memory: NodeJS.MemoryUsage;
  /**
   * 1 s after `memory`, nothing else done: the pages that GC freed are handed back to the system
   * by V8's background unmapper, after `memoryUsage()` was read for `memory`.
   */
  readonly soon: NodeJS.MemoryUsage;
  /** 10 s later, the agent idle meanwhile (V8's memory reducer runs after ~8 s of little allocation). */
  readonly settled: NodeJS.MemoryUsage;
  /** Before the agent was created (the runtime and the loaded modules). */
  readonly baseline: NodeJS.MemoryUsage;
  /** The process's peak RSS so far (`resourceUsage().maxRSS`), MiB. */
  readonly peakRssMb: number;
  /** The dataplane's split of its last apply (iptables: render, plan, ipset, restore), ms. */
  readonly applyTimings?: Readonly<Record<string, number>>;
  readonly resources: number;
  /** Time spent in the Engine over every batch of the initial sync, ms, and how many batches. */
  readonly engineBusyMs: number;
  readonly batches: number;
  readonly heapSnapshot?: string;
}

const gc = (globalThis as { gc?: () => void }).gc;

async function main(req: SyncChildRequest): Promise<SyncChildReport> {
  const { config } = await resolveAgentConfig({ flags: req.flags, env: {} });
  gc?.();
  const baseline = process.memoryUsage();
  const at: Record<string, number> = {};
  const mark = (stage: string): void => {
    at[stage] ??= performance.now();
  };
  const inner = await createAgentDataplane(config);
  const dataplane: AgentDataplane = {
    ...inner,
    apply: async (messages) => {
      mark('apply_start');
      await inner.apply(messages);
      mark('apply_end');
    },
  };
  const connection = await openDatastoreConnection(config, {}, (e) => {
    if (e.code === 'LISTED') mark('listed');
  });
  const agent = createAgent({ config, connection, dataplane, logger: pino({ level: 'warn' }, pino.destination(2)), linkEvents: true });
  // The etcd source emits its first list a page at a time: `decoded`/`engine` time the batch
  // that ends the sync (the one carrying the in-sync), and `engineBusyMs` adds up every batch's.
  const onSource = agent.loop.onSourceMessages.bind(agent.loop);
  let engineBusyMs = 0;
  let batches = 0;
  let synced = false;
  agent.loop.onSourceMessages = (messages) => {
    if (synced) return onSource(messages);
    const t = performance.now();
    onSource(messages);
    const t1 = performance.now();
    engineBusyMs += t1 - t;
    batches++;
    if (messages.some((m) => m.kind === 'in-sync')) {
      synced = true;
      at['decoded'] = t;
      at['engine'] = t1;
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    await agent.start();
    await agent.whenReady(1_800_000);
    mark('ready');
    const cpu = process.cpuUsage(cpu0);
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    const applyTimings = (inner.stats() as { timings?: Record<string, number> }).timings;
    const stages = Object.fromEntries(Object.entries(at).map(([k, v]) => [k, v - t0]));
    gc?.();
    const memory = process.memoryUsage();
    await new Promise((r) => setTimeout(r, 1_000));
    const soon = process.memoryUsage();
    await new Promise((r) => setTimeout(r, 9_000));
    gc?.();
    const settled = process.memoryUsage();
    const heapSnapshot = req.heapSnapshotDir ? writeHeapSnapshot(`${req.heapSnapshotDir}/agent-${process.pid}.heapsnapshot`) : undefined;
    return { stages, cpuMs: (cpu.user + cpu.system) / 1000, memory, soon, settled, baseline, peakRssMb, ...(applyTimings ? { applyTimings } : {}), resources: agent.status().datastore.resources, engineBusyMs, batches, ...(heapSnapshot ? { heapSnapshot } : {}) };
  } finally {
    await agent.stop();
    await inner.clean().catch(() => undefined);
  }
}

process.once('message', (req: SyncChildRequest) => {
  main(req).then(
    (report) => process.send!({ ok: true, report }, () => process.exit(0)),
    (err: Error) => process.send!({ ok: false, error: err.stack ?? String(err) }, () => process.exit(1)),
  );
});
