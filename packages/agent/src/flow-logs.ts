/**
 * The agent's flow logs (Felix's collector role): the dataplane's flow source → the
 * `@gingham/flows` collector, evaluating each flow on the agent's current resources (a snapshot
 * rebuilt only when they change) → the JSON lines file, the local stream `gingham flows` reads,
 * `/flows` on the health server and the per-rule series on `/metrics`. Started after the
 * dataplane and stopped before it; it only reads from the kernel and never changes enforcement.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Snapshot } from '@gingham/core';
import { createFileOutput, createFlowCollector, createStreamServer, flowsHttpHandler, type CollectorStats, type FlowCollector, type FlowOutput, type StreamServer } from '@gingham/flows';
import type { AgentConfig } from './config.js';
import type { AgentDataplane } from './dataplane-adapter.js';
import { AgentError } from './errors.js';
import type { HealthReport } from './health.js';

export interface AgentFlowLogsOptions {
  readonly config: AgentConfig;
  readonly dataplane: AgentDataplane;
  /** The agent's resources now, as a core snapshot (the same object until they change). */
  readonly snapshot: () => Snapshot;
  /** Errors of the collector's timers and outputs (it goes on after each). */
  readonly onError: (error: Error) => void;
}

/** What `agent status` says about flow logs. */
export interface FlowLogsStatus extends CollectorStats {
  readonly source: string;
  readonly socket: string;
  readonly file?: string;
  /** Readers of the local stream now. */
  readonly readers: number;
}

export interface AgentFlowLogs {
  readonly collector: FlowCollector;
  /** Answers `GET /flows` (the collector's HTTP filter and `follow`); false for other paths. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Per-rule series and the collector's own health, Prometheus text. */
  metrics(): string;
  status(): FlowLogsStatus;
  /** Ready and live while it runs; the detail says when the kernel lost events. */
  health(): HealthReport;
  close(): Promise<void>;
}

export async function startFlowLogs(options: AgentFlowLogsOptions): Promise<AgentFlowLogs> {
  const { config, dataplane } = options;
  if (!dataplane.createFlowSource) {
    throw new AgentError('AGENT_START_FAILED', `the ${dataplane.kind} dataplane reports no flows: flow logs need the iptables or ebpf dataplane`);
  }
  const source = await dataplane.createFlowSource();
  const outputs: FlowOutput[] = [];
  let collector: FlowCollector | undefined;
  try {
    if (config.flowLogsFileEnabled) outputs.push(createFileOutput({ path: config.flowLogsFile }));
    collector = createFlowCollector({
      source,
      snapshot: options.snapshot,
      aggregation: { allowed: config.flowLogsAggregationKindForAllowed, denied: config.flowLogsAggregationKindForDenied },
      flushIntervalMs: config.flowLogsFlushIntervalMs,
      outputs,
      onError: options.onError,
    });
    const c = collector;
    const stream: StreamServer = await createStreamServer({ collector: c, path: config.flowLogsSocket });
    const http = flowsHttpHandler(c);
    let closed = false;
    return {
      collector: c,
      handle(req, res) {
        if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/flows') return false;
        return http(req, res);
      },
      metrics: () => c.metrics(),
      status: () => ({
        ...c.stats(),
        source: source.name,
        socket: stream.path,
        ...(config.flowLogsFileEnabled ? { file: config.flowLogsFile } : {}),
        readers: stream.clients(),
      }),
      health() {
        if (closed) return { ready: true, live: true, detail: 'stopped' };
        const s = c.stats();
        const notes: string[] = [];
        if (s.lostEvents > 0) notes.push(`${s.lostEvents} flow event(s) lost in the kernel under load (counted in gingham_flowlogs_lost_events_total)`);
        if (s.overflowEvents > 0) notes.push(`${s.overflowEvents} event(s) past the aggregation cap`);
        return { ready: true, live: true, ...(notes.length > 0 ? { detail: notes.join('; ') } : {}) };
      },
      async close() {
        if (closed) return;
        closed = true;
        // The collector first (it flushes the last window to the file and the stream's readers, and closes the source), then the stream.
        try {
          await c.close();
        } finally {
          await stream.close();
        }
      },
    };
  } catch (e) {
    if (collector) await collector.close().catch(() => undefined);
    else await source.close();
    throw new AgentError('AGENT_START_FAILED', `flow logs could not start: ${(e as Error).message.replace(/^gingham: /, '')}`, { cause: e });
  }
}
