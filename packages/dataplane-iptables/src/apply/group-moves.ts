/**
 * Group dispatch by IP set (`groupDispatch: 'ipset'`): a batch that only moves workload endpoints
 * between policy groups that exist, and changes IP set members, is brought into the last
 * rendering without rendering again. With that layout an endpoint chain names the tiers it has,
 * their defaults and its profiles, never its policies (policy-groups.ts), so such a batch changes
 * no chain: only the members of the group lists (the endpoint's interface set leaves one and
 * joins another) and of the sets whose members changed. Those are computed here from the state,
 * the same way the renderer computes them, and everything else is the last rendering's. At
 * 100k endpoints × 10k policies that is the difference between ~0.1 ms and a rendering's 8–13 ms
 * (and its garbage) per label change.
 *
 * `undefined` whenever the batch is anything else, and the caller renders: another kind of
 * message (a policy, a profile, a host endpoint, a set replaced or deleted), an endpoint that is
 * new or changes anything but its tiers' policy lists and staged policies (interface, addresses,
 * profiles, tier names or defaults), a tier that gains its first or loses its last enforced
 * policy (its endpoint chain changes), a group the last rendering lacks (a new dispatch rule),
 * a group the move leaves empty (its rule goes), or two endpoints on one interface. The result
 * equals what `renderState` gives (`group-moves.test.ts`; the fail-closed properties converge
 * a fresh dataplane on the kernel it leaves with nothing to write). Pure.
 */
import type { DataplaneMessage, DataplaneState, TierRef, WorkloadEndpointState } from '@gingham/core';
import { setName } from '../render/names.js';
import type { ResolvedRenderOptions } from '../render/options.js';
import { policyChainName } from '../render/policy-chains.js';
import { groupListName, interfaceSetName } from '../render/policy-groups.js';
import type { Rendered, RenderedSet } from '../render/rendered.js';
import { setMembers } from '../render/set-members.js';

/** The endpoints the batch upserts, as they were before it (undefined: new), by id. */
export type EndpointsBefore = ReadonlyMap<string, WorkloadEndpointState | undefined>;

/** Captures, before `messages` are applied to `state`, what `movedRendering` compares with. */
export function endpointsBefore(state: DataplaneState, messages: readonly DataplaneMessage[]): EndpointsBefore | undefined {
  const out = new Map<string, WorkloadEndpointState | undefined>();
  for (const m of messages) {
    if (m.kind === 'in-sync' || m.kind === 'ipset-add-members' || m.kind === 'ipset-remove-members') continue;
    if (m.kind !== 'workload-endpoint-upsert') return undefined;
    if (!out.has(m.endpoint.id)) out.set(m.endpoint.id, state.workloadEndpoints.get(m.endpoint.id));
  }
  return out.size > 0 ? out : undefined;
}

/** The rendering `base` (the last one of `family`) with the batch's group moves and set members, or undefined (render instead). */
export function movedRendering(state: DataplaneState, before: EndpointsBefore, messages: readonly DataplaneMessage[], base: Rendered, family: 4 | 6, o: ResolvedRenderOptions): Rendered | undefined {
  if (o.groupDispatch !== 'ipset') return undefined;
  const sets = new Map<string, RenderedSet>(base.sets.map((s) => [s.name, s]));
  const members = new Map<string, Set<string>>(); // group lists whose members change
  const listOf = (name: string): Set<string> | undefined => {
    let m = members.get(name);
    if (!m) {
      const s = sets.get(name);
      if (s?.type !== 'list:set') return undefined;
      members.set(name, (m = new Set(s.members)));
    }
    return m;
  };
  const enforced = (t: TierRef, dir: 'ingress' | 'egress'): string[] =>
    t.policyIds.filter((id) => {
      const p = state.policies.get(id);
      return p !== undefined && !p.staged;
    }).map((id) => policyChainName(o.chainPrefix, dir, id));
  const groupSet = (dir: 'ingress' | 'egress', tier: string, pols: readonly string[]): string => groupListName(o.setPrefix, family, dir, tier, pols);
  const moved = new Set<string>();
  for (const [id, was] of before) {
    const now = state.workloadEndpoints.get(id);
    if (!was || !now || sameButPolicies(was) !== sameButPolicies(now)) return undefined;
    moved.add(now.interfaceName);
    const member = interfaceSetName(o.setPrefix, family, now.interfaceName);
    if (sets.get(member)?.type !== 'hash:net,iface') return undefined;
    for (const dir of ['ingress', 'egress'] as const) {
      const a = dir === 'ingress' ? was.ingressTiers : was.egressTiers;
      const b = dir === 'ingress' ? now.ingressTiers : now.egressTiers;
      for (let i = 0; i < a.length; i++) {
        const pa = enforced(a[i]!, dir);
        const pb = enforced(b[i]!, dir);
        if (pa.length === 0 || pb.length === 0) {
          if (pa.length !== pb.length) return undefined; // a tier appears or goes: the endpoint chain changes
          continue;
        }
        const from = groupSet(dir, a[i]!.name, pa);
        const to = groupSet(dir, b[i]!.name, pb);
        if (from === to) continue;
        const left = listOf(from);
        const joined = listOf(to);
        if (!left || !joined || !left.delete(member)) return undefined;
        joined.add(member);
      }
    }
  }
  for (const m of members.values()) if (m.size === 0) return undefined; // its dispatch rule goes: render
  // One endpoint per interface, as the renderer keeps the first by name: with two, render.
  let seen = 0;
  for (const e of state.workloadEndpoints.values()) if (moved.has(e.interfaceName)) seen++;
  if (seen !== moved.size) return undefined;
  // Sets whose members the batch changed (every Engine set is in every rendering).
  for (const m of messages) {
    if (m.kind !== 'ipset-add-members' && m.kind !== 'ipset-remove-members') continue;
    const name = setName(o.setPrefix, family, false, m.id);
    const s = sets.get(name);
    const entry = state.ipSets.get(m.id);
    if (!s || !entry) return undefined;
    sets.set(name, { ...s, members: setMembers(entry.type, entry.members, family) });
  }
  for (const [name, m] of members) sets.set(name, { ...sets.get(name)!, members: [...m].sort() });
  return { ...base, sets: base.sets.map((s) => sets.get(s.name)!) };
}

/** An endpoint as text with its tiers' policy lists left out (all the rest decides its chains). */
function sameButPolicies(e: WorkloadEndpointState): string {
  const tiers = (ts: readonly TierRef[]) => ts.map((t) => ({ ...t, policyIds: [] }));
  // Staged policies have no chain (and no rule names them).
  return JSON.stringify({ ...e, ingressTiers: tiers(e.ingressTiers), egressTiers: tiers(e.egressTiers), stagedPolicyIds: [] });
}
