/**
 * Retry timing shared by every long-running part (datastore watches, the Kubernetes and
 * OpenStack sources, the agent's apply and publish loops): exponential backoff with jitter, so
 * retries never spin and a fleet that lost its server at once never returns in lockstep, and a
 * sleep that a close can cut short. `reset()` after the connection or apply has proven itself.
 */

export interface BackoffOptions {
  /** First delay's window. Default 500 ms. */
  readonly initialMs?: number;
  /** Largest window. Default 30 s. */
  readonly maxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Share of each window that is random (0…1). Default 0.5, "equal jitter": a window d gives d/2…d. */
  readonly jitter?: number;
  /** For tests: a deterministic [0, 1) source. */
  readonly random?: () => number;
}

export interface Backoff {
  /** The next delay, and one more attempt counted. */
  next(): number;
  /** Back to the first delay (after a success). */
  reset(): void;
  /** Attempts since the last reset. */
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const random = options.random ?? Math.random;
  let attempts = 0;
  return {
    next() {
      const window = Math.min(max, initial * factor ** attempts);
      attempts++;
      return Math.round(window * (1 - jitter) + window * jitter * random());
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}

/** `value` scaled by a random factor in [1 - spread, 1 + spread] (periods that must not align across hosts). */
export function jittered(value: number, spread: number, random: () => number = Math.random): number {
  return Math.round(value * (1 - spread + 2 * spread * random()));
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
