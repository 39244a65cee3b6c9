/**
 * The renderer: accumulated state → the chains and IP sets one address family needs, in
 * Felix's layout (see docs/dataplane-iptables.md). Pure: no I/O, deterministic output for equal
 * state. Owns only names under its prefixes; the only lines touching built-in chains are the
 * hook rules, one per built-in chain.
 *
 *   FORWARD ─▶ <p>FORWARD ─ accept clear ─▶ <p>from-hep-fwd ─ -i IF ─▶ <p>fhfw-IF (applyOnForward ingress)
 *                         ─ -i cali+ ─▶ <p>from-wl-dispatch ─ -i IF ─▶ <p>fw-IF (egress tiers, profiles)
 *                         ─ -o cali+ ─▶ <p>to-wl-dispatch   ─ -o IF ─▶ <p>tw-IF (ingress tiers, profiles)
 *                         ─▶ <p>to-hep-fwd ─ -o IF ─▶ <p>thfw-IF (applyOnForward egress)
 *                         ─ accept mark ─▶ ACCEPT          (the `*` endpoint's chains catch every other
 *                                                          interface, workload veths included)
 *   INPUT   ─▶ <p>INPUT   ─ -i cali+ ─▶ <p>wl-to-host (egress policy, DefaultEndpointToHostAction)
 *                         ─ accepted in raw/mangle ─▶ ACCEPT ; ─▶ <p>from-host-ep ─▶ <p>fh-IF (failsafe-in first)
 *   OUTPUT  ─▶ <p>OUTPUT  ─ -o cali+ ─▶ RETURN (host → own workload is not policed, as in Felix)
 *                         ─▶ <p>to-host-ep ─▶ <p>th-IF (failsafe-out first)
 *   raw/mangle PREROUTING: untracked (named endpoints) and pre-DNAT policy by arrival interface;
 *   their failsafes only admit packets for the host itself that do not come from a workload.
 *   With host endpoints raw stamps each packet's generation and mangle and filter drop new
 *   packets of another generation first (generation.ts: batches over several tables).
 *   endpoint chain: ct ESTABLISHED,RELATED accept, INVALID drop, clear marks, per tier: clear pass,
 *   "pass clear → jump <p>gi-/<p>go-HASH" (the tier's policy-group chain, shared by every endpoint
 *   with the same policies; a tier of one policy jumps to <p>pi-/<p>po-ID itself), "accept set →
 *   RETURN", end of tier drop (unless Pass); per profile "jump <p>pri-/<p>pro-ID", "accept set →
 *   RETURN"; drop. A forward chain has no profiles and ends in "set accept, RETURN": forwarded
 *   traffic no tier decided is allowed.
 *   policy-group chain: "jump <p>pi-ID1", then per policy "accept and pass clear → jump
 *   <p>pi-IDn", and every 5 policies "accept or pass set → RETURN".
 *   With `groupDispatch: 'ipset'` a workload's filter endpoint chain jumps per tier to <p>tdi-/tdo-TIER
 *   instead, which goes (`-g`) to the group whose `list:set` holds the interface's own set
 *   (policy-groups.ts): a move between existing groups changes set members, not chains.
 *
 * The parts, one file each, share a `RenderContext` (context.ts) and run in a fixed order:
 * workload endpoints (endpoint-chains.ts, pulling in policy-chains.ts and policy-groups.ts), host endpoints
 * (host-endpoints.ts), then the top-level chains and hooks (static-chains.ts). Policy, profile and
 * endpoint chains go through the render cache (render-cache.ts) when the caller keeps one.
 */
import type { DataplaneState } from '@gingham/core';
import { RenderContext } from './context.js';
import { createEndpointChains, renderWorkloadEndpoints } from './endpoint-chains.js';
import { renderHostEndpoints } from './host-endpoints.js';
import { resolveRenderOptions, type RenderOptions, type ResolvedRenderOptions } from './options.js';
import { createPolicyChains } from './policy-chains.js';
import type { RenderCache } from './render-cache.js';
import type { HostFacts, Rendered, RenderedChain } from './rendered.js';
import { renderStaticChains } from './static-chains.js';

/**
 * Renders the state for one address family. `cache`: reuse the unchanged chains of the last
 * rendering (render-cache.ts); the output is the same as without it.
 */
