/**
 * Path scopes (plan.ts, rules 2 and 3), kept incrementally: where on a packet's path each chain
 * is reached and each set is named, as reference counts of the (in-interface, out-interface)
 * contexts that reach it, moved from one rendering to the next by the chains that differ. A
 * label change rewrites one endpoint chain: moving the index costs that chain's edges and the
 * chains newly reached or no longer reached from it, plus one identity comparison per chain,
 * instead of the full walk (every local endpoint × its policies). The counts always equal those
 * of a full walk of the rendering the index is at (`pathScopes`, scope-index.test.ts); a
 * journal keeps the scopes before a move for the planner's "old rules" side. Pure data; never
 * changes a rendering.
 */
import type { Rendered, RenderedChain } from '../render/rendered.js';

/** Where on a packet's path the chains naming a set are reached (see plan.ts, rule 3). */
export interface SetScope {
  /** In-interfaces under whose `-i` dispatch a chain naming it is reached. */
  readonly ins: Set<string>;
  /** Out-interfaces under whose `-o` dispatch a chain naming it is reached. */
  readonly outs: Set<string>;
  /** Reached without an interface dispatch: on every path. */
  any: boolean;
}

/** Scopes by set name or by `<table>:<chain>`. */
export interface ScopeLookup {
  get(name: string): SetScope | undefined;
}

/**
 * What the path walk needs of a chain, per rule in order: the interfaces it dispatches on
 * (`-i`/`-o`, not negated, not a wildcard), the sets it names and the chains it jumps to. Rules
 * with none of these are left out. Kept by chain: the render cache hands the same chain objects
 * to the next rendering.
 */
export function pathSteps(c: RenderedChain): readonly (readonly (readonly [string, string])[])[] {
  const known = stepsOfChain.get(c);
  if (known) return known;
  const out: [string, string][][] = [];
  for (const rule of c.rules) {
    const a = rule.args;
    const steps: [string, string][] = [];
    for (let j = 0; j < a.length - 1; j++) {
      const v = a[j + 1]!;
      if ((a[j] === '-i' || a[j] === '-o') && a[j - 1] !== '!' && !v.endsWith('+')) steps.push([a[j]!, v]);
      else if (a[j] === '--match-set') steps.push(['--match-set', v]);
      else if (a[j] === '-j' || a[j] === '-g') steps.push(['-j', v]);
    }
    if (steps.length > 0) out.push(steps);
  }
  stepsOfChain.set(c, out);
  return out;
}
const stepsOfChain = new WeakMap<RenderedChain, [string, string][][]>();

const ANY = '*\n*';
const ctxKey = (i: string, o: string): string => `${i}\n${o}`;
/** `<table>:<chain>`, made once per chain object (chains are immutable; the render cache reuses them). */
function chainKey(c: RenderedChain): string {
  let k = keyOfChain.get(c);
  if (k === undefined) keyOfChain.set(c, (k = `${c.table}:${c.name}`));
  return k;
}
const keyOfChain = new WeakMap<RenderedChain, string>();

/** Context key → how many edges (hook rules or rules of reached chains) reach with it. */
type Counts = Map<string, number>;

export function scopeOf(counts: Counts | undefined): SetScope | undefined {
  if (!counts || counts.size === 0) return undefined;
  const s: SetScope = { ins: new Set(), outs: new Set(), any: false };
  for (const key of counts.keys()) {
    const at = key.indexOf('\n');
    const i = key.slice(0, at);
    const o = key.slice(at + 1);
    if (i !== '*') s.ins.add(i);
    if (o !== '*') s.outs.add(o);
    if (i === '*' && o === '*') s.any = true;
  }
  return s;
}

const EMPTY: Rendered = { family: 4, chainPrefix: '', setPrefix: '', commentTag: '', chains: [], sets: [], hooks: [], nflogNames: new Map() };

export class ScopeIndex {
  /** The rendering the counts describe. */
  private at: Rendered = EMPTY;
  private readonly byKey = new Map<string, RenderedChain>();
  private readonly chainCounts = new Map<string, Counts>();
  private readonly setCounts = new Map<string, Counts>();
  /** While journaling: the counts of every key touched since `journal()`, as they were (undefined: absent). */
  private before: { chains: Map<string, Counts | undefined>; sets: Map<string, Counts | undefined>; exists: Map<string, boolean> } | undefined;

  /** The rendering the index describes now. */
  get rendering(): Rendered {
    return this.at;
  }

  /** Scopes of sets in the rendering the index is at. */
  readonly sets: ScopeLookup = { get: (n) => scopeOf(this.setCounts.get(n)) };
  /** Scopes of chains (`<table>:<chain>`) in the rendering the index is at. */
  readonly chains: ScopeLookup = { get: (n) => (this.byKey.has(n) ? scopeOf(this.chainCounts.get(n)) : undefined) };

  /** Starts remembering the scopes as they are now; `journaled()` reads them after later moves. */
  journal(): void {
    this.before = { chains: new Map(), sets: new Map(), exists: new Map() };
  }

  /** The scopes as they were at `journal()` (the current ones when not journaling). */
  journaled(): { sets: ScopeLookup; chains: ScopeLookup } {
    const b = this.before;
    return {
      sets: { get: (n) => (b?.sets.has(n) ? scopeOf(b.sets.get(n)) : scopeOf(this.setCounts.get(n))) },
      chains: {
        get: (n) => {
          if (!(b?.exists.get(n) ?? this.byKey.has(n))) return undefined;
          return b?.chains.has(n) ? scopeOf(b.chains.get(n)) : scopeOf(this.chainCounts.get(n));
        },
      },
    };
  }

