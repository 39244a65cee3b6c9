/**
 * Exponential backoff with jitter for reconnects: `initialMs · factor^n`, capped at `maxMs`,
 * then a random point in the upper `jitter` share of it, so a thousand agents that lost the
 * API server at once do not return in step. `reset()` after the connection has proven itself
 * (an event, a bookmark, a completed list), never on a bare connect.
 */

export interface BackoffOptions {
  /** First delay (default 1000 ms). */
  readonly initialMs?: number;
  /** Largest delay (default 30 000 ms). */
  readonly maxMs?: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /** Share of each delay that is random (0…1, default 0.5: a delay d becomes d/2…d). */
  readonly jitter?: number;
}

export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = options.initialMs ?? 1000;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  }

  /** The delay before the next attempt (and counts one more failure). */
  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * this.factor ** this.failures);
    this.failures++;
    return Math.round(d * (1 - this.jitter) + d * this.jitter * this.random());
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}

/** `value` scaled by a random factor in [1 - spread, 1 + spread]. */
export function jittered(value: number, spread: number, random: () => number = Math.random): number {
  return Math.round(value * (1 - spread + 2 * spread * random()));
}
