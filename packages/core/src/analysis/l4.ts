/**
 * The layer-4 space of the analysis, cut into atoms. Per protocol there is a grid of two
 * dimensions: (source port × destination port) for TCP, UDP, SCTP and UDPLite, (type × code) for
 * ICMP and ICMPv6, and a single cell for every other protocol. A grid lists the first value of
 * each atom; every value of an atom is treated alike by every rule that cut the grid, so one
 * representative (the atom's first value) stands for all of them.
 *
 * An `L4Map` holds one value per cell of such grids (a direction's decision, a change). Maps cut
 * differently are combined on the union of their cuts. Pure data; nothing here evaluates policy.
 */

/** Protocols whose packets carry ports (as `evaluate()` matches them). */
export const PORT_PROTOCOLS: readonly number[] = [6, 17, 132, 136];
/** Protocols whose flows carry an ICMP type and code. */
export const ICMP_PROTOCOLS: readonly number[] = [1, 58];
export const PORT_MIN = 1;
export const PORT_MAX = 65535;
export const ICMP_MAX = 255;

export type ProtocolShape = 'ports' | 'icmp' | 'none';

export function protocolShape(protocol: number): ProtocolShape {
  if (protocol === 6 || protocol === 17 || protocol === 132 || protocol === 136) return 'ports';
  if (protocol === 1 || protocol === 58) return 'icmp';
  return 'none';
}

/** The protocols an analysis enumerates: the common ones, every one a rule names, and one for "any other". */
export interface ProtocolUniverse {
  /** Ascending; includes `other` when there is one. */
  readonly protocols: readonly number[];
  /** A protocol no rule names: stands for every protocol not listed (undefined if all 256 are named). */
  readonly other: number | undefined;
  /** Every listed protocol except `other` (what "any other protocol" excludes). */
  readonly named: readonly number[];
}

export function protocolUniverse(namedByRules: Iterable<number>): ProtocolUniverse {
  const named = new Set<number>([...PORT_PROTOCOLS, ...ICMP_PROTOCOLS]);
  for (const p of namedByRules) named.add(p);
  let other: number | undefined;
  for (let i = 0; i < 256 && other === undefined; i++) {
    const candidate = (i + 2) % 256; // prefer 2 (IGMP) over 0 as the stand-in
    if (!named.has(candidate)) other = candidate;
  }
  const list = [...named].sort((a, b) => a - b);
  return { protocols: other === undefined ? list : [...list, other].sort((a, b) => a - b), other, named: list };
}

function domain(shape: ProtocolShape): { min: number; max: number } {
  if (shape === 'ports') return { min: PORT_MIN, max: PORT_MAX };
  if (shape === 'icmp') return { min: 0, max: ICMP_MAX };
  return { min: 0, max: 0 };
}

/** Cut points of one protocol, per dimension (`a`: source port / ICMP type, `b`: destination port / ICMP code). */
export interface ProtocolCuts {
  readonly a: Set<number>;
  readonly b: Set<number>;
}

/** Cut points per protocol (index into the universe's `protocols`). */
export class CutSet {
  readonly byProtocol: ProtocolCuts[];

  constructor(readonly universe: ProtocolUniverse) {
    this.byProtocol = universe.protocols.map(() => ({ a: new Set<number>(), b: new Set<number>() }));
  }

  /** Cuts an inclusive range on one dimension of the protocols given (all of a shape when `protocol` is undefined). */
  addRange(dim: 'a' | 'b', min: number, max: number, shape: ProtocolShape, protocol?: number): void {
    const { min: lo, max: hi } = domain(shape);
    this.universe.protocols.forEach((p, i) => {
      if (protocolShape(p) !== shape) return;
      if (protocol !== undefined && p !== protocol) return;
      const cuts = this.byProtocol[i]![dim];
      if (min > lo && min <= hi) cuts.add(min);
      if (max + 1 > lo && max + 1 <= hi) cuts.add(max + 1);
    });
  }

  addAll(other: CutSet): void {
    other.byProtocol.forEach((c, i) => {
      for (const v of c.a) this.byProtocol[i]!.a.add(v);
      for (const v of c.b) this.byProtocol[i]!.b.add(v);
    });
  }

  /** The grids these cuts make (each dimension starts at its domain minimum). */
  grids(): Grid[] {
    return this.universe.protocols.map((p, i) => {
      const { min } = domain(protocolShape(p));
      const c = this.byProtocol[i]!;
      return { protocol: p, a: sortedStarts(min, c.a), b: sortedStarts(min, c.b) };
    });
  }
}

function sortedStarts(min: number, cuts: ReadonlySet<number>): number[] {
  const out = [min];
  for (const v of [...cuts].sort((x, y) => x - y)) if (v > min) out.push(v);
  return out;
}

/** One protocol's atoms: atom `i` of a dimension is `[a[i], a[i+1] - 1]` (the last ends at the domain maximum). */
export interface Grid {
  readonly protocol: number;
  readonly a: readonly number[];
  readonly b: readonly number[];
}

/** One value per cell, per protocol: `values[p][i * grid.b.length + j]`. */
export interface L4Map<T> {
  readonly grids: readonly Grid[];
  readonly values: readonly (readonly T[])[];
}

/** The last value of an atom that starts at `starts[i]`. */
export function atomEnd(grid: Grid, dim: 'a' | 'b', i: number): number {
  const starts = grid[dim];
  if (i + 1 < starts.length) return starts[i + 1]! - 1;
  return domain(protocolShape(grid.protocol)).max;
}

