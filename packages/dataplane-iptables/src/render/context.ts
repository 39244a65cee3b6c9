/**
 * What the parts of one rendering share: the resolved options, the chains and IP sets made so
 * far, and the rule fragments every chain uses (marks, the deny verdict, flow-log NFLOG rules).
 * One context per `renderState` call; the parts (policy-chains, endpoint-chains, host-endpoints,
 * static-chains) append to it in a fixed order, so equal states render equal text. Pure.
 */
import type { DataplaneState } from '@gingham/core';
import type { CachedChain, EndpointGroup, EndpointKey, RenderCache, RenderedFrom } from './render-cache.js';
import { chainName, hashText, setName } from './names.js';
import { nflogPrefix, type NflogDecision } from './nflog-prefix.js';
import type { ResolvedRenderOptions, Table } from './options.js';
import type { RenderedChain, RenderedRule, RenderedSet } from './rendered.js';
import type { RuleContext } from './rules.js';
import { setMembers } from './set-members.js';

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** Rules of one chain; each rule id hashes the chain, the previous id and the rule, so it also pins the position. */
export class ChainBuilder {
  private readonly rules: RenderedRule[] = [];
  private prev = '';
  constructor(
    readonly table: Table,
    readonly name: string,
  ) {}
  add(...args: string[]): void {
    const id = hashText(`${this.table}|${this.name}|${this.prev}|${args.join(' ')}`, 16);
    this.prev = id;
    this.rules.push({ id, args });
  }
  build(): RenderedChain {
    return { table: this.table, name: this.name, rules: this.rules };
  }
}

export class RenderContext {
  readonly chains: RenderedChain[] = [];
  /** The chains of `chains` this rendering made (built or pushed), not taken from the render cache. */
  readonly fresh: RenderedChain[] = [];
  readonly sets = new Map<string, RenderedSet>();
  /** Flow logs: names too long for an NFLOG prefix, by their hashed token. */
  readonly nflogNames = new Map<string, string>();
  /**
   * `groupDispatch: 'ipset'`: the groups the workload endpoints of this rendering joined, by
   * group set name, with their members (per-interface set names, in endpoint order). Recomputed
   * every rendering (policy-groups.ts, `renderGroupDispatch`); never cached.
   */
  readonly groups = new Map<string, { readonly group: EndpointGroup; readonly members: string[] }>();
  /** Accept and pass: the bits every endpoint chain clears first. */
  readonly marks: number;
  readonly rules: RuleContext;
  /**
   * The render cache's entries of this family, changed in place: those of the last rendering, and
   * those this rendering made or used, marked with its `epoch` (so taking an unchanged chain
   * costs a mark, not an insert into a new map of every chain); `commitCache` drops the unmarked.
   */
  private readonly entries: Map<string, CachedChain>;
  private readonly epoch = ++renderings;
  /** Kernel members of Engine sets by id (render-cache.ts; dropped when a set changes). */
  private readonly keptMembers: Map<string, readonly string[]> | undefined;
  /** While a cacheable chain is built: what it registers (sets, NFLOG names, cached chains), to replay on reuse. */
  private rec: { setIds: string[]; netSets: [string, readonly string[]][]; nflog: [string, string][]; nested: string[] } | undefined;
  /** While an endpoint chain's key is computed: the cached chains that made or reused (its policy and profile chains). */
  private collecting: string[] | undefined;
  /** What the last rendering of this family was made from, and `pol:<id>`/`prof:<id>` of what changed since (undefined: no last rendering). */
  private readonly from: RenderedFrom | undefined;
  private readonly changed: Set<string> | undefined;
  private readonly endpointKeys = new Map<string, EndpointKey>();
  private readonly setNames = new Map<string, string>();

