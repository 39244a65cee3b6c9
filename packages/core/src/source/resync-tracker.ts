/**
 * The bookkeeping every live source shares (libcalico-go's watcher-syncer, client-go's
 * reflector): which resources were delivered and at which revision, so that
 *   - a watch event for an unchanged revision is dropped,
 *   - a relist emits upserts only for what is new or changed and deletes for what vanished,
 *     never a full re-delivery of unchanged state,
 *   - a delete for something never delivered is dropped.
 * Pure: the source feeds it what the datastore said and emits what it returns.
 */
import type { Resource } from '../model/resources.js';
import { formatResourceKey, resourceKey } from './resource-key.js';
import type { ResourceKey, SourceMessage } from './source.js';

interface Entry {
  readonly key: ResourceKey;
  /** The revision, or the JSON of the resource when the datastore has none. */
  readonly version: string;
  /** The resync that last listed it (a relist deletes the entries it did not list). */
  listed: number;
}

export class ResyncTracker {
  private readonly entries = new Map<string, Entry>();
  /**
   * The current resync's number while one is open (entries it listed carry it), 0 otherwise: a
   * number per entry instead of a set of every listed id, which at 110k resources was a second
   * 110k-entry table alive through each relist.
   */
  private resync = 0;
  private resyncs = 0;

  /** Resources currently delivered. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether a relist is in progress. */
  get resyncing(): boolean {
    return this.resync !== 0;
  }

  /**
   * The message for an add or change, or undefined when this exact version was delivered already.
   * `known`: the resource's key and an id for it when the source holds them already (kept
   * instead of a second copy of each per resource). The id is `formatResourceKey(key)`, or any
   * other string the source uses for this resource alone and always (its datastore key); a source
   * that passes its own ids passes the same id to `delete`.
   */
  upsert(resource: Resource, revision?: string, known?: { readonly key: ResourceKey; readonly id: string }): SourceMessage | undefined {
    const key = known?.key ?? resourceKey(resource);
    const id = known?.id ?? formatResourceKey(key);
    const version = revision ?? JSON.stringify(resource);
    const had = this.entries.get(id);
    if (had?.version === version) {
      had.listed = this.resync;
      return undefined;
    }
    this.entries.set(id, { key, version, listed: this.resync });
    return revision === undefined ? { kind: 'upsert', resource } : { kind: 'upsert', resource, revision };
  }

  /**
   * The message for a deletion, or undefined when the resource was never delivered. `id`: the
   * id given to `upsert` when it was not `formatResourceKey(key)`.
   */
  delete(key: ResourceKey, revision?: string, id: string = formatResourceKey(key)): SourceMessage | undefined {
    const had = this.entries.get(id);
    if (!had) return undefined;
    this.entries.delete(id);
    return revision === undefined ? { kind: 'delete', key: had.key } : { kind: 'delete', key: had.key, revision };
  }

  /**
   * In a relist, the resource of `id` (as given to `upsert`) is listed again at the version
   * delivered: it stays, and nothing is emitted. False (and nothing kept) when it was never delivered.
   */
  keep(id: string): boolean {
    const had = this.entries.get(id);
    if (!had) return false;
    had.listed = this.resync;
    return true;
  }

  /** Whether a resource with this key is delivered. */
  has(key: ResourceKey): boolean {
    return this.entries.has(formatResourceKey(key));
  }

  /** Starts a relist: `upsert` everything listed, then `endResync`. */
  beginResync(): SourceMessage {
    this.resync = ++this.resyncs;
    return { kind: 'resync-started' };
  }

  /**
   * Ends a relist: deletes for everything delivered before and not listed since `beginResync`,
   * then `in-sync`. (A source that keeps a resource's last good version in force when the new
   * one is invalid lists that last good version again: an unchanged upsert emits nothing.)
   */
  endResync(revision?: string): SourceMessage[] {
    const current = this.resync;
    this.resync = 0;
    const out: SourceMessage[] = [];
    // Deleting the entry being visited is safe while iterating a Map.
    for (const [id, e] of this.entries) {
      if (current !== 0 && e.listed === current) continue;
      this.entries.delete(id);
      out.push({ kind: 'delete', key: e.key });
    }
    out.push(revision === undefined ? { kind: 'in-sync' } : { kind: 'in-sync', revision });
    return out;
  }

  /** Every delivered key. */
  keys(): ResourceKey[] {
    return [...this.entries.values()].map((e) => e.key);
  }
}
