/**
 * The apply planner: from what the kernel holds (read back by rule ids and set names) and what
 * one family must hold (the rendering), the ordered kernel steps that get there. Pure: the
 * applier runs the steps, the fail-closed property test simulates every intermediate state.
 *
 * Design rationale (why this order, and when a set is versioned). A verdict is a function of the
 * rules in force and the members of the sets those rules name. The kernel changes in atomic
 * steps only: one `ipset` line (add, del, create, flush, swap, destroy: one netlink message
 * each, in `ipset restore` and in the interactive session alike) or one table of one
 * `iptables-restore` (each `COMMIT` is one transaction). The plan must make every intermediate
 * state give each flow its old or its new verdict (the contract's "never less protected than
 * both"), and so must every prefix of it (`kill -9` leaves the last completed step in force).
 *
 *  1. A set that no rule in force names can change in any way at any time: no verdict reads it.
 *  2. Rules that change: new members go where only the new rules look, removals happen where
 *     only the old rules looked, and the rule switch is one commit per table:
 *       - before the commit: sets created, members of sets the old rules do not name changed,
 *         and every set that both the old and the new rules name and whose members change is
 *         rebuilt under its other version name (`<prefix><f>1<id>` ⇄ `<prefix><f>0<id>`), which
 *         only the new rules (renamed in the same commit, rule ids recomputed) reference;
 *       - the commit (old rules, old members) → (new rules, new members) is atomic per table;
 *       - after it: members of sets only the old rules named, then destroys of every set
 *         nothing references any more (old versions, vanished sets, leftover temporaries).
 *     So before the commit every flow sees old rules with old members, after it new with new.
 *     Except (given the rendering in force, so that paths can be walked): a set both the old and
 *     the new rules name changes in place before the commit, one step as in rule 3, when it lies
 *     on no packet path that reaches a chain the commit rewrites (walked in the old rules and in
 *     the new; a path that reaches none is the same path in both) nor on a path naming another
 *     changed set. Such a path sees old rules throughout and one set going from its old members
 *     to its new ones: the old verdict, then the new. This is the label change that moves an
 *     endpoint to other policies: its address changes sets that guard other endpoints, so only
 *     its own chain is rewritten, not every policy chain naming those sets.
 *  3. Rules unchanged, members change in place: each changed set changes in one step (one
 *     `add`/`del` line, or a rebuild in the temporary `<prefix><f>t<id>` swapped in by one `swap`
 *     line), and no packet's path through our chains names two changed sets. A packet's path is
 *     fixed by its in- and out-interface: the dispatch chains select chains by `-i IF` or `-o IF`,
 *     so each set gets a scope (the in-interfaces and out-interfaces under whose dispatch some
 *     chain naming it is reached, or "any" when reached without one), and two sets meet on some
 *     path when their scopes share an in-interface, share an out-interface, or one has an
 *     in-interface and the other an out-interface (a flow from the one to the other). When every
 *     path sees at most one changed set, each flow sees its old memberships or its new ones at
 *     every step. Otherwise (`deny from D` before `allow from A` on one endpoint with an address
 *     leaving both; a workload's egress naming S and another's ingress naming T) rule 2 applies:
 *     those sets are versioned and the chains naming them rewritten in one commit. The common
 *     label change (one set gains or loses one address, or an address moves between sets that
 *     guard different endpoints in the same direction) stays a few `ipset` lines.
 *  4. Families never mix (a flow is IPv4 or IPv6; sets are per family), so they are planned and
 *     applied one after the other.
 *  5. Several tables: raw, then mangle, then filter, one commit each (each `COMMIT` is its own
 *     transaction, so a packet can meet new raw rules and old filter rules). With host
 *     endpoints, raw stamps every packet with its generation and mangle and filter drop new
 *     packets stamped for another generation before deciding anything (render/generation.ts).
 *     A batch that changes one table keeps the generation (its one commit is atomic); a batch
 *     that changes more than one, or a kernel whose tables carry different generations (a
 *     `kill -9` between commits), moves every table to a generation none of them carries now:
 *     in each intermediate state a packet is decided by the tables of one rendering (old or
 *     new) or dropped, never by a mix. Without host endpoints only filter is ours; adding them
 *     commits raw (stamping) before mangle and filter (checking), removing them takes the stamp
 *     away first, so the old checks drop everything until their own commit.
 *  6. Groups dispatched by IP set (`groupDispatch: 'ipset'`): a tier dispatch chain holds one
 *     rule `--match-set G dst,dst -g <group>` (egress `src,src`) per group G, a `list:set` of the
 *     members' per-interface sets (`hash:net,iface`, one `<any net>,IF` entry each). So a label
 *     that moves endpoint E (interface IF) from group Go to group Gn of one tier rewrites no chain:
 *     `add Gn <IF's set>` then `del Go <IF's set>`, and no commit. In between IF is in both, and
 *     the dispatch chain's first matching rule decides (`-g`: nothing after it runs): Go only
 *     loses, Gn only gains, so whichever of the two rules comes first, a packet either still
 *     meets Go's rule as before (old) or already meets Gn's as after (new), never neither. Only
 *     packets on IF's side (out-interface for `dst,dst`, in for `src,src`) can tell, so the move
 *     has the scope `{outs: IF}` (`{ins: IF}`). It is planned so only when it is the family's one
 *     change of a group: exactly two lists change, by that one member, each named by exactly one
 *     rule of one same chain (two moves, or one endpoint's two tiers or directions, could be seen
 *     half done, E1 new and E2 old, admitting a flow both states deny); no chain or hook changes
 *     (else the commit orders things: rule 2); and every other set named by the rules in force
 *     that changes in place meets neither the move's scope nor another such set, with rule 3's
 *     relation, by its scopes under the old members and the new (which rules a packet reaches
 *     now depends on lists' members too: scope-index.ts). Their lines come first, then the add,
 *     then the del. Otherwise rule 3 with those scopes, else rule 2: the changed groups are
 *     versioned like any set (members are set names) and the dispatch chain renamed in one
 *     commit. ipset's own rules for lists: a member exists before `add LIST member` (interface
 *     sets are written before lists), and a set a list holds cannot be destroyed (lists are
 *     destroyed first; `del` lines run before the final destroys). A list in force whose members
 *     change in more than one line is rebuilt in its temporary and swapped like any set (ipset
 *     swaps two `list:set`s, also while a rule names one). Interface sets never change members
 *     (their name carries the interface) and are never versioned: lists name them by that name.
 *
 * Cost. The scopes of rules 2 and 3 are not walked per plan: one index per family (scope-index.ts)
 * counts how each chain and set is reached and moves from the rendering in force to the new one
 * by the chains that differ, and the model remembers which chain objects and member lists its
 * entries were compared equal to, so a label change plans in time proportional to what it
 * changes plus one cheap pass over the chains, not to every local endpoint × its policies.
 *
 * A restart converges from any prefix: both versions of a set are ours (`[01t]` after the family
 * digit), the live one is the one the chains in force name (read back from `--match-set`), and
 * a leftover other version or temporary set is flushed and reused or destroyed.
 */