  /** Moves the counts to describe `r`: only chains that differ (by object, then by rules) and hook changes cost work. */
  moveTo(r: Rendered): this {
    if (r === this.at) return this;
    const from = this.at;
    this.at = r;
    // Hooks: added ones reach their targets with no interface, removed ones stop reaching them.
    const hookKeys = (x: Rendered): string[] => x.hooks.map((h) => `${h.table}:${h.target}`);
    const oldHooks = hookKeys(from);
    const newHooks = hookKeys(r);
    const sameHooks = oldHooks.length === newHooks.length && oldHooks.every((h, i) => h === newHooks[i]);
    // Chains: replaced by key, in the new rendering's order, then those the new one lacks.
    let matched = 0;
    // byKey holds exactly the chains of `from`: a chain object at the same place in both is unchanged.
    const aligned = from.chains.length === r.chains.length;
    for (let i = 0; i < r.chains.length; i++) {
      const c = r.chains[i]!;
      if (aligned && from.chains[i] === c) {
        matched++;
        continue;
      }
      const key = chainKey(c);
      const have = this.byKey.get(key);
      if (have) matched++;
      if (have === c) continue;
      this.replace(key, c.table, have, c);
    }
    if (matched < this.byKey.size) {
      const keep = new Set(r.chains.map(chainKey));
      for (const [key, c] of [...this.byKey]) if (!keep.has(key)) this.replace(key, c.table, c, undefined);
    }
    if (!sameHooks) {
      for (const h of oldHooks) this.reach(h, ANY, -1);
      for (const h of newHooks) this.reach(h, ANY, 1);
    }
    return this;
  }

  /** Stops journaling. */
  settle(): void {
    this.before = undefined;
  }

  private replace(key: string, table: string, was: RenderedChain | undefined, now: RenderedChain | undefined): void {
    if (was && now && was.rules.length === now.rules.length && was.rules.every((x, i) => x.id === now.rules[i]!.id)) {
      // Same rules (equal ids are equal rules): only the object changed.
      this.byKey.set(key, now);
      return;
    }
    if (this.before && !this.before.exists.has(key)) this.before.exists.set(key, was !== undefined);
    const ctxs = [...(this.chainCounts.get(key)?.keys() ?? [])];
    if (was) for (const c of ctxs) this.edges(table, was, c, -1);
    if (now) this.byKey.set(key, now);
    else this.byKey.delete(key);
    if (now) for (const c of ctxs) this.edges(table, now, c, 1);
  }

  /** Adds (+1) or removes (-1) the edges of `chain` reached in context `ctx`. */
  private edges(table: string, chain: RenderedChain, ctx: string, sign: 1 | -1): void {
    const at = ctx.indexOf('\n');
    const inIf = ctx.slice(0, at);
    const outIf = ctx.slice(at + 1);
    for (const rule of pathSteps(chain)) {
      let i = inIf;
      let o = outIf;
      for (const [what, v] of rule) {
        if (what === '-i') i = v;
        else if (what === '-o') o = v;
        else if (what === '--match-set') this.bump(this.setCounts, this.before?.sets, v, ctxKey(i, o), sign);
        else this.reach(`${table}:${v}`, ctxKey(i, o), sign);
      }
    }
  }

  /** One more (or one fewer) edge reaching chain `key` in `ctx`; the chain's own edges follow its first arrival and last departure. */
  private reach(key: string, ctx: string, sign: 1 | -1): void {
    const n = this.bump(this.chainCounts, this.before?.chains, key, ctx, sign);
    if ((sign === 1 && n === 1) || (sign === -1 && n === 0)) {
      const c = this.byKey.get(key);
      if (c) this.edges(c.table, c, ctx, sign);
    }
  }

  private bump(into: Map<string, Counts>, journal: Map<string, Counts | undefined> | undefined, key: string, ctx: string, sign: 1 | -1): number {
    let counts = into.get(key);
    if (journal && !journal.has(key)) journal.set(key, counts && new Map(counts));
    if (!counts) into.set(key, (counts = new Map()));
    const n = (counts.get(ctx) ?? 0) + sign;
    if (n > 0) counts.set(ctx, n);
    else {
      counts.delete(ctx);
      if (counts.size === 0) into.delete(key);
    }
    return n;
  }
}

/** The index of a rendering: one shared index per lineage of renderings, moved on demand. */
const indexOf = new WeakMap<Rendered, ScopeIndex>();

/**
 * The scope index at `r`: the one last used for `r` or for `near` (the rendering planned
 * before, usually), moved to `r`; else a new one built by walking `r` once.
 */
export function scopeIndex(r: Rendered, near?: Rendered): ScopeIndex {
  const idx = indexOf.get(r) ?? (near && indexOf.get(near)) ?? new ScopeIndex();
  idx.moveTo(r);
  indexOf.set(r, idx);
  return idx;
}

/** Lets the next `scopeIndex(r2, r)` find the index used for `r` (without moving it now). */
export function shareScopeIndex(from: Rendered, to: Rendered): void {
  const idx = indexOf.get(from);
  if (idx) indexOf.set(to, idx);
}
