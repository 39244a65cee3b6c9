/**
 * The agent: the wiring of its parts, each with a start and a stop hook (lifecycle.ts), for one
 * node. Data flows one way:
 *
 *   datastore source ──▶ cluster counts, WireGuard manager (Nodes, endpoint addresses)
 *         │
 *         ▼
 *   apply loop: Engine ──(coalesced, never before in-sync)──▶ dataplane adapter ──▶ kernel
 *         ▲
 *   rtnetlink link/address events ──▶ interface re-check
 *
 *   health aggregator ◀── one reporter per part ──▶ /livez /readyz /status ; Prometheus /metrics
 *
 * Start order: instance lock → dataplane → apply loop → flow logs → WireGuard → health and metrics
 * servers → link watcher → datastore (so /readyz answers "not ready: waiting" from the start).
 * Flow logs (when on) read the dataplane's flow source and evaluate each flow on a snapshot of the
 * resources the source delivered (`ResourceMirror`, rebuilt only when they change). Stop is the
 * reverse and leaves enforcement in the kernel (and the WireGuard tunnel up): only `cleanAgent`
 * removes it. Ready means: the datastore is in sync now, the first complete sync was applied and
 * the last apply did not fail (and the WireGuard key is published and its peers applied).
 */
import { acquireInstanceLock, InstanceLockedError, lockName, type InstanceLock } from '@gingham/host';
import { pino, type Logger } from 'pino';
import { ApplyLoop } from './apply-loop.js';
import { ClusterCounts } from './cluster-counts.js';
import { redactedConfig, type AgentConfig, type ConfigOrigin } from './config.js';
import { createAgentDataplane, type AgentDataplane } from './dataplane-adapter.js';
import { openDatastoreConnection, type DatastoreConnection, type SourceLogEntry } from './datastore-source.js';
import { AgentError } from './errors.js';
import { startFlowLogs, type AgentFlowLogs } from './flow-logs.js';
import { HealthAggregator, type HealthSummary, type Reporter } from './health.js';
import { startLocalServer, type LocalServer } from './http-servers.js';
import { Lifecycle } from './lifecycle.js';
import { createLinkWatcher, type LinkWatcher } from './link-watcher.js';
import { createAgentMetrics, type AgentMetrics } from './metrics.js';
import { ResourceMirror } from './resource-mirror.js';
import type { AgentStatus } from './status.js';
import { WireguardManager } from './wireguard-manager.js';

export interface AgentOptions {
  readonly config: AgentConfig;
  /** Where each setting came from (logged at start). */
  readonly origins?: Readonly<Partial<Record<keyof AgentConfig, ConfigOrigin>>>;
  /** For the OpenStack source (`OS_*`); default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A pino logger; default JSON lines on stdout at `config.logLevel`. */
  readonly logger?: Logger;
  /** Replaces the configured dataplane (tests, embedding). */
  readonly dataplane?: AgentDataplane;
  /** Replaces the configured datastore connection (tests, embedding). */
  readonly connection?: DatastoreConnection;
  /** Watch rtnetlink for interface changes (default: on unless the dataplane is `none`). */
  readonly linkEvents?: boolean;
  /** How often components report health and interfaces are re-checked as a safety net (default 1 s / 30 s). */
  readonly tickMs?: number;
  readonly interfaceResyncMs?: number;
}

export interface Agent {
  readonly config: AgentConfig;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  /** Starts every part; rejects (having stopped what started) when one cannot start. */
  start(): Promise<void>;
  /** Stops every part; enforcement stays in the kernel. Idempotent. */
  stop(): Promise<void>;
  status(): AgentStatus;
  health(): HealthSummary;
  /** Resolves once ready; rejects after `timeoutMs` with what is not ready. */
  whenReady(timeoutMs: number): Promise<void>;
  /** Resolves with the error when the agent cannot go on (the dataplane diverged): exit and restart. */
  readonly fatal: Promise<unknown>;
  /** Resolves when the dataplane has caught up with everything received (tests, benchmarks). */
  settled(): Promise<void>;
  /** The Engine's driver (tests, benchmarks). */
  readonly loop: ApplyLoop;
}

