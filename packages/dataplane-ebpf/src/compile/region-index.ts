/**
 * The peer regions of `classes.ts`, kept between compiles so that a change costs work in
 * proportion to what changed: the index remembers, per source (a referenced `s:<set>` key, a
 * named-port set `np:<set>`, an `n:<cidr>` key), the member texts it contributed, and per prefix
 * (an atom) how many members put each condition there. A compile diffs only the sources that
 * appeared, went away, or whose set may have changed (`dirtySets`; every set when unknown), and
 * recomputes the regions of the prefixes whose conditions changed and of their descendants.
 *
 * It must always give exactly what `computeRegions` gives for the same state and keys (the
 * specification, property-tested), and never modify a previous index: a new index shares the
 * unchanged snapshots and atoms with it.
 */
import type { DataplaneState } from '@gingham/core';
import { LayeredMap } from './layered-map.js';
import { IdRegion, idFamily, memberPrefix, type Region, sigConds, signature } from './classes.js';
import { parseNamedMember } from './program.js';

interface Atom {
  readonly prefix: number;
  /** Condition key -> how many members of the referenced sources put it at this prefix. */
  readonly conds: ReadonlyMap<string, number>;
}

export interface RegionIndex {
  /**
   * Source -> the member texts it contributed (`n:` sources: the CIDR itself), as a persistent
   * map (`LayeredMap`) so that a set's few changed members cost O(those) to record.
   */
  readonly sources: ReadonlyMap<string, ReadonlyMap<string, true>>;
  /** Prefix id -> atom (the two family roots are always present). */
  readonly atoms: ReadonlyMap<string, Atom>;
  /** Prefix id -> region, as `computeRegions` returns them. */
  readonly regions: ReadonlyMap<string, Region>;
}

export interface RegionUpdate {
  readonly index: RegionIndex;
  /** Region ids added, removed, or whose signature changed. */
  readonly changed: readonly string[];
}

/** The prefix ids of the two family roots. */
const ROOTS: readonly string[] = ['4/', '6/'];
const NO_MEMBERS: ReadonlySet<string> = new Set();

/**
 * Shared condition maps of the atoms one member of one source put there (`cond` -> 1): nearly
 * every host prefix (100k at 100k endpoints) has exactly that, and a Map each is ~250 bytes.
 * An atom's map is never modified once stored (an update copies it), so atoms can share these.
 * A pure function's cache, bounded like the parse cache.
 */
const singles = new Map<string, ReadonlyMap<string, number>>();
const SINGLES_MAX = 1 << 14;

function interned(conds: Map<string, number>): ReadonlyMap<string, number> {
  if (conds.size !== 1) return conds;
  for (const [k, n] of conds) if (n === 1) return single(k, conds);
  return conds;
}

/** The shared `cond -> 1` map (`own`, when given, is that map already built). */
function single(cond: string, own?: Map<string, number>): ReadonlyMap<string, number> {
  let m = singles.get(cond);
  if (m === undefined) {
    if (singles.size >= SINGLES_MAX) singles.clear();
    singles.set(cond, (m = own ?? new Map([[cond, 1]])));
  }
  return m;
}

/**
 * What an update moves at one prefix: the first condition and its count inline (a first fill
 * puts one condition at each of 100k host prefixes: no map each), any others in `more`.
 */
interface Delta {
  readonly prefix: number;
  cond: string | undefined;
  n: number;
  more: Map<string, number> | undefined;
}

/** The delta's counts as a fresh map. */
function deltaConds(d: Delta): Map<string, number> {
  const m = new Map<string, number>();
  if (d.cond !== undefined) m.set(d.cond, d.n);
  if (d.more) for (const [k, n] of d.more) m.set(k, n);
  return m;
}

/** A persistent snapshot of `members`. */
function snapshot(members: Iterable<string>): LayeredMap<string, true> {
  const m = LayeredMap.over(new Map<string, true>());
  for (const x of members) m.set(x, true);
  return m;
}
/** Above this share of dirty prefixes, every region is recomputed in one sorted pass. */
const FULL_PASS_SHARE = 0.25;

/** No sources, no regions: the first update adds the two family roots. */
export function emptyRegionIndex(): RegionIndex {
  return { sources: new Map(), atoms: new Map(), regions: new Map() };
}

/** The prefix and condition key a member of `source` contributes (none: not an address condition). */
function contribution(source: string, member: string): { id: string; prefix: number; cond: string } | undefined {
  if (source.startsWith('np:')) {
    const p = parseNamedMember(member);
    if (!p || (p.protocol !== 6 && p.protocol !== 17 && p.protocol !== 132)) return undefined;
    const at = memberPrefix(p.hostText);
    return at ? { id: at.id, prefix: at.prefix, cond: `np:${source.slice(3)}:${p.protocol}:${p.port}` } : undefined;
  }
  const at = memberPrefix(member);
  return at ? { id: at.id, prefix: at.prefix, cond: source } : undefined;
}