import { chainRuleIds } from '../render/generation.js';
import type { Table } from '../render/options.js';
import type { Rendered, RenderedChain, RenderedRule, RenderedSet } from '../render/rendered.js';
import { formatChainRules } from '../render/format.js';
import { freshGeneration, withGeneration } from '../render/generation.js';
import type { KernelChain, KernelSet, KernelState } from './kernel-state.js';
import { pathSteps, type ScopeIndex, type ScopeLookup, scopeIndex, setInterfaces, type SetScope, shareScopeIndex, walkRule } from './scope-index.js';

export type { ScopeLookup, SetScope } from './scope-index.js';

export const TABLES: readonly Table[] = ['raw', 'mangle', 'filter'];
const MAXELEM = 1048576;
/** Members of a group's `list:set`: the local endpoints in that group. */
const LIST_SIZE = 65536;

/** One step of a plan. Each ipset line and each restore section is one atomic kernel change. */
export type PlanStep =
  | { readonly kind: 'ipset'; readonly lines: readonly string[] }
  | { readonly kind: 'restore'; readonly sections: readonly { readonly table: Table; readonly lines: readonly string[] }[] };

export interface PlanStats {
  readonly chainsWritten: number;
  readonly chainsDeleted: number;
  readonly setsCreated: number;
  readonly setsSwapped: number;
  readonly setsVersioned: number;
  readonly setMembersChanged: number;
  readonly setsDestroyed: number;
}

export const NO_CHANGES: PlanStats = { chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setsSwapped: 0, setsVersioned: 0, setMembersChanged: 0, setsDestroyed: 0 };

export interface FamilyPlan {
  readonly steps: readonly PlanStep[];
  readonly stats: PlanStats;
  /** The kernel after every step (the applier's model from then on). */
  readonly next: KernelState;
  /** The rendering as written (set references under the names in force). */
  readonly rendered: Rendered;
  /** Canonical set name → the name it lives under in the kernel. */
  readonly names: ReadonlyMap<string, string>;
}

export interface PlanOptions {
  readonly setPrefix: string;
  readonly commentTag: string;
  /**
   * The caller discards `k` after this plan (it keeps `next`, or, when a step fails, no model
   * at all): `k`'s chain map then moves into `next` instead of being copied (10k chains: 2–4 ms
   * per plan). `k` must not be read again. Default false (`k` stays as it was).
   */
  readonly consume?: boolean;
}

/** `<table>:<chain>`, made once per chain object (chains are immutable; the render cache reuses them). */
function ck(c: RenderedChain): string {
  let k = keyOfChain.get(c);
  if (k === undefined) keyOfChain.set(c, (k = `${c.table}:${c.name}`));
  return k;
}
const keyOfChain = new WeakMap<RenderedChain, string>();
/** The chain a model entry was made from or compared equal to (same rule ids): equal again while it is the same object. */
const chainOfEntry = new WeakMap<KernelChain, RenderedChain>();
/** The member list a model set was made from or compared equal to: equal again while it is the same array. */
const membersOfSet = new WeakMap<KernelSet, readonly string[]>();
/** The set names a model's chains name, when a plan made it (they are the rendering's as written). */
const refsOfModel = new WeakMap<KernelState, Set<string>>();
/** Per model a plan made: set name → how many of its chains name it (so the next plan derives its references from the chains that differ). */
const refCountsOfModel = new WeakMap<KernelState, Map<string, number>>();
const hookKey = (h: { table: string; chain: string }): string => `${h.table}:${h.chain}`;

/** The other version of a set name: `<p><f>0<id>` ⇄ `<p><f>1<id>` (the temporary is `<p><f>t<id>`). */
export function setVersion(name: string, setPrefix: string, version: '0' | '1' | 't'): string {
  const at = setPrefix.length + 1;
  return `${name.slice(0, at)}${version}${name.slice(at + 1)}`;
}

