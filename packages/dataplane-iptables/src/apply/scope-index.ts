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
 *
 * Interface sets (`groupDispatch: 'ipset'`). A rule `-m set --match-set G dst,dst -g X` whose G
 * is a `hash:net,iface` set, or a `list:set` of those, matches only packets whose out-interface
 * (`src,src`: in-interface; the second flag picks it) is one of G's; so in a context whose
 * out-interface is known the walk follows the rest of the rule only when it is one of them,
 * else every tier dispatch chain would make every group chain look reached from every interface
 * and rule 3 would see every set meet every other. G itself is named on every context that
 * reaches the rule (each packet there tests it). So the counts depend on those sets' members
 * too: when they change, the rules that test them are walked again for the contexts whose
 * interface changed side, one set at a time (removals under the old members, additions under
 * the new), which keeps the counts equal to a full walk after every step.
 */
import type { Rendered, RenderedChain, RenderedSet } from '../render/rendered.js';

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
 * (`-i`/`-o`, not negated, not a wildcard), the sets it names, the chains it jumps to, and after
 * a set matched (not negated) with two flags, `?i`/`?o` with the set's name: the rule goes on only
 * for packets whose in- (`src`) or out-interface (`dst`, the second flag) is one of the set's,
 * when it is an interface set (`setInterfaces`; else the step says nothing). Rules with none of
 * these are left out. Kept by chain: the render cache hands the same chain objects to the next
 * rendering.
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
      else if (a[j] === '--match-set') {
        steps.push(['--match-set', v]);
        const side = (a[j + 2] ?? '').split(',')[1];
        if (a[j - 1] !== '!' && (side === 'src' || side === 'dst')) steps.push([side === 'src' ? '?i' : '?o', v]);
      } else if (a[j] === '-j' || a[j] === '-g') steps.push(['-j', v]);
    }
    if (steps.length > 0) out.push(steps);
  }
  stepsOfChain.set(c, out);
  return out;
}
const stepsOfChain = new WeakMap<RenderedChain, [string, string][][]>();

/** The sets a chain's `?i`/`?o` steps test, with repeats. */
function testedSets(c: RenderedChain): readonly string[] {
  let known = testedOfChain.get(c);
  if (!known) {
    known = pathSteps(c).flatMap((rule) => rule.filter(([what]) => what === '?i' || what === '?o').map(([, v]) => v));
    testedOfChain.set(c, known);
  }
  return known;
}
const testedOfChain = new WeakMap<RenderedChain, readonly string[]>();

/** Interface set name → the interfaces a packet's interface must be one of to match it. */
export type SetInterfaces = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * The interface sets of a rendering: each `hash:net,iface` set whose members all name a plain
 * interface (`<net>,<IF>`; `physdev:` or a wildcard makes it say nothing), and each `list:set`
 * all of whose members are such sets (the union of theirs). Kept by set list.
 */
export function setInterfaces(sets: readonly RenderedSet[]): SetInterfaces {
  const known = interfacesOfSets.get(sets);
  if (known) return known;
  const out = new Map<string, ReadonlySet<string>>();
  const lists: RenderedSet[] = [];
  for (const s of sets) {
    if (s.type === 'list:set') lists.push(s);
    if (s.type !== 'hash:net,iface') continue;
    const ifs = new Set<string>();
    let plain = true;
    for (const m of s.members) {
      const at = m.lastIndexOf(',');
      const i = m.slice(at + 1);
      if (at < 0 || i.length === 0 || i.includes(':') || i.endsWith('+')) plain = false;
      ifs.add(i);
    }
    if (plain) out.set(s.name, ifs);
  }
  for (const l of lists) {
    const ifs = new Set<string>();
    let plain = true;
    for (const m of l.members) {
      const of = out.get(m);
      if (!of) plain = false;
      else for (const i of of) ifs.add(i);
    }
    if (plain) out.set(l.name, ifs);
  }
  interfacesOfSets.set(sets, out);
  return out;
}
const interfacesOfSets = new WeakMap<readonly RenderedSet[], SetInterfaces>();

/**
 * Walks one rule's steps from `from` in context (`inIf`, `outIf`): `set` for each set named,
 * `jump` for each chain jumped to, stopping at an interface test the context fails.
 */
