/**
 * The driver between the source and the dataplane (Felix's calc graph → int_dataplane loop):
 * source batches go into the Engine at once; the Engine is flushed into the dataplane
 *
 *   - never before the source's first in-sync, and never while it relists (a half-listed world
 *     must not reach the kernel: the first flush ends in `in-sync`, after which a dataplane may
 *     remove whatever the stream did not mention);
 *   - at once when idle (on the next turn of the event loop, so batches that arrived together are
 *     one apply) — no timer adds latency to a lone update;
 *   - while an apply runs, what arrives is coalesced in the Engine and flushed as one batch right
 *     after it;
 *   - after a failed apply, again after a jittered, doubling delay: the dataplane keeps the state
 *     it was given and converges on the retry (an empty batch if nothing new came), so the kernel
 *     keeps its last good state meanwhile (both dataplanes fail closed).
 *
 * A batch the dataplane refuses as breaking its contract means the two views diverged (a bug);
 * the loop stops and reports it as fatal, so the process is restarted and rebuilds from a
 * fresh list. It never clears enforcement itself.
 */
import { applySourceMessages, createEngine, type DataplaneMessage, type Engine, type EngineStats, type SourceMessage } from '@gingham/core';
import { createBackoff, type Backoff } from '@gingham/host';
import type { AgentDataplane, InterfaceChange } from './dataplane-adapter.js';

/** What one apply did. */
const MAX_REPORTED_CHANGES = 256;

export interface ApplyRecord {
  /** ISO 8601 time the apply finished. */
  readonly at: string;
  readonly durationMs: number;
  /** Messages sent to the dataplane (0 for a retry or an interface re-check alone). */
  readonly messages: number;
  /** Message counts by kind (`policy-upsert: 2`, …). */
  readonly changes: Readonly<Record<string, number>>;
  /** This apply retried a failed one. */
  readonly retry: boolean;
  /** Interfaces were re-checked (rtnetlink reported a change). */
  readonly interfaceSync: boolean;
}

export interface ApplyFailure {
  readonly at: string;
  readonly code: string;
  readonly message: string;
  /** Consecutive failures so far. */
  readonly attempts: number;
  /** When the next attempt runs (ms from `at`). */
  readonly retryInMs: number;
}

export interface ApplyLoopHooks {
  /** Source messages went into the Engine, taking `ms`. */
  onCalcGraph?(ms: number, messages: number): void;
  onApplied?(record: ApplyRecord): void;
  onFailed?(failure: ApplyFailure, error: unknown): void;
  /** The loop has stopped for good (a contract violation). */
  onFatal?(error: unknown): void;
  /** The source started or finished a (re)list. */
  onResync?(phase: 'started' | 'in-sync'): void;
}

export interface ApplyLoopOptions {
  readonly node: string;
  readonly dataplane: AgentDataplane;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly hooks?: ApplyLoopHooks;
  readonly random?: () => number;
}

export type SyncState = 'wait-for-datastore' | 'resync' | 'in-sync';

export class ApplyLoop {
  readonly engine: Engine;
  private readonly dataplane: AgentDataplane;
  private readonly hooks: ApplyLoopHooks;
  private readonly backoff: Backoff;
  private everSynced = false;
  private resyncing = false;
  private scheduled = false;
  private running = false;
  private runStartedAt: number | undefined;
  private dirty = false;
  /** A re-check is due: of what changed, or of every hook (`full`, the periodic safety net). */
  private interfaceSyncWanted: false | 'changed' | 'full' = false;
  /** With `changed`: every interface reported since (undefined: any may have changed, check all). */
  private interfaceChanges: InterfaceChange[] | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private captured: readonly DataplaneMessage[] | undefined;
  private idle: (() => void)[] = [];
  private appliedWaiters: ((record: ApplyRecord) => void)[] = [];
  failure: ApplyFailure | undefined;
  fatal: unknown;
  lastApply: ApplyRecord | undefined;
  firstAppliedAt: string | undefined;
  applies = 0;
  failures = 0;
  /** Source messages taken into the Engine. */
  updates = 0;
  /** Resyncs the source started. */
  resyncs = 0;

  constructor(options: ApplyLoopOptions) {
    this.dataplane = options.dataplane;
    this.hooks = options.hooks ?? {};
    this.backoff = createBackoff({ initialMs: options.retryInitialMs, maxMs: options.retryMaxMs, random: options.random });
    this.engine = createEngine({
      node: options.node,
      dataplane: {
        apply: (messages) => {
          this.captured = messages;
          return this.dataplane.apply(messages);
        },
      },
    });
  }

  /** Where the source is, as Felix's `resync_state`. */
  get syncState(): SyncState {
    return !this.everSynced ? 'wait-for-datastore' : this.resyncing ? 'resync' : 'in-sync';
  }

  /** The first complete sync has been applied and the last apply did not fail. */
  get applied(): boolean {
    return this.firstAppliedAt !== undefined && this.failure === undefined && this.fatal === undefined;
  }

  /** Milliseconds the apply in progress has been running (undefined when idle). */
  runningForMs(): number | undefined {
    return this.runStartedAt === undefined ? undefined : performance.now() - this.runStartedAt;
  }

  stats(): EngineStats {
    return this.engine.state();
  }