const RESYNC_STATE: Record<string, number> = { 'wait-for-datastore': 1, resync: 2, 'in-sync': 3 };

function createLogger(config: AgentConfig): Logger {
  return pino({ level: config.logLevel, base: { node: config.node }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } });
}

/** The instance lock of the agent of `node`. */
export function agentLockName(node: string): string {
  return lockName('agent', node);
}

export function createAgent(options: AgentOptions): Agent {
  const config = options.config;
  const logger = options.logger ?? createLogger(config);
  const env = options.env ?? process.env;
  const lifecycle = new Lifecycle();
  const health = new HealthAggregator();
  const counts = new ClusterCounts();
  const startedAt = new Date();
  const tickMs = options.tickMs ?? 1000;
  const linkEvents = options.linkEvents ?? config.dataplane !== 'none';
  let dataplane: AgentDataplane | undefined = options.dataplane;
  let connection: DatastoreConnection | undefined = options.connection;
  let lock: InstanceLock | undefined;
  let wireguard: WireguardManager | undefined;
  let watcher: LinkWatcher | undefined;
  let flowLogs: AgentFlowLogs | undefined;
  const mirror = config.flowLogsEnabled ? new ResourceMirror() : undefined;
  let lastError: AgentStatus['lastError'];
  let resolveFatal!: (e: unknown) => void;
  const fatal = new Promise<unknown>((r) => (resolveFatal = r));
  let wasReady = false;
  let startedAll = false;
  let lastSync = '';

  const noteError = (component: string, code: string, message: string): void => {
    lastError = { component, code, message, at: new Date().toISOString() };
  };

  // The loop exists from the start (metrics and status read it); its dataplane is set at start.
  const deferred: AgentDataplane = {
    kind: config.dataplane,
    apply: (m) => dataplane!.apply(m),
    syncInterfaces: (o) => dataplane!.syncInterfaces(o),
    clean: () => dataplane!.clean(),
    close: () => dataplane!.close(),
    stats: () => dataplane?.stats() ?? {},
    isContractViolation: (e) => dataplane?.isContractViolation(e) ?? false,
  };
  let metrics: AgentMetrics;
  const loop = new ApplyLoop({
    node: config.node,
    dataplane: deferred,
    retryInitialMs: config.applyRetryInitialMs,
    retryMaxMs: config.applyRetryMaxMs,
    hooks: {
      onCalcGraph: (ms, n) => metrics.calcGraphUpdate(ms / 1000, n),
      onResync: (phase) => {
        if (phase === 'started') metrics.resyncStarted();
      },
      onApplied: (r) => {
        metrics.applied(r.durationMs / 1000, r.messages);
        logger.info({ code: 'APPLIED', durationMs: Math.round(r.durationMs * 10) / 10, messages: r.messages, changes: r.changes, retry: r.retry || undefined, interfaceSync: r.interfaceSync || undefined }, `applied ${r.messages} message(s) to the ${deferred.kind} dataplane${r.retry ? ' (a retry)' : ''}`);
        report();
      },
      onFailed: (f, error) => {
        metrics.applyFailed();
        noteError('dataplane', f.code, f.message);
        logger.error({ code: f.code, attempts: f.attempts, retryInMs: f.retryInMs, err: error }, `dataplane apply failed: ${f.message}; the kernel keeps its last good state; retrying in ${f.retryInMs} ms`);
        report();
      },
      onFatal: (error) => {
        const message = `the ${deferred.kind} dataplane refused a batch as breaking its contract: ${(error as Error).message}; the agent stops so that a restart rebuilds from a fresh list (enforcement stays as it is)`;
        noteError('dataplane', 'AGENT_DATAPLANE_DIVERGED', message);
        logger.fatal({ code: 'AGENT_DATAPLANE_DIVERGED', err: error }, message);
        resolveFatal(new AgentError('AGENT_DATAPLANE_DIVERGED', message, { cause: error }));
      },
    },
  });

  const sourceStatus = () => connection?.source.status();

  metrics = createAgentMetrics({
    node: config.node,
    local: () => {
      const s = loop.stats();
      return { endpoints: s.localEndpoints, policies: s.activePolicies, selectors: s.ipSets };
    },
    cluster: () => counts.snapshot(),
    resyncState: () => RESYNC_STATE[loop.syncState] ?? 1,
    sourceCounters: () => sourceStatus()?.counters ?? {},
    ready: () => health.summary().ready,
    wireguardPeers: () => wireguard?.status.peers,
  });

  // ---- health ------------------------------------------------------------------------------
  const reporters: Record<string, Reporter> = {
    datastore: health.register('datastore', { readinessTimeoutMs: 10 * tickMs + 5000, livenessTimeoutMs: config.livenessTimeoutMs }),
    dataplane: health.register('dataplane', { readinessTimeoutMs: 10 * tickMs + 5000, livenessTimeoutMs: config.livenessTimeoutMs }),
  };
  if (config.flowLogsEnabled) reporters['flow-logs'] = health.register('flow-logs', { readinessTimeoutMs: 10 * tickMs + 5000, livenessTimeoutMs: config.livenessTimeoutMs });
  if (config.wireguard) reporters['wireguard'] = health.register('wireguard', { readinessTimeoutMs: 10 * tickMs + 5000, livenessTimeoutMs: config.livenessTimeoutMs });

  const report = (): void => {
    const s = sourceStatus();
    if (s) {
      const stale = (s as { stalenessMs?: number }).stalenessMs;
      const tooOld = stale !== undefined && stale > config.maxStalenessMs;
      const ready = s.phase === 'in-sync' && s.connected && !tooOld;
      const why =
        s.phase === 'in-sync' && !s.connected
          ? `datastore down${s.lastError ? ` (${s.lastError.code}: ${s.lastError.message})` : ''}: the last good state stays enforced`
          : s.phase === 'failed'
            ? `datastore refused the agent${s.lastError ? ` (${s.lastError.code}: ${s.lastError.message})` : ''}`
            : s.phase === 'waiting'
              ? `waiting for the datastore${s.lastError ? ` (${s.lastError.code}: ${s.lastError.message})` : ''}`
              : s.phase === 'resyncing'
                ? 'datastore resync in progress'
                : tooOld
                  ? `the datastore's state is ${Math.round(stale! / 1000)} s old`
                  : s.phase;
      reporters['datastore']!.report({ ready, live: true, ...(ready ? {} : { detail: why }) });
    } else {
      reporters['datastore']!.report({ ready: false, live: true, detail: 'not started' });
    }
    const running = loop.runningForMs();
    const stuck = running !== undefined && running > config.livenessTimeoutMs;
    const dpReady = loop.applied;
    const dpDetail =
      loop.fatal !== undefined
        ? 'the dataplane diverged: restart'
        : loop.failure
          ? `apply failing (${loop.failure.code}), retrying`
          : loop.firstAppliedAt === undefined
            ? 'waiting for the first complete sync to be applied'
            : undefined;
    reporters['dataplane']!.report({ ready: dpReady, live: !stuck && loop.fatal === undefined, ...(stuck ? { detail: `an apply has been running for ${Math.round(running! / 1000)} s` } : dpDetail ? { detail: dpDetail } : {}) });
    if (wireguard) {
      const w = wireguard.status;
      reporters['wireguard']!.report({ ready: wireguard.ready, live: true, ...(wireguard.ready ? {} : { detail: !w.keyPublished ? 'public key not published yet' : w.lastError ? `${w.lastError.code}: ${w.lastError.message}` : 'peers not applied yet' }) });
    }
    if (reporters['flow-logs']) reporters['flow-logs'].report(flowLogs ? flowLogs.health() : { ready: false, live: true, detail: 'not started' });
    const sync = loop.syncState;
    if (sync !== lastSync) {
      logger.info({ code: 'SYNC_STATE', from: lastSync || undefined, to: sync, revision: s?.revision }, `datastore sync state: ${sync}`);
      lastSync = sync;
    }
    const summary = health.summary();
    if (summary.ready !== wasReady) {
      wasReady = summary.ready;
      const why = summary.reporters.filter((r) => !r.ready).map((r) => `${r.name}: ${r.detail ?? 'not ready'}`);
      if (summary.ready) logger.info({ code: 'READY' }, 'ready: in sync and enforcing');
      else logger.warn({ code: 'NOT_READY', reasons: why }, `not ready: ${why.join('; ')}`);
    }
  };

  /** Resources the source skipped (the last good version stays): an operator's problem, logged at warn. */
  const SKIPPED = new Set(['INVALID_VALUE', 'INVALID_FILE', 'DUPLICATE_KEY', 'DUPLICATE_RESOURCE']);
  const sourceLog = (e: SourceLogEntry): void => {
    const fields = { code: e.code, where: e.where, component: 'datastore' };
    if (e.code !== undefined && SKIPPED.has(e.code)) logger.warn(fields, `skipped: ${e.message}`);
    else if (e.level === 'error') {
      logger.error(fields, e.message);
      noteError('datastore', e.code ?? 'DATASTORE_ERROR', e.message);
    } else if (e.level === 'warn') logger.warn(fields, e.message);
    else logger.info(fields, e.message);
    report();
  };

  // ---- parts -------------------------------------------------------------------------------
  lifecycle.append({
    name: 'lock',
    start() {
      try {
        lock = acquireInstanceLock(agentLockName(config.node), { dir: config.lockDir, purpose: `gingham agent --node ${config.node}` });
      } catch (e) {
        if (e instanceof InstanceLockedError) {
          throw new AgentError('AGENT_LOCKED', `another agent runs for node ${config.node}: ${e.message.replace(/^gingham: /, '')}`, { cause: e });
        }
        throw e;
      }
    },
    stop() {
      lock?.release();
      lock = undefined;
    },
  });
  lifecycle.append({
    name: 'dataplane',
    async start() {
      dataplane ??= await createAgentDataplane(config);
    },
    async stop() {
      await dataplane?.close();
    },
  });
  lifecycle.append({ name: 'apply-loop', stop: () => loop.stop() });
  if (mirror) {
    const errorsLogged = new Map<string, number>();
    lifecycle.append({
      name: 'flow-logs',
      async start() {
        flowLogs = await startFlowLogs({
          config,
          dataplane: dataplane!,
          snapshot: () => mirror.snapshot(),
          onError: (err) => {
            // The collector goes on after each error; one line per distinct message a minute.
            const at = Date.now();
            if ((errorsLogged.get(err.message) ?? 0) > at - 60_000) return;
            if (errorsLogged.size > 100) errorsLogged.clear();
            errorsLogged.set(err.message, at);
            noteError('flow-logs', (err as { code?: string }).code ?? 'FLOW_LOGS_ERROR', err.message);
            logger.warn({ code: 'FLOW_LOGS_ERROR', component: 'flow-logs', err }, `flow logs: ${err.message.replace(/^gingham: /, '')}`);
          },
        });
        const s = flowLogs.status();
        logger.info({ code: 'FLOW_LOGS', source: s.source, socket: s.socket, file: s.file }, `flow logs on: ${s.source} flow source, stream ${s.socket}${s.file ? `, file ${s.file}` : ''}`);
      },
      async stop() {
        await flowLogs?.close();
      },
    });
  }
  if (config.wireguard) {
    lifecycle.append({
      name: 'wireguard',
      async start() {
        if (config.datastore === 'openstack') throw new AgentError('AGENT_CONFIG', '--wireguard needs Node resources (etcd, dir or kubernetes datastores); OpenStack has none');
        connection ??= await openDatastoreConnection(config, env, sourceLog);
        wireguard = new WireguardManager({
          config,
          ...(connection.publishKey ? { publishKey: connection.publishKey } : {}),
          log: (level, code, message, extra) => {
            logger[level]({ code, component: 'wireguard', ...extra }, message);
            if (level === 'error') noteError('wireguard', code, message);
          },
        });
        await wireguard.start();
      },
      stop: () => wireguard?.stop(),
    });
  }
  let timer: NodeJS.Timeout | undefined;
  let interfaceTimer: NodeJS.Timeout | undefined;
  lifecycle.append({
    name: 'health',
    start() {
      report();
      timer = setInterval(report, tickMs);
    },
    stop() {
      clearInterval(timer);
    },
  });
  let healthServer: LocalServer | undefined;
  let metricsServer: LocalServer | undefined;
  if (config.healthPort !== 0) {
    lifecycle.append({
      name: 'health-server',
      async start() {
        const probe = (which: 'ready' | 'live') => () => {
          const s = health.summary();
          return { status: s[which] ? 200 : 503, body: `${JSON.stringify({ [which]: s[which], reporters: s.reporters })}\n` };
        };
        healthServer = await startLocalServer(config.healthHost, config.healthPort, {
          '/livez': probe('live'),
          '/liveness': probe('live'),
          '/readyz': probe('ready'),
          '/readiness': probe('ready'),
          '/status': () => ({ status: 200, body: `${JSON.stringify(agent.status())}\n` }),
        }, flowLogs ? (req, res) => flowLogs!.handle(req, res) : undefined);
      },
      stop: () => healthServer?.close(),
    });
  }
  if (config.metricsPort !== 0) {
    lifecycle.append({
      name: 'metrics-server',
      async start() {
        metricsServer = await startLocalServer(config.metricsHost, config.metricsPort, {
          '/metrics': async () => ({ status: 200, body: `${await metrics.text()}${flowLogs ? flowLogs.metrics() : ''}`, contentType: metrics.contentType }),
        });
      },
      stop: () => metricsServer?.close(),
    });
  }
  if (linkEvents) {
    lifecycle.append({
      name: 'link-watcher',
      start() {
        watcher = createLinkWatcher({
          onChange: (e) => {
            metrics.linkEvent();
            logger.debug({ code: 'LINK_EVENT', ...e }, `${e.kind} change${e.name ? ` on ${e.name}` : ''}`);
            loop.requestInterfaceSync(false, e.name !== undefined ? { name: e.name, ...(e.index !== undefined ? { index: e.index } : {}) } : undefined);
          },
          onError: (err) => {
            metrics.eventsDropped('netlink-overflow');
            logger.warn({ code: 'LINK_EVENTS_LOST', err }, `rtnetlink reported an error (${err.message}); re-checking every interface`);
            loop.requestInterfaceSync(true);
          },
        });
        // A safety net: interfaces are re-checked now and then even if an event was missed.
        interfaceTimer = setInterval(() => loop.requestInterfaceSync(true), options.interfaceResyncMs ?? 30_000);
      },
      stop() {
        clearInterval(interfaceTimer);
        watcher?.close();
      },
    });
  }
  lifecycle.append({
    name: 'datastore',
    async start() {
      connection ??= await openDatastoreConnection(config, env, sourceLog);
      logger.info({ code: 'DATASTORE', datastore: connection.description }, `watching ${connection.description}`);
      await connection.source.start((messages) => {
        mirror?.onMessages(messages);
        counts.onMessages(messages);
        wireguard?.onSourceMessages(messages);
        loop.onSourceMessages(messages);
      });
    },
    stop: () => connection?.close(),
  });

  const agent: Agent = {
    config,
    logger,
    metrics,
    loop,
    fatal,
    async start() {
      logger.info({ code: 'STARTING', config: redactedConfig(config), origins: options.origins, pid: process.pid }, `starting the agent for node ${config.node} (${config.datastore} → ${config.dataplane}${config.wireguard ? ' + WireGuard' : ''}${config.flowLogsEnabled ? ' + flow logs' : ''})`);
      await lifecycle.start((name, ms) => logger.debug({ code: 'STARTED', component: name, ms: Math.round(ms) }, `${name} started`));
      startedAll = true;
      logger.info({ code: 'STARTED', components: lifecycle.names(), healthPort: config.healthPort || undefined, metricsPort: config.metricsPort || undefined }, 'agent started; waiting for the first complete sync');
    },
    async stop() {
      clearInterval(timer);
      const wasStarted = lifecycle.names().length > 0 && startedAll;
      const failures = await lifecycle.stop();
      for (const f of failures) logger.error({ code: 'STOP_FAILED', component: f.name, err: f.error }, `${f.name} did not stop cleanly: ${(f.error as Error).message}`);
      if (wasStarted) logger.info({ code: 'STOPPED' }, 'agent stopped; enforcement stays in the kernel (gingham agent --clean removes it)');
    },
    health: () => health.summary(),
    status() {
      const s = sourceStatus();
      const summary = health.summary();
      return {
        node: config.node,
        pid: process.pid,
        startedAt: startedAt.toISOString(),
        uptimeMs: Date.now() - startedAt.getTime(),
        ready: summary.ready,
        live: summary.live,
        health: summary,
        sync: loop.syncState,
        datastore: {
          description: connection?.description ?? config.datastore,
          phase: s?.phase ?? 'waiting',
          connected: s?.connected ?? false,
          ...(s?.revision !== undefined ? { revision: s.revision } : {}),
          resources: s?.resources ?? 0,
          ...(s?.lastError ? { lastError: s.lastError } : {}),
          counters: s?.counters ?? {},
          problems: s?.problems.length ?? 0,
          recentProblems: (s?.problems ?? []).slice(-5).map((p) => ({ where: p.where, message: p.message })),
        },
        engine: loop.stats(),
        cluster: counts.snapshot(),
        dataplane: {
          kind: deferred.kind,
          applies: loop.applies,
          failures: loop.failures,
          ...(loop.firstAppliedAt ? { firstAppliedAt: loop.firstAppliedAt } : {}),
          ...(loop.lastApply ? { lastApply: loop.lastApply } : {}),
          ...(loop.failure ? { failing: loop.failure } : {}),
          stats: deferred.stats(),
        },
        ...(watcher ? { linkEvents: watcher.events } : {}),
        ...(wireguard ? { wireguard: wireguard.status } : {}),
        ...(flowLogs ? { flowLogs: { ...flowLogs.status(), snapshotBuilds: mirror!.stats().builds } } : {}),
        ...(lastError ? { lastError } : {}),
        config: redactedConfig(config),
      };
    },
    whenReady(timeoutMs) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = (): void => {
          report();
          const s = health.summary();
          if (s.ready) return resolve();
          if (Date.now() > deadline) {
            return reject(new AgentError('AGENT_START_FAILED', `not ready after ${timeoutMs} ms: ${s.reporters.filter((r) => !r.ready).map((r) => `${r.name}: ${r.detail ?? 'not ready'}`).join('; ')}`));
          }
          setTimeout(check, 20);
        };
        check();
      });
    },
    settled: () => loop.whenIdle(),
  };
  return agent;
}

/**
 * `gingham agent --clean`: takes the node's agent lock (so no agent runs meanwhile), removes
 * everything the configured dataplane made (and the WireGuard interface when configured), and
 * says what it removed, one line each.
 */
export async function cleanAgent(config: AgentConfig, dataplaneOverride?: AgentDataplane): Promise<string[]> {
  let lock: InstanceLock;
  try {
    lock = acquireInstanceLock(agentLockName(config.node), { dir: config.lockDir, purpose: `gingham agent --clean --node ${config.node}` });
  } catch (e) {
    if (e instanceof InstanceLockedError) throw new AgentError('AGENT_LOCKED', `an agent runs for node ${config.node}; stop it first (${e.message.replace(/^gingham: /, '')})`, { cause: e });
    throw e;
  }
  try {
    const out: string[] = [];
    const dataplane = dataplaneOverride ?? (await createAgentDataplane(config));
    try {
      out.push(`${dataplane.kind}: ${await dataplane.clean()}`);
    } finally {
      await dataplane.close();
    }
    if (config.wireguard) {
      const wg = new WireguardManager({ config, log: () => undefined });
      out.push(`wireguard: ${await wg.clean()}`);
    }
    return out;
  } finally {
    lock.release();
  }
}
