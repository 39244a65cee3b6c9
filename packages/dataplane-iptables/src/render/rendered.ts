/**
 * What a rendering is: chains, rules, IP sets and hook rules of one address family, and the
 * host facts it may depend on. Data only; `render.ts` makes it, `format.ts` prints it.
 */
import type { GenerationStamp } from './generation.js';
import type { Table } from './options.js';

export interface RenderedRule {
  /** Hash id carried in the rule comment (`<tag><id>`); chained, so it also pins the position. */
  readonly id: string;
  /** Everything after `-A <chain>` except the comment. */
  readonly args: readonly string[];
}

export interface RenderedChain {
  readonly table: Table;
  readonly name: string;
  readonly rules: readonly RenderedRule[];
}

export interface RenderedSet {
  readonly name: string;
  /**
   * `hash:net,iface` and `list:set` only with `groupDispatch: 'ipset'`: a workload interface's own
   * set (one member, `<any net>,<IF>`) and a policy group's list of those (members: set names).
   */
  readonly type: 'hash:net' | 'hash:net,port' | 'hash:net,iface' | 'list:set';
  readonly family: 4 | 6;
  readonly members: readonly string[];
}

export interface HookRule {
  readonly table: Table;
  readonly chain: string;
  readonly target: string;
  /** The rule as `-I`/`-D` arguments after the chain name. */
  readonly args: readonly string[];
}

export interface Rendered {
  readonly family: 4 | 6;
  readonly chainPrefix: string;
  readonly setPrefix: string;
  readonly commentTag: string;
  readonly chains: readonly RenderedChain[];
  readonly sets: readonly RenderedSet[];
  readonly hooks: readonly HookRule[];
  /** Flow logs: names too long for an NFLOG prefix, by the hashed token (`~…`) the prefix carries. */
  readonly nflogNames: ReadonlyMap<string, string>;
  /** With host endpoints: the generation stamp raw sets and mangle and filter check (see generation.ts). */
  readonly stamp?: GenerationStamp;
}


/** Facts about the host the rendering depends on (read by the apply side; rendering stays pure). */
export interface HostFacts {
  /**
   * Addresses of each host interface (canonical text, any family). Host endpoints bound by
   * `expectedIPs` only (no `interfaceName`) are bound to every non-workload interface carrying one
   * of their expected IPs, as Felix does; without this map they bind nowhere.
   */
  readonly interfaceAddresses?: ReadonlyMap<string, readonly string[]>;
}

