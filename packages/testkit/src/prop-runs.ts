/**
 * Sizing of property tests. Each property names the number of runs that keeps the whole
 * `npm test` comfortably inside its time limits on a busy 2-core machine; `GINGHAM_PROP_SCALE`
 * multiplies every such number for a deeper run (`GINGHAM_PROP_SCALE=10 npm run test:unit`).
 */

/** `runs` × `GINGHAM_PROP_SCALE` (default 1), at least 1. */
export function propRuns(runs: number): number {
  // testkit is platform-neutral: read the environment only where there is one.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const raw = env?.GINGHAM_PROP_SCALE;
  const scale = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`GINGHAM_PROP_SCALE must be a positive number, got "${raw}"`);
  return Math.max(1, Math.round(runs * scale));
}