export { chainRuleIds } from '../render/generation.js';

/** The rendering with set references renamed (ids of the chains that change recomputed). */
export function renameSets(r: Rendered, names: ReadonlyMap<string, string>): Rendered {
  const moved = (n: string): boolean => (names.get(n) ?? n) !== n;
  if (![...names.keys()].some(moved)) return r;
  const chains = r.chains.map((c): RenderedChain => {
    let touched = false;
    const argsList = c.rules.map((rule) => {
      const i = rule.args.indexOf('--match-set');
      if (i < 0) return rule.args;
      const out = rule.args.map((a, j) => (j > 0 && rule.args[j - 1] === '--match-set' && moved(a) ? names.get(a)! : a));
      if (out.some((a, j) => a !== rule.args[j])) touched = true;
      return out;
    });
    if (!touched) return c;
    const ids = chainRuleIds(c.table, c.name, argsList);
    return { ...c, rules: argsList.map((args, i) => ({ id: ids[i]!, args })) };
  });
  const sets = r.sets.map((s): RenderedSet => (moved(s.name) ? { ...s, name: names.get(s.name)! } : s));
  return { ...r, chains, sets };
}

/** The scope of every set the chains of `r` name, walking from the hook rules (the full walk; the planner uses scope-index.ts). */
export function setScopes(r: Rendered): Map<string, SetScope> {
  return pathScopes(r).sets;
}

/**
 * Where on a packet's path sets are named and chains are reached (`<table>:<chain>` → the
 * interfaces under whose dispatch it is reached), walking from the hook rules.
 */
export function pathScopes(r: Rendered): { sets: Map<string, SetScope>; chains: Map<string, SetScope> } {
  // A rendering is immutable: the walk of the one in force is reused by the next plan.
  const known = scopesOfRendering.get(r);
  if (known) return known;
  const byName = new Map<string, RenderedChain>();
  for (const c of r.chains) byName.set(ck(c), c);
  const scopes = new Map<string, SetScope>();
  const chains = new Map<string, SetScope>();
  const note = (into: Map<string, SetScope>, key: string, i: string, o: string): void => {
    let s = into.get(key);
    if (!s) into.set(key, (s = { ins: new Set(), outs: new Set(), any: false }));
    if (i !== '*') s.ins.add(i);
    if (o !== '*') s.outs.add(o);
    if (i === '*' && o === '*') s.any = true;
  };
  const seen = new Set<string>();
  const ifs = setInterfaces(r.sets);
  const visit = (table: string, name: string, inIf: string, outIf: string): void => {
    const key = `${table}:${name}|${inIf}|${outIf}`;
    if (seen.has(key)) return;
    seen.add(key);
    const c = byName.get(`${table}:${name}`);
    if (!c) return;
    note(chains, `${table}:${name}`, inIf, outIf);
    for (const rule of pathSteps(c)) {
      walkRule(rule, 0, inIf, outIf, ifs, (v, i, o) => note(scopes, v, i, o), (v, i, o) => visit(table, v, i, o));
    }
  };
  for (const h of r.hooks) visit(h.table, h.target, '*', '*');
  const out = { sets: scopes, chains };
  scopesOfRendering.set(r, out);
  return out;
}


/** Path scopes by rendering (renderings are never changed after they are made). */
const scopesOfRendering = new WeakMap<Rendered, { sets: Map<string, SetScope>; chains: Map<string, SetScope> }>();
/** The set names a chain's rules match, by chain (chains are immutable; the render cache reuses them). */
const setsOfChain = new WeakMap<RenderedChain, string[]>();
/** The rendering a kernel model was planned from: `next` of a plan describes its `rendered` (rule ids and hooks; sets may change later). */
const plannedFrom = new WeakMap<KernelState, Rendered>();

/** The set names the chains of a kernel model name (kept for the models plans make). */
export function modelRefs(k: KernelState): Set<string> {
  let refs = refsOfModel.get(k);
  if (!refs) refsOfModel.set(k, (refs = setRefs(k.chains.values())));
  return refs;
}

/** Whether some packet's path meets both sets (rule 3). Sets no chain names meet nothing. */
export function scopesMeet(a: SetScope | undefined, b: SetScope | undefined): boolean {
  if (!a || !b) return false;
  if (a.any || b.any) return true;
  const shares = (x: Set<string>, y: Set<string>): boolean => [...x].some((v) => y.has(v));
  return shares(a.ins, b.ins) || shares(a.outs, b.outs) || (a.ins.size > 0 && b.outs.size > 0) || (a.outs.size > 0 && b.ins.size > 0);
}

/** Whether changing these sets in place, each in one step, is safe (no path meets two of them). */
export function inPlaceSafe(changed: readonly string[], scopes: ScopeLookup): boolean {
  for (let x = 0; x < changed.length; x++) {
    for (let y = x + 1; y < changed.length; y++) if (scopesMeet(scopes.get(changed[x]!), scopes.get(changed[y]!))) return false;
  }
  return true;
}

/** The tables a chain diff writes to. */
function tablesOf(d: { write: readonly RenderedChain[]; stale: readonly string[]; hookAdds: readonly { table: string }[]; hookDels: readonly [string, string][] }): Set<string> {
  const out = new Set<string>();
  for (const c of d.write) out.add(c.table);
  for (const key of [...d.stale, ...d.hookDels.map(([key]) => key)]) out.add(key.slice(0, key.indexOf(':')));
  for (const h of d.hookAdds) out.add(h.table);
  return out;
}

