/**
 * The `Datastore` contract both implementations keep (etcd in Calico's layout, a directory of
 * manifests): keyed reads, compare-and-swap writes that validate first, and a live `Source`
 * for the Engine. Types only.
 */
import type { Resource, ResourceKey, Source, SourceProblem } from '@gingham/core';
import type { BackoffOptions } from '@gingham/host';
import type { InitOptions, InitOutcome } from './init.js';
import type { KindInfo } from './kinds.js';
import type { StoredResource } from './resource.js';
import type { SourceLogger } from './source-book.js';

export interface ListOptions {
  /** One kind; every kind the datastore holds when omitted. */
  readonly kind?: KindInfo;
  /** Only this namespace (namespaced kinds); all when omitted. */
  readonly namespace?: string;
}

export interface ListResult {
  /** Sorted by kind, namespace, name. */
  readonly items: StoredResource[];
  /** The datastore revision the list was read at (etcd), when there is one. */
  readonly revision?: string;
  /** Stored values that could not be read (skipped), with where and why. */
  readonly problems: readonly SourceProblem[];
}

export interface DeleteOptions {
  /** Delete only if the stored resourceVersion is this one (compare-and-swap). */
  readonly resourceVersion?: string;
}

/** Options every live source takes. */
export interface SourceOptions {
  /** Receives problems, errors, reconnects and relists as they happen. */
  readonly log?: SourceLogger;
  /** Reconnect/relist backoff. */
  readonly backoff?: BackoffOptions;
}

export interface Datastore extends AsyncDisposable {
  readonly type: 'etcd' | 'dir';
  /** The endpoints or the directory, for messages. */
  readonly description: string;
  /** The stored resource, or undefined when absent. */
  get(key: ResourceKey): Promise<StoredResource | undefined>;
  list(options?: ListOptions): Promise<ListResult>;
  /** Creates; DS_ALREADY_EXISTS when the key is taken. Validates first (DS_INVALID). */
  create(resource: Resource): Promise<StoredResource>;
  /**
   * Replaces; compare-and-swap on `metadata.resourceVersion` when set (DS_CONFLICT when it is not
   * the stored one), otherwise on the version read just before. DS_NOT_FOUND when absent.
   */
  update(resource: Resource): Promise<StoredResource>;
  /** Deletes and returns what was deleted; DS_NOT_FOUND when absent, DS_CONFLICT on a stale resourceVersion. */
  delete(key: ResourceKey, options?: DeleteOptions): Promise<StoredResource>;
  /** `datastore init`: ClusterInformation and the default tiers, as Calico's EnsureInitialized (idempotent). */
  init(options?: InitOptions): Promise<InitOutcome[]>;
  /** A new live source over everything the Engine needs (started by the caller, closed with it or with the datastore). */
  source(options?: SourceOptions): Source;
  close(): Promise<void>;
}
