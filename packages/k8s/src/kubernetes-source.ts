/**
 * `createKubernetesSource`: the Kubernetes API as a Gingham `Source`. One supervised informer
 * per API (Namespaces, ServiceAccounts, Nodes, Pods, NetworkPolicies, Admin/Baseline/Cluster
 * network policies, Calico's `crd.projectcalico.org/v1` resources), each optional when its API
 * is not served (detected through discovery, reported, rediscovered later). Messages follow
 * Felix's syncer shape:
 *
 *   resync-started, (first lists, streamed page by page)…, in-sync
 *   then watch events one batch each, and every later relist (410, resync, an API that appeared
 *   or went away) as ONE batch: resync-started, changes…, deletes for what vanished, in-sync.
 *
 * Status follows Felix's health model: `waiting` until every served API has been listed or when
 * an informer is reconnecting, `resyncing` while one relists, `in-sync`, `failed` when the API
 * server refuses the credentials (401/403). `ready()` is "in sync now".
 *
 * Writes nothing: see `writeNodeWireguardKey` for the one write an agent makes.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { GinghamError, type Resource, type SourceMessage, type SourceProblem, type SourceSink, type SourceStatus } from '@gingham/core';
import { createApiClient, type ApiClient } from './api/http-client.js';
import { API_RESOURCES, apiResourceById, groupVersion, groupVersionPath, type ApiResource } from './api/resource-types.js';
import { KubernetesError } from './errors.js';
import { createBackoff } from '@gingham/host';
import { DEFAULT_TIMING, Informer, type Delivery, type InformerCounters, type InformerHost, type InformerState, type InformerTiming } from './informer/informer.js';
import { loadKubeConfig } from './kubeconfig.js';
import { Interner, reducerFor } from './reduce/reduce.js';

export interface KubernetesSourceTiming extends InformerTiming {
  /** How often APIs found absent are looked for again (default 5 min). */
  readonly discoveryIntervalMs: number;
}

export interface KubernetesSourceOptions {
  /** Credentials and server; default `loadKubeConfig({ kubeconfig, context })`. */
  readonly kubeConfig?: KubeConfig;
  /** A kubeconfig file (when `kubeConfig` is not given); default `$KUBECONFIG`, `~/.kube/config`, in-cluster. */
  readonly kubeconfig?: string;
  readonly context?: string;
  /** The APIs to read, by id (`pods`, `networkpolicies.networking.k8s.io`, `tiers.crd.projectcalico.org`, …); default all of `API_RESOURCES`. */
  readonly resources?: readonly string[];
  /** Derive kube-controllers' automatic host endpoints (`<node>-auto-hep`) from Nodes (default false). */
  readonly autoHostEndpoints?: boolean;
  /** Keep annotations, uid, timestamps and resourceVersions on the resources (for display, not for agents). */
  readonly fullMetadata?: boolean;
  /** Timing of lists, watches, the watchdog, resyncs and backoff (defaults in `DEFAULT_TIMING`). */
  readonly timing?: Partial<Omit<KubernetesSourceTiming, 'backoff'>> & { readonly backoff?: InformerTiming['backoff'] };
  /** Randomness for jitter (default `Math.random`). */
  readonly random?: () => number;
  /** How many problems `status().problems` keeps (default 100, newest last). */
  readonly maxProblems?: number;
  /** Receives errors, restarts and problems as they happen (for logs). */
  readonly log?: (entry: KubernetesSourceLogEntry) => void;
  /** Called as each watch event arrives, before it is processed (latency tracing; must be cheap). */
  readonly trace?: (resource: string, eventType: string) => void;
}

export interface KubernetesSourceLogEntry {
  readonly level: 'info' | 'warn' | 'error';
  /** The API (`pods`, `tiers.crd.projectcalico.org`), when it concerns one. */
  readonly resource?: string;
  readonly message: string;
  readonly code?: string;
}

export interface InformerStatus {
  /** `pods`, `networkpolicies.networking.k8s.io`, … */
  readonly resource: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly state: InformerState;
  readonly synced: boolean;
  readonly resourceVersion: string;
  /** Kubernetes objects held, and the resources they were reduced to. */
  readonly objects: number;
  readonly resources: number;
  /** Milliseconds since the last sign of life (event, bookmark, page), when listing or watching. */
  readonly idleMs?: number;
  readonly lastError?: { readonly code: string; readonly message: string };
  readonly counters: Readonly<InformerCounters>;
}

