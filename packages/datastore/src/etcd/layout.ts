/**
 * Calico's etcd v3 layout (libcalico-go `lib/backend/model/resource.go`, `etcdv3/etcdv3.go`),
 * so Gingham, calicoctl, Felix and networking-calico share one etcd:
 *
 *   /calico/resources/v3/projectcalico.org/<plural>/<name>              cluster-scoped kinds
 *   /calico/resources/v3/projectcalico.org/<plural>/<namespace>/<name>  namespaced kinds
 *
 * The value is the JSON of the whole v3 resource without `resourceVersion` (which is the key's
 * mod_revision when read). Policies carry `projectcalico.org/metadata: {"name":"<v3 name>"}`;
 * reading restores the name from it, or, for legacy values without it, strips a `default.`
 * prefix from policies in the default tier. Pure: bytes in, resources or problems out.
 */
import type { Issue, Resource, ResourceKey } from '@gingham/core';
import { CALICO_API_VERSION, kindOfPlural, type KindInfo } from '../kinds.js';
import { checkResource, errorsOf, forWrite, keyOf, type StoredResource } from '../resource.js';

export const CALICO_RESOURCES_PREFIX = '/calico/resources/v3/projectcalico.org/';

/** The annotation in which libcalico-go keeps a policy's v3 name. */
export const POLICY_NAME_ANNOTATION = 'projectcalico.org/metadata';

const NAMED_POLICY_KINDS = new Set(['NetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy']);

/**
 * Whether a resource of this kind takes its name from the value (the policy-name annotation, or
 * a stripped `default.`), so that two etcd keys can name one resource. Every other kind's
 * resource follows from its key alone (the name must match it).
 */
export function namedByValue(kind: string): boolean {
  return NAMED_POLICY_KINDS.has(kind);
}

/** The etcd key of a resource. */
export function etcdKey(info: KindInfo, key: Pick<ResourceKey, 'namespace' | 'name'>): string {
  return info.namespaced ? `${CALICO_RESOURCES_PREFIX}${info.plural}/${key.namespace || 'default'}/${key.name}` : `${CALICO_RESOURCES_PREFIX}${info.plural}/${key.name}`;
}

/** The prefix holding every resource of a kind (in one namespace, when given). */
export function etcdPrefix(info: KindInfo, namespace?: string): string {
  return info.namespaced && namespace ? `${CALICO_RESOURCES_PREFIX}${info.plural}/${namespace}/` : `${CALICO_RESOURCES_PREFIX}${info.plural}/`;
}

export interface ParsedKey {
  readonly info: KindInfo;
  readonly namespace?: string;
  readonly name: string;
}

/**
 * The kind, namespace and name of an etcd key; undefined for keys outside the layout or of
 * kinds Gingham does not hold (FelixConfiguration, IPPool, BGP…, IPAM), which are left alone.
 */
export function parseEtcdKey(key: string): ParsedKey | undefined {
  if (!key.startsWith(CALICO_RESOURCES_PREFIX)) return undefined;
  const parts = key.slice(CALICO_RESOURCES_PREFIX.length).split('/');
  if (parts.some((p) => p === '')) return undefined;
  const info = kindOfPlural(parts[0]!);
  if (!info) return undefined;
  if (info.namespaced && parts.length === 3) return { info, namespace: parts[1]!, name: parts[2]! };
  if (!info.namespaced && parts.length === 2) return { info, name: parts[1]! };
  return undefined;
}

/** The JSON written for `resource` (libcalico-go's shape: kind, apiVersion, metadata, spec). */
export function encodeValue(resource: Resource, info: KindInfo): string {
  const copy = forWrite(resource, info);
  const meta = copy['metadata'] as Record<string, unknown>;
  if (NAMED_POLICY_KINDS.has(info.kind)) {
    meta['annotations'] = { ...((meta['annotations'] as Record<string, string> | undefined) ?? {}), [POLICY_NAME_ANNOTATION]: JSON.stringify({ name: meta['name'] }) };
  }
  const { kind, apiVersion, metadata, spec, ...rest } = copy;
  return JSON.stringify({ kind, apiVersion, metadata: orderMeta(meta), ...(spec === undefined ? {} : { spec }), ...rest });
}

const META_ORDER = ['name', 'namespace', 'uid', 'creationTimestamp', 'labels', 'annotations'];

