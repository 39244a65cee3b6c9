/**
 * One supervised informer (client-go's reflector, hardened against the failure modes users
 * report for the JavaScript client): list in pages, then watch from the list's
 * resourceVersion with bookmarks, keeping the reduced objects in an `ObjectStore`.
 *
 *        ┌────────────── 410 Gone (event or HTTP), periodic resync ─────────────┐
 *        ▼                                                                      │
 *   list (pages) ──▶ deletes for what vanished ──▶ watch from RV ──events──▶ store ──▶ messages
 *        ▲  │ 404 on an optional API: absent (rediscovered later)   │ graceful end: re-watch from RV
 *        │  ▼                                                       │ reset / error / stall
 *      backoff (exponential, jittered) ◀────────────────────────────┘ (idle watchdog)
 *
 * Rules it keeps:
 *   - exactly one request (list page or watch) in flight and at most one timer pending; every
 *     callback carries the generation it was started in and is ignored once superseded, so the
 *     abort of a stopped or replaced watch never restarts anything;
 *   - a reset connection, an error or a silent stall always leads back to a watch or a relist
 *     (the client's own informer stays dead after a reset);
 *   - after the first sync a relist is delivered as one batch (no half-listed world); during
 *     the source's first sync pages stream as they come;
 *   - backoff resets only when the connection proved itself (an event, a bookmark, a list).
 */
import type { SourceMessage, SourceProblem } from '@gingham/core';
import type { ApiClient, WatchEvent, WatchHandle } from '../api/http-client.js';
import { statusObjectError } from '../api/http-client.js';
import { collectionPath, isOptionalApi, type ApiResource } from '../api/resource-types.js';
import { isKubernetesError, KubernetesError } from '../errors.js';
import type { Reducer } from '../reduce/reduce.js';
import { createBackoff, jittered, type Backoff, type BackoffOptions } from '@gingham/host';
import { ObjectStore } from './object-store.js';

export interface InformerTiming {
  /** Items per list page (`limit`; default 500, as client-go). */
  readonly pageSize: number;
  /** `timeoutSeconds` of each watch, drawn from this range (default 300…600 s, as client-go). */
  readonly watchTimeoutSeconds: readonly [number, number];
  /** Restart a watch that delivered nothing (no event, no bookmark) for this long (default 180 s, ±10 %). */
  readonly maxIdleMs: number;
  /** How often the idle watchdog looks (default 15 s). */
  readonly watchdogIntervalMs: number;
  /** Relist and diff this often, ±10 % (default 30 min; 0 = never). */
  readonly resyncPeriodMs: number;
  /** Fail a list page when the connection is silent this long (default 60 s). */
  readonly requestIdleTimeoutMs: number;
  /** A watch ending gracefully sooner than this without an event is "short"; three in a row back off (default 1 s). */
  readonly shortWatchMs: number;
  readonly backoff: BackoffOptions;
}

export const DEFAULT_TIMING: InformerTiming = {
  pageSize: 500,
  watchTimeoutSeconds: [300, 600],
  maxIdleMs: 180_000,
  watchdogIntervalMs: 15_000,
  resyncPeriodMs: 1_800_000,
  requestIdleTimeoutMs: 60_000,
  shortWatchMs: 1000,
  backoff: { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.5 },
};

export type InformerState = 'idle' | 'absent' | 'listing' | 'watching' | 'backoff' | 'stopped';

export interface InformerCounters {
  lists: number;
  listPages: number;
  listRestarts: number;
  relists: number;
  resyncs: number;
  watches: number;
  events: number;
  bookmarks: number;
  gone: number;
  listErrors: number;
  watchErrors: number;
  watchdogRestarts: number;
  reconnects: number;
}

export interface Delivery {
  /** `list`: messages of a list (`complete` on its last delivery); `watch`: one watch event's. */
  readonly kind: 'list' | 'watch';
  readonly complete: boolean;
  /** The informer had never completed a list before this one. */
  readonly first: boolean;
}

/** What an informer needs from the source that runs it. */
export interface InformerHost {
  readonly client: ApiClient;
  readonly timing: InformerTiming;
  readonly random: () => number;
  now(): number;
  /** Whether list pages may be delivered as they come (the source has not been in sync yet). */
  streaming(): boolean;
  deliver(informer: Informer, messages: SourceMessage[], delivery: Delivery): void;
  /** State, error or counters changed. */
  changed(informer: Informer): void;
  problem(p: SourceProblem): void;
  /** Called as each watch event arrives (latency tracing). */
  trace?(resource: string, eventType: string): void;
}

type ListPage = { metadata?: { resourceVersion?: string; continue?: string }; items?: unknown };

