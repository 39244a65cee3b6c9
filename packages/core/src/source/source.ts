/**
 * The `Source` port: how identity and policy enter Gingham. Every datastore (a directory of
 * manifests, etcd in Calico's layout, the Kubernetes API, OpenStack Neutron) becomes one ordered
 * stream of messages with Felix's syncer shape:
 *
 *   resync-started ─▶ upsert / delete … ─▶ in-sync ─▶ upsert / delete … ─▶ resync-started ─▶ …
 *
 * Between `resync-started` and the next `in-sync` the consumer sees a world being (re)listed and
 * must not treat it as complete; a relist only emits what changed, plus deletes for what
 * vanished (`ResyncTracker`). Types only here: implementations live with their I/O.
 */
import type { Issue } from '../model/issues.js';
import type { Resource } from '../model/resources.js';

/** Identifies one resource. `apiVersion` tells the Calico and Kubernetes kinds of the same name apart. */
export interface ResourceKey {
  readonly apiVersion: string;
  readonly kind: string;
  /** Absent (or empty) for cluster-scoped kinds. */
  readonly namespace?: string;
  readonly name: string;
}

export type SourceMessage =
  /** A resource was added or changed. `revision` is the datastore's version of it (etcd mod_revision, k8s resourceVersion). */
  | { readonly kind: 'upsert'; readonly resource: Resource; readonly revision?: string }
  | { readonly kind: 'delete'; readonly key: ResourceKey; readonly revision?: string }
  /** A (re)list begins: what follows until `in-sync` is a world being rebuilt. */
  | { readonly kind: 'resync-started' }
  /** Everything the datastore holds has been delivered (first list, or a relist, complete). */
  | { readonly kind: 'in-sync'; readonly revision?: string };

/** Receives messages in order; one call is one batch (apply it whole before acting on it). */
export type SourceSink = (messages: readonly SourceMessage[]) => void;

/**
 * Where a source is, as Felix's syncer reports it: `waiting` for the datastore (never synced, or
 * the connection is down), `resyncing` (a list is being delivered), `in-sync`, `stopped`
 * (closed), `failed` (cannot go on without an operator: bad credentials, invalid input for a
 * one-shot source).
 */
export type SourcePhase = 'waiting' | 'resyncing' | 'in-sync' | 'stopped' | 'failed';

/** A resource the source skipped (it stays out of the stream; its previous good version, if any, stays in force). */
export interface SourceProblem {
  /** `Kind namespace/name`, the datastore key, or the file. */
  readonly where: string;
  readonly message: string;
  readonly issues?: readonly Issue[];
}

export interface SourceStatus {
  readonly phase: SourcePhase;
  /** The datastore answers right now (a source can be in sync from before and disconnected now). */
  readonly connected: boolean;
  /** The last revision delivered, when the datastore has revisions. */
  readonly revision?: string;
  /** Resources currently delivered (upserted and not deleted). */
  readonly resources: number;
  /** Resources skipped as invalid, newest last (bounded by the source). */
  readonly problems: readonly SourceProblem[];
  /** The last connection or protocol error, with its stable code. */
  readonly lastError?: { readonly code: string; readonly message: string; readonly at?: string };
  /** Monotonic counters (`relists`, `watchErrors`, `reconnects`, …), for metrics. */
  readonly counters: Readonly<Record<string, number>>;
}

/** A live stream of resources. */
export interface Source {
  /** Short name for logs, metrics and status: `files`, `dir`, `etcd`, `kubernetes`, `openstack`. */
  readonly name: string;
  /**
   * Starts delivering to `sink` and returns once started (not necessarily in sync). A source is
   * started once; messages never arrive after `close()` resolves.
   */
  start(sink: SourceSink): Promise<void>;
  status(): SourceStatus;
  close(): Promise<void>;
}
