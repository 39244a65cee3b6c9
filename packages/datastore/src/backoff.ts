/**
 * Jittered exponential backoff for reconnects and relists ("equal jitter": half the window
 * fixed, half random, so retries never spin and many agents never retry in lockstep), and a
 * sleep that a close can cut short.
 */

export interface BackoffOptions {
  /** First delay's window. Default 500 ms. */
  readonly initialMs?: number;
  /** Largest window. Default 30 s. */
  readonly maxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** For tests: a deterministic [0, 1) source. */
  readonly random?: () => number;
}

export interface Backoff {
  /** The next delay, and one more attempt counted. */
  next(): number;
  /** Back to the first delay (after a success). */
  reset(): void;
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  let attempts = 0;
  return {
    next() {
      const window = Math.min(max, initial * factor ** attempts);
      attempts++;
      return Math.round(window / 2 + random() * (window / 2));
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
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