  constructor(
    readonly state: DataplaneState,
    readonly family: 4 | 6,
    readonly o: ResolvedRenderOptions,
    private readonly cache?: RenderCache,
  ) {
    let entries = cache?.entries.get(family);
    if (!entries) {
      entries = new Map();
      cache?.entries.set(family, entries);
    }
    this.entries = entries;
    this.from = cache?.from.get(family);
    if (this.from) {
      this.changed = new Set();
      changedIds(this.changed, 'pol:', state.policies, this.from.policies);
      changedIds(this.changed, 'prof:', state.profiles, this.from.profiles);
    }
    if (cache && !cache.members.has(family)) cache.members.set(family, new Map());
    this.keptMembers = cache?.members.get(family);
    this.marks = o.acceptMark | o.passMark;
    // IP sets: every Engine set of this family's members; referenced-but-missing sets render empty.
    for (const id of [...state.ipSets.keys()].sort()) this.setRef(id);
    this.rules = {
      family,
      setRef: (id) => this.setRef(id),
      netSet: (cidrs) => {
        const members = [...new Set(cidrs)].sort();
        const n = setName(o.setPrefix, family, false, `d:${hashText(members.join(','), 22)}`);
        this.rec?.netSets.push([n, members]);
        if (!this.sets.has(n)) this.sets.set(n, { name: n, type: 'hash:net', family, members });
        return n;
      },
    };
  }

  get prefix(): string {
    return this.o.chainPrefix;
  }

  /** `<prefix><kind>-<id>` (hashed when too long). */
  name(kind: string, id: string): string {
    return chainName(this.o.chainPrefix, kind, id);
  }

  private setRef(id: string): string {
    this.rec?.setIds.push(id);
    let n = this.setNames.get(id);
    if (n === undefined) this.setNames.set(id, (n = setName(this.o.setPrefix, this.family, false, id)));
    if (!this.sets.has(n)) {
      const s = this.state.ipSets.get(id);
      const type = s?.type === 'net-port-proto' ? 'hash:net,port' : 'hash:net';
      const members = (s && this.keptMembers?.get(id)) ?? setMembers(s?.type ?? 'nets', s?.members ?? [], this.family);
      if (s) this.keptMembers?.set(id, members);
      this.sets.set(n, { name: n, type, family: this.family, members });
    }
    return n;
  }

  setMark(m: number): string[] {
    return ['-j', 'MARK', '--set-xmark', `${hex(m)}/${hex(m)}`];
  }

  ifMark(m: number): string[] {
    return ['-m', 'mark', '--mark', `${hex(m)}/${hex(m)}`];
  }

  ifNotMark(m: number): string[] {
    return ['-m', 'mark', '--mark', `0x0/${hex(m)}`];
  }