export function walkRule(
  steps: readonly (readonly [string, string])[],
  from: number,
  inIf: string,
  outIf: string,
  ifs: SetInterfaces,
  set: (name: string, i: string, o: string) => void,
  jump: (chain: string, i: string, o: string) => void,
): void {
  let i = inIf;
  let o = outIf;
  for (let s = from; s < steps.length; s++) {
    const [what, v] = steps[s]!;
    if (what === '-i') i = v;
    else if (what === '-o') o = v;
    else if (what === '--match-set') set(v, i, o);
    else if (what === '?i' || what === '?o') {
      const x = what === '?i' ? i : o;
      if (x !== '*' && ifs.get(v)?.has(x) === false) return;
    } else jump(v, i, o);
  }
}

const ANY = '*\n*';

/** Whether a chain's rules set the interface themselves (`-i`/`-o`): then any context's rules may test another interface. */
function dispatches(c: RenderedChain): boolean {
  let d = dispatching.get(c);
  if (d === undefined) dispatching.set(c, (d = pathSteps(c).some((rule) => rule.some(([w]) => w === '-i' || w === '-o'))));
  return d;
}
const dispatching = new WeakMap<RenderedChain, boolean>();
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
  /** The interface sets of the rendering the index is at, as the counts follow them (changed one set at a time). */
  private readonly ifs = new Map<string, ReadonlySet<string>>();
  /** The map `ifs` was last brought to (no work while a rendering keeps its set list). */
  private ifsAt: SetInterfaces | undefined;
  /** Set name → the chains (by key, with how many tests) whose rules test a packet's interface against it. */
  private readonly testers = new Map<string, Map<string, number>>();
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

  /**
   * The chains of the rendering the index is at whose rules test a packet's interface against
   * set `name` (`?i`/`?o` steps), by `<table>:<chain>`, with how many such tests each holds.
   */
  testersOf(name: string): ReadonlyMap<string, number> | undefined {
    return this.testers.get(name);
  }

  /** A chain of the rendering the index is at, by `<table>:<chain>`. */
  chainAt(key: string): RenderedChain | undefined {
    return this.byKey.get(key);
  }

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
    // Interface sets first, on the chains of `from`; then the chains, under the new members;
    // then the sets `r` lacks, whose testers the chains' move took away.
    this.regroup(setInterfaces(r.sets));
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
    this.dropGone(this.ifsAt!);
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
    if (was) this.tests(key, was, -1);
    if (now) this.tests(key, now, 1);
    if (now) this.byKey.set(key, now);
    else this.byKey.delete(key);
    // The new rules' edges first, then the old ones' away: a chain both reach keeps a count of
    // at least one throughout, so its own edges are not walked out and back in. (Old first, a
    // tier dispatch chain reached from every workload would walk every group and policy chain
    // below it out and in again for each interface: a full walk per changed dispatch chain.)
    if (now) for (const c of ctxs) this.edges(table, now, c, 1);
    if (was) for (const c of ctxs) this.edges(table, was, c, -1);
  }

  private tests(key: string, c: RenderedChain, sign: 1 | -1): void {
    for (const g of testedSets(c)) {
      let users = this.testers.get(g);
      if (!users) this.testers.set(g, (users = new Map()));
      const n = (users.get(key) ?? 0) + sign;
      if (n > 0) users.set(key, n);
      else {
        users.delete(key);
        if (users.size === 0) this.testers.delete(g);
      }
    }
  }

  /**
   * Brings the interface sets to `next`, one set at a time: for each rule that tests a changed
   * set in a context whose interface is known and changed side, the rest of the rule is walked
   * out under the old members and walked in under the new. A context the removals took away
   * from its chain took that rule's edges with it; one they left is still reached, so its edges
   * are added exactly once. A set `next` lacks keeps its old members until the chains have moved
   * (`dropGone`): the rules testing it are in chains the move replaces or removes (a rendering
   * never names a set it lacks), so walking them under "unknown members" first would only walk
   * every interface into its group and out again.
   */
  private regroup(next: SetInterfaces): void {
    if (next === this.ifsAt) return;
    this.ifsAt = next;
    for (const [g, now] of next) {
      const was = this.ifs.get(g);
      if (was === now) continue;
      if (was && was.size === now.size && [...was].every((x) => now.has(x))) {
        this.ifs.set(g, now);
        continue;
      }
      this.regroupOne(g, was, now);
    }
  }

  /** After the chains moved: the interface sets the rendering no longer has. */
  private dropGone(next: SetInterfaces): void {
    for (const [g, was] of [...this.ifs]) if (!next.has(g)) this.regroupOne(g, was, undefined);
  }

  private regroupOne(g: string, was: ReadonlySet<string> | undefined, now: ReadonlySet<string> | undefined): void {
    const users = this.testers.get(g);
    if (!users) {
      if (now) this.ifs.set(g, now);
      else this.ifs.delete(g);
      return;
    }
    // The interfaces whose test of g changes (unknown members test as "in"); undefined: any may.
    let delta: Set<string> | undefined;
    if (was && now) {
      delta = new Set();
      for (const x of was) if (!now.has(x)) delta.add(x);
      for (const x of now) if (!was.has(x)) delta.add(x);
    }
    type Item = { key: string; chain: RenderedChain; ctx: string; steps: readonly (readonly [string, string])[]; from: number; i: string; o: string };
    const out: Item[] = [];
    const into: Item[] = [];
    for (const key of users.keys()) {
      const chain = this.byKey.get(key)!;
      for (const ctx of this.chainCounts.get(key)?.keys() ?? []) {
        const at = ctx.indexOf('\n');
        const ci = ctx.slice(0, at);
        const co = ctx.slice(at + 1);
        // Only a context whose interface (or one a rule dispatches it to) changed can change.
        if (delta && !delta.has(ci) && !delta.has(co) && !dispatches(chain)) continue;
        for (const steps of pathSteps(chain)) {
          let i = ci;
          let o = co;
          for (let s = 0; s < steps.length; s++) {
            const [what, v] = steps[s]!;
            if (what === '-i') i = v;
            else if (what === '-o') o = v;
            else if (what === '?i' || what === '?o') {
              const x = what === '?i' ? i : o;
              if (x === '*') continue;
              const a = v === g ? (was?.has(x) ?? true) : (this.ifs.get(v)?.has(x) ?? true);
              const b = v === g ? (now?.has(x) ?? true) : a;
              if (a !== b) {
                (a ? out : into).push({ key, chain, ctx, steps, from: s + 1, i, o });
                break;
              }
              if (!a) break;
            }
          }
        }
      }
    }
    const reached = (x: Item): boolean => this.byKey.get(x.key) === x.chain && (this.chainCounts.get(x.key)?.has(x.ctx) ?? false);
    for (const x of out) if (reached(x)) this.walk(x.chain.table, x.steps, x.from, x.i, x.o, -1);
    if (now) this.ifs.set(g, now);
    else this.ifs.delete(g);
    const still = into.filter(reached);
    for (const x of still) this.walk(x.chain.table, x.steps, x.from, x.i, x.o, 1);
  }

  private walk(table: string, steps: readonly (readonly [string, string])[], from: number, i: string, o: string, sign: 1 | -1): void {
    // walkRule, inline: this runs for every edge of a full walk.
    for (let s = from; s < steps.length; s++) {
      const [what, v] = steps[s]!;
      if (what === '-i') i = v;
      else if (what === '-o') o = v;
      else if (what === '--match-set') this.bump(this.setCounts, this.before?.sets, v, ctxKey(i, o), sign);
      else if (what === '?i' || what === '?o') {
        const x = what === '?i' ? i : o;
        if (x !== '*' && this.ifs.get(v)?.has(x) === false) return;
      } else this.reach(`${table}:${v}`, ctxKey(i, o), sign);
    }
  }

  /** Adds (+1) or removes (-1) the edges of `chain` reached in context `ctx`. */
  private edges(table: string, chain: RenderedChain, ctx: string, sign: 1 | -1): void {
    const at = ctx.indexOf('\n');
    const inIf = ctx.slice(0, at);
    const outIf = ctx.slice(at + 1);
    for (const rule of pathSteps(chain)) this.walk(table, rule, 0, inIf, outIf, sign);
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
