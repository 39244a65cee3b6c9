/**
 * Endpoint chains: one chain per endpoint, direction and table that walks the endpoint's tiers
 * (one jump each, to a shared policy-group chain, or with `groupDispatch: 'ipset'` to the tier's
 * dispatch chain: policy-groups.ts) and profiles (layout in
 * render.ts's header), and the workload dispatch chains that send each
 * workload veth to its own chains. Unknown workload interfaces are denied by the dispatch chains.
 * Pure.
 */
import type { TierRef, WorkloadEndpointState } from '@gingham/core';
import { ChainBuilder, hex, type RenderContext } from './context.js';
import { assertInterfaceName } from './names.js';
import type { Table } from './options.js';
import type { PolicyChains } from './policy-chains.js';
import { groupSetName, joinGroups, renderGroupDispatch, tierDispatchName, tierTarget, type TierTarget } from './policy-groups.js';
import type { EndpointGroup } from './render-cache.js';
import type { RenderedChain } from './rendered.js';

export interface EndpointChainSpec {
  readonly tiers: readonly TierRef[];
  readonly dir: 'ingress' | 'egress';
  readonly profiles?: readonly string[];
  readonly failsafe?: string;
  /** Forward chains: allow when no tier applies. */
  readonly forward?: boolean;
  /** `raw`: untracked policy (NOTRACK + ACCEPT on allow); `mangle`: pre-DNAT policy (ACCEPT on allow). Both end in Pass. */
  readonly table?: Table;
  /**
   * `groupDispatch: 'ipset'`: the workload interface of a filter chain, whose tiers go through
   * the tier dispatch chains (policy-groups.ts) instead of naming their groups.
   */
  readonly ifName?: string;
}

/** Renders the endpoint chain `name`. */
export type EndpointChains = (name: string, spec: EndpointChainSpec) => void;

export function createEndpointChains(rc: RenderContext, policies: PolicyChains): EndpointChains {
  return (n, spec) => {
    const table = spec.table ?? 'filter';
    if (spec.ifName !== undefined && table === 'filter' && !spec.forward) return dispatchedEndpointChain(rc, policies, n, spec, spec.ifName);
    const at = `${table}:${n}`;
    const memo = { tiers: spec.tiers, profiles: spec.profiles, failsafe: spec.failsafe ?? '', forward: spec.forward === true, dir: spec.dir };
    // Unchanged since the last rendering (same lists, none of its policies or profiles changed):
    // its chain and the policy and profile chains it jumps to, as they were.
    const known = rc.knownEndpointKey(at, memo);
    if (known !== undefined && rc.reuse(known.key)) return;
    // The policy and profile chains it jumps to (made or reused first): with the spec, everything
    // the chain is built from, hence its render-cache key.
    const { value: tiers, keys } = rc.collect(() => ({
      tiers: spec.tiers.map((tier) => ({ tier, ...tierTarget(rc, policies, table, spec.dir, tier.policyIds) })),
      profiles: table === 'filter' && !spec.forward ? (spec.profiles ?? []).map((id) => policies.profile(id, spec.dir)).filter((x): x is string => x !== undefined) : [],
    }));
    const key = JSON.stringify(['ep', table, n, spec.dir, spec.failsafe ?? '', spec.forward === true, tiers.tiers.map((t) => [t.tier.name, t.tier.defaultAction, t.pols]), tiers.profiles]);
    rc.rememberEndpointKey(at, { ...memo, deps: depsOf(spec, table), key });
    rc.pushCached(key, () => buildEndpointChain(rc, table, n, spec, tiers.tiers, tiers.profiles), keys);
  };
}

function depsOf(spec: EndpointChainSpec, table: Table): Set<string> {
  const deps = new Set<string>();
  for (const t of spec.tiers) for (const id of t.policyIds) deps.add(`pol:${id}`);
  if (table === 'filter' && !spec.forward) for (const id of spec.profiles ?? []) deps.add(`prof:${id}`);
  return deps;
}

/**
 * A workload filter chain with `groupDispatch: 'ipset'` (policy-groups.ts): each tier the
 * endpoint has jumps to the tier's dispatch chain, and the endpoint joins the tier's group. Its
 * key names the tiers present, their defaults and the profiles, never the policies, so a move
 * between groups finds it cached. An endpoint whose lists and policies are unchanged joins its
 * remembered groups without resolving its policies again.
 */
function dispatchedEndpointChain(rc: RenderContext, policies: PolicyChains, n: string, spec: EndpointChainSpec, ifName: string): void {
  const at = `filter:${n}`;
  const memo = { tiers: spec.tiers, profiles: spec.profiles, failsafe: spec.failsafe ?? '', forward: false, dir: spec.dir };
  const known = rc.knownEndpointKey(at, memo);
  // Its chain, the profile chains it names, and the chains its groups go to, as they were.
  if (known?.groups && rc.reuse(known.key) && known.groups.every((g) => g.keys.every((k) => rc.reuse(k)))) {
    joinGroups(rc, ifName, known.groups);
    return;
  }
  const groups: EndpointGroup[] = [];
  const { value: tiers, keys } = rc.collect(() => ({
    tiers: spec.tiers.map((tier) => {
      // The chains of the tier's target belong to its dispatch chain, not to this one.
      const { value: t, keys } = rc.collect(() => tierTarget(rc, policies, 'filter', spec.dir, tier.policyIds), true);
      if (t.target === undefined) return { tier, pols: t.pols, target: undefined };
      groups.push({ dir: spec.dir, tier: tier.name, set: groupSetName(rc, spec.dir, tier.name, t.pols), target: t.target, keys });
      return { tier, pols: t.pols, target: tierDispatchName(rc, spec.dir, tier.name) };
    }),
    profiles: (spec.profiles ?? []).map((id) => policies.profile(id, spec.dir)).filter((x): x is string => x !== undefined),
  }));
  const present = tiers.tiers.filter((t) => t.target !== undefined);
  const key = JSON.stringify(['ep-td', n, spec.dir, spec.failsafe ?? '', present.map((t) => [t.tier.name, t.tier.defaultAction]), tiers.profiles]);
  rc.rememberEndpointKey(at, { ...memo, deps: depsOf(spec, 'filter'), key, groups });
  rc.pushCached(key, () => buildEndpointChain(rc, 'filter', n, spec, present, tiers.profiles), keys);
  joinGroups(rc, ifName, groups);
}

