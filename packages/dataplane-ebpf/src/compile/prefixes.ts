/**
 * Interval functions to LPM entries. A piecewise-constant function over [0, 2^width) is written
 * as nested prefixes where a longer prefix overrides a shorter one (the trie's longest match),
 * not as disjoint prefixes: "Allow tcp/443, Deny everything else" is two entries, not ~40.
 * Each trie node takes the value covering most of it and is emitted only where it differs
 * from what its parent already says.
 */
export interface Segment<T> {
  readonly lo: number;
  readonly hi: number;
  readonly v: T;
  readonly key: string;
}

export interface PrefixEntry<T> {
  readonly bits: number;
  readonly value: number;
  readonly v: T;
}

/** Merges adjacent segments with equal keys (input sorted, contiguous). */
export function mergeSegments<T>(segs: readonly Segment<T>[]): Segment<T>[] {
  const out: Segment<T>[] = [];
  for (const s of segs) {
    const last = out[out.length - 1];
    if (last && last.key === s.key && last.hi + 1 === s.lo) out[out.length - 1] = { ...last, hi: s.hi };
    else out.push(s);
  }
  return out;
}

/** `segs`: sorted, contiguous, covering [0, 2^width). */
export function prefixEntries<T>(segs: readonly Segment<T>[], width: number): PrefixEntry<T>[] {
  const out: PrefixEntry<T>[] = [];
  const starts = segs.map((s) => s.lo);
  const find = (x: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= x) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const visit = (base: number, bits: number, inherited: string | undefined): void => {
    const size = 2 ** (width - bits);
    const end = base + size - 1;
    const first = find(base);
    const firstSeg = segs[first]!;
    if (firstSeg.hi >= end) {
      if (firstSeg.key !== inherited) out.push({ bits, value: base, v: firstSeg.v });
      return;
    }
    const weight = new Map<string, { n: number; v: T }>();
    for (let i = first; i < segs.length && segs[i]!.lo <= end; i++) {
      const s = segs[i]!;
      const n = Math.min(end, s.hi) - Math.max(base, s.lo) + 1;
      const w = weight.get(s.key);
      if (w) w.n += n;
      else weight.set(s.key, { n, v: s.v });
    }
    let bestKey = '';
    let best: { n: number; v: T } | undefined;
    for (const [k, w] of weight) {
      if (!best || w.n > best.n || (w.n === best.n && k === inherited)) {
        best = w;
        bestKey = k;
      }
    }
    if (bestKey !== inherited) out.push({ bits, value: base, v: best!.v });
    const half = size / 2;
    visit(base, bits + 1, bestKey);
    visit(base + half, bits + 1, bestKey);
  };
  visit(0, 0, undefined);
  return out;
}
