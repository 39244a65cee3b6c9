/**
 * The directory datastore (the embedded default, no server): a directory of manifests that
 * people may also edit by hand. Reads scan and validate every file; writes take the directory's
 * lock, re-read, check (validation, rules, compare-and-swap on the content digest that serves
 * as resourceVersion) and replace one file atomically. New resources go to
 * `<plural>/[<namespace>/]<name>.yaml`, mirroring the etcd layout; edits and deletes change the
 * file (and document) that already holds the resource.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Resource, ResourceKey } from '@gingham/core';
import type { Datastore, DeleteOptions, ListOptions, ListResult } from '../datastore.js';
import { DatastoreError } from '../errors.js';
import { ensureInitialized } from '../init.js';
import type { KindInfo } from '../kinds.js';
import { describeKey, forWrite, keyId, keyOf, requireKind, type StoredResource } from '../resource.js';
import { checkBeforeDelete, checkBeforeWrite, tierOf, type RuleLookups } from '../rules.js';
import { parseFile, readDir, type DirEntry, type DirView } from './dir-files.js';
import { createDirSource, type DirSource, type DirSourceOptions } from './dir-source.js';
import { appendDocument, editDocument, renderNew, replaceFile, withDirLock } from './dir-write.js';

export interface DirDatastoreOptions {
  /** The directory (created on the first write). */
  readonly dir: string;
  /** How long a write waits for another writer's lock. Default 10 s. */
  readonly lockTimeoutMs?: number;
}

export interface DirDatastore extends Datastore {
  readonly type: 'dir';
  readonly dir: string;
  source(options?: DirSourceOptions): DirSource;
}

/** Where a new resource is written: `<plural>/[<namespace>/]<name>.yaml`. */
export function dirPathOf(info: KindInfo, key: ResourceKey): string {
  return info.namespaced ? `${info.plural}/${key.namespace || 'default'}/${key.name}.yaml` : `${info.plural}/${key.name}.yaml`;
}

/** Manifest field order: apiVersion, kind, metadata, spec, then the rest. */
function manifest(resource: Resource, info: KindInfo): Record<string, unknown> {
  const { apiVersion, kind, metadata, spec, ...rest } = forWrite(resource, info);
  return { apiVersion, kind, metadata, ...(spec === undefined ? {} : { spec }), ...rest };
}

const byKey = (a: StoredResource, b: StoredResource): number =>
  a.kind.localeCompare(b.kind) || (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name);

