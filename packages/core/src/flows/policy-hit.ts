/**
 * Policy-hit strings, Calico's "policy trace labels". Printed in the current kind-explicit form
 * (Calico ≥ 3.32, Goldmane):
 *
 *   <policy index>|<tier>|<kind short>:[<namespace>/]<name>|<action>|<rule index>
 *   1|default|np:shop/access-db|allow|2      0|security|gnp:deny-egress|deny|-1 (end of tier)
 *   2|__PROFILE__|pro:kns.shop|allow|0       0|default|eot:__NO_MATCH__|deny|-1
 *
 * and parsed in that form and in the legacy one (≤ 3.31: `tier.name`, `ns/knp.default.name`,
 * `ns/tier.name`, `staged:` markers, `__PROFILE__.name`), so logs of either era can be read.
 * A rule index of -1 makes the hit an end-of-tier hit whose trigger is the named policy.
 */
import type { PolicyHit, PolicyHitKind, PolicyHitTrigger } from './types.js';

const SHORT: Readonly<Record<Exclude<PolicyHitKind, 'EndOfTier'>, string>> = {
  CalicoNetworkPolicy: 'np',
  GlobalNetworkPolicy: 'gnp',
  StagedNetworkPolicy: 'snp',
  StagedGlobalNetworkPolicy: 'sgnp',
  StagedKubernetesNetworkPolicy: 'sknp',
  NetworkPolicy: 'knp',
  AdminNetworkPolicy: 'kanp',
  BaselineAdminNetworkPolicy: 'kbanp',
  ClusterNetworkPolicy: 'kcnp',
  Profile: 'pro',
};
const KIND_OF_SHORT = new Map(Object.entries(SHORT).map(([k, s]) => [s, k as PolicyHitKind]));
const NAMESPACED = new Set<PolicyHitKind>(['CalicoNetworkPolicy', 'StagedNetworkPolicy', 'StagedKubernetesNetworkPolicy', 'NetworkPolicy']);

export const PROFILE_TIER = '__PROFILE__';
export const NO_MATCH = '__NO_MATCH__';

/** The short kind Calico uses in ids and hit strings (`np`, `gnp`, …, `pro`). */
export function policyKindShort(kind: Exclude<PolicyHitKind, 'EndOfTier'>): string {
  return SHORT[kind];
}

/** The hit kind of a short kind, or undefined. */
export function policyKindOfShort(short: string): PolicyHitKind | undefined {
  return KIND_OF_SHORT.get(short);
}

function namePart(h: PolicyHit | PolicyHitTrigger): string {
  if (h.kind === 'EndOfTier') return 'trigger' in h && h.trigger ? namePart(h.trigger) : `eot:${NO_MATCH}`;
  return `${SHORT[h.kind]}:${h.namespace ? `${h.namespace}/` : ''}${h.name}`;
}

/** The kind-explicit hit string. */
export function formatPolicyHit(h: PolicyHit): string {
  const tier = h.kind === 'Profile' || (h.kind === 'EndOfTier' && h.trigger?.kind === 'Profile') ? PROFILE_TIER : h.tier;
  return `${h.policy_index}|${tier}|${namePart(h)}|${h.action}|${h.rule_index}`;
}

export type ParsedPolicyHit = { readonly ok: true; readonly hit: PolicyHit } | { readonly ok: false; readonly error: string };

