/**
 * Rules libcalico-go's client applies before a write, kept by both datastores: validate
 * first; a policy's tier must exist (Gingham, like core, treats the three built-in tiers as
 * always present); ClusterInformation is written only by `datastore init`; names starting with
 * `knp.default.` belong to Kubernetes NetworkPolicies that kube-controllers copies in; the
 * built-in tiers cannot be deleted, nor a tier that policies still use.
 */
import type { Resource, ResourceKey } from '@gingham/core';
import { DatastoreError } from './errors.js';
import { CALICO_API_VERSION, kindOf, type KindInfo } from './kinds.js';
import { assertValid, describeKey, type CheckOptions, type StoredResource } from './resource.js';

export const BUILTIN_TIER_NAMES: readonly string[] = ['default', 'kube-admin', 'kube-baseline'];

const TIERED_KINDS = ['NetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy'];

/** What the rules need to read. */
export interface RuleLookups {
  get(key: ResourceKey): Promise<StoredResource | undefined>;
  /** Every stored policy of the tiered kinds. */
  policies(): Promise<StoredResource[]>;
}

export interface WriteRuleOptions extends CheckOptions {
  /** `datastore init` may write ClusterInformation. */
  readonly init?: boolean;
}

/** The tier of a Calico policy (`spec.tier`, default `default`), or undefined for other kinds. */
export function tierOf(resource: Resource): string | undefined {
  if (resource.apiVersion !== CALICO_API_VERSION || !TIERED_KINDS.includes(resource.kind)) return undefined;
  const tier = (resource.spec as { tier?: unknown } | undefined)?.tier;
  return typeof tier === 'string' && tier !== '' ? tier : 'default';
}

export async function checkBeforeWrite(resource: Resource, info: KindInfo, lookups: RuleLookups, options: WriteRuleOptions = {}): Promise<void> {
  if (info.initOnly && !options.init) {
    throw new DatastoreError('DS_NOT_SUPPORTED', `${info.kind} is written only by 'gingham datastore init' (calicoctl treats it as read-only too)`);
  }
  assertValid(resource, options);
  if (info.apiVersion === CALICO_API_VERSION && info.kind === 'NetworkPolicy' && resource.metadata.name.startsWith('knp.default.')) {
    throw new DatastoreError('DS_NOT_SUPPORTED', `NetworkPolicy ${resource.metadata.name}: names starting with knp.default. are Kubernetes NetworkPolicies copied in by kube-controllers; manage them through Kubernetes`);
  }
  const tier = tierOf(resource);
  if (tier !== undefined && !BUILTIN_TIER_NAMES.includes(tier)) {
    const found = await lookups.get({ apiVersion: CALICO_API_VERSION, kind: 'Tier', name: tier });
    if (!found) {
      throw new DatastoreError('DS_REFUSED', `${info.kind} ${resource.metadata.name}: tier "${tier}" does not exist; create the Tier first (apply it in the same -f files, Tiers are written first)`);
    }
  }
}

export async function checkBeforeDelete(key: ResourceKey, lookups: RuleLookups): Promise<void> {
  const info = kindOf(key.apiVersion, key.kind);
  if (info?.initOnly) throw new DatastoreError('DS_NOT_SUPPORTED', `${key.kind} cannot be deleted (calicoctl refuses too)`);
  if (key.apiVersion !== CALICO_API_VERSION || key.kind !== 'Tier') return;
  if (BUILTIN_TIER_NAMES.includes(key.name)) throw new DatastoreError('DS_REFUSED', `tier ${key.name} is built in and cannot be deleted`);
  const users = (await lookups.policies()).filter((p) => tierOf(p) === key.name);
  if (users.length > 0) {
    const names = users.slice(0, 3).map((p) => describeKey({ apiVersion: p.apiVersion, kind: p.kind, name: p.metadata.name, ...(p.metadata.namespace ? { namespace: p.metadata.namespace } : {}) }));
    throw new DatastoreError('DS_REFUSED', `tier ${key.name} still has ${users.length} ${users.length === 1 ? 'policy' : 'policies'} (${names.join(', ')}${users.length > 3 ? ', …' : ''}); delete them first`);
  }
}

/** Tiered policy kinds, for `RuleLookups.policies`. */
export const TIERED_POLICY_KINDS: readonly KindInfo[] = TIERED_KINDS.map((k) => kindOf(CALICO_API_VERSION, k)!);
