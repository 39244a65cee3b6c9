/** Paged prefix listing at one pinned revision (a 100k-key list is consistent and never one giant message). */
import type { Etcd3 } from 'etcd3';
import { isCompactedError } from './client.js';
import { rangeRaw, type RangeKv, type RangeResult } from './raw-range.js';

export type { RangeKv } from './raw-range.js';

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
export async function listPrefix(client: Etcd3, prefix: string, pageSize: number): Promise<{ kvs: RangeKv[]; revision: number }> {
  let kvs: RangeKv[] = [];
  const { revision } = await listPrefixPages(client, prefix, pageSize, {
    onPage: (page) => {
      for (const kv of page) kvs.push(kv);
    },
    onRestart: () => void (kvs = []),
  });
  return { kvs, revision };
}

export interface PageHandler {
  /** One page, in key order; the next page is already being read meanwhile. */
  onPage(kvs: readonly RangeKv[], revision: number): void;
  /** A compaction overtook the pinned revision: the pages so far are void, the list starts again. */
  onRestart(): void;
  /**
   * When given, pages are listed keys only (no values: a relist of 100k mostly unchanged keys
   * moves keys and revisions, not 45 MB of JSON), and a page reaches `onPage` once the values of
   * the keys this returns true for are read at the same revision; the other keys' values are
   * undefined. Many such keys in a page: the page is read again whole; a few: one read per key.
   */
  wantValue?(key: string, modRevision: number): boolean;
}

/** Above this share of a page's keys needing values, the page is read again whole. */
const REREAD_SHARE = 1 / 8;
/** Reads of single values in flight at once. */
const VALUE_READS = 64;

const ZERO = Buffer.from([0]);

/** The values `want` asks for, read at `revision`, put into a keys-only page (in place). */
async function fillValues(client: Etcd3, page: RangeResult, revision: number, want: (key: string, modRevision: number) => boolean): Promise<RangeKv[]> {
  const { kvs } = page;
  const needed: number[] = [];
  for (let i = 0; i < kvs.length; i++) if (want(kvs[i]!.key, kvs[i]!.modRevision)) needed.push(i);
  if (needed.length === 0) return kvs;
  if (needed.length > kvs.length * REREAD_SHARE) {
    // The same keys, now with values: from the first key to just after the last, at the same revision.
    const whole = await rangeRaw(client, { key: page.firstKey!, rangeEnd: Buffer.concat([page.lastKey!, ZERO]), limit: kvs.length, revision });
    return whole.kvs;
  }
  for (let i = 0; i < needed.length; i += VALUE_READS) {
    await Promise.all(
      needed.slice(i, i + VALUE_READS).map(async (k) => {
        const res = await rangeRaw(client, { key: Buffer.from(kvs[k]!.key), revision });
        // Listed at this same revision, so it is there (and at the same mod_revision).
        if (res.kvs[0]) kvs[k] = res.kvs[0];
      }),
    );
  }
  return kvs;
}

/**
 * `listPrefix` a page at a time: each page goes to `onPage` as soon as it arrives, while etcd
 * reads the next one (so decoding overlaps etcd's work, and no page's bytes outlive its turn).
 * Pages are read by `rangeRaw` (keys and values straight from the response bytes).
 */
export async function listPrefixPages(client: Etcd3, prefix: string, pageSize: number, handler: PageHandler): Promise<{ count: number; revision: number }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const end = prefixEnd(prefix);
      const want = handler.wantValue?.bind(handler);
      const keysOnly = want !== undefined;
      let res = await rangeRaw(client, { key: Buffer.from(prefix), rangeEnd: end, limit: pageSize, keysOnly });
      const revision = res.revision;
      let count = 0;
      for (;;) {
        const next = res.more && res.lastKey ? rangeRaw(client, { key: Buffer.concat([res.lastKey, ZERO]), rangeEnd: end, limit: pageSize, revision, keysOnly }) : undefined;
        // Awaited below; this only keeps a failure from being unhandled while onPage runs.
        next?.catch(() => undefined);
        count += res.kvs.length;
        handler.onPage(want ? await fillValues(client, res, revision, want) : res.kvs, revision);
        if (!next) return { count, revision };
        res = await next;
      }
    } catch (err) {
      if (!isCompactedError(err) || attempt >= 5) throw err;
      handler.onRestart();
    }
  }
}