/** Builds a map by calling `cell` once per cell (with the cell's representative values). */
export function fillMap<T>(grids: readonly Grid[], cell: (protocol: number, a: number, b: number) => T): L4Map<T> {
  return {
    grids,
    values: grids.map((g) => {
      const out: T[] = [];
      for (const a of g.a) for (const b of g.b) out.push(cell(g.protocol, a, b));
      return out;
    }),
  };
}

/** A map with one value everywhere (one cell per protocol). */
export function constantMap<T>(universe: ProtocolUniverse, value: T): L4Map<T> {
  const grids = universe.protocols.map((p) => {
    const { min } = domain(protocolShape(p));
    return { protocol: p, a: [min], b: [min] };
  });
  return { grids, values: grids.map(() => [value]) };
}

function mergeStarts(lists: readonly (readonly number[])[]): number[] {
  if (lists.length === 1) return lists[0] as number[];
  let same = true;
  for (let i = 1; i < lists.length && same; i++) same = lists[i] === lists[0] || arraysEqual(lists[i]!, lists[0]!);
  if (same) return lists[0] as number[];
  const set = new Set<number>();
  for (const l of lists) for (const v of l) set.add(v);
  return [...set].sort((x, y) => x - y);
}

function arraysEqual(x: readonly number[], y: readonly number[]): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** For each merged start, the index of the atom of `starts` that contains it. */
function projection(merged: readonly number[], starts: readonly number[]): number[] {
  const out: number[] = [];
  let j = 0;
  for (const v of merged) {
    while (j + 1 < starts.length && starts[j + 1]! <= v) j++;
    out.push(j);
  }
  return out;
}

/**
 * Combines maps cell by cell on the union of their cuts: `fn` gets each map's value for the
 * cell (in the order given). All maps must come from the same protocol universe.
 */
export function combineMaps<R>(maps: readonly L4Map<unknown>[], fn: (values: readonly unknown[]) => R): L4Map<R> {
  const first = maps[0]!;
  const grids: Grid[] = [];
  const values: R[][] = [];
  first.grids.forEach((g0, p) => {
    const a = mergeStarts(maps.map((m) => m.grids[p]!.a));
    const b = mergeStarts(maps.map((m) => m.grids[p]!.b));
    const pa = maps.map((m) => projection(a, m.grids[p]!.a));
    const pb = maps.map((m) => projection(b, m.grids[p]!.b));
    const out: R[] = [];
    const args: unknown[] = new Array(maps.length);
    for (let i = 0; i < a.length; i++) {
      for (let j = 0; j < b.length; j++) {
        for (let k = 0; k < maps.length; k++) {
          const m = maps[k]!;
          args[k] = m.values[p]![pa[k]![i]! * m.grids[p]!.b.length + pb[k]![j]!];
        }
        out.push(fn(args));
      }
    }
    grids.push({ protocol: g0.protocol, a, b });
    values.push(out);
  });
  return { grids, values };
}

/** Whether any cell satisfies `test`. */
export function someCell<T>(map: L4Map<T>, test: (value: T) => boolean): boolean {
  return map.values.some((vs) => vs.some(test));
}

/** An inclusive range of ports, ICMP types or codes. */
export interface ValueRange {
  readonly from: number;
  readonly to: number;
}

/** Adjacent or overlapping ranges merged, ascending. */
export function mergeRanges(ranges: readonly ValueRange[]): ValueRange[] {
  const sorted = [...ranges].sort((x, y) => x.from - y.from);
  const out: { from: number; to: number }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}

/**
 * The cells of one protocol's grid holding values with the same `key`, as boxes: each box is a
 * set of `a` ranges × a set of `b` ranges. Rows (a atoms) with the same `b` ranges are merged.
 */
export function boxesOf<T>(grid: Grid, values: readonly T[], key: (value: T) => string | undefined): Map<string, { a: ValueRange[]; b: ValueRange[]; sample: T }[]> {
  const rows = new Map<string, Map<string, { a: ValueRange[]; b: ValueRange[]; sample: T }>>();
  for (let i = 0; i < grid.a.length; i++) {
    const aRange = { from: grid.a[i]!, to: atomEnd(grid, 'a', i) };
    const byKey = new Map<string, { b: ValueRange[]; sample: T }>();
    for (let j = 0; j < grid.b.length; j++) {
      const v = values[i * grid.b.length + j]!;
      const k = key(v);
      if (k === undefined) continue;
      let entry = byKey.get(k);
      if (!entry) byKey.set(k, (entry = { b: [], sample: v }));
      entry.b.push({ from: grid.b[j]!, to: atomEnd(grid, 'b', j) });
    }
    for (const [k, { b, sample }] of byKey) {
      const merged = mergeRanges(b);
      const bKey = merged.map((r) => `${r.from}-${r.to}`).join(',');
      let perKey = rows.get(k);
      if (!perKey) rows.set(k, (perKey = new Map()));
      const box = perKey.get(bKey);
      if (box) box.a.push(aRange);
      else perKey.set(bKey, { a: [aRange], b: merged, sample });
    }
  }
  const out = new Map<string, { a: ValueRange[]; b: ValueRange[]; sample: T }[]>();
  for (const [k, perKey] of rows) out.set(k, [...perKey.values()].map((box) => ({ ...box, a: mergeRanges(box.a) })));
  return out;
}
