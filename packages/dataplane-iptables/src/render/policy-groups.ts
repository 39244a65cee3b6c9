/**
 * Policy-group chains (`<p>gi-<hash>` ingress, `<p>go-<hash>` egress), after Felix's policy
 * groups: the enforced policies of one tier of an endpoint, in order, live in a chain of their
 * own that every endpoint with the same run jumps to, so the endpoint chain holds one jump per tier
 * instead of two rules per policy and a label change that moves an endpoint between existing runs
 * rewrites a few rules of its own chain. Felix splits a tier into runs of consecutive policies
 * that share a selector; the Engine's tier references carry no selectors, so here the run is the
 * tier's whole list of enforced policies (staged and missing ones have no chain and are left
 * out). A run of one policy is inlined, as in Felix: the endpoint chain jumps to the policy chain.
 *
 * A group chain is content-addressed: its name hashes its direction and the policy chains it
 * jumps to, so its rules never change in place; a new run is a new chain, an unused one is
 * deleted (the planner declares new chains before the rules that jump to them, and deletes stale
 * ones after flushing every stale chain, in one restore transaction per table). Flow logs are
 * unchanged: the NFLOG rules stay in the policy chains (per rule) and in the endpoint chain
 * (end of tier, no profile).
 *
 * Group dispatch by IP set (`groupDispatch: 'ipset'`, filter-table workload chains only; design
 * in docs/dataplane-iptables.md): the endpoint chain jumps, per tier, to a tier dispatch chain
 * (`<p>tdi-/tdo-<tier>`) shared by every endpoint, whose rules send the packet on (`-g`) to a
 * group's chain when its interface is in the group's `list:set` of per-interface
 * `hash:net,iface` sets (one member each: such a set's hash leaves the interface out, so many
 * `/0,IF` entries in one set fail). The endpoint chain then names only its tiers, so a label
 * change that moves an endpoint between existing groups changes set members and no chain. An
 * interface in no group of a tier falls off the dispatch chain into the tier's end-of-tier
 * verdict: fail closed. Group membership is recomputed on every rendering (one pass over the
 * local endpoints); dispatch chains are cached by their rules. Pure.
 */
import { ChainBuilder, hex, type RenderContext } from './context.js';
import { hashText, MAX_CHAIN_NAME, setName } from './names.js';
import type { Table } from './options.js';
import type { PolicyChains } from './policy-chains.js';
import type { EndpointGroup } from './render-cache.js';

/** Felix's stride: a group chain returns on a verdict every this many policies. */
const RETURN_STRIDE = 5;

export interface TierTarget {
  /** The policy chains of the tier, in order (the endpoint chain's cache key names them). */
  readonly pols: readonly string[];
  /** What the endpoint chain jumps to for the tier: a group chain, the one policy chain, or nothing. */
  readonly target: string | undefined;
}

/** The chain name of the group of `pols` for direction `dir`. */
export function groupChainName(prefix: string, dir: 'ingress' | 'egress', pols: readonly string[]): string {
  const head = `${prefix}${dir === 'ingress' ? 'gi' : 'go'}-`;
  return head + hashText(`${dir}|${pols.join(' ')}`, MAX_CHAIN_NAME - head.length);
}

/**
 * The policy chains of one tier of an endpoint and what its endpoint chain jumps to, making (or
 * reusing) the policy chains and the group chain. Call inside the endpoint chain's
 * `rc.collect`, so that its key holds them.
 */
export function tierTarget(rc: RenderContext, policies: PolicyChains, table: Table, dir: 'ingress' | 'egress', ids: readonly string[]): TierTarget {
  const { value: pols, keys } = rc.collect(() => {
    const out: string[] = [];
    for (const id of ids) {
      const pc = policies.policy(id, dir, table);
      if (pc !== undefined) out.push(pc);
    }
    return out;
  }, true);
  if (pols.length < 2) {
    // Inlined: the endpoint chain names the policy chain itself.
    for (const k of keys) rc.mention(k);
    return { pols, target: pols[0] };
  }
  // The group chain names its policy chains; the endpoint chain names the group alone, so reusing
  // an endpoint chain adopts one group (once per rendering), not every policy chain again.
  const name = groupChainName(rc.prefix, dir, pols);
  rc.pushCached(`grp|${table}|${name}|${pols.join(' ')}`, () => buildGroupChain(rc, table, name, pols), keys);
  return { pols, target: name };
}

/**
 * Each policy in turn while no verdict is set (a policy chain sets the accept or pass mark and
 * returns, or drops); every `RETURN_STRIDE` policies, return at once when one is set. The
 * endpoint chain clears both marks before its first tier and checks the accept mark after the
 * jump, exactly as it did after each policy.
 */
