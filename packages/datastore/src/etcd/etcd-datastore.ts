/**
 * The etcd datastore: Calico's own layout (layout.ts) with libcalico-go's write semantics
 * (`etcdv3.go`): create is `Txn If(Version(key)=0) Then(Put) Else(Get)`, update is
 * `If(ModRevision(key)=rv) Then(Put)`, delete with a resourceVersion is
 * `If(ModRevision(key)=rv) Then(Delete)`; resourceVersion is the key's mod_revision. Lists are
 * paged at one pinned revision so a 100k-key list is consistent and never one giant message.
 */
import { randomUUID } from 'node:crypto';
import type { Resource, ResourceKey, SourceProblem } from '@gingham/core';
import type { IKeyValue } from 'etcd3';
import type { Datastore, DeleteOptions, ListOptions, ListResult, SourceOptions } from '../datastore.js';
import { DatastoreError } from '../errors.js';
import type { KindInfo } from '../kinds.js';
import { describeKey, keyOf, metaOf, requireKind, timestampNow, type StoredResource } from '../resource.js';
import { ensureInitialized } from '../init.js';
import { checkBeforeDelete, checkBeforeWrite, TIERED_POLICY_KINDS, type RuleLookups } from '../rules.js';
import { createEtcdClient, toDatastoreError, type EtcdClientOptions } from './client.js';
import type { EtcdConfig } from './config.js';
import { createEtcdSource, type EtcdSource, type EtcdSourceOptions } from './etcd-source.js';
import { CALICO_RESOURCES_PREFIX, decodeKeyValue, encodeValue, etcdKey, etcdPrefix } from './layout.js';
import { listPrefix } from './list.js';

export interface EtcdDatastoreOptions extends EtcdClientOptions {
  /** From `resolveEtcdConfig`. */
  readonly config: EtcdConfig;
  /** Keys per page when listing. Default 10,000: etcd counts the rest of the range for every page, so small pages make a 100k-key list quadratic (500: 12.4 s, 10,000: 2.0 s for 111k keys). */
  readonly pageSize?: number;
}

export interface EtcdDatastore extends Datastore {
  readonly type: 'etcd';
  source(options?: EtcdSourceOptions): EtcdSource;
  /** The store's current revision. */
  revision(): Promise<string>;
}

const byKey = (a: StoredResource, b: StoredResource): number =>
  a.kind.localeCompare(b.kind) || (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name);