/** The sources `keys` and `namedSets` reference, with their current members. */
function wantedSources(state: DataplaneState, keys: ReadonlySet<string>, namedSets: ReadonlySet<string>): Map<string, { setId: string | undefined; members: ReadonlySet<string> }> {
  const out = new Map<string, { setId: string | undefined; members: ReadonlySet<string> }>();
  for (const k of keys) {
    if (k.startsWith('n:')) out.set(k, { setId: undefined, members: new Set([k.slice(2)]) });
    else if (k.startsWith('s:')) out.set(k, { setId: k.slice(2), members: state.ipSets.get(k.slice(2))?.members ?? NO_MEMBERS });
  }
  for (const id of namedSets) out.set(`np:${id}`, { setId: id, members: state.ipSets.get(id)?.members ?? NO_MEMBERS });
  return out;
}

/** The signature of the region at `id`: every condition of its atom and of the atoms above it. */
function regionAt(atoms: ReadonlyMap<string, Atom>, id: string, a: Atom): Region {
  const conds = new Set<string>();
  for (let len = 0; len <= a.prefix; len++) {
    const up = atoms.get(id.slice(0, 2 + len));
    if (up) for (const k of up.conds.keys()) conds.add(k);
  }
  return new IdRegion(id, a.prefix, signature(idFamily(id), conds));
}

/**
 * Every region of `atoms` in one pass (sorted: ancestors before descendants), as `computeRegions`
 * does. A region's signature depends only on its parent's signature and its own conditions, so it
 * is memoised on that pair: 100k host prefixes under a handful of parents share a handful of
 * signature strings instead of building a condition set and a string each.
 */
function allRegions(atoms: ReadonlyMap<string, Atom>, prev: ReadonlyMap<string, Region>): { regions: Map<string, Region>; changed: string[] } {
  // Ids sorted, atoms read by id: no [id, atom] pair per prefix.
  const sorted = [...atoms.keys()].sort();
  const changed: string[] = [];
  // Persistent from the start: the next compile derives from it without a copy.
  const out = LayeredMap.over(new Map<string, Region>());
  const stack: { id: string; sig: string }[] = [];
  /** Parent signature (the family for a root) -> own conditions -> signature. */
  const memo = new Map<string | number, Map<string, string>>();
  for (const id of sorted) {
    const a = atoms.get(id)!;
    while (stack.length > 0 && !id.startsWith(stack[stack.length - 1]!.id)) stack.pop();
    const parent = stack.length > 0 ? stack[stack.length - 1]!.sig : undefined;
    const own = a.conds.size === 1 ? a.conds.keys().next().value! : [...a.conds.keys()].sort().join('\u0001');
    const family = idFamily(id);
    let byOwn = memo.get(parent ?? family);
    if (!byOwn) memo.set(parent ?? family, (byOwn = new Map()));
    let sig = byOwn.get(own);
    if (sig === undefined) {
      const conds = parent === undefined ? new Set<string>() : sigConds(parent);
      for (const k of a.conds.keys()) conds.add(k);
      sig = signature(family, conds);
      byOwn.set(own, sig);
    }
    stack.push({ id, sig });
    out.set(id, new IdRegion(id, a.prefix, sig));
    if (prev.get(id)?.sig !== sig) changed.push(id);
  }
  for (const id of prev.keys()) if (!atoms.has(id)) changed.push(id);
  return { regions: out, changed };
}

/**
 * The regions of `state` for the referenced `keys` and `namedSets`, from `prev`. `dirtySets`:
 * the IP sets whose members may differ from what `prev` saw (undefined: any of them).
 * `dirtyMembers`: for a dirty set listed there, the only members that may have been added or
 * removed since `prev` (O(those) instead of comparing the whole set); a dirty set not listed is
 * compared in full.
 */
