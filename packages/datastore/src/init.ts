/**
 * `datastore init`, as libcalico-go's `EnsureInitialized` (`lib/clientv3/client.go`): the
 * ClusterInformation `default` (a cluster GUID, `datastoreReady: true` unless it is explicitly
 * false, cluster types merged, the version when given) and the tiers `default` (order
 * 1,000,000, Deny), `kube-admin` (1,000, Pass) and `kube-baseline` (10,000,000, Pass).
 * Idempotent: what exists is left alone; concurrent initialisers retry on conflict.
 */
import { randomUUID } from 'node:crypto';
import type { Resource, ResourceKey } from '@gingham/core';
import { isDatastoreError } from './errors.js';
import { CALICO_API_VERSION } from './kinds.js';
import type { StoredResource } from './resource.js';

export interface InitOptions {
  /** Added to `spec.clusterType` (comma-separated list) when missing, e.g. `openstack`. */
  readonly clusterType?: string;
  /** Sets `spec.calicoVersion` when given. */
  readonly calicoVersion?: string;
}

export interface InitOutcome {
  /** `ClusterInformation default`, `Tier kube-admin`, … */
  readonly resource: string;
  readonly action: 'created' | 'updated' | 'unchanged';
}

/** The writes `init` needs (ClusterInformation is refused by the public create/update). */
export interface InitWriter {
  get(key: ResourceKey): Promise<StoredResource | undefined>;
  create(resource: Resource): Promise<StoredResource>;
  update(resource: Resource): Promise<StoredResource>;
}

export const DEFAULT_TIERS: readonly { name: string; order: number; defaultAction: 'Deny' | 'Pass' }[] = [
  { name: 'default', order: 1_000_000, defaultAction: 'Deny' },
  { name: 'kube-admin', order: 1_000, defaultAction: 'Pass' },
  { name: 'kube-baseline', order: 10_000_000, defaultAction: 'Pass' },
];

interface ClusterInfoSpec {
  clusterGUID?: string;
  clusterType?: string;
  calicoVersion?: string;
  datastoreReady?: boolean;
  [k: string]: unknown;
}

const CLUSTER_INFO_KEY: ResourceKey = { apiVersion: CALICO_API_VERSION, kind: 'ClusterInformation', name: 'default' };

async function ensureClusterInformation(w: InitWriter, options: InitOptions): Promise<InitOutcome['action']> {
  for (let attempt = 0; ; attempt++) {
    const current = await w.get(CLUSTER_INFO_KEY);
    try {
      if (!current) {
        const spec: ClusterInfoSpec = { clusterGUID: randomUUID().replaceAll('-', ''), datastoreReady: true };
        if (options.clusterType) spec.clusterType = options.clusterType;
        if (options.calicoVersion) spec.calicoVersion = options.calicoVersion;
        await w.create({ apiVersion: CALICO_API_VERSION, kind: 'ClusterInformation', metadata: { name: 'default' }, spec });
        return 'created';
      }
      const spec: ClusterInfoSpec = { ...((current.spec as ClusterInfoSpec | undefined) ?? {}) };
      let changed = false;
      if (options.calicoVersion && spec.calicoVersion !== options.calicoVersion) {
        spec.calicoVersion = options.calicoVersion;
        changed = true;
      }
      if (!spec.clusterGUID) {
        spec.clusterGUID = randomUUID().replaceAll('-', '');
        changed = true;
      }
      if (spec.datastoreReady === undefined) {
        spec.datastoreReady = true;
        changed = true;
      }
      if (options.clusterType) {
        const types = spec.clusterType ? spec.clusterType.split(',') : [];
        const missing = options.clusterType.split(',').filter((t) => t !== '' && !types.includes(t));
        if (missing.length > 0) {
          spec.clusterType = [...types, ...missing].join(',');
          changed = true;
        }
      }
      if (!changed) return 'unchanged';
      await w.update({ ...current, spec });
      return 'updated';
    } catch (err) {
      if (attempt < 5 && isDatastoreError(err, 'DS_ALREADY_EXISTS', 'DS_CONFLICT', 'DS_NOT_FOUND')) continue;
      throw err;
    }
  }
}

/** Initialises a datastore; returns what it did per resource. */
export async function ensureInitialized(w: InitWriter, options: InitOptions = {}): Promise<InitOutcome[]> {
  const out: InitOutcome[] = [{ resource: 'ClusterInformation default', action: await ensureClusterInformation(w, options) }];
  for (const t of DEFAULT_TIERS) {
    const key: ResourceKey = { apiVersion: CALICO_API_VERSION, kind: 'Tier', name: t.name };
    let action: InitOutcome['action'] = 'unchanged';
    if (!(await w.get(key))) {
      try {
        await w.create({ apiVersion: CALICO_API_VERSION, kind: 'Tier', metadata: { name: t.name }, spec: { order: t.order, defaultAction: t.defaultAction } });
        action = 'created';
      } catch (err) {
        if (!isDatastoreError(err, 'DS_ALREADY_EXISTS')) throw err;
      }
    }
    out.push({ resource: `Tier ${t.name}`, action });
  }
  return out;
}