function orderMeta(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of META_ORDER) if (meta[k] !== undefined) out[k] = meta[k];
  for (const [k, v] of Object.entries(meta)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

export type Decoded =
  | { readonly kind: 'resource'; readonly resource: StoredResource; readonly key: ResourceKey; readonly info: KindInfo; readonly warnings: readonly Issue[] }
  /** Outside the layout or a kind Gingham does not hold: not an error. */
  | { readonly kind: 'ignored' }
  | { readonly kind: 'invalid'; readonly message: string; readonly issues: readonly Issue[] };

/**
 * Reads one etcd key/value as Calico does: the key decides kind, namespace and name (the
 * value's own apiVersion/kind are not trusted), `resourceVersion` = `modRevision`.
 */
export function decodeKeyValue(key: string, value: string, modRevision: string): Decoded {
  const parsed = parseEtcdKey(key);
  if (!parsed) return { kind: 'ignored' };
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch (err) {
    return { kind: 'invalid', message: `not valid JSON (${(err as Error).message})`, issues: [] };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { kind: 'invalid', message: 'the value is not a JSON object', issues: [] };
  // Fresh from JSON.parse and ours alone: completed in place (no copy per resource).
  const obj = data as Record<string, unknown>;
  const rawMeta = obj['metadata'];
  if (rawMeta !== undefined && (rawMeta === null || typeof rawMeta !== 'object' || Array.isArray(rawMeta))) {
    return { kind: 'invalid', message: 'metadata is not an object', issues: [] };
  }
  const meta = (rawMeta as Record<string, unknown> | undefined) ?? {};
  const { info } = parsed;

  let name = typeof meta['name'] === 'string' && meta['name'] !== '' ? meta['name'] : parsed.name;
  if (NAMED_POLICY_KINDS.has(info.kind)) {
    const spec = obj['spec'] as { tier?: unknown } | undefined;
    const restored = restorePolicyName(name, typeof spec?.tier === 'string' ? spec.tier : undefined, meta['annotations']);
    name = restored.name;
    if (restored.annotations === undefined) delete meta['annotations'];
    else meta['annotations'] = restored.annotations;
  } else if (name !== parsed.name) {
    return { kind: 'invalid', message: `metadata.name "${name}" does not match the key's name "${parsed.name}"`, issues: [] };
  }
  meta['name'] = name;
  if (info.namespaced) meta['namespace'] = parsed.namespace;
  else delete meta['namespace'];
  meta['resourceVersion'] = modRevision;
  obj['apiVersion'] = CALICO_API_VERSION;
  obj['kind'] = info.kind;
  obj['metadata'] = meta;

  const issues = checkResource(obj, { file: key, lenientNames: true });
  const errors = errorsOf(issues);
  if (errors.length > 0) {
    const first = errors[0]!;
    return { kind: 'invalid', message: `${first.path ? `${first.path}: ` : ''}${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`, issues: errors };
  }
  const resource = obj as unknown as StoredResource;
  return { kind: 'resource', resource, key: keyOf(resource, info), info, warnings: issues };
}

/** libcalico-go's `determinePolicyName`: the annotation's name, else `default.` stripped in the default tier. */
function restorePolicyName(name: string, tier: string | undefined, annotations: unknown): { name: string; annotations: Record<string, unknown> | undefined } {
  const ann = annotations !== null && typeof annotations === 'object' && !Array.isArray(annotations) ? { ...(annotations as Record<string, unknown>) } : undefined;
  const stored = ann?.[POLICY_NAME_ANNOTATION];
  if (ann && stored !== undefined) {
    delete ann[POLICY_NAME_ANNOTATION];
    let fromAnnotation: unknown;
    try {
      fromAnnotation = typeof stored === 'string' ? (JSON.parse(stored) as { name?: unknown }).name : undefined;
    } catch {
      fromAnnotation = undefined;
    }
    return { name: typeof fromAnnotation === 'string' && fromAnnotation !== '' ? fromAnnotation : name, annotations: Object.keys(ann).length > 0 ? ann : undefined };
  }
  const inDefaultTier = tier === undefined || tier === '' || tier === 'default';
  return { name: inDefaultTier && name.startsWith('default.') ? name.slice('default.'.length) : name, annotations: ann };
}
