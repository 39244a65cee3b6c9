/**
 * Calico policy kinds: NetworkPolicy, GlobalNetworkPolicy and their staged variants, and Tier
 * (including the fixed orders and default actions of the built-in tiers).
 */
import { checkCalicoRules } from './calico-rules.js';
import { checkTierName } from './names.js';
import type { Reporter } from './report.js';
import { checkSelector } from './selectors.js';
import { bool, field, isObject, isZero, list, num, obj, show, str, type JsonObject } from './values.js';

export interface PolicyFlavour {
  readonly scope: 'NetworkPolicy' | 'GlobalNetworkPolicy';
  readonly staged: boolean;
}

function checkTypes(r: Reporter, spec: JsonObject): void {
  const seen = new Set<string>();
  list(spec, 'types').forEach((t, i) => {
    if (typeof t !== 'string') return;
    if (seen.has(t)) r.error('invalid-types', ['spec', 'types', i], `'${t}' type specified more than once`);
    seen.add(t);
  });
}

function checkGlobalFlags(r: Reporter, spec: JsonObject): void {
  const preDNAT = bool(spec, 'preDNAT') === true;
  const doNotTrack = bool(spec, 'doNotTrack') === true;
  const applyOnForward = bool(spec, 'applyOnForward') === true;
  if (preDNAT && doNotTrack) r.error('invalid-policy', ['spec', 'preDNAT'], 'preDNAT and doNotTrack cannot both be true');
  if (preDNAT && list(spec, 'egress').length > 0) r.error('invalid-policy', ['spec', 'egress'], 'preDNAT policy cannot have any egress rules');
  if (preDNAT && list(spec, 'types').includes('Egress')) r.error('invalid-policy', ['spec', 'types'], "preDNAT policy cannot have 'Egress' type");
  if ((preDNAT || doNotTrack) && !applyOnForward) {
    r.error('invalid-policy', ['spec', 'applyOnForward'], 'applyOnForward must be true if either preDNAT or doNotTrack is true');
  }
}

/** The spec of a NetworkPolicy, GlobalNetworkPolicy, StagedNetworkPolicy or StagedGlobalNetworkPolicy. */
export function checkCalicoPolicy(r: Reporter, resource: JsonObject, flavour: PolicyFlavour): void {
  const spec = obj(resource, 'spec');
  if (!spec) return;
  const tier = str(spec, 'tier');
  if (tier) for (const problem of checkTierName(tier)) r.error('invalid-tier', ['spec', 'tier'], `invalid tier ${show(tier)}: ${problem.replace(/^name /, '')}`);

  if (flavour.staged && str(spec, 'stagedAction') === 'Delete') {
    const extra = Object.keys(spec).filter((k) => k !== 'tier' && k !== 'stagedAction' && !isZero(spec[k]));
    if (extra.length > 0) {
      r.error('invalid-staged-policy', ['spec', extra[0] ?? ''], 'Spec fields, except Tier, should all be zero-value if stagedAction is Delete', 'key');
    }
    return;
  }

  for (const key of ['selector', 'serviceAccountSelector', ...(flavour.scope === 'GlobalNetworkPolicy' ? ['namespaceSelector'] : [])]) {
    const s = str(spec, key);
    if (s !== undefined) checkSelector(r, ['spec', key], s, 'forbidden');
  }
  checkTypes(r, spec);
  if (flavour.scope === 'GlobalNetworkPolicy') checkGlobalFlags(r, spec);
  checkCalicoRules(r, spec, flavour.scope);
}

interface BuiltInTier {
  readonly order: number;
  readonly action: 'Deny' | 'Pass';
}

/** Calico's built-in tiers; their order and default action are fixed. */
export const BUILT_IN_TIERS: Readonly<Record<string, BuiltInTier>> = {
  'kube-admin': { order: 1_000, action: 'Pass' },
  default: { order: 1_000_000, action: 'Deny' },
  'kube-baseline': { order: 10_000_000, action: 'Pass' },
};

export function checkTier(r: Reporter, resource: JsonObject): void {
  const name = str(obj(resource, 'metadata'), 'name');
  if (name === undefined || !Object.hasOwn(BUILT_IN_TIERS, name)) return;
  const builtIn = BUILT_IN_TIERS[name];
  if (!builtIn) return;
  const spec = field(resource, 'spec');
  const order = num(spec, 'order');
  if (order !== builtIn.order) {
    r.error('invalid-tier', ['spec', 'order'], `${name} tier order must be ${builtIn.order}${order === undefined ? ' (spec.order is required for this tier)' : ''}`);
  }
  const action = isObject(spec) ? (str(spec, 'defaultAction') ?? 'Deny') : 'Deny';
  if (action !== builtIn.action) {
    r.error('invalid-tier', ['spec', 'defaultAction'], `The '${name}' tier must have default action '${builtIn.action}'`);
  }
}
