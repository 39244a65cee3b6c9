/**
 * Calico's resources as Calico stores them in the Kubernetes datastore
 * (`crd.projectcalico.org/v1` custom resources) read back as `projectcalico.org/v3`, as
 * libcalico-go's `ConvertK8sResourceToCalicoResource` does: same kinds and spec fields; the
 * `projectcalico.org/metadata` annotation carries the v3 metadata the CR cannot (for policies,
 * the v3 `name`) and is removed; a policy without it that sits in the default tier has its
 * legacy `default.` prefix stripped. Pure.
 */
import type { Resource } from '@gingham/core';

/** The annotation in which libcalico-go keeps the v3 metadata of a CRD-stored resource. */
export const CALICO_METADATA_ANNOTATION = 'projectcalico.org/metadata';
export const CALICO_V3_API = 'projectcalico.org/v3';

/** Policy kinds whose names Calico stores with tier prefixes. */
export const TIERED_POLICY_KINDS: ReadonlySet<string> = new Set(['NetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy']);

/** The v3 name of a CRD-stored policy: the metadata annotation's, else without `default.` in the default tier. */
export function restorePolicyName(name: string, tier: unknown, annotations: Readonly<Record<string, string>> | undefined): string {
  const stored = annotations?.[CALICO_METADATA_ANNOTATION];
  if (stored !== undefined) {
    try {
      const parsed = JSON.parse(stored) as { name?: unknown };
      if (typeof parsed.name === 'string' && parsed.name !== '') return parsed.name;
    } catch {
      // A malformed annotation: fall back to the CR name, as libcalico-go keeps it.
    }
  }
  const inDefaultTier = tier === undefined || tier === '' || tier === 'default';
  return inDefaultTier && name.startsWith('default.') ? name.slice('default.'.length) : name;
}

export interface CalicoCrdOptions {
  /** Keep labels on policies, and annotations, uid, creationTimestamp and resourceVersion (for display). */
  readonly fullMetadata?: boolean;
}

/** A `crd.projectcalico.org/v1` object of `kind` as the `projectcalico.org/v3` resource it stores. */
export function calicoResourceFromCrd(kind: string, object: Record<string, unknown>, options: CalicoCrdOptions = {}): Resource {
  const meta = (object['metadata'] ?? {}) as { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string; creationTimestamp?: string; resourceVersion?: string };
  const spec = (object['spec'] ?? {}) as Record<string, unknown>;
  const policy = TIERED_POLICY_KINDS.has(kind);
  const name = policy ? restorePolicyName(meta.name ?? '', spec['tier'], meta.annotations) : (meta.name ?? '');
  const metadata: Record<string, unknown> = { name };
  if (meta.namespace) metadata['namespace'] = meta.namespace;
  if (meta.labels && Object.keys(meta.labels).length > 0 && (!policy || options.fullMetadata)) metadata['labels'] = meta.labels;
  if (options.fullMetadata) {
    const { [CALICO_METADATA_ANNOTATION]: stored, ...rest } = meta.annotations ?? {};
    let extra: Record<string, unknown> = {};
    try {
      extra = stored ? (JSON.parse(stored) as Record<string, unknown>) : {};
    } catch {
      extra = {};
    }
    if (Object.keys(rest).length > 0) metadata['annotations'] = rest;
    if (meta.uid) metadata['uid'] = meta.uid;
    const created = typeof extra['creationTimestamp'] === 'string' ? extra['creationTimestamp'] : meta.creationTimestamp;
    if (created) metadata['creationTimestamp'] = created;
    if (meta.resourceVersion) metadata['resourceVersion'] = meta.resourceVersion;
  }
  return { apiVersion: CALICO_V3_API, kind, metadata: metadata as unknown as Resource['metadata'], spec };
}
