/**
 * @gingham/flows: flow logs from any dataplane's flow source (the `FlowSource` port of
 * `@gingham/core`). The collector attributes each connection to the policy and rule that
 * decided it (enforced and pending traces, as Felix and Goldmane do), aggregates at Calico's
 * levels in 15-second windows with bounded memory, and publishes to JSON lines files, a local
 * unix-socket stream (`gingham flows`), HTTP and per-rule Prometheus metrics. See
 * docs/flow-logs.md.
 */
export {
  createFlowCollector,
  FlowsError,
  type AggregationLevel,
  type AggregationOptions,
  type CollectorStats,
  type FlowCollector,
  type FlowCollectorOptions,
  type FlowOutput,
  type FlowWindow,
  type WindowSummary,
} from './collector.js';
export { filterFromParams, filterToParams, matchesFilter, type FlowFilter } from './filter.js';
export { aggregatedPodName, createIdentityIndex, isPrivate, type Entity, type IdentityIndex } from './identity.js';
export { RuleMetrics, type CollectorHealth } from './metrics.js';
export { createTraceResolver, sameDecision, TraceTable, type TraceQuery, type TraceResolver, type TraceResult } from './traces.js';
export { createFileOutput, type FileOutput, type FileOutputOptions } from './outputs/file-output.js';
export { createStreamServer, DEFAULT_FLOWS_SOCKET, type StreamServer, type StreamServerOptions } from './outputs/stream-server.js';
export { createFlowHttpServer, flowsHttpHandler, type FlowHttpServer, type HttpServerOptions } from './outputs/http-server.js';
export type { ReaderRequest } from './outputs/serve.js';
export { parseFlowLine, readFlowFiles, readFlowStream, rotatedFiles, type FlowLine, type StreamReadOptions } from './client.js';
