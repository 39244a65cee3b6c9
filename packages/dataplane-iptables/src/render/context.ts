/**
 * What the parts of one rendering share: the resolved options, the chains and IP sets made so
 * far, and the rule fragments every chain uses (marks, the deny verdict, flow-log NFLOG rules).
 * One context per `renderState` call; the parts (policy-chains, endpoint-chains, host-endpoints,
 * static-chains) append to it in a fixed order, so equal states render equal text. Pure.
 */
import type { DataplaneState } from '@gingham/core';
import type { CachedChain, RenderCache } from './render-cache.js';
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
  readonly sets = new Map<string, RenderedSet>();
  /** Flow logs: names too long for an NFLOG prefix, by their hashed token. */
  readonly nflogNames = new Map<string, string>();
  /** Accept and pass: the bits every endpoint chain clears first. */
  readonly marks: number;
  readonly rules: RuleContext;
  /** Cached chains of the last rendering of this family, and those this rendering used. */
  private readonly cached: ReadonlyMap<string, CachedChain> | undefined;
  private readonly used = new Map<string, CachedChain>();
  /** Kernel members of Engine sets by id (render-cache.ts; dropped when a set changes). */
  private readonly keptMembers: Map<string, readonly string[]> | undefined;
  /** While a cacheable chain is built: what it registers (sets, NFLOG names), to replay on reuse. */
  private rec: { setIds: string[]; netSets: [string, readonly string[]][]; nflog: [string, string][] } | undefined;

  constructor(
    readonly state: DataplaneState,
    readonly family: 4 | 6,
    readonly o: ResolvedRenderOptions,
    private readonly cache?: RenderCache,
  ) {
    this.cached = cache?.entries.get(family);
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
    const n = setName(this.o.setPrefix, this.family, false, id);
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
    for (const c of chains) this.chains.push(c.build());
  }

  /**
   * Adds the chain `build` makes, or the cached one of equal `key` (a key names everything the
   * chain is built from) with its registrations replayed. A chain built inside another (a policy
   * chain while an endpoint chain is keyed) registers for both.
   */
  pushCached(key: string, build: () => RenderedChain): void {
    const hit = this.used.get(key) ?? this.cached?.get(key);
    if (hit) {
      for (const id of hit.setIds) this.setRef(id);
      for (const [n, members] of hit.netSets) {
        this.rec?.netSets.push([n, members]);
        if (!this.sets.has(n)) this.sets.set(n, { name: n, type: 'hash:net', family: this.family, members });
      }
      for (const [h, n] of hit.nflog) {
        this.nflogNames.set(h, n);
        this.rec?.nflog.push([h, n]);
      }
      this.used.set(key, hit);
      this.chains.push(hit.chain);
      return;
    }
    const outer = this.rec;
    const rec: NonNullable<typeof outer> = { setIds: [], netSets: [], nflog: [] };
    this.rec = rec;
    try {
      const chain = build();
      this.used.set(key, { chain, ...rec });
      this.chains.push(chain);
    } finally {
      if (outer) {
        outer.setIds.push(...rec.setIds);
        outer.netSets.push(...rec.netSets);
        outer.nflog.push(...rec.nflog);
      }
      this.rec = outer;
    }
  }

  /** Keeps the chains this rendering used for the next one (only those: the cache never grows past one rendering). */
  commitCache(): void {
    this.cache?.entries.set(this.family, this.used);
  }
}