const INT = /^-?\d+$/;
const DNS_LABELS = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function legacyName(tier: string, part: string): { kind: Exclude<PolicyHitKind, 'EndOfTier'>; name: string; namespace: string } | undefined {
  const slash = part.indexOf('/');
  if (slash < 0) {
    if (part.startsWith(`${PROFILE_TIER}.`)) return { kind: 'Profile', name: part.slice(PROFILE_TIER.length + 1), namespace: '' };
    if (part.startsWith('kanp.')) return { kind: 'AdminNetworkPolicy', name: part.replace(/^kanp\.(adminnetworkpolicy\.)?/, ''), namespace: '' };
    if (part.startsWith('kbanp.')) return { kind: 'BaselineAdminNetworkPolicy', name: part.replace(/^kbanp\.(baselineadminnetworkpolicy\.)?/, ''), namespace: '' };
    const staged = part.indexOf('staged:');
    if (staged >= 0) return { kind: 'StagedGlobalNetworkPolicy', name: part.slice(staged + 7), namespace: '' };
    return { kind: 'GlobalNetworkPolicy', name: part.startsWith(`${tier}.`) ? part.slice(tier.length + 1) : part, namespace: '' };
  }
  const namespace = part.slice(0, slash);
  const rest = part.slice(slash + 1);
  if (rest.startsWith('staged:knp.default.')) return { kind: 'StagedKubernetesNetworkPolicy', name: rest.slice(19), namespace };
  if (rest.startsWith('knp.default.')) return { kind: 'NetworkPolicy', name: rest.slice(12), namespace };
  const staged = rest.indexOf('staged:');
  if (staged >= 0) return { kind: 'StagedNetworkPolicy', name: rest.slice(staged + 7), namespace };
  return { kind: 'CalicoNetworkPolicy', name: rest.startsWith(`${tier}.`) ? rest.slice(tier.length + 1) : rest, namespace };
}

/** Parses a hit string (kind-explicit or legacy). Never throws. */
export function parsePolicyHit(text: string): ParsedPolicyHit {
  const parts = text.split('|');
  if (parts.length !== 5) return { ok: false, error: `expected 5 fields separated by "|", got ${parts.length}` };
  const [idx, rawTier, part, rawAction, rule] = parts as [string, string, string, string, string];
  if (!INT.test(idx) || Number(idx) < 0) return { ok: false, error: `policy index "${idx}" is not a non-negative integer` };
  if (!INT.test(rule) || Number(rule) < -2) return { ok: false, error: `rule index "${rule}" is not an integer ≥ -2` };
  const action = rawAction.toLowerCase();
  if (action !== 'allow' && action !== 'deny' && action !== 'pass') return { ok: false, error: `action "${rawAction}" is not allow, deny or pass` };
  if (rawTier === '') return { ok: false, error: 'tier is empty' };
  const profileTier = rawTier === PROFILE_TIER;
  const tier = profileTier ? '' : rawTier;
  if (!profileTier && !DNS_LABELS.test(tier)) return { ok: false, error: `tier "${rawTier}" is not a valid tier name` };

  let named: { kind: Exclude<PolicyHitKind, 'EndOfTier'>; name: string; namespace: string } | undefined;
  const colon = part.indexOf(':');
  const short = colon > 0 ? part.slice(0, colon) : '';
  if (short === 'eot') {
    if (part.slice(colon + 1) !== NO_MATCH) return { ok: false, error: `"${part}": an end-of-tier hit without a policy is written eot:${NO_MATCH}` };
  } else if (KIND_OF_SHORT.has(short)) {
    const kind = KIND_OF_SHORT.get(short) as Exclude<PolicyHitKind, 'EndOfTier'>;
    const body = part.slice(colon + 1);
    const slash = body.indexOf('/');
    const namespace = NAMESPACED.has(kind) && slash > 0 ? body.slice(0, slash) : '';
    const name = namespace ? body.slice(slash + 1) : body;
    if (NAMESPACED.has(kind) && !namespace) return { ok: false, error: `"${part}": a ${kind} needs <namespace>/<name>` };
    named = { kind, name, namespace };
  } else {
    named = legacyName(tier, part);
  }
  if (named && named.name === '') return { ok: false, error: `"${part}": empty name` };
  if (named && named.namespace !== '' && !DNS_LABELS.test(named.namespace)) return { ok: false, error: `"${part}": invalid namespace "${named.namespace}"` };
  const base = { policy_index: Number(idx), action, rule_index: Number(rule) } as const;
  if (Number(rule) === -1) {
    const trigger: PolicyHitTrigger | undefined = named && { kind: named.kind, name: named.name, namespace: named.namespace, tier };
    return { ok: true, hit: { kind: 'EndOfTier', name: '', namespace: '', tier, ...base, ...(trigger ? { trigger } : {}) } };
  }
  if (!named) return { ok: false, error: `"${part}": eot:${NO_MATCH} needs rule index -1` };
  return { ok: true, hit: { kind: named.kind, name: named.name, namespace: named.namespace, tier, ...base } };
}
