/**
 * Retry delays for a failed apply: doubling from `initialMs` to `maxMs`, with equal jitter (half
 * fixed, half random) so a fleet of agents never retries in lockstep.
 */
export interface Backoff {
  next(): number;
  reset(): void;
  readonly attempts: number;
}

export function createBackoff(initialMs: number, maxMs: number, random: () => number = Math.random): Backoff {
  let attempts = 0;
  return {
    next() {
      const window = Math.min(maxMs, initialMs * 2 ** attempts);
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
