/**
 * Where a latency sample's time went, for the agent bench's tail rows: the garbage collections
 * (`gc` performance entries) and the event loop's blocking (`monitorEventLoopDelay`) that fall
 * inside a window of `performance.now()` time. It only observes: nothing here runs on the
 * measured path beyond the observer's own bookkeeping (one entry per GC, read after the sample).
 */
import { constants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';

interface GcSpan {
  readonly start: number;
  readonly end: number;
  /** Mark-compact (a major GC), a scavenge (minor), or an incremental marking step or weak callbacks. */
  readonly kind: 'major' | 'minor' | 'other';
}

export interface WindowCost {
  /** GC time (ms) overlapping the window, all kinds. */
  readonly gcMs: number;
  /** Of it, major (mark-compact) GCs. */
  readonly majorGcMs: number;
  /** Of it, scavenges. */
  readonly minorGcMs: number;
}

export interface TailTrace {
  /** GC time overlapping [from, to] (performance.now() ms). Entries arrive asynchronously: read after the window. */
  cost(from: number, to: number): WindowCost;
  /** Starts a window of event-loop delay: resets the histogram. */
  loopReset(): void;
  /** The longest event-loop delay (ms) since `loopReset`, less the 1 ms resolution. */
  loopMaxMs(): number;
  /**
   * Lets the last window's records arrive: GC entries are delivered asynchronously, and a block
   * that just ended is recorded only when the delay monitor's timer runs after it. Call before
   * `cost` and `loopMaxMs`.
   */
  flush(): Promise<void>;
  close(): void;
}

export function createTailTrace(): TailTrace {
  const spans: GcSpan[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      const k = kind === constants.NODE_PERFORMANCE_GC_MAJOR ? 'major' : kind === constants.NODE_PERFORMANCE_GC_MINOR ? 'minor' : 'other';
      spans.push({ start: e.startTime, end: e.startTime + e.duration, kind: k });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  return {
    cost(from, to) {
      let gcMs = 0;
      let majorGcMs = 0;
      let minorGcMs = 0;
      for (let i = spans.length - 1; i >= 0; i--) {
        const s = spans[i]!;
        if (s.end < from - 1000) break;
        const overlap = Math.max(0, Math.min(to, s.end) - Math.max(from, s.start));
        gcMs += overlap;
        if (s.kind === 'major') majorGcMs += overlap;
        else if (s.kind === 'minor') minorGcMs += overlap;
      }
      return { gcMs, majorGcMs, minorGcMs };
    },
    loopReset: () => delay.reset(),
    loopMaxMs: () => Math.max(0, delay.max / 1e6 - 1),
    flush: () => new Promise((r) => setTimeout(r, 2)),
    close() {
      observer.disconnect();
      delay.disable();
    },
  };
}