function buildGroupChain(rc: RenderContext, table: Table, name: string, pols: readonly string[]): ReturnType<ChainBuilder['build']> {
  const c = new ChainBuilder(table, name);
  const verdictMask = hex(rc.marks);
  pols.forEach((pc, i) => {
    if (i === 0) {
      c.add('-j', pc);
      return;
    }
    if (i % RETURN_STRIDE === 0) c.add('-m', 'mark', '!', '--mark', `0x0/${verdictMask}`, '-j', 'RETURN');
    c.add('-m', 'mark', '--mark', `0x0/${verdictMask}`, '-j', pc);
  });
  return c.build();
}

/** The per-interface set of a workload interface (`hash:net,iface`, one member: any address on it). */
export function ifSetName(rc: RenderContext, ifName: string): string {
  return interfaceSetName(rc.o.setPrefix, rc.family, ifName);
}

/** `ifSetName` without a rendering (apply/group-moves.ts names the same sets). */
export function interfaceSetName(setPrefix: string, family: 4 | 6, ifName: string): string {
  return setName(setPrefix, family, false, `if:${ifName}`);
}

/** The `list:set` of the endpoints whose tier `tier` in direction `dir` has exactly the policy chains `pols`. */
export function groupSetName(rc: RenderContext, dir: 'ingress' | 'egress', tier: string, pols: readonly string[]): string {
  return groupListName(rc.o.setPrefix, rc.family, dir, tier, pols);
}

/** `groupSetName` without a rendering (apply/group-moves.ts names the same sets). */
export function groupListName(setPrefix: string, family: 4 | 6, dir: 'ingress' | 'egress', tier: string, pols: readonly string[]): string {
  return setName(setPrefix, family, false, `${dir === 'ingress' ? 'gi:' : 'go:'}${hashText(`${tier}|${dir}|${pols.join(' ')}`, 22)}`);
}

/** The tier dispatch chain of a direction and tier. */
export function tierDispatchName(rc: RenderContext, dir: 'ingress' | 'egress', tier: string): string {
  return rc.name(dir === 'ingress' ? 'tdi' : 'tdo', tier);
}

/** Puts the interface `ifName` in each of these groups (this rendering only). */
export function joinGroups(rc: RenderContext, ifName: string, groups: readonly EndpointGroup[]): void {
  const member = ifSetName(rc, ifName);
  for (const group of groups) {
    const g = rc.groups.get(group.set);
    if (g) g.members.push(member);
    else rc.groups.set(group.set, { group, members: [member] });
  }
}

/**
 * The per-interface sets of `ifaces` (every local workload interface), the group sets of the
 * groups they joined (members sorted), and one dispatch chain per (direction, tier) with a group:
 * one rule per group, by group set name, `-m set --match-set <group> dst,dst` (ingress: the
 * out-interface) or `src,src` (egress: the in-interface) `-g <target>`, and nothing after them.
 * A dispatch chain is cached by its rules; the chains its rules go to are added with it.
 */
export function renderGroupDispatch(rc: RenderContext, ifaces: readonly string[]): void {
  const any = rc.family === 4 ? '0.0.0.0/0' : '::/0';
  for (const i of ifaces) {
    const n = ifSetName(rc, i);
    rc.sets.set(n, { name: n, type: 'hash:net,iface', family: rc.family, members: rc.stableMembers(n, [`${any},${i}`]) });
  }
  const byTier = new Map<string, { dir: 'ingress' | 'egress'; tier: string; groups: EndpointGroup[] }>();
  for (const [n, { group, members }] of rc.groups) {
    rc.sets.set(n, { name: n, type: 'list:set', family: rc.family, members: rc.stableMembers(n, members.sort()) });
    const t = tierDispatchName(rc, group.dir, group.tier);
    const d = byTier.get(t);
    if (d) d.groups.push(group);
    else byTier.set(t, { dir: group.dir, tier: group.tier, groups: [group] });
  }
  for (const [name, { dir, groups }] of byTier) {
    groups.sort((a, b) => (a.set < b.set ? -1 : a.set > b.set ? 1 : 0));
    const flags = dir === 'ingress' ? 'dst,dst' : 'src,src';
    const rules = groups.map((g) => [g.set, g.target]);
    const nested = new Set<string>();
    for (const g of groups) for (const k of g.keys) nested.add(k);
    rc.pushCached(
      JSON.stringify(['td', name, flags, rules]),
      () => {
        const c = new ChainBuilder('filter', name);
        for (const [set, target] of rules) c.add('-m', 'set', '--match-set', set!, flags, '-g', target!);
        return c.build();
      },
      [...nested],
    );
  }
}
