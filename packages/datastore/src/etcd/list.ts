/** Paged prefix listing at one pinned revision (a 100k-key list is consistent and never one giant message). */
import type { Etcd3, IKeyValue, IRangeResponse } from 'etcd3';
import { isCompactedError } from './client.js';

/** The exclusive end of a prefix range ("…/" → "…0"). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  b[b.length - 1]! += 1;
  return b;
}

/**
 * Every key under `prefix`, `pageSize` at a time, all read at the revision of the first page;
 * starts again (at most 5 times) when a compaction overtakes the pinned revision mid-list.
 */
export async function listPrefix(client: Etcd3, prefix: string, pageSize: number): Promise<{ kvs: IKeyValue[]; revision: string }> {
  let kvs: IKeyValue[] = [];
  const { revision } = await listPrefixPages(client, prefix, pageSize, {
    onPage: (page) => void kvs.push(...page),
    onRestart: () => void (kvs = []),
  });
  return { kvs, revision };
}

export interface PageHandler {
  /** One page, in key order; the next page is already being read meanwhile. */
  onPage(kvs: readonly IKeyValue[], revision: string): void;
  /** A compaction overtook the pinned revision: the pages so far are void, the list starts again. */
  onRestart(): void;
  /**
   * When given, pages are listed keys only (no values: a relist of 100k mostly unchanged keys
   * moves keys and revisions, not 45 MB of JSON), and a page reaches `onPage` once the values of
   * the keys this returns true for are read at the same revision; the other keys' values are
   * empty. Many such keys in a page: the page is read again whole; a few: one read per key.
   */
  wantValue?(key: Buffer, modRevision: string): boolean;
}

/** Above this share of a page's keys needing values, the page is read again whole. */
const REREAD_SHARE = 1 / 8;
/** Reads of single values in flight at once. */
const VALUE_READS = 64;

/** The values `want` asks for, read at `revision`, put into a keys-only page (in place). */
async function fillValues(client: Etcd3, kvs: IKeyValue[], revision: string, want: (key: Buffer, modRevision: string) => boolean): Promise<IKeyValue[]> {
  const needed: number[] = [];
  for (let i = 0; i < kvs.length; i++) if (want(kvs[i]!.key, kvs[i]!.mod_revision)) needed.push(i);
  if (needed.length === 0) return kvs;
  if (needed.length > kvs.length * REREAD_SHARE) {
    // The same keys, now with values: from the first key to just after the last, at the same revision.
    const whole = await client.kv.range({ key: kvs[0]!.key, range_end: Buffer.concat([kvs[kvs.length - 1]!.key, Buffer.from([0])]), limit: kvs.length, revision });
    return whole.kvs;
  }
  for (let i = 0; i < needed.length; i += VALUE_READS) {
    await Promise.all(
      needed.slice(i, i + VALUE_READS).map(async (k) => {
        const res = await client.kv.range({ key: kvs[k]!.key, revision });
        // Listed at this same revision, so it is there (and at the same mod_revision).
        if (res.kvs[0]) kvs[k] = res.kvs[0];
      }),
    );
  }
  return kvs;
}

/**
 * `listPrefix` a page at a time: each page goes to `onPage` as soon as it arrives, while etcd
 * reads the next one (so decoding overlaps etcd's work, and no page's buffers outlive its turn).
 */
export async function listPrefixPages(client: Etcd3, prefix: string, pageSize: number, handler: PageHandler): Promise<{ count: number; revision: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const end = prefixEnd(prefix);
      const want = handler.wantValue?.bind(handler);
      const keysOnly = want !== undefined;
      let res: IRangeResponse = await client.kv.range({ key: Buffer.from(prefix), range_end: end, limit: pageSize, keys_only: keysOnly });
      const revision = res.header.revision;
      let count = 0;
      for (;;) {
        const last = res.kvs[res.kvs.length - 1];
        const next = res.more && last ? client.kv.range({ key: Buffer.concat([last.key, Buffer.from([0])]), range_end: end, limit: pageSize, revision, keys_only: keysOnly }) : undefined;
        // Awaited below; this only keeps a failure from being unhandled while onPage runs.
        next?.catch(() => undefined);
        count += res.kvs.length;
        handler.onPage(want ? await fillValues(client, res.kvs, revision, want) : res.kvs, revision);
        if (!next) return { count, revision };
        res = await next;
      }
    } catch (err) {
      if (!isCompactedError(err) || attempt >= 5) throw err;
      handler.onRestart();
    }
  }
}
