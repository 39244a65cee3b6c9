/**
 * calicoctl's apply/create/replace/delete over many resources, for either datastore: every
 * resource is checked (validation, a kind this datastore can hold) before the first write, so
 * bad input writes nothing; then each is written on its own (as calicoctl does) and reported:
 * created, updated, unchanged (apply skips identical content, so watchers see no change),
 * deleted, refused (with the reason) or skipped (not attempted after the datastore became
 * unreachable). Tiers are written before the policies that use them, and deleted after.
 */
import type { Resource, ResourceKey } from '@gingham/core';
import type { Datastore } from './datastore.js';
import { DatastoreError, isDatastoreError } from './errors.js';
import { CALICO_API_VERSION } from './kinds.js';
import { assertValid, canonicalJson, forWrite, keyOf, requireKind, type StoredResource } from './resource.js';

export type WriteMode = 'apply' | 'create' | 'replace' | 'delete';
export type WriteAction = 'created' | 'updated' | 'unchanged' | 'deleted' | 'refused' | 'skipped';

export interface WriteItem {
  readonly resource: Resource;
  /** Where the resource was read (`file:line:col`), for the report. */
  readonly where?: string;
}

export interface WriteOutcome {
  readonly key: ResourceKey;
  readonly where?: string;
  readonly action: WriteAction;
  /** The stored resource (created/updated/unchanged) or the deleted one. */
  readonly resource?: StoredResource;
  readonly error?: { readonly code: string; readonly message: string };
}

/** The reason without the `gingham: ` prefix every GinghamError message carries. */
const reason = (e: Error) => e.message.replace(/^gingham: /, '');

const isTier = (r: Resource) => r.apiVersion === CALICO_API_VERSION && r.kind === 'Tier';

/** Errors that concern one resource; anything else (unreachable, auth, lock) stops the batch. */
const PER_RESOURCE = ['DS_ALREADY_EXISTS', 'DS_NOT_FOUND', 'DS_CONFLICT', 'DS_REFUSED', 'DS_INVALID', 'DS_NOT_SUPPORTED', 'DS_CORRUPT'] as const;

/** Content equality for apply: ignores resourceVersion, uid and creationTimestamp. */
function sameContent(a: Resource, b: Resource, info: ReturnType<typeof requireKind>): boolean {
  const strip = (r: Resource) => {
    const c = forWrite(r, info);
    const meta = { ...(c['metadata'] as Record<string, unknown>) };
    delete meta['uid'];
    delete meta['creationTimestamp'];
    return canonicalJson({ ...c, metadata: meta });
  };
  return strip(a) === strip(b);
}

export async function writeResources(ds: Datastore, items: readonly WriteItem[], mode: WriteMode): Promise<WriteOutcome[]> {
  // 1. Check everything before the first write.
  const checked = items.map((item) => {
    try {
      const info = requireKind(item.resource, ds.type);
      if (mode !== 'delete') assertValid(item.resource);
      return { item, info, key: keyOf(item.resource, info) };
    } catch (err) {
      const key: ResourceKey = { apiVersion: item.resource.apiVersion, kind: item.resource.kind, name: item.resource.metadata?.name ?? '-', ...(item.resource.metadata?.namespace ? { namespace: item.resource.metadata.namespace } : {}) };
      return { item, info: undefined, key, error: err instanceof DatastoreError ? err : new DatastoreError('DS_INVALID', String(err)) };
    }
  });
  if (checked.some((c) => c.error)) {
    return checked.map((c) =>
      c.error
        ? { key: c.key, ...(c.item.where ? { where: c.item.where } : {}), action: 'refused' as const, error: { code: c.error.code, message: reason(c.error) } }
        : { key: c.key, ...(c.item.where ? { where: c.item.where } : {}), action: 'skipped' as const, error: { code: 'NOT_ATTEMPTED', message: 'not written: other resources in the input were refused' } },
    );
  }

  // 2. Tiers first (last when deleting), otherwise in input order.
  const order = checked.map((c, i) => ({ c, i }));
  order.sort((a, b) => {
    const ta = isTier(a.c.item.resource) ? 0 : 1;
    const tb = isTier(b.c.item.resource) ? 0 : 1;
    return (mode === 'delete' ? tb - ta : ta - tb) || a.i - b.i;
  });

  const outcomes: WriteOutcome[] = new Array(checked.length);
  let stopped: DatastoreError | undefined;
  for (const { c, i } of order) {
    const base = { key: c.key, ...(c.item.where ? { where: c.item.where } : {}) };
    if (stopped) {
      outcomes[i] = { ...base, action: 'skipped', error: { code: 'NOT_ATTEMPTED', message: `not attempted: ${reason(stopped)}` } };
      continue;
    }
    try {
      outcomes[i] = { ...base, ...(await writeOne(ds, c.item.resource, c.key, c.info!, mode)) };
    } catch (err) {
      const e = err instanceof DatastoreError ? err : new DatastoreError('DS_UNAVAILABLE', (err as Error).message, { cause: err });
      outcomes[i] = { ...base, action: 'refused', error: { code: e.code, message: reason(e) } };
      if (!isDatastoreError(e, ...PER_RESOURCE)) stopped = e;
    }
  }
  return outcomes;
}

async function writeOne(ds: Datastore, resource: Resource, key: ResourceKey, info: ReturnType<typeof requireKind>, mode: WriteMode): Promise<Pick<WriteOutcome, 'action' | 'resource'>> {
  const rv = (resource.metadata as { resourceVersion?: string }).resourceVersion;
  switch (mode) {
    case 'create':
      return { action: 'created', resource: await ds.create(resource) };
    case 'replace':
      return { action: 'updated', resource: await ds.update(resource) };
    case 'delete':
      return { action: 'deleted', resource: await ds.delete(key, rv === undefined ? {} : { resourceVersion: rv }) };
    case 'apply':
      for (let attempt = 0; ; attempt++) {
        const current = await ds.get(key);
        try {
          if (!current) return { action: 'created', resource: await ds.create({ ...resource, metadata: withoutVersion(resource) }) };
          if (sameContent(resource, current, info)) return { action: 'unchanged', resource: current };
          // Compare-and-swap on the version given, or on the one just compared.
          return { action: 'updated', resource: await ds.update({ ...resource, metadata: { ...resource.metadata, resourceVersion: rv ?? current.metadata.resourceVersion } } as Resource) };
        } catch (err) {
          // Someone else created or changed it between our read and write: read again (once).
          if (attempt === 0 && rv === undefined && isDatastoreError(err, 'DS_ALREADY_EXISTS', 'DS_CONFLICT', 'DS_NOT_FOUND')) continue;
          throw err;
        }
      }
  }
}

function withoutVersion(resource: Resource): Resource['metadata'] {
  const { resourceVersion: _, ...meta } = resource.metadata as Resource['metadata'] & { resourceVersion?: string };
  return meta;
}
