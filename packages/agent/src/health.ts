/**
 * Felix's health aggregator: each component registers a named reporter with its own readiness
 * and liveness timeouts and reports as it works; the agent is ready when every reporter says
 * ready and live when every reporter says live. A reporter that has not reported within its
 * timeout counts as not ready (or not live): a silently stalled component turns the node unready
 * (or gets the process restarted) instead of going unnoticed. Pure bookkeeping: the caller
 * passes the time.
 */

export interface ReporterOptions {
  /** Not ready when the last report is older than this (undefined: a report never goes stale for readiness). */
  readonly readinessTimeoutMs?: number;
  /** Not live when the last report is older than this. */
  readonly livenessTimeoutMs?: number;
}

export interface HealthReport {
  readonly ready: boolean;
  readonly live: boolean;
  /** Why, in a few words (shown by /readyz and `agent status`). */
  readonly detail?: string;
}

export interface ReporterSummary extends HealthReport {
  readonly name: string;
  /** Milliseconds since the last report (undefined: never reported). */
  readonly ageMs?: number;
}

export interface HealthSummary {
  readonly ready: boolean;
  readonly live: boolean;
  readonly reporters: readonly ReporterSummary[];
}

export interface Reporter {
  report(report: HealthReport): void;
}

export class HealthAggregator {
  private readonly reporters = new Map<string, { options: ReporterOptions; last?: HealthReport; at?: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  register(name: string, options: ReporterOptions = {}): Reporter {
    const entry: { options: ReporterOptions; last?: HealthReport; at?: number } = { options };
    this.reporters.set(name, entry);
    return {
      report: (report) => {
        entry.last = report;
        entry.at = this.now();
      },
    };
  }

  summary(): HealthSummary {
    const now = this.now();
    const reporters: ReporterSummary[] = [];
    for (const [name, e] of this.reporters) {
      if (!e.last || e.at === undefined) {
        reporters.push({ name, ready: false, live: true, detail: 'has not reported yet' });
        continue;
      }
      const ageMs = Math.round(now - e.at);
      const staleReady = e.options.readinessTimeoutMs !== undefined && ageMs > e.options.readinessTimeoutMs;
      const staleLive = e.options.livenessTimeoutMs !== undefined && ageMs > e.options.livenessTimeoutMs;
      const stale = staleReady || staleLive ? `no report for ${Math.round(ageMs / 1000)} s` : undefined;
      reporters.push({
        name,
        ready: e.last.ready && !staleReady,
        live: e.last.live && !staleLive,
        ageMs,
        ...(stale ? { detail: e.last.detail ? `${stale} (last: ${e.last.detail})` : stale } : e.last.detail ? { detail: e.last.detail } : {}),
      });
    }
    return { ready: reporters.every((r) => r.ready), live: reporters.every((r) => r.live), reporters };
  }
}