export function createEtcdDatastore(options: EtcdDatastoreOptions): EtcdDatastore {
  const { config } = options;
  const client = createEtcdClient(config, options);
  const pageSize = options.pageSize ?? 10_000;
  const sources = new Set<EtcdSource>();
  let closed = false;
  const description = config.endpoints.join(',');

  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new DatastoreError('DS_CLOSED', 'the datastore is closed');
    try {
      return await fn();
    } catch (err) {
      throw toDatastoreError(err, what, config.endpoints);
    }
  };

  const etcdInfo = (key: ResourceKey): KindInfo => requireKind(key, 'etcd');

  /** The keys a resource may live under: its own, and for default-tier policies the `default.<name>` of Calico 3.28–3.29. */
  const candidateKeys = (info: KindInfo, key: ResourceKey): string[] => {
    const own = etcdKey(info, key);
    const legacy = TIERED_POLICY_KINDS.includes(info) && !key.name.includes('.') ? etcdKey(info, { ...key, name: `default.${key.name}` }) : undefined;
    return legacy ? [own, legacy] : [own];
  };

  const decodeOrThrow = (key: string, value: string, revision: string): StoredResource => {
    const d = decodeKeyValue(key, value, revision);
    if (d.kind === 'resource') return d.resource;
    throw new DatastoreError('DS_CORRUPT', `${key}: ${d.kind === 'invalid' ? d.message : 'not a resource Gingham reads'}`, d.kind === 'invalid' ? { issues: d.issues } : undefined);
  };

  /** The stored key/value of a resource (its own key, or a legacy one holding the same name). */
  const find = async (info: KindInfo, key: ResourceKey): Promise<{ etcdKey: string; kv: IKeyValue } | undefined> => {
    for (const candidate of candidateKeys(info, key)) {
      const res = await client.kv.range({ key: Buffer.from(candidate) });
      const kv = res.kvs[0];
      if (!kv) continue;
      if (candidate !== candidateKeys(info, key)[0]) {
        const d = decodeKeyValue(candidate, kv.value.toString(), kv.mod_revision);
        if (d.kind !== 'resource' || d.resource.metadata.name !== key.name) continue;
      }
      return { etcdKey: candidate, kv };
    }
    return undefined;
  };

  const list = (opts: ListOptions = {}): Promise<ListResult> =>
    guard('list', async () => {
      if (opts.kind) requireKind(opts.kind, 'etcd');
      const prefix = opts.kind ? etcdPrefix(opts.kind, opts.namespace) : CALICO_RESOURCES_PREFIX;
      const { kvs, revision } = await listPrefix(client, prefix, pageSize);
      const items: StoredResource[] = [];
      const problems: SourceProblem[] = [];
      for (const kv of kvs) {
        const key = kv.key;
        const d = decodeKeyValue(key, kv.value ?? '', String(kv.modRevision));
        if (d.kind === 'ignored') continue;
        if (d.kind === 'invalid') {
          const message = `${d.message} (skipped)`;
          problems.push(d.issues.length > 0 ? { where: key, message, issues: d.issues } : { where: key, message });
          continue;
        }
        if (opts.kind && d.resource.kind !== opts.kind.kind) continue;
        if (opts.namespace !== undefined && d.key.namespace !== undefined && d.key.namespace !== opts.namespace) continue;
        items.push(d.resource);
      }
      return { items: items.sort(byKey), revision: String(revision), problems };
    });

  const get = (key: ResourceKey): Promise<StoredResource | undefined> =>
    guard(`get ${describeKey(key)}`, async () => {
      const found = await find(etcdInfo(key), key);
      return found ? decodeOrThrow(found.etcdKey, found.kv.value.toString(), found.kv.mod_revision) : undefined;
    });

  const lookups: RuleLookups = {
    get,
    policies: async () => (await Promise.all(TIERED_POLICY_KINDS.map((kind) => list({ kind })))).flatMap((r) => r.items),
  };

  const txn = (compare: { key: string; target: 'Version' | 'Mod'; value: string }[], success: object[], failureKey: string) =>
    client.kv.txn({
      compare: compare.map((c) => ({ key: Buffer.from(c.key), target: c.target, result: 'Equal', ...(c.target === 'Version' ? { version: c.value } : { mod_revision: c.value }) })),
      success,
      failure: [{ request_range: { key: Buffer.from(failureKey) } }],
    });

  const write = async (resource: Resource, mode: 'create' | 'update', init: boolean): Promise<StoredResource> => {
    const info = requireKind(resource, 'etcd');
    const key = keyOf(resource, info);
    return guard(`${mode} ${describeKey(key)}`, async () => {
      await checkBeforeWrite(resource, info, lookups, { init });
      const meta = metaOf(resource);
      if (mode === 'create') {
        if (candidateKeys(info, key).length > 1 && (await find(info, key))) throw new DatastoreError('DS_ALREADY_EXISTS', `${describeKey(key)} already exists`);
        const target = etcdKey(info, key);
        const value = encodeValue({ ...resource, metadata: { ...meta, uid: meta.uid ?? randomUUID(), creationTimestamp: meta.creationTimestamp ?? timestampNow() } as StoredResource['metadata'] }, info);
        const res = await txn([{ key: target, target: 'Version', value: '0' }], [{ request_put: { key: Buffer.from(target), value: Buffer.from(value) } }], target);
        if (!res.succeeded) {
          const existing = res.responses[0]?.response_range.kvs[0];
          throw new DatastoreError('DS_ALREADY_EXISTS', `${describeKey(key)} already exists${existing ? ` (resourceVersion ${existing.mod_revision})` : ''}`);
        }
        return decodeOrThrow(target, value, res.header.revision);
      }
      const found = await find(info, key);
      if (!found) throw new DatastoreError('DS_NOT_FOUND', `${describeKey(key)} does not exist`);
      const given = meta.resourceVersion;
      if (given !== undefined && given !== found.kv.mod_revision) {
        throw new DatastoreError('DS_CONFLICT', `${describeKey(key)} was changed since resourceVersion ${given} (now ${found.kv.mod_revision}); get it again and retry`);
      }
      const current = decodeKeyValue(found.etcdKey, found.kv.value.toString(), found.kv.mod_revision);
      const stored = current.kind === 'resource' ? current.resource.metadata : undefined;
      const value = encodeValue(
        { ...resource, metadata: { ...meta, uid: stored?.uid ?? meta.uid ?? randomUUID(), creationTimestamp: stored?.creationTimestamp ?? meta.creationTimestamp ?? timestampNow() } as StoredResource['metadata'] },
        info,
      );
      const res = await txn([{ key: found.etcdKey, target: 'Mod', value: given ?? found.kv.mod_revision }], [{ request_put: { key: Buffer.from(found.etcdKey), value: Buffer.from(value) } }], found.etcdKey);
      if (!res.succeeded) {
        const now = res.responses[0]?.response_range.kvs[0];
        if (!now) throw new DatastoreError('DS_NOT_FOUND', `${describeKey(key)} was deleted meanwhile`);
        throw new DatastoreError('DS_CONFLICT', `${describeKey(key)} was changed meanwhile (now resourceVersion ${now.mod_revision}); get it again and retry`);
      }
      return decodeOrThrow(found.etcdKey, value, res.header.revision);
    });
  };

  const datastore: EtcdDatastore = {
    type: 'etcd',
    description,
    get,
    list,
    create: (r) => write(r, 'create', false),
    update: (r) => write(r, 'update', false),
    delete: (key: ResourceKey, opts: DeleteOptions = {}) =>
      guard(`delete ${describeKey(key)}`, async () => {
        const info = etcdInfo(key);
        await checkBeforeDelete(key, lookups);
        const found = await find(info, key);
        if (!found) throw new DatastoreError('DS_NOT_FOUND', `${describeKey(key)} does not exist`);
        if (opts.resourceVersion !== undefined && opts.resourceVersion !== found.kv.mod_revision) {
          throw new DatastoreError('DS_CONFLICT', `${describeKey(key)} was changed since resourceVersion ${opts.resourceVersion} (now ${found.kv.mod_revision}); not deleted`);
        }
        const res = await client.kv.txn({
          compare: opts.resourceVersion === undefined ? [] : [{ key: Buffer.from(found.etcdKey), target: 'Mod', result: 'Equal', mod_revision: opts.resourceVersion }],
          success: [{ request_delete_range: { key: Buffer.from(found.etcdKey), prev_kv: true } }],
          failure: [{ request_range: { key: Buffer.from(found.etcdKey) } }],
        });
        if (!res.succeeded) throw new DatastoreError('DS_CONFLICT', `${describeKey(key)} was changed meanwhile; not deleted`);
        const prev = res.responses[0]?.response_delete_range.prev_kvs[0];
        if (!prev) throw new DatastoreError('DS_NOT_FOUND', `${describeKey(key)} was deleted meanwhile`);
        const d = decodeKeyValue(found.etcdKey, prev.value.toString(), prev.mod_revision);
        return d.kind === 'resource' ? d.resource : ({ apiVersion: key.apiVersion, kind: key.kind, metadata: { name: key.name, ...(key.namespace ? { namespace: key.namespace } : {}), resourceVersion: prev.mod_revision } } as StoredResource);
      }),
    init: (initOptions) => ensureInitialized({ get, create: (r) => write(r, 'create', true), update: (r) => write(r, 'update', true) }, initOptions),
    source(sourceOptions) {
      if (closed) throw new DatastoreError('DS_CLOSED', 'the datastore is closed');
      const source = createEtcdSource({ client, newWatchClient: () => createEtcdClient(config, options), endpoints: config.endpoints, pageSize, ...sourceOptions, onClose: () => sources.delete(source) });
      sources.add(source);
      return source;
    },
    revision: () => guard('status', async () => (await client.maintenance.status()).header.revision),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...sources].map((s) => s.close()));
      client.close();
    },
    [Symbol.asyncDispose]() {
      return datastore.close();
    },
  };
  return datastore;
}

