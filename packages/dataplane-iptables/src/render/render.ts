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

  const members = new Set(rc.chains);
  const chains = sortChains(rc.chains, members, cache?.sorted.get(family));
  cache?.sorted.set(family, { chains, members });
  const sets = [...rc.sets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { family, chainPrefix: o.chainPrefix, setPrefix: o.setPrefix, commentTag: o.commentTag, chains, sets, hooks, nflogNames: rc.nflogNames, ...(stamp ? { stamp } : {}) };
}

/**
 * Chains by `<table>:<name>` (each key made once per chain object, not once per comparison).
 * With the last rendering's order (`last`, from the render cache), the chains it also had keep
 * their order and only the new ones are sorted and merged in: after a small change (the render
 * cache hands back the same chain objects) that is a pass of set lookups, not a sort of every
 * chain. Chain keys are unique in a rendering, so both ways give the same order.
 */
function sortChains(chains: readonly RenderedChain[], now: ReadonlySet<RenderedChain>, last?: { readonly chains: readonly RenderedChain[]; readonly members: ReadonlySet<RenderedChain> }): RenderedChain[] {
  if (!last) return sortedByKey(chains);
  const fresh = chains.filter((c) => !last.members.has(c));
  if (fresh.length * 8 > chains.length) return sortedByKey(chains);
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
