/**
 * The agent's Prometheus metrics (`prom-client`, a registry of its own), named after Felix's
 * where the meaning is the same (`felix_active_local_endpoints` → `gingham_active_local_endpoints`,
 * `felix_int_dataplane_apply_time_seconds` → `gingham_int_dataplane_apply_time_seconds`, …), plus
 * Node.js process metrics (`process_*`, `nodejs_*`). Gauges read the agent's state when scraped;
 * counters and histograms are fed as things happen. Nothing here changes the agent.
 */
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';

/** What the gauges read at scrape time. */
export interface MetricsView {
  readonly node: string;
  /** Local endpoints, active policies, active selectors (IP sets). */
  local(): { endpoints: number; policies: number; selectors: number };
  cluster(): { hosts: number; hostEndpoints: number; workloadEndpoints: number; policies: number; profiles: number; tiers: number };
  /** 1 wait-for-datastore, 2 resync, 3 in-sync (Felix's `resync_state`). */
  resyncState(): number;
  /** The source's monotonic counters (`relists`, `watchCanceled`, `disconnects`, …). */
  sourceCounters(): Readonly<Record<string, number>>;
  ready(): boolean;
  wireguardPeers(): number | undefined;
}

export interface AgentMetrics {
  readonly registry: Registry;
  calcGraphUpdate(seconds: number, messages: number): void;
  applied(seconds: number, messages: number): void;
  applyFailed(): void;
  resyncStarted(): void;
  eventsDropped(reason: string, n?: number): void;
  linkEvent(): void;
  /** Prometheus text exposition. */
  text(): Promise<string>;
  readonly contentType: string;
}

/** Source counters that mean a watch error, and those that mean a relist. */
const WATCH_ERROR_COUNTERS = ['watchCanceled', 'disconnects', 'watchStuck', 'listErrors', 'discoveryErrors'];
const RELIST_COUNTERS = ['relists'];

export function createAgentMetrics(view: MetricsView): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, read: () => number | undefined): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== undefined) this.set(v);
      },
    });
  };
  new Gauge({
    name: 'gingham_host',
    help: 'Always 1; labelled with this node\'s name.',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      this.set({ host: view.node }, 1);
    },
  });
  gauge('gingham_active_local_endpoints', 'Number of active endpoints on this host.', () => view.local().endpoints);
  gauge('gingham_active_local_policies', 'Number of active policies on this host.', () => view.local().policies);
  gauge('gingham_active_local_selectors', 'Number of active selectors (IP sets) on this host.', () => view.local().selectors);
  gauge('gingham_cluster_num_hosts', 'Total number of hosts in the cluster.', () => view.cluster().hosts);
  gauge('gingham_cluster_num_host_endpoints', 'Total number of host endpoints cluster-wide.', () => view.cluster().hostEndpoints);
  gauge('gingham_cluster_num_workload_endpoints', 'Total number of workload endpoints cluster-wide.', () => view.cluster().workloadEndpoints);
  gauge('gingham_cluster_num_policies', 'Total number of policies cluster-wide.', () => view.cluster().policies);
  gauge('gingham_cluster_num_profiles', 'Total number of profiles cluster-wide.', () => view.cluster().profiles);
  gauge('gingham_cluster_num_tiers', 'Total number of tiers cluster-wide.', () => view.cluster().tiers);
  gauge('gingham_resync_state', 'Current datastore state (1 wait-for-datastore, 2 resync in progress, 3 in sync).', () => view.resyncState());
  gauge('gingham_ready', '1 when /readyz answers ready.', () => (view.ready() ? 1 : 0));
  gauge('gingham_wireguard_peers', 'WireGuard peers programmed on this host.', () => view.wireguardPeers());

  const resyncs = new Counter({ name: 'gingham_resyncs_started', help: 'Number of times the datastore started a (re)list.', registers: [registry] });
  const updateTime = new Summary({ name: 'gingham_calc_graph_update_time_seconds', help: 'Time taken to put a batch of datastore updates into the calculation graph.', registers: [registry], percentiles: [0.5, 0.9, 0.99] });
  const updates = new Counter({ name: 'gingham_calc_graph_updates_processed', help: 'Number of datastore updates processed by the calculation graph.', registers: [registry] });
  const applyTime = new Histogram({
    name: 'gingham_int_dataplane_apply_time_seconds',
    help: 'Time taken to apply a batch to the dataplane.',
    registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
  const batchSize = new Histogram({ name: 'gingham_int_dataplane_msg_batch_size', help: 'Number of messages in each batch applied to the dataplane.', registers: [registry], buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000] });
  const failures = new Counter({ name: 'gingham_int_dataplane_failures', help: 'Number of times the dataplane failed to apply a batch (each is retried).', registers: [registry] });
  const dropped = new Counter({ name: 'gingham_events_dropped', help: 'Events the agent could not take: invalid resources skipped by the datastore, rtnetlink overflows.', labelNames: ['reason'], registers: [registry] });
  const links = new Counter({ name: 'gingham_link_events', help: 'Link and address changes reported by rtnetlink.', registers: [registry] });

  // Datastore counters are the source's own; exposed as deltas so they stay monotonic.
  const sourceCounter = (name: string, help: string, keys: readonly string[]): void => {
    let seen = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const c = view.sourceCounters();
        const total = keys.reduce((n, k) => n + (c[k] ?? 0), 0);
        if (total > seen) this.inc(total - seen);
        seen = Math.max(seen, total);
      },
    });
  };
  sourceCounter('gingham_datastore_watch_errors', 'Watch errors, disconnects and failed lists of the datastore.', WATCH_ERROR_COUNTERS);
  sourceCounter('gingham_datastore_relists', 'Completed (re)lists of the datastore.', RELIST_COUNTERS);
  let invalidSeen = 0;
  new Gauge({
    name: 'gingham_datastore_invalid_resources',
    help: 'Resources the datastore holds that were skipped as invalid (the last valid version stays in force).',
    registers: [registry],
    collect() {
      const c = view.sourceCounters();
      const invalid = c['invalid'] ?? c['problems'] ?? 0;
      if (invalid > invalidSeen) dropped.inc({ reason: 'invalid-resource' }, invalid - invalidSeen);
      invalidSeen = Math.max(invalidSeen, invalid);
      this.set(invalid);
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    calcGraphUpdate(seconds, messages) {
      updateTime.observe(seconds);
      updates.inc(messages);
    },
    applied(seconds, messages) {
      applyTime.observe(seconds);
      batchSize.observe(messages);
    },
    applyFailed: () => failures.inc(),
    resyncStarted: () => resyncs.inc(),
    eventsDropped: (reason, n = 1) => dropped.inc({ reason }, n),
    linkEvent: () => links.inc(),
    text: () => registry.metrics(),
  };
}