/** Set name → how many of these chains name it. */
function countRefs(chains: Iterable<readonly string[]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const sets of chains) for (const s of sets) out.set(s, (out.get(s) ?? 0) + 1);
  return out;
}

/**
 * The reference counts of the chains of `rr` (a rendering as written whose chains are `k`'s less
 * `stale`, with `write` replacing or adding theirs: chainDiff's promise), from `k`'s counts
 * when a plan made `k`, else counted over every chain.
 */
function nextRefCounts(k: KernelState, rr: Rendered, d: { readonly write: readonly RenderedChain[]; readonly stale: readonly string[] }): Map<string, number> {
  const base = refCountsOfModel.get(k);
  if (!base) return countRefs(rr.chains.map(chainSets));
  const out = new Map(base);
  const drop = (sets: readonly string[]): void => {
    for (const s of sets) {
      const n = out.get(s)! - 1;
      if (n > 0) out.set(s, n);
      else out.delete(s);
    }
  };
  for (const key of d.stale) drop(k.chains.get(key)!.sets);
  for (const c of d.write) {
    const have = k.chains.get(ck(c));
    if (have) drop(have.sets);
    for (const s of chainSets(c)) out.set(s, (out.get(s) ?? 0) + 1);
  }
  return out;
}

function setRefs(chains: Iterable<{ readonly sets: readonly string[] }>): Set<string> {
  const out = new Set<string>();
  for (const c of chains) for (const s of c.sets) out.add(s);
  return out;
}


function chainSets(c: RenderedChain): string[] {
  const known = setsOfChain.get(c);
  if (known) return known;
  const out: string[] = [];
  for (const rule of c.rules) rule.args.forEach((a, j) => j > 0 && rule.args[j - 1] === '--match-set' && out.push(a));
  setsOfChain.set(c, out);
  return out;
}

/** A `list:set` has no family (its members have theirs) and a size instead of `maxelem`. */
const createLine = (name: string, s: { type: string; family: 4 | 6 }): string =>
  s.type === 'list:set' ? `create ${name} list:set size ${LIST_SIZE}` : `create ${name} ${s.type} family ${s.family === 4 ? 'inet' : 'inet6'} maxelem ${MAXELEM}`;

/**
 * Whether the kernel holds the interface sets (`hash:net,iface` and `list:set`) of `r` as `r`
 * has them: the scopes of `r` (scope-index.ts) follow those members, so only then are they the
 * scopes of the rules in force.
 */
function sameInterfaceSets(r: Rendered, k: KernelState): boolean {
  for (const s of r.sets) {
    if (s.type !== 'list:set' && s.type !== 'hash:net,iface') continue;
    const have = k.sets.get(s.name);
    if (!have || have.type !== s.type) return false;
    if (membersOfSet.get(have) === s.members) continue;
    if (have.members.size !== s.members.length || s.members.some((m) => !have.members.has(m))) return false;
  }
  return true;
}

/** One endpoint's move between two groups (rule 6), under names in force (no version changes in a move). */
interface GroupMove {
  /** The group sets it leaves and joins. */
  readonly from: string;
  readonly to: string;
  /** Its interface set (`<p><f>0if:IF`). */
  readonly member: string;
  /** The packets whose verdict it can change: `{outs: IF}` (ingress, `dst,dst`), `{ins: IF}` (egress, `src,src`). */
  readonly scope: SetScope;
}

/**
 * Rule 6's move, when the changes of the sets the rules in force name are one: exactly two of
 * them are lists, one gains one interface set and the other loses the same one, which exists
 * unchanged (as every interface set) and names one plain interface; each list is named exactly
 * once in the chains, by a rule `--match-set G <x>,<side> -g <target>` (not negated) of one same
 * chain, testing the same side. The rest (the other sets and their scopes) is the caller's.
 */
