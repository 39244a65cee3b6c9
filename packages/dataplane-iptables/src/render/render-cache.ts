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
}

export interface RenderCache {
  /** @internal family → content key → the chain of the last rendering. */
  readonly entries: Map<4 | 6, Map<string, CachedChain>>;
  /** @internal family → Engine set id → its kernel members, until `forgetSetMembers` drops them. */
  readonly members: Map<4 | 6, Map<string, readonly string[]>>;
}

export function createRenderCache(): RenderCache {
  return { entries: new Map(), members: new Map() };
}

/**
 * Drops the kept kernel members of these Engine sets. The Engine's sets change in place, so the
 * cache cannot see it: whoever changes a set (an `ipset-*` message) says so here before the next
 * rendering, or that rendering keeps the old members.
 */
export function forgetSetMembers(cache: RenderCache, ids: Iterable<string>): void {
  for (const byId of cache.members.values()) for (const id of ids) byId.delete(id);
}
