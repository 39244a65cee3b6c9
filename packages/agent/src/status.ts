/**
 * What the agent is doing, as one JSON document (`GET /status` on the health port) and as text
 * for a person (`gingham agent status`): sync state, revision, counts, the last apply (when, how
 * long, what changed), the last error, health per component.
 */
import type { EngineStats, SourceStatus } from '@gingham/core';
import type { ApplyFailure, ApplyRecord, SyncState } from './apply-loop.js';
import type { ClusterCountsSnapshot } from './cluster-counts.js';
import type { FlowLogsStatus } from './flow-logs.js';
import type { HealthSummary } from './health.js';
import type { WireguardStatus } from './wireguard-manager.js';

export interface AgentStatus {
  readonly node: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeMs: number;
  readonly ready: boolean;
  readonly live: boolean;
  readonly health: HealthSummary;
  readonly sync: SyncState;
  readonly datastore: { readonly description: string } & Omit<SourceStatus, 'problems'> & { readonly problems: number; readonly recentProblems: readonly { readonly where: string; readonly message: string }[] };
  readonly engine: EngineStats;
  readonly cluster: ClusterCountsSnapshot;
  readonly dataplane: {
    readonly kind: string;
    readonly applies: number;
    readonly failures: number;
    readonly firstAppliedAt?: string;
    readonly lastApply?: ApplyRecord;
    readonly failing?: ApplyFailure;
    readonly stats: Record<string, unknown>;
  };
  readonly linkEvents?: number;
  readonly wireguard?: WireguardStatus;
  /** With flow logs on: the collector's counters, where it writes, and how often the snapshot was rebuilt. */
  readonly flowLogs?: FlowLogsStatus & { readonly snapshotBuilds: number };
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: string; readonly component: string };
  readonly config: Record<string, unknown>;
}

const ago = (iso: string | undefined, now: number): string => {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};

/** The status as lines for a person. */
export function formatAgentStatus(s: AgentStatus, now = Date.now()): string {
  const lines: string[] = [];
  const verdict = s.ready ? 'ready' : s.live ? 'NOT READY' : 'NOT LIVE';
  lines.push(`agent for node ${s.node} (pid ${s.pid}, up ${Math.round(s.uptimeMs / 1000)} s): ${verdict}`);
  for (const r of s.health.reporters) {
    if (!r.ready || !r.live) lines.push(`  ${r.name}: ${!r.live ? 'not live' : 'not ready'}${r.detail ? `: ${r.detail}` : ''}`);
  }
  const d = s.datastore;
  lines.push(`datastore: ${d.description}: ${s.sync}${d.connected ? '' : ' (disconnected)'}${d.revision ? `, revision ${d.revision}` : ''}, ${d.resources} resources${d.problems ? `, ${d.problems} skipped as invalid` : ''}`);
  for (const p of d.recentProblems) lines.push(`  skipped ${p.where}: ${p.message}`);
  lines.push(`this host: ${s.engine.localEndpoints} endpoints, ${s.engine.activePolicies} active policies, ${s.engine.ipSets} IP sets`);
  lines.push(`cluster: ${s.cluster.hosts} hosts, ${s.cluster.workloadEndpoints} workload endpoints, ${s.cluster.hostEndpoints} host endpoints, ${s.cluster.policies} policies, ${s.cluster.tiers} tiers`);
  const a = s.dataplane.lastApply;
  if (a) {
    const what = Object.entries(a.changes).map(([k, n]) => `${n} ${k}`).join(', ');
    lines.push(`dataplane ${s.dataplane.kind}: last apply ${ago(a.at, now)}, ${a.durationMs.toFixed(1)} ms, ${a.messages} messages${what ? ` (${what})` : ''}${a.retry ? ', a retry' : ''}${a.interfaceSync ? ', interfaces re-checked' : ''}; ${s.dataplane.applies} applies, ${s.dataplane.failures} failures`);
  } else {
    lines.push(`dataplane ${s.dataplane.kind}: nothing applied yet (waiting for the first complete sync)`);
  }
  if (s.dataplane.failing) lines.push(`  failing: ${s.dataplane.failing.code}: ${s.dataplane.failing.message} (attempt ${s.dataplane.failing.attempts}, next in ${s.dataplane.failing.retryInMs} ms)`);
  if (s.wireguard) {
    const w = s.wireguard;
    lines.push(`wireguard ${w.interface}: ${w.peers} peers, key ${w.keyPublished ? 'published' : 'NOT published yet'}${w.publicKey ? ` (${w.publicKey})` : ''}, last apply ${ago(w.lastApplyAt, now)}`);
    for (const i of w.issues) lines.push(`  ${i}`);
  }
  if (s.flowLogs) {
    const f = s.flowLogs;
    lines.push(`flow logs (${f.source}): ${f.events} events, ${f.lostEvents} lost, ${f.aggregatedFlows} flows in this window, ${f.liveConnections} live connections, ${f.windows} windows; stream ${f.socket} (${f.readers} readers)${f.file ? `, file ${f.file}` : ''}`);
  }
  if (s.lastError) lines.push(`last error (${s.lastError.component}, ${ago(s.lastError.at, now)}): ${s.lastError.code}: ${s.lastError.message}`);
  return lines.join('\n');
}
