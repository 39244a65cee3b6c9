/**
 * The status bookkeeping both live sources share: phase, connection, revision, counters, the
 * last error, and the current problems (one per key or file, replaced when it changes, removed
 * when it is fixed or deleted, bounded). Every problem and error also goes to the logger.
 */
import type { Issue, SourcePhase, SourceProblem, SourceStatus } from '@gingham/core';

/** One log line from a source. */
export interface SourceLogEntry {
  readonly level: 'info' | 'warn' | 'error';
  /** Stable code: `INVALID_VALUE`, `WATCH_CANCELED`, `DISCONNECTED`, `RELIST`, … */
  readonly code: string;
  readonly message: string;
  /** The etcd key or file concerned. */
  readonly where?: string;
}

export type SourceLogger = (entry: SourceLogEntry) => void;

/** At most this many problems are kept (the counter `problemsDropped` counts the rest). */
export const MAX_PROBLEMS = 1000;

export class SourceBook {
  phase: SourcePhase = 'waiting';
  connected = false;
  revision: string | undefined;
  private lastError: { code: string; message: string; at: string } | undefined;
  private readonly counters: Record<string, number> = {};
  private readonly problems = new Map<string, SourceProblem>();

  constructor(private readonly log: SourceLogger | undefined) {}

  count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  /** Records the problem of `where` (replacing an older one) and logs it. */
  problem(where: string, code: string, message: string, issues?: readonly Issue[]): void {
    const had = this.problems.get(where);
    if (had?.message === message) return;
    this.problems.delete(where);
    if (this.problems.size >= MAX_PROBLEMS) {
      this.count('problemsDropped');
    } else {
      this.problems.set(where, issues && issues.length > 0 ? { where, message, issues } : { where, message });
    }
    this.count('invalid');
    this.log?.({ level: 'error', code, message: `${where}: ${message}`, where });
  }

  /** `where` is fine again (fixed or gone). */
  clearProblem(where: string): void {
    if (this.problems.delete(where)) this.log?.({ level: 'info', code: 'PROBLEM_CLEARED', message: `${where}: valid again or gone`, where });
  }

  /** Whether `where` has a problem now. */
  hasProblem(where: string): boolean {
    return this.problems.has(where);
  }

  /** Where there are problems now. */
  problemKeys(): string[] {
    return [...this.problems.keys()];
  }

  error(code: string, message: string, level: SourceLogEntry['level'] = 'warn'): void {
    this.lastError = { code, message, at: new Date().toISOString() };
    this.log?.({ level, code, message });
  }

  info(code: string, message: string): void {
    this.log?.({ level: 'info', code, message });
  }

  status(resources: number): SourceStatus {
    return {
      phase: this.phase,
      connected: this.connected,
      ...(this.revision === undefined ? {} : { revision: this.revision }),
      resources,
      problems: [...this.problems.values()],
      ...(this.lastError ? { lastError: { ...this.lastError } } : {}),
      counters: { ...this.counters },
    };
  }
}