function groupMove(
  k: KernelState,
  r: Rendered,
  names: ReadonlyMap<string, string>,
  changed: ReadonlySet<string>,
  namedNow: readonly string[],
  counts: ReadonlyMap<string, number>,
  idx: ScopeIndex,
): GroupMove | undefined {
  const sets = new Map(r.sets.map((s) => [s.name, s]));
  const lists = namedNow.filter((c) => sets.get(names.get(c)!)?.type === 'list:set');
  if (lists.length !== 2) return undefined;
  let from: string | undefined;
  let to: string | undefined;
  let member: string | undefined;
  for (const c of lists) {
    const want = sets.get(names.get(c)!)!.members;
    const have = k.sets.get(names.get(c)!)!.members;
    const w = new Set(want);
    const adds = want.filter((m) => !have.has(m));
    const dels = [...have].filter((m) => !w.has(m));
    if (adds.length + dels.length !== 1 || (member !== undefined && member !== (adds[0] ?? dels[0]))) return undefined;
    member = adds[0] ?? dels[0];
    if (adds.length === 1) to = c;
    else from = c;
  }
  if (from === undefined || to === undefined || member === undefined) return undefined;
  if (sets.get(member)?.type !== 'hash:net,iface' || k.sets.get(member)?.type !== 'hash:net,iface') return undefined;
  // Interface sets never change (rule 6); one that did would change every list holding it.
  for (const c of changed) if (sets.get(names.get(c)!)?.type === 'hash:net,iface') return undefined;
  const ifs = setInterfaces(r.sets).get(member);
  if (!ifs || ifs.size !== 1) return undefined;
  const [iface] = ifs as ReadonlySet<string>;
  let chain: string | undefined;
  let side: string | undefined;
  for (const c of [from, to]) {
    const n = names.get(c)!;
    const users = idx.testersOf(n);
    if (counts.get(n) !== 1 || !users || users.size !== 1) return undefined;
    const [key, tests] = [...users][0]!;
    if (tests !== 1 || (chain !== undefined && key !== chain)) return undefined;
    chain = key;
    const rule = idx.chainAt(key)?.rules.find((x) => x.args.some((a, j) => a === n && x.args[j - 1] === '--match-set'));
    if (!rule) return undefined;
    const a = rule.args;
    const at = a.indexOf(n);
    const s = (a[at + 1] ?? '').split(',')[1];
    if (a[at - 2] === '!' || a.indexOf('-g') < 0 || a.includes('-j') || (side !== undefined && s !== side)) return undefined;
    side = s;
  }
  const scope: SetScope = side === 'dst' ? { ins: new Set(), outs: new Set([iface!]), any: false } : { ins: new Set([iface!]), outs: new Set(), any: false };
  return { from, to, member, scope };
}

function delta(have: KernelSet, want: readonly string[], name: string): string[] {
  const w = new Set(want);
  const lines: string[] = [];
  for (const m of want) if (!have.members.has(m)) lines.push(`add ${name} ${m}`);
  for (const m of have.members) if (!w.has(m)) lines.push(`del ${name} ${m}`);
  return lines;
}

/** Rebuild `name` in its temporary and swap it in: one atomic step (the `swap` line) for readers. */
function swapLines(name: string, s: { type: string; family: 4 | 6; members: readonly string[] }, setPrefix: string): string[] {
  const tmp = setVersion(name, setPrefix, 't');
  return [createLine(tmp, s), `flush ${tmp}`, ...s.members.map((m) => `add ${tmp} ${m}`), `swap ${tmp} ${name}`, `destroy ${tmp}`];
}

/** Which name a canonical set lives under now: the version the chains in force name, else the one that exists. */
export function liveName(canonical: string, k: KernelState, refs: ReadonlySet<string>, setPrefix: string): string {
  const v1 = setVersion(canonical, setPrefix, '1');
  if (refs.has(v1) && !refs.has(canonical)) return v1;
  if (k.sets.has(canonical) || !k.sets.has(v1)) return canonical;
  return v1;
}

/** The generation every one of the three tables carries, when they agree. */
function uniformGeneration(k: KernelState): number | undefined {
  const gs = TABLES.map((t) => k.generations.get(t));
  return gs[0] !== undefined && gs.every((g) => g === gs[0]) ? gs[0] : undefined;
}

/**
 * Whether a chain of the model holds these rules: as many, and the same last id. Ids are chained
 * (each hashes the one before), so the last pins them all; the tables carry it alone (in the
 * last rule's comment, format.ts), so a read-back knows only that one (`?` for the others).
 */
function sameRules(ids: readonly string[], rules: readonly RenderedRule[]): boolean {
  return ids.length === rules.length && (ids.length === 0 || ids[ids.length - 1] === rules[rules.length - 1]!.id);
}

/** Whether `r` (a rendering as written) is exactly what `k` holds: same chains, rule ids and hook rules. */
function describes(r: Rendered, k: KernelState): boolean {
  // Chains and hooks of a model change only by a new plan (a members-only plan replaces sets).
  if (plannedFrom.get(k) === r) return true;
  if (r.chains.length !== k.chains.size) return false;
  for (const c of r.chains) {
    const have = k.chains.get(ck(c));
    if (!have || !sameRules(have.ids, c.rules)) return false;
  }
  let hooks = 0;
  for (const list of k.hooks.values()) hooks += list.length;
  return hooks === r.hooks.length && r.hooks.every((h) => (k.hooks.get(hookKey(h)) ?? []).includes(h.args.join(' ')));
}

/**
 * Plans one family's convergence from `k` to the rendering `rendered` (canonical set names, any
 * generation). `previous`: the rendering as written that `k` models (checked; ignored when it
 * does not match), which lets sets change in place beside a rule change (rule 2).
 */
