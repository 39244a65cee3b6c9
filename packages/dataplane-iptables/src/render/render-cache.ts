/**
 * Chains of earlier renderings, reused when what they are built from is unchanged (a policy's
 * rules; an endpoint chain's tiers, resolved policy and profile chains and options), so that a
 * rendering after a small change (a label change moving one endpoint) builds and hashes only the
 * chains that changed. Chain keys are content, never object identity: a cached rendering equals
 * an uncached one (render-cache.test.ts), given that set changes are reported
 * (`forgetSetMembers`): an IP set's kernel members (split by family, sorted) are kept by set id. Holds only the chains the last rendering of each family
 * used; one cache per set of render options (the dataplane keeps one). Pure data.
 */
import type { RenderedChain } from './rendered.js';

/** A chain and what building it registered in the rendering (sets, NFLOG names), replayed on reuse. */
export interface CachedChain {
  readonly chain: RenderedChain;
  readonly setIds: readonly string[];
  readonly netSets: readonly (readonly [string, readonly string[]])[];
  readonly nflog: readonly (readonly [string, string])[];
  /** Keys of the cached chains building it made or reused (an endpoint chain's policy and profile chains), pushed with it on reuse. */
  readonly nested: readonly string[];
  /** @internal The last rendering that used it (render context's counter). */
  seen: number;
}

/**
 * An endpoint chain's key and what it was computed from: the spec's tier and profile lists (by
 * object: the state's endpoints are replaced on upsert, never changed) and the ids of the
 * policies and profiles it names. While none of those changed, the key stands without resolving
 * every policy again, so an untouched endpoint costs a lookup, not one per policy.
 */
export interface EndpointKey {
  readonly tiers: readonly unknown[];
  readonly profiles: readonly string[] | undefined;
  readonly failsafe: string;
  readonly forward: boolean;
  readonly dir: string;
  readonly deps: ReadonlySet<string>;
  readonly key: string;
  /**
   * `groupDispatch: 'ipset'`, workload filter chains: the endpoint's group in each tier it has
   * (the chain's key names only the tiers), so an unchanged endpoint joins its groups again
   * without resolving its policies.
   */
  readonly groups?: readonly EndpointGroup[];
}

/** One (direction, tier) group of a workload endpoint: its `list:set`, and what the tier dispatch chain sends it to. */
export interface EndpointGroup {
  readonly dir: 'ingress' | 'egress';
  readonly tier: string;
  /** The group's `list:set` name (policy-groups.ts, `groupSetName`). */
  readonly set: string;
  /** The group chain, or the one policy chain of a run of one. */
  readonly target: string;
  /** Render-cache keys of the chains the target is (group chain, or policy chain), added with the dispatch chain. */
  readonly keys: readonly string[];
}

/** Per family: the policies and profiles (by id, as objects) and the endpoint keys of the last rendering. */
export interface RenderedFrom {
  readonly policies: Map<string, unknown>;
  readonly profiles: Map<string, unknown>;
  readonly endpointKeys: Map<string, EndpointKey>;
}

export interface RenderCache {
  /** @internal family → content key → the chain of the last rendering. */
  readonly entries: Map<4 | 6, Map<string, CachedChain>>;
  /** @internal family → Engine set id → its kernel members, until `forgetSetMembers` drops them. */
  readonly members: Map<4 | 6, Map<string, readonly string[]>>;
  /** @internal family → what the last rendering was made from (render context: changed policies, endpoint keys). */
  readonly from: Map<4 | 6, RenderedFrom>;
  /** @internal family → the last rendering's chains in order, and the place of each by `<table>:<name>` (render.ts sorts only what is new). */
  readonly sorted: Map<4 | 6, { readonly chains: readonly RenderedChain[]; readonly at: ReadonlyMap<string, number> }>;
  /**
   * @internal family → the members of the last rendering's group dispatch sets (per-interface and
   * group sets) by name: an unchanged set keeps its members array, so the planner, which remembers
   * the members it compared by array, skips it.
   */
  readonly dispatchMembers: Map<4 | 6, ReadonlyMap<string, readonly string[]>>;
}

export function createRenderCache(): RenderCache {
  return { entries: new Map(), members: new Map(), from: new Map(), sorted: new Map(), dispatchMembers: new Map() };
}

/**
 * Drops the kept kernel members of these Engine sets. The Engine's sets change in place, so the
 * cache cannot see it: whoever changes a set (an `ipset-*` message) says so here before the next
 * rendering, or that rendering keeps the old members.
 */
export function forgetSetMembers(cache: RenderCache, ids: Iterable<string>): void {
  for (const byId of cache.members.values()) for (const id of ids) byId.delete(id);
}