  /** The deny verdict (`DROP`, or `REJECT` with the family's port-unreachable). */
  deny(): string[] {
    return this.o.denyAction === 'DROP'
      ? ['-j', 'DROP']
      : ['-j', 'REJECT', '--reject-with', this.family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'];
  }

  /** The NFLOG rule of a flow-log decision (`[]` without flow logs). */
  flowLog(d: NflogDecision): string[] {
    const fl = this.o.flowLogs;
    if (!fl) return [];
    const { prefix, hashed } = nflogPrefix(d);
    if (hashed) {
      this.nflogNames.set(hashed, d.name);
      this.rec?.nflog.push([hashed, d.name]);
    }
    const groupOf = d.direction === 'ingress' ? fl.ingressGroup : fl.egressGroup;
    return ['-j', 'NFLOG', '--nflog-group', String(groupOf), '--nflog-prefix', prefix, '--nflog-size', '80'];
  }

  push(...chains: ChainBuilder[]): void {
    for (const c of chains) {
      const built = c.build();
      this.chains.push(built);
      this.fresh.push(built);
    }
  }

  /**
   * Adds the chain `build` makes, or the cached one of equal `key` (a key names everything the
   * chain is built from) with its registrations replayed and the cached chains it names pushed
   * too. A key already added in this rendering is not added twice. A chain built inside another
   * (a policy chain while an endpoint chain is keyed) registers for both. `nested`: cached chains
   * the caller made or reused for this one (kept with it, pushed with it by a later `reuse`);
   * `build` must then make no cached chains itself.
   */
  pushCached(key: string, build: () => RenderedChain, nested?: readonly string[]): void {
    this.rec?.nested.push(key);
    this.collecting?.push(key);
    const done = this.used(key);
    if (done) {
      if (this.rec) this.replay(done);
      return;
    }
    const hit = this.entries.get(key);
    if (hit && nested) {
      // The caller made or reused the chains this one names (they need not be those of the
      // cached entry: a key names chains by name, not by content), and keeps them with it.
      const entry = { ...hit, nested: [...nested] };
      this.replay(entry);
      this.use(key, entry);
      this.chains.push(entry.chain);
      return;
    }
    if (this.reuse(key)) return;
    const outer = this.rec;
    const rec: NonNullable<typeof outer> = { setIds: [], netSets: [], nflog: [], nested: [...(nested ?? [])] };
    this.rec = rec;
    try {
      const chain = build();
      this.use(key, {
        chain,
        setIds: [...new Set(rec.setIds)],
        netSets: [...new Map(rec.netSets)],
        nflog: [...new Map(rec.nflog)],
        nested: [...new Set(rec.nested)],
        seen: 0,
      });
      this.chains.push(chain);
      this.fresh.push(chain);
    } finally {
      if (outer) {
        outer.setIds.push(...rec.setIds);
        outer.netSets.push(...rec.netSets);
        outer.nflog.push(...rec.nflog);
      }
      this.rec = outer;
    }
  }

  /** Notes that the chain being built or keyed names the cached chain `key`, already added in this rendering. */
  mention(key: string): void {
    this.rec?.nested.push(key);
    this.collecting?.push(key);
  }

  /**
   * Adds the cached chain of `key` of the last rendering and those it names; false when it is not
   * cached. Those it names are cached too: a rendering adds every chain an entry it uses names
   * (built, reused with the caller's chains, or adopted with its own), and the cache holds
   * exactly the entries of the last rendering.
   */
  reuse(key: string): boolean {
    const hit = this.entries.get(key);
    if (!hit) return false;
    if (hit.seen !== this.epoch) this.adopt(key, hit);
    return true;
  }

  private adopt(key: string, hit: CachedChain): void {
    this.replay(hit);
    hit.seen = this.epoch;
    this.chains.push(hit.chain);
    for (const k of hit.nested) {
      const e = this.entries.get(k)!;
      if (e.seen === this.epoch) {
        if (this.rec) this.replay(e);
      } else this.adopt(k, e);
    }
  }

  /** The entry of `key` when this rendering made or used it. */
  private used(key: string): CachedChain | undefined {
    const e = this.entries.get(key);
    return e !== undefined && e.seen === this.epoch ? e : undefined;
  }

  /** Marks `entry` as this rendering's entry of `key`. */
  private use(key: string, entry: CachedChain): void {
    entry.seen = this.epoch;
    this.entries.set(key, entry);
  }

  private replay(hit: CachedChain): void {
    for (const id of hit.setIds) this.setRef(id);
    for (const [n, members] of hit.netSets) {
      this.rec?.netSets.push([n, members]);
      if (!this.sets.has(n)) this.sets.set(n, { name: n, type: 'hash:net', family: this.family, members });
    }
    for (const [h, n] of hit.nflog) {
      this.nflogNames.set(h, n);
      this.rec?.nflog.push([h, n]);
    }
  }

  /**
   * Runs `f`, returning the keys of the cached chains it made or reused. They count for an
   * enclosing `collect` too, unless `own`: then the caller hands them to a chain of its own (a
   * policy-group chain keeps its policy chains, and an endpoint chain names only the group).
   */
  collect<T>(f: () => T, own = false): { value: T; keys: string[] } {
    const outer = this.collecting;
    const keys: string[] = [];
    this.collecting = keys;
    try {
      return { value: f(), keys };
    } finally {
      this.collecting = outer;
      if (!own) outer?.push(...keys);
    }
  }

  /**
   * The key the endpoint chain `chainKey` (`<table>:<chain>`) had in the last rendering, when it
   * was computed from these same tier and profile lists and none of the policies and profiles it
   * names changed since (with the groups it remembers); kept for the next rendering when used.
   */
  knownEndpointKey(chainKey: string, spec: Omit<EndpointKey, 'deps' | 'key' | 'groups'>): EndpointKey | undefined {
    const m = this.from?.endpointKeys.get(chainKey);
    const changed = this.changed;
    if (!m || !changed) return undefined;
    if (m.tiers !== spec.tiers || m.profiles !== spec.profiles || m.failsafe !== spec.failsafe || m.forward !== spec.forward || m.dir !== spec.dir) return undefined;
    if (changed.size <= m.deps.size) {
      for (const id of changed) if (m.deps.has(id)) return undefined;
    } else for (const id of m.deps) if (changed.has(id)) return undefined;
    this.endpointKeys.set(chainKey, m);
    return m;
  }

  rememberEndpointKey(chainKey: string, m: EndpointKey): void {
    this.endpointKeys.set(chainKey, m);
  }

  /** Group dispatch sets of this rendering, name → members (kept as the last rendering's on `commitCache`). */
  private readonly dispatchMembers = new Map<string, readonly string[]>();

  /**
   * The members of the group dispatch set `name` (policy-groups.ts): the last rendering's array
   * when it holds the same members (sorted), else `members`.
   */
  stableMembers(name: string, members: readonly string[]): readonly string[] {
    const was = this.cache?.dispatchMembers.get(this.family)?.get(name);
    const out = was !== undefined && was.length === members.length && was.every((m, i) => m === members[i]) ? was : members;
    if (this.cache) this.dispatchMembers.set(name, out);
    return out;
  }

  /** Keeps the chains this rendering used for the next one (only those: the cache never grows past one rendering). */
  commitCache(): void {
    if (!this.cache) return;
    this.cache.dispatchMembers.set(this.family, this.dispatchMembers);
    // Only this rendering's entries stay: the cache never grows past one rendering.
    for (const [key, e] of this.entries) if (e.seen !== this.epoch) this.entries.delete(key);
    // What this rendering was made from: the last one's maps brought up to date by what changed.
    const from = this.from ?? { policies: new Map(this.state.policies), profiles: new Map(this.state.profiles), endpointKeys: new Map() };
    for (const tagged of this.changed ?? []) {
      const policy = tagged.startsWith('pol:');
      const into = policy ? from.policies : from.profiles;
      const id = tagged.slice(policy ? 4 : 5);
      const v = policy ? this.state.policies.get(id) : this.state.profiles.get(id);
      if (v === undefined) into.delete(id);
      else into.set(id, v);
    }
    this.cache.from.set(this.family, { policies: from.policies, profiles: from.profiles, endpointKeys: this.endpointKeys });
  }
}

/** Renderings so far (any cache, any family): each marks the cache entries it uses with its own number. */
let renderings = 0;

/** Adds `<tag><id>` for every id whose value differs between `now` and `was` (added, removed, replaced). */
function changedIds(out: Set<string>, tag: string, now: ReadonlyMap<string, unknown>, was: ReadonlyMap<string, unknown>): void {
  let both = 0;
  for (const [id, v] of now) {
    const w = was.get(id);
    if (w === undefined) out.add(tag + id);
    else {
      both++;
      if (w !== v) out.add(tag + id);
    }
  }
  if (both !== was.size) for (const id of was.keys()) if (!now.has(id)) out.add(tag + id);
}