  /** One batch from the source (the `SourceSink`). */
  onSourceMessages(messages: readonly SourceMessage[]): void {
    if (this.stopped) return;
    for (const m of messages) {
      if (m.kind === 'resync-started') {
        this.resyncing = true;
        this.resyncs++;
        this.hooks.onResync?.('started');
      } else if (m.kind === 'in-sync') {
        this.resyncing = false;
        this.everSynced = true;
        this.hooks.onResync?.('in-sync');
      }
    }
    const t0 = performance.now();
    applySourceMessages(this.engine, messages);
    this.updates += messages.length;
    this.hooks.onCalcGraph?.(performance.now() - t0, messages.length);
    this.kick();
  }

  /**
   * rtnetlink reported a link or address change: re-check interfaces with the next apply. `full`
   * (the periodic safety net, or after lost events): every hook, not only what changed.
   * `changed`: the interface the event named; the re-check may then look at the reported
   * interfaces alone, as long as every request since the last re-check named one.
   */
  requestInterfaceSync(full = false, changed?: InterfaceChange): void {
    if (this.stopped) return;
    if (full) {
      this.interfaceSyncWanted = 'full';
      this.interfaceChanges = undefined;
    } else if (this.interfaceSyncWanted === false) {
      this.interfaceSyncWanted = 'changed';
      this.interfaceChanges = changed ? [changed] : undefined;
    } else if (this.interfaceSyncWanted === 'changed' && this.interfaceChanges) {
      // Past a few hundred reports, one look at every interface is as cheap.
      if (changed && this.interfaceChanges.length < MAX_REPORTED_CHANGES) this.interfaceChanges.push(changed);
      else this.interfaceChanges = undefined;
    }
    this.kick();
  }

  /** Resolves when nothing is scheduled or running (tests, benchmarks, shutdown). */
  whenIdle(): Promise<void> {
    if (!this.running && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Resolves with the record of the next successful apply (tests, benchmarks: an event to wait
   * on instead of polling `applies`, which would keep the event loop and a core busy).
   */
  nextApply(): Promise<ApplyRecord> {
    return new Promise((resolve) => this.appliedWaiters.push(resolve));
  }

  /** Stops applying (what is running finishes); the kernel keeps what was applied. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.scheduled = false;
    if (this.running) await new Promise<void>((resolve) => this.idle.push(resolve));
    this.settle();
  }

  private kick(): void {
    if (this.stopped || this.fatal !== undefined || !this.everSynced || this.resyncing || this.retryTimer) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private settle(): void {
    if (this.running || this.scheduled) return;
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return this.settle();
    this.running = true;
    this.runStartedAt = performance.now();
    try {
      do {
        this.dirty = false;
        await this.once();
      } while (this.dirty && !this.stopped && this.failure === undefined && this.fatal === undefined && !this.resyncing);
    } finally {
      this.running = false;
      this.runStartedAt = undefined;
      this.settle();
    }
  }

  private async once(): Promise<void> {
    const t0 = performance.now();
    const retry = this.failure !== undefined;
    const sync = this.interfaceSyncWanted;
    const changed = sync === 'changed' ? this.interfaceChanges : undefined;
    this.interfaceSyncWanted = false;
    this.interfaceChanges = undefined;
    this.captured = undefined;
    try {
      await this.engine.flush();
      const batch = this.captured as readonly DataplaneMessage[] | undefined;
      // A retry with nothing new still re-applies: the dataplane converges to the state it holds.
      if (!batch && retry) await this.dataplane.apply([]);
      if (sync) await this.dataplane.syncInterfaces(sync === 'full' ? { full: true } : changed ? { changed } : {});
      if (!batch && !retry && !sync) return;
      const changes: Record<string, number> = {};
      for (const m of batch ?? []) changes[m.kind] = (changes[m.kind] ?? 0) + 1;
      const record: ApplyRecord = { at: new Date().toISOString(), durationMs: performance.now() - t0, messages: batch?.length ?? 0, changes, retry, interfaceSync: sync !== false };
      this.lastApply = record;
      this.applies++;
      this.firstAppliedAt ??= record.at;
      this.failure = undefined;
      this.backoff.reset();
      this.hooks.onApplied?.(record);
      if (this.appliedWaiters.length > 0) {
        const waiting = this.appliedWaiters;
        this.appliedWaiters = [];
        for (const resolve of waiting) resolve(record);
      }
    } catch (error) {
      // Retried whole: what failed is not known, so the retry checks every interface.
      // (Read through a function: `once()` set the field to false above, as far as tsc can tell.)
      const wanted = (): false | 'changed' | 'full' => this.interfaceSyncWanted;
      if (sync === 'full' || (sync && wanted() !== 'full')) {
        this.interfaceSyncWanted = sync;
        this.interfaceChanges = undefined;
      }
      if (this.dataplane.isContractViolation(error)) {
        this.fatal = error;
        this.stopped = true;
        this.hooks.onFatal?.(error);
        return;
      }
      this.failures++;
      const delay = this.backoff.next();
      const failure: ApplyFailure = {
        at: new Date().toISOString(),
        code: typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'APPLY_FAILED',
        message: (error as Error).message ?? String(error),
        attempts: this.backoff.attempts,
        retryInMs: delay,
      };
      this.failure = failure;
      this.hooks.onFailed?.(failure, error);
      if (!this.stopped) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, delay);
      }
    }
  }
}
