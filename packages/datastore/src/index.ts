/**
 * @gingham/datastore: where Gingham's resources live. etcd v3 in Calico's own key layout
 * (shared with calicoctl, Felix and networking-calico) and a watched directory of manifests,
 * each with compare-and-swap writes and a live `Source` for the Engine.
 */
export type { Datastore, DeleteOptions, ListOptions, ListResult, SourceOptions } from './datastore.js';
export { DatastoreError, isDatastoreError, type DatastoreErrorCode } from './errors.js';
export { KINDS, kindOf, resolveKind, type KindInfo } from './kinds.js';
export type { StoredResource, StoredMeta } from './resource.js';
export type { InitOptions, InitOutcome } from './init.js';
export type { SourceLogEntry, SourceLogger } from './source-book.js';
export type { BackoffOptions } from './backoff.js';

// etcd in Calico's layout.
export { resolveEtcdConfig, type EtcdConfig, type EtcdFlags, type ResolveEtcdConfigInput } from './etcd/config.js';
export { createEtcdDatastore, type EtcdDatastore, type EtcdDatastoreOptions } from './etcd/etcd-datastore.js';
export type { EtcdSource, EtcdSourceOptions } from './etcd/etcd-source.js';
export { etcdKey, parseEtcdKey, encodeValue, decodeKeyValue, type Decoded, type ParsedKey } from './etcd/layout.js';

// A directory of manifests (the embedded default).
export { createDirDatastore, type DirDatastore, type DirDatastoreOptions } from './dir/dir-datastore.js';
export type { DirSource, DirSourceOptions } from './dir/dir-source.js';

// calicoctl-style writes of many resources (apply/create/replace/delete), for either datastore.
export { writeResources, type WriteAction, type WriteItem, type WriteMode, type WriteOutcome } from './write.js';
