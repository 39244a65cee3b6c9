/**
 * What both datastores share about one resource: its key, the copy that is written (no
 * resourceVersion, the namespace defaulted), and validation before any write (core's rules,
 * plus ClusterInformation, which core does not model). Reading tolerates names that Calico's
 * own writers produce but its API would refuse (networking-calico writes upper-case Neutron
 * ids into names and Felix reads them).
 */
import { formatResourceKey, validateResource, type Issue, type Locate, type ObjectMeta, type Resource, type ResourceKey } from '@gingham/core';
import { DatastoreError } from './errors.js';
import { CALICO_API_VERSION, kindOf, type KindInfo } from './kinds.js';

/** Metadata as stored and returned: `resourceVersion` is the datastore's version of the resource. */
export interface StoredMeta extends ObjectMeta {
  readonly resourceVersion?: string;
  readonly creationTimestamp?: string;
}

/** A resource as a datastore returns it (with `metadata.resourceVersion`). */
export interface StoredResource extends Resource {
  readonly metadata: StoredMeta;
}

/** The key of a resource, with the namespace of a namespaced kind defaulted to `default`. */
export function keyOf(resource: Resource, info: KindInfo): ResourceKey {
  const name = resource.metadata.name;
  if (!info.namespaced) return { apiVersion: info.apiVersion, kind: info.kind, name };
  return { apiVersion: info.apiVersion, kind: info.kind, namespace: resource.metadata.namespace || 'default', name };
}

/** `Kind ns/name` or `Kind name`, for messages. */
export function describeKey(key: ResourceKey): string {
  return `${key.kind} ${key.namespace ? `${key.namespace}/` : ''}${key.name}`;
}

/** Stable text of a key (for maps). */
export const keyId = (key: ResourceKey): string => formatResourceKey(key);

/** The kind of a resource, or DS_NOT_SUPPORTED naming what is supported. */
export function requireKind(resource: { apiVersion?: unknown; kind?: unknown }, where: 'etcd' | 'dir'): KindInfo {
  const info = typeof resource.apiVersion === 'string' && typeof resource.kind === 'string' ? kindOf(resource.apiVersion, resource.kind) : undefined;
  if (!info) throw new DatastoreError('DS_NOT_SUPPORTED', `${String(resource.kind)} (${String(resource.apiVersion)}) cannot be stored in a datastore`);
  if (where === 'etcd' && !info.etcd) {
    throw new DatastoreError(
      'DS_NOT_SUPPORTED',
      `${info.kind} (${info.apiVersion}) has no place in Calico's etcd layout: etcd holds projectcalico.org/v3 kinds only (write a WorkloadEndpoint for a pod, a Calico NetworkPolicy for a Kubernetes one)`,
    );
  }
  return info;
}

/**
 * The copy of `resource` that is written: `metadata.resourceVersion` and `selfLink` removed,
 * the namespace of a namespaced kind defaulted, cluster-scoped kinds without a namespace.
 */
export function forWrite(resource: Resource, info: KindInfo): Record<string, unknown> {
  const copy = structuredClone(resource) as unknown as Record<string, unknown>;
  const meta = { ...(copy['metadata'] as Record<string, unknown>) };
  delete meta['resourceVersion'];
  delete meta['selfLink'];
  if (info.namespaced) meta['namespace'] = (meta['namespace'] as string | undefined) || 'default';
  else delete meta['namespace'];
  copy['apiVersion'] = info.apiVersion;
  copy['kind'] = info.kind;
  copy['metadata'] = meta;
  return copy;
}

export interface CheckOptions {
  /** File name for issues (the etcd key when reading etcd). */
  readonly file?: string;
  readonly at?: Locate;
  /** Accept names and namespaces that Calico's API would refuse (reading what Calico's own tools wrote). */
  readonly lenientNames?: boolean;
}

const LENIENT_CODES = new Set(['invalid-name', 'invalid-namespace']);

/** Every issue of one resource (errors and warnings). */
export function checkResource(value: unknown, options: CheckOptions = {}): Issue[] {
  const v = value as { apiVersion?: unknown; kind?: unknown } | null;
  const issues = v !== null && typeof v === 'object' && v.apiVersion === CALICO_API_VERSION && v.kind === 'ClusterInformation' ? checkClusterInformation(value as Record<string, unknown>, options) : validateResource(value, { ...(options.at ? { at: options.at } : {}), ...(options.file ? { file: options.file } : {}) });
  return options.lenientNames ? issues.filter((i) => !LENIENT_CODES.has(i.code)) : issues;
}

/** Errors only. */
export const errorsOf = (issues: readonly Issue[]): Issue[] => issues.filter((i) => i.severity === 'error');

/** Throws DS_INVALID when `resource` has errors. */
export function assertValid(resource: Resource, options: CheckOptions = {}): void {
  const errors = errorsOf(checkResource(resource, options));
  if (errors.length === 0) return;
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  throw new DatastoreError('DS_INVALID', `${resource.kind} ${resource.metadata?.name ?? '-'} is invalid: ${first.path ? `${first.path}: ` : ''}${first.message}${more}`, { issues: errors });
}

const CLUSTER_INFO_STRINGS = ['clusterGUID', 'clusterType', 'calicoVersion', 'variant'];

/** ClusterInformation (`api/pkg/apis/projectcalico/v3/clusterinfo.go`): strings and one tri-state bool. */
function checkClusterInformation(value: Record<string, unknown>, options: CheckOptions): Issue[] {
  const at = options.at ?? (() => ({ line: 0, col: 0 }));
  const meta = value['metadata'] as Record<string, unknown> | undefined;
  const name = typeof meta?.['name'] === 'string' ? meta['name'] : '-';
  const issues: Issue[] = [];
  const add = (severity: Issue['severity'], code: string, path: (string | number)[], message: string) => {
    const { line, col } = at(path);
    issues.push({ severity, code, message, file: options.file || '<input>', line, col, kind: 'ClusterInformation', name, path: path.join('.') });
  };
  if (name === '-') add('error', 'missing-name', ['metadata', 'name'], 'metadata.name is required');
  else if (name !== 'default' && !options.lenientNames) add('error', 'invalid-name', ['metadata', 'name'], 'the ClusterInformation is named "default"');
  const spec = value['spec'];
  if (spec === undefined || spec === null) return issues;
  if (typeof spec !== 'object' || Array.isArray(spec)) {
    add('error', 'invalid-type', ['spec'], 'spec must be a mapping');
    return issues;
  }
  for (const [k, v] of Object.entries(spec)) {
    if (CLUSTER_INFO_STRINGS.includes(k)) {
      if (typeof v !== 'string') add('error', 'invalid-type', ['spec', k], `${k} must be a string`);
    } else if (k === 'datastoreReady') {
      if (typeof v !== 'boolean') add('error', 'invalid-type', ['spec', k], 'datastoreReady must be true or false');
    } else {
      add('warning', 'unknown-field', ['spec', k], `unknown field "${k}"`);
    }
  }
  return issues;
}

/** JSON with sorted keys: equal resources give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** `metadata` of a stored resource, typed. */
export const metaOf = (r: Resource): StoredMeta => r.metadata as StoredMeta;

/** RFC 3339 in seconds, as Kubernetes writes creationTimestamp. */
export function timestampNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}