export function planConverge(k: KernelState, rendered: Rendered, o: PlanOptions, previous?: Rendered): FamilyPlan {
  // The generation: the one in force while the tables agree (changed below when more than one
  // table changes), else one no table carries.
  const inForce = [...k.generations.values()];
  const uniform = uniformGeneration(k);
  const r = rendered.stamp ? withGeneration(rendered, uniform ?? freshGeneration(inForce)) : rendered;
  const refsK = modelRefs(k);
  const names = new Map<string, string>();
  // Interface sets (`hash:net,iface`) are never versioned: lists name them by their canonical name.
  for (const s of r.sets) names.set(s.name, s.type === 'hash:net,iface' ? s.name : liveName(s.name, k, refsK, o.setPrefix));

  // The rendering in force, when the caller's model of it is exact (else no in-place change beside a rule change).
  // Its scopes follow the interface sets it holds (scope-index.ts): those must be the kernel's too.
  const old = previous && describes(previous, k) && sameInterfaceSets(previous, k) ? previous : undefined;
  const chainDiff = (rr: Rendered) => {
    let found = 0;
    // A chain object at the same place in the rendering in force is in the model with equal ids
    // (after a small change the render cache hands back nearly every chain object): no lookup.
    const same = old && old.chains.length === rr.chains.length ? old.chains : undefined;
    const write = rr.chains.filter((c, i) => {
      if (same && same[i] === c) {
        found++;
        return false;
      }
      const have = k.chains.get(ck(c));
      if (have) found++;
      if (have && chainOfEntry.get(have) === c) return false;
      if (!have || !sameRules(have.ids, c.rules)) return true;
      chainOfEntry.set(have, c);
      return false;
    });
    // Every chain of the model is wanted when each was found (chain keys of a rendering are unique).
    let stale: string[] = [];
    if (found !== k.chains.size) {
      const want = new Set(rr.chains.map(ck));
      stale = [...k.chains.keys()].filter((n) => !want.has(n)).sort();
    }
    const hookAdds = rr.hooks.filter((h) => !(k.hooks.get(hookKey(h)) ?? []).includes(h.args.join(' ')));
    const hookDels: [string, string][] = [];
    for (const [key, list] of k.hooks) {
      for (const args of list) if (!rr.hooks.some((h) => hookKey(h) === key && h.args.join(' ') === args)) hookDels.push([key, args]);
    }
    return { write, stale, hookAdds, hookDels, any: write.length + stale.length + hookAdds.length + hookDels.length > 0 };
  };

  // Which existing sets change, and which of them the rules in force name.
  const changed = new Set<string>(); // canonical names of existing sets whose members or type differ
  for (const s of r.sets) {
    const have = k.sets.get(names.get(s.name)!);
    if (!have || (have.type === s.type && membersOfSet.get(have) === s.members)) continue;
    if (have.type !== s.type || have.members.size !== s.members.length || s.members.some((m) => !have.members.has(m))) changed.add(s.name);
    else membersOfSet.set(have, s.members);
  }
  const first = renameSets(r, names);
  const d0 = chainDiff(first);
  const namedNow = [...changed].filter((c) => refsK.has(names.get(c)!));
  const counts0 = nextRefCounts(k, first, d0);
  const refsNew0 = new Set(counts0.keys());
  const setOf = new Map(r.sets.map((s) => [s.name, s]));
  const typeOf = (c: string): string => setOf.get(c)!.type;
  const live = new Map(names);
  const version = new Set<string>();
  /** Named by the rules in force and by the new ones, members changed before the commit (rule 2, in place beside a rule change). */
  const inPlace = new Set<string>();
  /** Rule 6: one endpoint's move between two groups, two `ipset` lines and no commit. */
  let move: GroupMove | undefined;
  const isList = (c: string): boolean => typeOf(c) === 'list:set' || k.sets.get(names.get(c)!)!.type === 'list:set';
  if (d0.any) {
    for (const c of namedNow) if (refsNew0.has(names.get(c)!)) (old && d0.hookAdds.length + d0.hookDels.length === 0 ? inPlace : version).add(c);
  } else if (namedNow.length > 1 && !namedNow.some(isList)) {
    if (!inPlaceSafe(namedNow.map((c) => names.get(c)!), scopeIndex(first, previous).sets)) for (const c of namedNow) version.add(c);
  } else if (namedNow.length > 1) {
    // Group sets change: the paths (so the scopes) of the old and the new members differ, and
    // each set's scope is both (rule 6). Without the old rendering's walk, version them all.
    const idx = old && namedNow.every((c) => k.sets.get(names.get(c)!)!.type === typeOf(c)) ? scopeIndex(old) : undefined;
    let safe = false;
    if (idx) {
      idx.journal();
      idx.moveTo(first);
      const was = idx.journaled();
      const both = (c: string): (SetScope | undefined)[] => [was.sets.get(names.get(c)!), idx.sets.get(names.get(c)!)];
      move = groupMove(k, first, names, changed, namedNow, counts0, idx);
      const rest = move ? namedNow.filter((c) => c !== move!.from && c !== move!.to) : namedNow;
      safe = true;
      for (let x = 0; safe && x < rest.length; x++) {
        const a = both(rest[x]!);
        if (move && a.some((s) => scopesMeet(s, move!.scope))) safe = false;
        for (let y = x + 1; safe && y < rest.length; y++) if (a.some((s) => both(rest[y]!).some((t) => scopesMeet(s, t)))) safe = false;
      }
      idx.settle();
    }
    if (!safe) {
      move = undefined;
      for (const c of namedNow) version.add(c);
    }
  }
  // A set named by the rules in force cannot change type in place (ipset would refuse to destroy it).
  for (const c of namedNow) {
    if (k.sets.get(names.get(c)!)!.type !== typeOf(c)) {
      version.add(c);
      inPlace.delete(c);
    }
  }
  // Scopes of the rules in force (journaled) and of each candidate rendering: one index moved
  // between them by the chains that differ (scope-index.ts), not a walk of every path per plan.
  const index = inPlace.size > 0 && old ? scopeIndex(old) : undefined;
  index?.journal();
  const oldScopes = index?.journaled(); // defined whenever inPlace is not empty
  let rr: Rendered;
  let d: ReturnType<typeof chainDiff>;
  for (;;) {
    names.clear();
    for (const [c, n] of live) names.set(c, n);
    const versioned = new Set(version);
    for (const c of [...versioned]) {
      const at = live.get(c)!;
      const other = setVersion(at, o.setPrefix, at === c ? '1' : '0');
      // Both versions named by the rules in force (a restart after an interrupted multi-table
      // commit): no free name to build in; the change happens in place (rule 3's limit applies).
      if (refsK.has(other)) versioned.delete(c);
      else names.set(c, other);
    }
    rr = versioned.size > 0 ? renameSets(r, names) : first;
    d = versioned.size > 0 ? chainDiff(rr) : d0;
    if (rr.stamp && uniform !== undefined && tablesOf(d).size > 1) {
      // Several commits: a generation no table carries, so no table decides on a packet another
      // table's other generation stamped or would have decided (rule 5).
      rr = withGeneration(rr, freshGeneration(inForce));
      d = chainDiff(rr);
    }
    if (inPlace.size === 0 || !oldScopes) {
      version.clear();
      for (const c of versioned) version.add(c);
      break;
    }
    // Rule 2, in place beside a rule change: a set whose members change before the commit must
    // lie on no packet path that reaches a chain the commit changes (in the old rules or the new:
    // a path that reaches none is the same path in both), nor on one naming another changed set.
    const now = index!.moveTo(rr);
    const rewritten = d.write.map(ck).filter((key) => k.chains.has(key));
    const scopesOf = (n: string): (SetScope | undefined)[] => [oldScopes.sets.get(n), now.sets.get(n)];
    const unsafe = [...inPlace].filter((c) => {
      const mine = scopesOf(live.get(c)!);
      const others = [
        ...rewritten.flatMap((key) => [oldScopes.chains.get(key), now.chains.get(key)]),
        ...[...changed].filter((x) => x !== c).flatMap((x) => [...scopesOf(live.get(x)!), ...scopesOf(names.get(x)!)]),
      ];
      return mine.some((m) => others.some((t) => scopesMeet(m, t)));
    });
    if (unsafe.length === 0) {
      version.clear();
      for (const c of versioned) version.add(c);
      break;
    }
    for (const c of unsafe) {
      inPlace.delete(c);
      version.add(c);
    }
  }
  index?.settle();
  if (previous) shareScopeIndex(previous, rr);
  const pre: string[] = [];
  const post: string[] = [];
  let setsCreated = 0;
  let setsSwapped = 0;
  let setMembersChanged = 0;
  // A list's member exists before any `add LIST member` (lists after the sets they hold).
  const listsLast = r.sets.some((x) => x.type === 'list:set') ? [...r.sets.filter((x) => x.type !== 'list:set'), ...r.sets.filter((x) => x.type === 'list:set')] : r.sets;
  for (const s of listsLast) {
    const name = names.get(s.name)!;
    const have = k.sets.get(name);
    if (move && (s.name === move.from || s.name === move.to)) continue;
    if (version.has(s.name)) {
      // A fresh version only the new rules will name; a leftover of that name is unreferenced.
      if (have && have.type !== s.type) pre.push(`destroy ${name}`);
      pre.push(createLine(name, s), `flush ${name}`, ...s.members.map((m) => `add ${name} ${m}`));
      continue;
    }
    if (!have) {
      pre.push(createLine(name, s), ...s.members.map((m) => `add ${name} ${m}`));
      setsCreated++;
      continue;
    }
    if (!changed.has(s.name)) continue;
    const inForce = refsK.has(name);
    if (have.type !== s.type) {
      // Only when no rule in force names it (else it was versioned above).
      pre.push(`destroy ${name}`, createLine(name, s), ...s.members.map((m) => `add ${name} ${m}`));
      setsCreated++;
      continue;
    }
    const lines = delta(have, s.members, name);
    if (!inForce) {
      pre.push(...lines);
      setMembersChanged += lines.length;
    } else if (d.any && !inPlace.has(s.name)) {
      // Named by the old rules only (else versioned or safe in place): change it once they are gone.
      post.push(...lines);
      setMembersChanged += lines.length;
    } else if (lines.length === 1) {
      pre.push(...lines);
      setMembersChanged += 1;
    } else {
      pre.push(...swapLines(name, s, o.setPrefix));
      setsSwapped++;
      setMembersChanged += lines.length;
    }
  }

  if (move) {
    // Rule 6: the new group first, then out of the old one: in between the dispatch rule that
    // comes first decides, the old group's or the new one's.
    pre.push(`add ${names.get(move.to)!} ${move.member}`, `del ${names.get(move.from)!} ${move.member}`);
    setMembersChanged += 2;
  }
  const steps: PlanStep[] = [];
  if (pre.length > 0) steps.push({ kind: 'ipset', lines: pre });
  if (d.any) {
    const sections = new Map<Table, string[]>();
    const sec = (table: string): string[] => {
      let l = sections.get(table as Table);
      if (!l) sections.set(table as Table, (l = []));
      return l;
    };
    const split = (key: string): [string, string] => {
      const i = key.indexOf(':');
      return [key.slice(0, i), key.slice(i + 1)];
    };
    const declared = [...d.write.map(ck), ...d.stale];
    for (const key of declared) {
      const [table, name] = split(key);
      sec(table).push(`:${name} - [0:0]`);
    }
    for (const key of declared) {
      const [table, name] = split(key);
      if (k.chains.has(key)) sec(table).push(`-F ${name}`);
    }
    for (const c of d.write) sec(c.table).push(...formatChainRules(c.name, c.rules, o.commentTag));
    for (const [key, args] of d.hookDels) {
      const [table, chain] = split(key);
      sec(table).push(`-D ${chain} ${args}`);
    }
    for (const key of d.stale) {
      const [table, name] = split(key);
      sec(table).push(`-X ${name}`);
    }
    for (const h of d.hookAdds) sec(h.table).push(`-I ${h.chain} 1 ${h.args.join(' ')}`);
    steps.push({ kind: 'restore', sections: TABLES.filter((t) => sections.has(t)).map((table) => ({ table, lines: sections.get(table)! })) });
  }
  if (post.length > 0) steps.push({ kind: 'ipset', lines: post });

  // Destroy every set of ours nothing names any more: old versions, vanished sets, temporaries.
  const keep = new Set(names.values());
  // Lists first: a set a list holds cannot be destroyed ("in use by a kernel component").
  const listFirst = (n: string): number => (k.sets.get(n)!.type === 'list:set' ? 0 : 1);
  const gone = [...k.sets.keys()].filter((n) => !keep.has(n)).sort((a, b) => listFirst(a) - listFirst(b) || (a < b ? -1 : a > b ? 1 : 0));
  if (gone.length > 0) steps.push({ kind: 'ipset', lines: gone.map((n) => `destroy ${n}`) });

  // The model after every step. Chains not written and sets not touched keep their entries
  // (equal rule ids are equal rules; entries are replaced, never changed in place).
  // The chains: the model's, less the stale ones, with the written ones replaced (every other
  // chain of `rr` is in the model with equal ids: chainDiff compared it).
  const counts = rr === first ? counts0 : nextRefCounts(k, rr, d); // before `next` takes k's chains
  const next: KernelState = { chains: o.consume ? k.chains : new Map(k.chains), hooks: new Map(), sets: new Map(), generations: new Map() };
  if (rr.stamp) for (const t of TABLES) next.generations.set(t, rr.stamp.generation);
  for (const key of d.stale) next.chains.delete(key);
  for (const c of d.write) {
    const entry = { ids: c.rules.map((x) => x.id), sets: chainSets(c) };
    chainOfEntry.set(entry, c);
    next.chains.set(ck(c), entry);
  }
  for (const h of rr.hooks) next.hooks.set(hookKey(h), [...(next.hooks.get(hookKey(h)) ?? []), h.args.join(' ')]);
  const untouched = new Set<string>();
  for (const s of r.sets) if (!version.has(s.name) && !changed.has(s.name) && k.sets.has(names.get(s.name)!)) untouched.add(names.get(s.name)!);
  for (const s of rr.sets) {
    const have = untouched.has(s.name) ? k.sets.get(s.name) : undefined;
    const entry = have && have.type === s.type ? have : { type: s.type, members: new Set(s.members) };
    if (entry !== have) membersOfSet.set(entry, s.members);
    next.sets.set(s.name, entry);
  }
  plannedFrom.set(next, rr);
  refCountsOfModel.set(next, counts);
  refsOfModel.set(next, rr === first ? refsNew0 : new Set(counts.keys()));
  return {
    steps,
    next,
    rendered: rr,
    names,
    stats: {
      chainsWritten: d.write.length,
      chainsDeleted: d.stale.length,
      setsCreated,
      setsSwapped,
      setsVersioned: version.size,
      setMembersChanged,
      setsDestroyed: gone.length,
    },
  };
}

