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
}

export class ResyncTracker {
  private readonly entries = new Map<string, Entry>();
  private listing: Set<string> | undefined;

  /** Resources currently delivered. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether a relist is in progress. */
  get resyncing(): boolean {
    return this.listing !== undefined;
  }

  /**
   * The message for an add or change, or undefined when this exact version was delivered already.
   * `known`: the resource's key and `formatResourceKey` of it when the source holds them already
   * (kept instead of a second copy of each per resource).
   */
  upsert(resource: Resource, revision?: string, known?: { readonly key: ResourceKey; readonly id: string }): SourceMessage | undefined {
    const key = known?.key ?? resourceKey(resource);
    const id = known?.id ?? formatResourceKey(key);
    this.listing?.add(id);
    const version = revision ?? JSON.stringify(resource);
    if (this.entries.get(id)?.version === version) return undefined;
    this.entries.set(id, { key, version });
    return revision === undefined ? { kind: 'upsert', resource } : { kind: 'upsert', resource, revision };
  }

  /** The message for a deletion, or undefined when the resource was never delivered. */
  delete(key: ResourceKey, revision?: string): SourceMessage | undefined {
    const id = formatResourceKey(key);
    const had = this.entries.get(id);
    if (!had) return undefined;
    this.entries.delete(id);
    this.listing?.delete(id);
    return revision === undefined ? { kind: 'delete', key: had.key } : { kind: 'delete', key: had.key, revision };
  }

  /**
   * In a relist, the resource of `id` (a `formatResourceKey`) is listed again at the version
   * delivered: it stays, and nothing is emitted. False (and nothing kept) when it was never delivered.
   */
  keep(id: string): boolean {
    if (!this.entries.has(id)) return false;
    this.listing?.add(id);
    return true;
  }

  /** Whether a resource with this key is delivered. */
  has(key: ResourceKey): boolean {
    return this.entries.has(formatResourceKey(key));
  }

  /** Starts a relist: `upsert` everything listed, then `endResync`. */
  beginResync(): SourceMessage {
    this.listing = new Set();
    return { kind: 'resync-started' };
  }

  /**
   * Ends a relist: deletes for everything delivered before and not listed since `beginResync`,
   * then `in-sync`. (A source that keeps a resource's last good version in force when the new
   * one is invalid lists that last good version again: an unchanged upsert emits nothing.)
   */
  endResync(revision?: string): SourceMessage[] {
    const listed = this.listing ?? new Set<string>();
    this.listing = undefined;
    const out: SourceMessage[] = [];
    for (const [id, e] of [...this.entries]) {
      if (listed.has(id)) continue;
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
