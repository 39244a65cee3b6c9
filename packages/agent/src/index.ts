/**
 * @gingham/agent: the host agent (Felix's role) — a Source, the Engine and a dataplane (plus
 * WireGuard) wired with a lifecycle and kept converged continuously, with health endpoints,
 * Prometheus metrics and JSON logs. `gingham agent` is a thin command over `createAgent`.
 */
export { createAgent, cleanAgent, agentLockName, type Agent, type AgentOptions } from './agent.js';
export {
  resolveAgentConfig,
  redactedConfig,
  agentFlagOptions,
  AGENT_FIELDS,
  DEFAULT_DATASTORE_DIR,
  DEFAULT_HEALTH_PORT,
  DEFAULT_METRICS_PORT,
  DEFAULT_WIREGUARD_KEY_FILE,
  DEFAULT_FLOW_LOGS_FILE,
  DEFAULT_FLOW_LOGS_SOCKET,
  type AgentConfig,
  type ConfigOrigin,
  type DatastoreKind,
  type DataplaneKind,
  type LogLevel,
  type ResolveAgentConfigInput,
  type ResolvedAgentConfig,
} from './config.js';
export { AgentError, type AgentErrorCode } from './errors.js';
export { ApplyLoop, type ApplyFailure, type ApplyLoopHooks, type ApplyLoopOptions, type ApplyRecord, type SyncState } from './apply-loop.js';
export { wrapDataplane, createAgentDataplane, type AgentDataplane } from './dataplane-adapter.js';
export { openDatastoreConnection, datastoreKeyPublisher, type DatastoreConnection, type SourceLogEntry } from './datastore-source.js';
export { HealthAggregator, type HealthReport, type HealthSummary, type Reporter, type ReporterOptions, type ReporterSummary } from './health.js';
export { Lifecycle, type Hook, type StopFailure } from './lifecycle.js';
export { formatAgentStatus, type AgentStatus } from './status.js';
export type { FlowLogsStatus } from './flow-logs.js';
export { ResourceMirror } from './resource-mirror.js';
export { fetchAgentStatus } from './status-client.js';
export type { AgentMetrics } from './metrics.js';
export type { WireguardStatus, KeyPublisher } from './wireguard-manager.js';