/**
 * The members-only fast path (no render): `updates` are the wanted members of sets the kernel
 * holds under `name`; `scopes` those of the chains in force (asked for only when two named sets
 * change). Returns the plan when rule 3 allows changing them in place, else undefined (the caller
 * renders and versions).
 */
export function planMembers(
  k: KernelState,
  refs: ReadonlySet<string>,
  scopes: () => ScopeLookup,
  updates: readonly { readonly name: string; readonly type: string; readonly family: 4 | 6; readonly members: readonly string[] }[],
  o: PlanOptions,
): { steps: PlanStep[]; stats: PlanStats; apply(): void } | undefined {
  const lines: string[] = [];
  const named: string[] = [];
  let setsSwapped = 0;
  let setMembersChanged = 0;
  for (const u of updates) {
    const have = k.sets.get(u.name);
    if (!have || have.type !== u.type) return undefined;
    const d = delta(have, u.members, u.name);
    if (d.length === 0) continue;
    setMembersChanged += d.length;
    if (!refs.has(u.name)) {
      lines.push(...d);
      continue;
    }
    named.push(u.name);
    if (named.length > 1 && !inPlaceSafe(named, scopes())) return undefined;
    if (d.length === 1) lines.push(...d);
    else {
      lines.push(...swapLines(u.name, u, o.setPrefix));
      setsSwapped++;
    }
  }
  return {
    steps: lines.length > 0 ? [{ kind: 'ipset', lines }] : [],
    stats: { ...NO_CHANGES, setsSwapped, setMembersChanged },
    apply() {
      for (const u of updates) k.sets.set(u.name, { type: u.type, members: new Set(u.members) });
    },
  };
}

/** `iptables-restore --noflush` input for one restore step. */
export function restoreText(step: Extract<PlanStep, { kind: 'restore' }>): string {
  const out: string[] = [];
  for (const s of step.sections) {
    // No spread: a table can hold far more lines than a call has room for arguments.
    out.push(`*${s.table}`);
    for (const l of s.lines) out.push(l);
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}