export class Informer {
  state: InformerState = 'idle';
  /** A list has completed since the informer (re)started. */
  synced = false;
  /** The last resourceVersion seen (list, event or bookmark). */
  resourceVersion = '';
  /** When the last sign of life arrived (`now()` ms). */
  lastActivity = 0;
  lastError: KubernetesError | undefined;
  readonly counters: InformerCounters = {
    lists: 0,
    listPages: 0,
    listRestarts: 0,
    relists: 0,
    resyncs: 0,
    watches: 0,
    events: 0,
    bookmarks: 0,
    gone: 0,
    listErrors: 0,
    watchErrors: 0,
    watchdogRestarts: 0,
    reconnects: 0,
  };
  readonly store: ObjectStore;
  private gen = 0;
  private handle: WatchHandle | undefined;
  private retry: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private idleLimit: number;
  private watchStartedAt = 0;
  private eventsThisWatch = 0;
  private shortWatches = 0;
  private readonly path: string;

  constructor(
    readonly resource: ApiResource,
    private readonly host: InformerHost,
    reducer: Reducer,
  ) {
    this.store = new ObjectStore(resource.group === '' ? resource.kind : `${resource.kind}.${resource.group}`, reducer, (p) => host.problem(p));
    this.backoff = createBackoff({ ...host.timing.backoff, random: host.random });
    this.idleLimit = jittered(host.timing.maxIdleMs, 0.1, host.random);
    this.path = collectionPath(resource);
  }

  /** Starts (or, when absent, retries) listing and watching. */
  start(): void {
    if (this.state !== 'idle' && this.state !== 'absent') return;
    if (!this.watchdog) {
      this.watchdog = setInterval(() => this.tick(), this.host.timing.watchdogIntervalMs);
      this.watchdog.unref();
    }
    this.scheduleResync();
    void this.list('initial');
  }

  /** Stops for good: aborts the request in flight, clears timers; nothing is delivered afterwards. */
  stop(): void {
    this.gen++;
    this.state = 'stopped';
    this.abortWatch();
    for (const t of [this.retry, this.watchdog, this.resync]) if (t) clearTimeout(t);
    this.retry = this.watchdog = this.resync = undefined;
  }

  /** Relists now and diffs (as the periodic resync does). */
  relist(): void {
    if (this.state === 'watching' || this.state === 'backoff') void this.list('resync');
  }

  private setState(s: InformerState): void {
    this.state = s;
    this.host.changed(this);
  }

  private abortWatch(): void {
    const h = this.handle;
    this.handle = undefined;
    h?.abort();
  }

  private async list(reason: 'initial' | 'gone' | 'resync' | 'error' | 'api'): Promise<void> {
    const gen = ++this.gen;
    this.abortWatch();
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.counters.lists++;
    if (this.synced) this.counters.relists++;
    if (reason === 'resync') this.counters.resyncs++;
    this.setState('listing');
    const first = !this.synced;
    const epoch = this.store.beginList();
    const buffer: SourceMessage[] = [];
    let rv = '';
    let restarts = 0;
    const fetchPage = (cont: string | undefined): { cont: string | undefined; page: Promise<ListPage> } => {
      const page = this.host.client.request<ListPage>('GET', this.path, {
        query: { limit: this.host.timing.pageSize, continue: cont },
        idleTimeoutMs: this.host.timing.requestIdleTimeoutMs,
      });
      // Handled here too, so a prefetched page abandoned by a newer generation never rejects unobserved.
      page.catch(() => undefined);
      return { cont, page };
    };
    let pending = fetchPage(undefined);
    try {
      for (;;) {
        let page: ListPage;
        try {
          page = await pending.page;
        } catch (e) {
          // A continue token older than the server keeps: list again from the start (same epoch).
          if (gen === this.gen && pending.cont !== undefined && isKubernetesError(e, 'K8S_GONE') && restarts < 3) {
            restarts++;
            this.counters.listRestarts++;
            pending = fetchPage(undefined);
            continue;
          }
          throw e;
        }
        if (gen !== this.gen) return;
        if (!Array.isArray(page.items) || typeof page.metadata !== 'object' || page.metadata === null) {
          throw new KubernetesError('K8S_PROTOCOL', `list ${this.path}: the answer has no items or metadata`);
        }
        this.counters.listPages++;
        this.lastActivity = this.host.now();
        rv = page.metadata.resourceVersion ?? '';
        const cont = page.metadata.continue || undefined;
        // Ask for the next page before reducing this one: the server prepares it meanwhile.
        if (cont !== undefined) pending = fetchPage(cont);
        for (const item of page.items as Record<string, unknown>[]) {
          if (item && typeof item === 'object') this.store.upsert(item, buffer, epoch);
        }
        if (this.host.streaming() && buffer.length > 0) this.host.deliver(this, buffer.splice(0), { kind: 'list', complete: false, first });
        if (cont === undefined) break;
      }
    } catch (e) {
      if (gen !== this.gen) return;
      // What was read is real: deliver it (the sweep for vanished objects waits for a complete list).
      if (buffer.length > 0) this.host.deliver(this, buffer, { kind: 'list', complete: false, first });
      const err = e instanceof KubernetesError ? e : new KubernetesError('K8S_PROTOCOL', `list ${this.path}: ${(e as Error).message}`, { cause: e });
      this.counters.listErrors++;
      if (err.code === 'K8S_NOT_FOUND' && isOptionalApi(this.resource)) {
        this.goAbsent(err);
        return;
      }
      this.fail(err, 'list');
      return;
    }
    this.store.endList(epoch, buffer);
    this.resourceVersion = rv;
    this.synced = true;
    this.backoff.reset();
    this.lastError = undefined;
    this.host.deliver(this, buffer, { kind: 'list', complete: true, first });
    if (gen === this.gen) this.watch();
  }