function buildEndpointChain(rc: RenderContext, table: Table, n: string, spec: EndpointChainSpec, tiers: readonly ({ tier: TierRef } & TierTarget)[], profiles: readonly string[]): RenderedChain {
  const o = rc.o;
  const c = new ChainBuilder(table, n);
  if (table === 'filter') {
    c.add('-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
    c.add('-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP');
  }
  if (spec.failsafe) c.add('-j', spec.failsafe);
  c.add('-j', 'MARK', '--set-xmark', `0x0/${hex(rc.marks)}`);
  for (const { tier, target } of tiers) {
    if (target === undefined) continue;
    // One jump per tier: to its policy-group chain (policy-groups.ts), or to its one policy chain.
    c.add('-j', 'MARK', '--set-xmark', `0x0/${hex(o.passMark)}`);
    c.add(...rc.ifNotMark(o.passMark), '-j', target);
    if (table === 'raw') c.add(...rc.ifMark(o.acceptMark), '-j', 'NOTRACK');
    c.add(...rc.ifMark(o.acceptMark), '-j', table === 'filter' ? 'RETURN' : 'ACCEPT');
    if (tier.defaultAction !== 'Pass' && table === 'filter') {
      if (o.flowLogs && !spec.forward) c.add(...rc.ifNotMark(o.passMark), ...rc.flowLog({ kind: 'end-of-tier', name: tier.name, direction: spec.dir, action: 'deny', rule: -1 }));
      c.add(...rc.ifNotMark(o.passMark), ...rc.deny());
    }
  }
  if (table !== 'filter') {
    // Untracked and pre-DNAT tiers always end in Pass: normal policy still runs.
  } else if (spec.forward) {
    // Reached when no tier applies or every tier passed: forwarded traffic is allowed.
    c.add(...rc.setMark(o.acceptMark));
    c.add('-j', 'RETURN');
  } else {
    for (const pc of profiles) {
      c.add('-j', pc);
      c.add(...rc.ifMark(o.acceptMark), '-j', 'RETURN');
    }
    if (o.flowLogs) c.add(...rc.flowLog({ kind: 'no-profile', name: '', direction: spec.dir, action: 'deny', rule: -1 }));
    c.add(...rc.deny());
  }
  return c.build();
}

/**
 * Workload endpoints: `<p>tw-IF`/`<p>fw-IF` per interface and the dispatch chains. Every endpoint
 * in both families (a v4-only pod still gets its v6 chains: its link-local traffic is policed
 * like everything else rather than dropped as "unknown interface").
 */
export function renderWorkloadEndpoints(rc: RenderContext, endpointChain: EndpointChains): void {
  const weps = [...rc.state.workloadEndpoints.values()].sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : a.interfaceName > b.interfaceName ? 1 : 0));
  const seen = new Set<string>();
  for (const e of weps as WorkloadEndpointState[]) {
    assertInterfaceName(e.interfaceName);
    if (seen.has(e.interfaceName)) continue;
    seen.add(e.interfaceName);
    const tw = rc.name('tw', e.interfaceName);
    const fw = rc.name('fw', e.interfaceName);
    const ifName = rc.o.groupDispatch === 'ipset' ? { ifName: e.interfaceName } : {};
    endpointChain(tw, { tiers: e.ingressTiers, dir: 'ingress', profiles: e.profileIds, ...ifName });
    endpointChain(fw, { tiers: e.egressTiers, dir: 'egress', profiles: e.profileIds, ...ifName });
  }
  // The dispatch chains depend only on the interfaces (in order) and the options.
  const ifaces = [...seen];
  if (rc.o.groupDispatch === 'ipset') renderGroupDispatch(rc, ifaces);
  const dispatch = (name: string, flag: '-i' | '-o', kind: 'fw' | 'tw') => () => {
    const c = new ChainBuilder('filter', name);
    for (const i of ifaces) c.add(flag, i, '-g', rc.name(kind, i));
    c.add(...rc.deny());
    return c.build();
  };
  const fromWl = `${rc.prefix}from-wl-dispatch`;
  const toWl = `${rc.prefix}to-wl-dispatch`;
  rc.pushCached(JSON.stringify(['dispatch', fromWl, ifaces]), dispatch(fromWl, '-i', 'fw'));
  rc.pushCached(JSON.stringify(['dispatch', toWl, ifaces]), dispatch(toWl, '-o', 'tw'));
}