export function updateRegions(
  prev: RegionIndex,
  state: DataplaneState,
  keys: ReadonlySet<string>,
  namedSets: ReadonlySet<string>,
  dirtySets?: ReadonlySet<string>,
  dirtyMembers?: ReadonlyMap<string, ReadonlySet<string>>,
): RegionUpdate {
  const want = wantedSources(state, keys, namedSets);
  const delta = new Map<string, Delta>();
  const bump = (source: string, member: string, d: number): void => {
    const c = contribution(source, member);
    if (!c) return;
    const e = delta.get(c.id);
    if (!e) delta.set(c.id, { prefix: c.prefix, cond: c.cond, n: d, more: undefined });
    else if (e.cond === undefined) {
      e.cond = c.cond;
      e.n = d;
    } else if (e.cond === c.cond) e.n += d;
    else {
      e.more ??= new Map();
      e.more.set(c.cond, (e.more.get(c.cond) ?? 0) + d);
    }
  };
  for (const id of ROOTS) if (!prev.atoms.has(id)) delta.set(id, { prefix: 0, cond: undefined, n: 0, more: undefined });
  let sources: Map<string, ReadonlyMap<string, true>> | undefined;
  const own = (): Map<string, ReadonlyMap<string, true>> => (sources ??= new Map(prev.sources));
  for (const [src, snap] of prev.sources) {
    if (want.has(src)) continue;
    for (const m of snap.keys()) bump(src, m, -1);
    own().delete(src);
  }
  for (const [src, { setId, members }] of want) {
    const old = prev.sources.get(src);
    if (!old) {
      for (const m of members) bump(src, m, 1);
      own().set(src, snapshot(members));
      continue;
    }
    if (setId === undefined || (dirtySets && !dirtySets.has(setId))) continue;
    const touched = dirtySets ? dirtyMembers?.get(setId) : undefined;
    if (touched) {
      // Only these members can differ: the snapshot is edited in place of a copy.
      let next: LayeredMap<string, true> | undefined;
      for (const m of touched) {
        const now = members.has(m);
        if (now === old.has(m)) continue;
        bump(src, m, now ? 1 : -1);
        next ??= LayeredMap.over(old);
        if (now) next.set(m, true);
        else next.delete(m);
      }
      if (next) own().set(src, next);
      continue;
    }
    let changed = false;
    for (const m of old.keys()) {
      if (members.has(m)) continue;
      bump(src, m, -1);
      changed = true;
    }
    for (const m of members) {
      if (old.has(m)) continue;
      bump(src, m, 1);
      changed = true;
    }
    if (changed) own().set(src, snapshot(members));
  }
  if (delta.size === 0) return { index: sources ? { ...prev, sources } : prev, changed: [] };

  // Atoms: refcounts moved; a prefix is dirty when its set of conditions changed.
  const atoms = LayeredMap.over(prev.atoms);
  const dirty: string[] = [];
  for (const [id, d] of delta) {
    const a = atoms.get(id);
    if (!a && !d.more && (d.cond === undefined || d.n >= 0)) {
      // A new prefix with at most one condition (nearly every prefix of a first fill): the shared
      // single-condition map, built only when first needed.
      if (d.cond !== undefined && d.n > 0) atoms.set(id, { prefix: d.prefix, conds: d.n === 1 ? single(d.cond) : new Map([[d.cond, d.n]]) });
      else if (d.prefix === 0) atoms.set(id, { prefix: 0, conds: new Map() });
      dirty.push(id);
      continue;
    }
    const dc = deltaConds(d);
    // A new prefix takes the delta's own (fresh, unshared) map; a known one a copy of its conditions.
    const conds = a ? new Map(a.conds) : dc;
    let moved = a === undefined;
    for (const [k, n] of dc) {
      if (n === 0) {
        if (!a) conds.delete(k);
        continue;
      }
      const before = a ? (conds.get(k) ?? 0) : 0;
      const after = before + n;
      if (after < 0) throw new Error(`region index: condition ${k} at ${id} dropped below zero`);
      if (after === 0) conds.delete(k);
      else conds.set(k, after);
      if (before === 0 || after === 0) moved = true;
    }
    if (conds.size === 0 && d.prefix > 0) atoms.delete(id);
    else atoms.set(id, { prefix: d.prefix, conds: interned(conds) });
    if (moved) dirty.push(id);
  }
  const index = (regions: ReadonlyMap<string, Region>): RegionIndex => ({ sources: sources ?? prev.sources, atoms, regions });
  if (dirty.length === 0) return { index: index(prev.regions), changed: [] };

  // Regions of the dirty prefixes and of everything below them.
  if (dirty.length > atoms.size * FULL_PASS_SHARE) {
    const { regions, changed } = allRegions(atoms, prev.regions);
    return { index: index(regions), changed };
  }
  const redo = new Set<string>(dirty);
  const inner = dirty.filter((id) => {
    const d = delta.get(id)!;
    return d.prefix < (idFamily(id) === 4 ? 32 : 128);
  });
  if (inner.length > 0) {
    for (const id of atoms.keys()) if (inner.some((p) => id.length > p.length && id.startsWith(p))) redo.add(id);
  }
  const regions = LayeredMap.over(prev.regions);
  const changed: string[] = [];
  for (const id of [...redo].sort()) {
    const a = atoms.get(id);
    const before = prev.regions.get(id);
    if (!a) {
      if (before) {
        regions.delete(id);
        changed.push(id);
      }
      continue;
    }
    const r = regionAt(atoms, id, a);
    if (before?.sig === r.sig) continue;
    regions.set(id, r);
    changed.push(id);
  }
  return { index: index(regions), changed };
}