export function renderState(state: DataplaneState, family: 4 | 6, options: RenderOptions | ResolvedRenderOptions = {}, host: HostFacts = {}, cache?: RenderCache): Rendered {
  const o = 'acceptMark' in options ? options : resolveRenderOptions(options);
  const rc = new RenderContext(state, family, o, cache);
  const endpointChain = createEndpointChains(rc, createPolicyChains(rc));
  renderWorkloadEndpoints(rc, endpointChain);
  const { haveHeps, stamp } = renderHostEndpoints(rc, host, endpointChain);
  const hooks = renderStaticChains(rc, haveHeps, stamp);
  rc.commitCache();

  const last = cache?.sorted.get(family);
  const same = sameSlots(rc.chains.length, rc.fresh, last);
  const chains = same ?? sortChains(rc.chains, rc.fresh, last);
  // Same names at the same places: the last rendering's places hold (never changed once made).
  if (cache) cache.sorted.set(family, { chains, at: same && last ? last.at : placesOf(chains) });
  const sets = [...rc.sets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { family, chainPrefix: o.chainPrefix, setPrefix: o.setPrefix, commentTag: o.commentTag, chains, sets, hooks, nflogNames: rc.nflogNames, ...(stamp ? { stamp } : {}) };
}

interface LastOrder {
  readonly chains: readonly RenderedChain[];
  readonly at: ReadonlyMap<string, number>;
}

/**
 * The common case after a small change (a label change moving an endpoint between existing
 * groups): as many chains as the last rendering, and each chain this rendering made (`fresh`) has
 * the name of one of the last rendering's, at a place of its own. Then the result is the last
 * order with those places replaced, with no pass over every chain: every other chain of this
 * rendering was taken from the render cache, so it is one of the last rendering's (one chain
 * object per cache key); the fresh ones' names were not theirs, so they fill exactly the places
 * left over, and names are unique in a rendering. `undefined` when that does not hold.
 */
function sameSlots(count: number, fresh: readonly RenderedChain[], last?: LastOrder): RenderedChain[] | undefined {
  if (!last || count !== last.chains.length || fresh.length * 8 > count) return undefined;
  const out = last.chains.slice();
  const taken = new Set<number>();
  for (const c of fresh) {
    const i = last.at.get(keyOf(c));
    if (i === undefined || taken.has(i)) return undefined;
    taken.add(i);
    out[i] = c;
  }
  return out;
}

/** Each chain's place by `<table>:<name>`. */
function placesOf(chains: readonly RenderedChain[]): Map<string, number> {
  const at = new Map<string, number>();
  chains.forEach((c, i) => at.set(keyOf(c), i));
  return at;
}

/**
 * Chains by `<table>:<name>` (each key made once per chain object, not once per comparison).
 * With the last rendering's order (`last`, from the render cache), the chains it also had keep
 * their order and only the new ones (`fresh`: those this rendering made; every other one came
 * from the render cache, so from the last rendering) are sorted and merged in. Chain keys are
 * unique in a rendering, so both ways give the same order.
 */
function sortChains(chains: readonly RenderedChain[], fresh: readonly RenderedChain[], last?: LastOrder): RenderedChain[] {
  if (!last) return sortedByKey(chains);
  if (fresh.length * 8 > chains.length) return sortedByKey(chains);
  const now = new Set(chains);
  const kept = last.chains.filter((c) => now.has(c));
  if (kept.length + fresh.length !== chains.length) return sortedByKey(chains);
  const added = sortedByKey(fresh);
  const out: RenderedChain[] = [];
  let j = 0;
  for (const c of kept) {
    const k = keyOf(c);
    while (j < added.length && keyOf(added[j]!) < k) out.push(added[j++]!);
    out.push(c);
  }
  while (j < added.length) out.push(added[j++]!);
  return out;
}

function sortedByKey(chains: readonly RenderedChain[]): RenderedChain[] {
  const keyed = chains.map((c) => ({ k: keyOf(c), c }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return keyed.map((x) => x.c);
}

function keyOf(c: RenderedChain): string {
  let k = keyOfChain.get(c);
  if (k === undefined) keyOfChain.set(c, (k = `${c.table}:${c.name}`));
  return k;
}
const keyOfChain = new WeakMap<RenderedChain, string>();