export interface KubernetesSource extends AsyncDisposable {
  readonly name: 'kubernetes';
  start(sink: SourceSink): Promise<void>;
  status(): SourceStatus;
  close(): Promise<void>;
  /** Resolves at the first `in-sync`; rejects when closed first, or after `timeoutMs` with `K8S_TIMEOUT`. */
  synced(timeoutMs?: number): Promise<void>;
  /** In sync now: every served API listed and every informer connected. */
  ready(): boolean;
  /** One line per API: state, revision, counts, last error. */
  informers(): InformerStatus[];
  /** Every resource currently delivered (the reduced cache). */
  resources(): Resource[];
  /** Relists every informer now (as the periodic resync does). */
  resync(): void;
}

const AUTH_CODES = new Set(['K8S_UNAUTHORIZED', 'K8S_FORBIDDEN']);

/** A source on the Kubernetes API. Nothing happens until `start`. */
export function createKubernetesSource(options: KubernetesSourceOptions = {}): KubernetesSource {
  const kubeConfig =
    options.kubeConfig ??
    loadKubeConfig({ ...(options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : {}), ...(options.context !== undefined ? { context: options.context } : {}) });
  const client: ApiClient = createApiClient(kubeConfig);
  const { discoveryIntervalMs = 300_000, backoff: backoffTiming, ...rest } = options.timing ?? {};
  const timing: InformerTiming = { ...DEFAULT_TIMING, ...rest, backoff: { ...DEFAULT_TIMING.backoff, ...backoffTiming } };
  const random = options.random ?? Math.random;
  const maxProblems = options.maxProblems ?? 100;
  const wanted: ApiResource[] = (options.resources ?? API_RESOURCES.map((r) => r.id)).map((id) => {
    const r = apiResourceById(id);
    if (!r) throw new KubernetesError('K8S_INVALID_ARGUMENT', `unknown resource "${id}"; known: ${API_RESOURCES.map((x) => x.id).join(', ')}`);
    return r;
  });

  let sink: SourceSink | undefined;
  let started = false;
  let closed = false;
  let bootstrapped = false;
  let everInSync = false;
  let discoveryError: KubernetesError | undefined;
  let discoveryTimer: NodeJS.Timeout | undefined;
  let bootstrapTimer: NodeJS.Timeout | undefined;
  const problems: SourceProblem[] = [];
  const counters: Record<string, number> = { problems: 0, discoveries: 0, discoveryErrors: 0, sinkErrors: 0 };
  const lastLogged = new Map<Informer, string | undefined>();
  let syncWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  const log = (entry: KubernetesSourceLogEntry): void => {
    try {
      options.log?.(entry);
    } catch {
      // A logger that throws must not break the stream.
    }
  };

  const send = (messages: readonly SourceMessage[]): void => {
    if (closed || !sink || messages.length === 0) return;
    try {
      sink(messages);
    } catch (e) {
      counters['sinkErrors']!++;
      log({ level: 'error', message: `the consumer failed on a batch of ${messages.length} message(s): ${(e as Error).message}`, code: 'K8S_SINK_FAILED' });
    }
  };

  const revision = (): string | undefined => {
    let best: bigint | undefined;
    let text: string | undefined;
    for (const inf of informers) {
      if (!/^\d+$/.test(inf.resourceVersion)) continue;
      const v = BigInt(inf.resourceVersion);
      if (best === undefined || v > best) {
        best = v;
        text = inf.resourceVersion;
      }
    }
    return text;
  };

  const inSyncMessage = (): SourceMessage => {
    const rv = revision();
    return rv === undefined ? { kind: 'in-sync' } : { kind: 'in-sync', revision: rv };
  };

  const checkInSync = (): void => {
    if (everInSync || !bootstrapped || closed) return;
    if (!informers.every((i) => i.state === 'absent' || i.synced)) return;
    everInSync = true;
    send([inSyncMessage()]);
    for (const w of syncWaiters) w.resolve();
    syncWaiters = [];
  };

  const host: InformerHost = {
    client,
    timing,
    random,
    now: () => performance.now(),
    streaming: () => !everInSync,
    ...(options.trace ? { trace: options.trace } : {}),
    deliver(informer: Informer, messages: SourceMessage[], d: Delivery) {
      if (closed) return;
      if (d.kind === 'watch' || !everInSync) send(messages);
      else if (messages.length > 0) send([{ kind: 'resync-started' }, ...messages, inSyncMessage()]);
      if (d.kind === 'list' && d.complete) checkInSync();
      void informer;
    },
    changed(informer: Informer) {
      const err = informer.lastError;
      const key = err ? `${err.code} ${err.message}` : undefined;
      if (key !== lastLogged.get(informer)) {
        lastLogged.set(informer, key);
        if (err) {
          const level = informer.state === 'absent' ? 'info' : err.code === 'K8S_TIMEOUT' ? 'warn' : 'error';
          const message = informer.state === 'absent' ? `${informer.resource.id} is not served by the API server: skipped (looked for again every ${Math.round(discoveryIntervalMs / 1000)} s)` : err.message;
          log({ level, resource: informer.resource.id, message, code: err.code });
        }
      }
      if (informer.state === 'absent' || informer.state === 'watching') checkInSync();
    },
    problem(p: SourceProblem) {
      counters['problems']!++;
      problems.push(p);
      if (problems.length > maxProblems) problems.splice(0, problems.length - maxProblems);
      log({ level: 'warn', message: `skipped ${p.where}: ${p.message}` });
    },
  };

  const interner = new Interner();
  const informers: Informer[] = wanted.map(
    (r) => new Informer(r, host, reducerFor(r, { autoHostEndpoints: options.autoHostEndpoints === true, fullMetadata: options.fullMetadata === true }, interner)),
  );

  /** Which wanted APIs the server serves (per group/version discovery). */
  async function discover(): Promise<Set<string>> {
    counters['discoveries']!++;
    const served = new Set<string>();
    const gvs = new Map<string, ApiResource>();
    for (const r of wanted) gvs.set(groupVersion(r), r);
    for (const [gv, r] of gvs) {
      let list: { resources?: { name?: string }[] };
      try {
        list = await client.request<{ resources?: { name?: string }[] }>('GET', groupVersionPath(r), { idleTimeoutMs: timing.requestIdleTimeoutMs });
      } catch (e) {
        if (e instanceof KubernetesError && e.code === 'K8S_NOT_FOUND' && r.group !== '') continue;
        throw e;
      }
      const names = new Set((list.resources ?? []).map((x) => x.name));
      for (const w of wanted) if (groupVersion(w) === gv && names.has(w.plural)) served.add(w.id);
    }
    return served;
  }

  const bootBackoff = createBackoff({ ...timing.backoff, random });
  async function bootstrap(): Promise<void> {
    if (closed) return;
    let served: Set<string>;
    try {
      served = await discover();
    } catch (e) {
      if (closed) return;
      counters['discoveryErrors']!++;
      discoveryError = e instanceof KubernetesError ? e : new KubernetesError('K8S_PROTOCOL', (e as Error).message, { cause: e });
      log({ level: 'error', message: `discovery failed: ${discoveryError.message}`, code: discoveryError.code });
      bootstrapTimer = setTimeout(() => void bootstrap(), bootBackoff.next());
      bootstrapTimer.unref();
      return;
    }
    if (closed) return;
    discoveryError = undefined;
    for (const inf of informers) {
      if (served.has(inf.resource.id)) inf.start();
      else {
        inf.state = 'absent';
        inf.lastError = new KubernetesError('K8S_NOT_FOUND', `${inf.resource.id} (${groupVersion(inf.resource)}) is not served`);
        host.changed(inf);
      }
    }
    bootstrapped = true;
    checkInSync();
    scheduleRediscovery();
  }

  function scheduleRediscovery(): void {
    if (closed || discoveryIntervalMs <= 0) return;
    discoveryTimer = setTimeout(() => {
      discoveryTimer = undefined;
      if (closed) return;
      const absent = informers.filter((i) => i.state === 'absent');
      if (absent.length === 0) {
        scheduleRediscovery();
        return;
      }
      discover().then(
        (served) => {
          for (const inf of absent) if (served.has(inf.resource.id) && inf.state === 'absent') inf.start();
          scheduleRediscovery();
        },
        () => {
          counters['discoveryErrors']!++;
          scheduleRediscovery();
        },
      );
    }, discoveryIntervalMs);
    discoveryTimer.unref();
  }

  const source: KubernetesSource = {
    name: 'kubernetes',
    async start(s: SourceSink) {
      if (started) throw new GinghamError('SOURCE_ALREADY_STARTED', 'a source is started once');
      if (closed) throw new GinghamError('SOURCE_CLOSED', 'the source is closed');
      started = true;
      sink = s;
      send([{ kind: 'resync-started' }]);
      void bootstrap();
    },
    status(): SourceStatus {
      const errors = [discoveryError, ...informers.map((i) => i.lastError)].filter((e): e is KubernetesError => e !== undefined);
      // Failed = refused right now (an informer backing off after 401/403, or discovery refused), not once in the past.
      const authFailed =
        (discoveryError !== undefined && AUTH_CODES.has(discoveryError.code)) || informers.some((i) => i.state === 'backoff' && i.lastError !== undefined && AUTH_CODES.has(i.lastError.code));
      const reconnecting = discoveryError !== undefined || informers.some((i) => i.state === 'backoff');
      const relisting = informers.some((i) => i.state === 'listing');
      const phase = closed ? 'stopped' : authFailed ? 'failed' : !everInSync || reconnecting ? 'waiting' : relisting ? 'resyncing' : 'in-sync';
      const sum: Record<string, number> = { ...counters };
      for (const inf of informers) for (const [k, v] of Object.entries(inf.counters)) sum[k] = (sum[k] ?? 0) + v;
      const lastError = errors.find((e) => e !== undefined && !(e.code === 'K8S_NOT_FOUND' && informers.some((i) => i.state === 'absent' && i.lastError === e)));
      const rv = revision();
      return {
        phase,
        connected: started && !closed && !reconnecting,
        ...(rv !== undefined ? { revision: rv } : {}),
        resources: informers.reduce((n, i) => n + i.store.resources, 0),
        problems: [...problems],
        ...(lastError ? { lastError: { code: lastError.code, message: lastError.message } } : {}),
        counters: sum,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of [discoveryTimer, bootstrapTimer]) if (t) clearTimeout(t);
      for (const inf of informers) inf.stop();
      client.close();
      for (const w of syncWaiters) w.reject(new GinghamError('SOURCE_CLOSED', 'the source was closed before it was in sync'));
      syncWaiters = [];
    },
    synced(timeoutMs?: number) {
      if (everInSync) return Promise.resolve();
      if (closed) return Promise.reject(new GinghamError('SOURCE_CLOSED', 'the source is closed'));
      return new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const waiter = {
          resolve: () => {
            if (timer) clearTimeout(timer);
            resolve();
          },
          reject: (e: unknown) => {
            if (timer) clearTimeout(timer);
            reject(e);
          },
        };
        syncWaiters.push(waiter);
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            syncWaiters = syncWaiters.filter((w) => w !== waiter);
            const st = source.status();
            const why = st.lastError ? `: ${st.lastError.message}` : '';
            reject(new KubernetesError(st.lastError?.code === 'K8S_UNAUTHORIZED' || st.lastError?.code === 'K8S_FORBIDDEN' ? st.lastError.code : 'K8S_TIMEOUT', `not in sync with ${client.server} after ${timeoutMs} ms${why}`));
          }, timeoutMs);
        }
      });
    },
    ready: () => source.status().phase === 'in-sync',
    informers(): InformerStatus[] {
      const now = performance.now();
      return informers.map((i) => ({
        resource: i.resource.id,
        apiVersion: groupVersion(i.resource),
        kind: i.resource.kind,
        state: i.state,
        synced: i.synced,
        resourceVersion: i.resourceVersion,
        objects: i.store.objects,
        resources: i.store.resources,
        ...(i.state === 'watching' || i.state === 'listing' ? { idleMs: Math.round(now - i.lastActivity) } : {}),
        ...(i.lastError ? { lastError: { code: i.lastError.code, message: i.lastError.message } } : {}),
        counters: { ...i.counters },
      }));
    },
    resources(): Resource[] {
      return informers.flatMap((i) => [...i.store.resourcesHeld()]);
    },
    resync() {
      for (const i of informers) i.relist();
    },
    async [Symbol.asyncDispose]() {
      await source.close();
    },
  };
  return source;
}
