/**
 * The policy sorter: turns "these policies select this endpoint" into the ordered tier lists of
 * the endpoint's dataplane message, exactly as `evaluate()` orders them (tiers by
 * declared/order/name, policies by order then `<name>/<namespace>/<kind>`), bucketed by stage:
 * normal, untracked (doNotTrack, named host endpoints only: Calico ignores it on `*` ones),
 * pre-DNAT (ingress, host endpoints only) and forward (applyOnForward). Staged policies never
 * enter a tier. Pure.
 */
import type { HostEndpoint, Policy, Tier, WorkloadEndpoint } from '../model/types.js';
import { comparePoliciesInTier, compareTiers } from '../evaluate/snapshot-index.js';
import type { FailsafeEntry, HostEndpointBinding, HostEndpointState, TierRef, WorkloadEndpointState } from '../dataplane/messages.js';

export type TierLookup = (name: string) => Tier;

function sortPolicies(policies: readonly Policy[], tier: TierLookup): Policy[] {
  return [...policies].sort((a, b) => {
    if (a.tier !== b.tier) {
      const c = compareTiers(tier(a.tier), tier(b.tier));
      if (c !== 0) return c;
    }
    return comparePoliciesInTier(a, b);
  });
}

function group(policies: readonly Policy[], tier: TierLookup, forcePass: boolean): TierRef[] {
  const out: { name: string; defaultAction: 'Deny' | 'Pass'; policyIds: string[] }[] = [];
  for (const p of policies) {
    const last = out[out.length - 1];
    if (last && last.name === p.tier) last.policyIds.push(p.id);
    else out.push({ name: p.tier, defaultAction: forcePass ? 'Pass' : tier(p.tier).defaultAction, policyIds: [p.id] });
  }
  return out;
}

const ingressOf = (p: Policy): boolean => p.types.length === 0 || p.types.includes('Ingress');
const egressOf = (p: Policy): boolean => p.types.length === 0 || p.types.includes('Egress');

export function workloadEndpointState(w: WorkloadEndpoint, selected: readonly Policy[], tier: TierLookup, profileIds: readonly string[]): WorkloadEndpointState {
  const sorted = sortPolicies(selected, tier);
  const normal = sorted.filter((p) => !p.staged && !p.doNotTrack && !p.preDNAT);
  return {
    id: w.id,
    name: w.name,
    node: w.node,
    interfaceName: w.interfaceName,
    addresses: w.addresses,
    ingressTiers: group(normal.filter(ingressOf), tier, false),
    egressTiers: group(normal.filter(egressOf), tier, false),
    profileIds,
    stagedPolicyIds: sorted.filter((p) => p.staged).map((p) => p.id),
  };
}

export function hostEndpointState(
  h: HostEndpoint,
  selected: readonly Policy[],
  tier: TierLookup,
  profileIds: readonly string[],
  failsafe: { readonly inbound: readonly FailsafeEntry[]; readonly outbound: readonly FailsafeEntry[] },
): HostEndpointState {
  const sorted = sortPolicies(selected, tier);
  const enforced = sorted.filter((p) => !p.staged);
  // Calico does not support doNotTrack policy on all-interfaces (`*`) host endpoints: none is sent.
  const untracked = h.interfaceName === '*' ? [] : enforced.filter((p) => p.doNotTrack);
  const preDnat = enforced.filter((p) => !p.doNotTrack && p.preDNAT);
  const normal = enforced.filter((p) => !p.doNotTrack && !p.preDNAT);
  const forward = normal.filter((p) => p.applyOnForward);
  const binding: HostEndpointBinding =
    h.interfaceName === '*'
      ? { kind: 'all-interfaces' }
      : h.interfaceName
        ? { kind: 'interface', interfaceName: h.interfaceName }
        : { kind: 'expected-ips' };
  return {
    id: h.id,
    node: h.node,
    binding,
    expectedIPs: h.expectedIPs,
    ingressTiers: group(normal.filter(ingressOf), tier, false),
    egressTiers: group(normal.filter(egressOf), tier, false),
    untrackedIngressTiers: group(untracked.filter(ingressOf), tier, true),
    untrackedEgressTiers: group(untracked.filter(egressOf), tier, true),
    preDnatIngressTiers: group(preDnat.filter(ingressOf), tier, true),
    forwardIngressTiers: group(forward.filter(ingressOf), tier, false),
    forwardEgressTiers: group(forward.filter(egressOf), tier, false),
    profileIds,
    stagedPolicyIds: sorted.filter((p) => p.staged).map((p) => p.id),
    failsafeInbound: failsafe.inbound,
    failsafeOutbound: failsafe.outbound,
  };
}