  private watch(): void {
    const gen = ++this.gen;
    this.abortWatch();
    this.counters.watches++;
    this.watchStartedAt = this.lastActivity = this.host.now();
    this.eventsThisWatch = 0;
    this.setState('watching');
    const [lo, hi] = this.host.timing.watchTimeoutSeconds;
    const timeoutSeconds = Math.max(1, Math.floor(lo + (hi - lo) * this.host.random()));
    this.handle = this.host.client.watch(
      this.path,
      { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      {
        connected: () => {
          if (gen === this.gen) this.lastActivity = this.host.now();
        },
        event: (ev) => {
          if (gen === this.gen) this.onEvent(ev);
        },
        end: (err) => {
          if (gen !== this.gen) return;
          this.handle = undefined;
          this.onWatchEnd(err);
        },
      },
    );
  }

  private onEvent(ev: WatchEvent): void {
    this.host.trace?.(this.resource.id, ev.type);
    this.lastActivity = this.host.now();
    const meta = (ev.object['metadata'] ?? {}) as { resourceVersion?: unknown };
    const out: SourceMessage[] = [];
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.counters.events++;
        this.store.upsert(ev.object, out);
        break;
      case 'DELETED':
        this.counters.events++;
        this.store.remove(ev.object, out);
        break;
      case 'BOOKMARK':
        this.counters.bookmarks++;
        break;
      case 'ERROR': {
        const err = statusObjectError(ev.object, `watch ${this.path}`);
        this.abortWatch();
        if (err.code === 'K8S_GONE') {
          this.counters.gone++;
          void this.list('gone');
        } else {
          this.counters.watchErrors++;
          this.fail(err, 'watch');
        }
        return;
      }
      default:
        return;
    }
    this.eventsThisWatch++;
    if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '') this.resourceVersion = meta.resourceVersion;
    this.backoff.reset();
    this.shortWatches = 0;
    if (out.length > 0) this.host.deliver(this, out, { kind: 'watch', complete: true, first: false });
  }

  private onWatchEnd(err: KubernetesError | undefined): void {
    if (!err) {
      // The server ended the watch (its timeoutSeconds, a restart): resume from the last RV.
      const short = this.eventsThisWatch === 0 && this.host.now() - this.watchStartedAt < this.host.timing.shortWatchMs;
      this.shortWatches = short ? this.shortWatches + 1 : 0;
      if (this.shortWatches >= 3) {
        this.shortWatches = 0;
        this.counters.watchErrors++;
        this.fail(new KubernetesError('K8S_SERVER', `watch ${this.path}: the server ends every watch at once`), 'watch');
        return;
      }
      this.watch();
      return;
    }
    if (err.code === 'K8S_GONE') {
      this.counters.gone++;
      void this.list('gone');
      return;
    }
    this.counters.watchErrors++;
    if (err.code === 'K8S_NOT_FOUND') {
      // The API may have been removed: the list tells (absent) or fails.
      void this.list('api');
      return;
    }
    this.fail(err, 'watch');
  }

  private fail(err: KubernetesError, next: 'list' | 'watch'): void {
    this.lastError = err;
    const delay = this.backoff.next();
    this.setState('backoff');
    if (this.retry) clearTimeout(this.retry);
    const gen = this.gen;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (gen !== this.gen || this.state !== 'backoff') return;
      this.counters.reconnects++;
      if (next === 'list' || this.resourceVersion === '' || !this.synced) void this.list('error');
      else this.watch();
    }, delay);
    this.retry.unref();
  }

  private goAbsent(err: KubernetesError): void {
    const out: SourceMessage[] = [];
    this.store.clear(out);
    const first = !this.synced;
    this.synced = false;
    this.resourceVersion = '';
    this.lastError = err;
    this.setState('absent');
    this.host.deliver(this, out, { kind: 'list', complete: true, first });
  }

  private tick(): void {
    if (this.state !== 'watching') return;
    const idle = this.host.now() - this.lastActivity;
    if (idle <= this.idleLimit) return;
    this.counters.watchdogRestarts++;
    this.lastError = new KubernetesError('K8S_TIMEOUT', `watch ${this.path}: nothing (no event, no bookmark) for ${idle} ms; restarted from resourceVersion ${this.resourceVersion}`);
    this.idleLimit = jittered(this.host.timing.maxIdleMs, 0.1, this.host.random);
    this.watch();
  }

  private scheduleResync(): void {
    if (this.resync) clearTimeout(this.resync);
    const period = this.host.timing.resyncPeriodMs;
    if (period <= 0) return;
    this.resync = setTimeout(() => {
      this.resync = undefined;
      if (this.state === 'stopped') return;
      if (this.state === 'watching') void this.list('resync');
      this.scheduleResync();
    }, jittered(period, 0.1, this.host.random));
    this.resync.unref();
  }
}