export function createDirDatastore(options: DirDatastoreOptions): DirDatastore {
  const { dir } = options;
  const sources = new Set<DirSource>();
  let closed = false;

  const open = () => {
    if (closed) throw new DatastoreError('DS_CLOSED', 'the datastore is closed');
  };
  const lookupsOf = (view: DirView): RuleLookups => ({
    get: async (key) => view.entries.get(keyId(key))?.resource,
    policies: async () => [...view.entries.values()].map((e) => e.resource).filter((r) => tierOf(r) !== undefined),
  });
  const notFound = (key: ResourceKey, view: DirView) =>
    new DatastoreError('DS_NOT_FOUND', `${describeKey(key)} does not exist in ${dir}${view.problems.length > 0 ? ` (files with errors are not read: ${view.problems.map((p) => p.where).join(', ')})` : ''}`);

  /** The stored form of what was just written to `rel`. */
  const storedAfterWrite = (rel: string, text: string, key: ResourceKey): StoredResource => {
    const found = parseFile(rel, text).entries.find((e) => keyId(e.key) === keyId(key));
    if (!found) throw new DatastoreError('DS_CORRUPT', `${rel}: the resource written cannot be read back`);
    return found.resource;
  };

  const write = (resource: Resource, mode: 'create' | 'update', init: boolean): Promise<StoredResource> => {
    open();
    const info = requireKind(resource, 'dir');
    const key = keyOf(resource, info);
    return withDirLock(
      dir,
      async () => {
        const view = await readDir(dir);
        await checkBeforeWrite(resource, info, lookupsOf(view), { init });
        const existing = view.entries.get(keyId(key));
        const value = manifest(resource, info);
        if (mode === 'create') {
          if (existing) throw new DatastoreError('DS_ALREADY_EXISTS', `${describeKey(key)} already exists (${existing.file}:${existing.line}:${existing.col})`);
          const rel = dirPathOf(info, key);
          const broken = view.problems.find((p) => p.where === rel);
          if (broken) throw new DatastoreError('DS_REFUSED', `${describeKey(key)} belongs in ${rel}, which has errors: ${broken.message}`);
          const current = await readFile(join(dir, rel), 'utf8').catch(() => undefined);
          const text = current === undefined ? renderNew(rel, value) : appendDocument(rel, current, value);
          await replaceFile(join(dir, rel), text);
          return storedAfterWrite(rel, text, key);
        }
        if (!existing) throw notFound(key, view);
        const given = (resource.metadata as { resourceVersion?: string }).resourceVersion;
        if (given !== undefined && given !== existing.resource.metadata.resourceVersion) {
          throw new DatastoreError('DS_CONFLICT', `${describeKey(key)} was changed since resourceVersion ${given} (now ${existing.resource.metadata.resourceVersion}); get it again and retry`);
        }
        const text = await editFile(existing, value);
        return storedAfterWrite(existing.file, text ?? '', key);
      },
      options.lockTimeoutMs,
    );
  };

  /** Replaces (or removes) one resource's document in its file; returns the new text. */
  const editFile = async (entry: DirEntry, value: object | undefined): Promise<string | undefined> => {
    const abs = join(dir, entry.file);
    const text = await readFile(abs, 'utf8');
    const next = editDocument(entry.file, text, entry.docIndex, entry.itemIndex, value);
    await replaceFile(abs, next);
    return next;
  };

  const datastore: DirDatastore = {
    type: 'dir',
    dir,
    description: dir,
    async get(key) {
      open();
      requireKind(key, 'dir');
      return (await readDir(dir)).entries.get(keyId(key))?.resource;
    },
    async list(opts: ListOptions = {}): Promise<ListResult> {
      open();
      const view = await readDir(dir);
      const items = [...view.entries.values()]
        .filter((e) => (!opts.kind || (e.info.apiVersion === opts.kind.apiVersion && e.info.kind === opts.kind.kind)) && (opts.namespace === undefined || e.key.namespace === undefined || e.key.namespace === opts.namespace))
        .map((e) => e.resource)
        .sort(byKey);
      return { items, problems: view.missing ? [{ where: dir, message: 'the directory does not exist (nothing is stored yet; the first write creates it)' }] : view.problems };
    },
    create: (r) => write(r, 'create', false),
    update: (r) => write(r, 'update', false),
    async delete(key: ResourceKey, opts: DeleteOptions = {}) {
      open();
      requireKind(key, 'dir');
      return withDirLock(
        dir,
        async () => {
          const view = await readDir(dir);
          await checkBeforeDelete(key, lookupsOf(view));
          const existing = view.entries.get(keyId(key));
          if (!existing) throw notFound(key, view);
          if (opts.resourceVersion !== undefined && opts.resourceVersion !== existing.resource.metadata.resourceVersion) {
            throw new DatastoreError('DS_CONFLICT', `${describeKey(key)} was changed since resourceVersion ${opts.resourceVersion} (now ${existing.resource.metadata.resourceVersion}); not deleted`);
          }
          await editFile(existing, undefined);
          return existing.resource;
        },
        options.lockTimeoutMs,
      );
    },
    init: (initOptions) => ensureInitialized({ get: (k) => datastore.get(k), create: (r) => write(r, 'create', true), update: (r) => write(r, 'update', true) }, initOptions),
    source(sourceOptions) {
      open();
      const source = createDirSource({ ...sourceOptions, dir, onClose: () => sources.delete(source) });
      sources.add(source);
      return source;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...sources].map((s) => s.close()));
    },
    [Symbol.asyncDispose]() {
      return datastore.close();
    },
  };
  return datastore;
}

