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
}

/**
 * `listPrefix` a page at a time: each page goes to `onPage` as soon as it arrives, while etcd
 * reads the next one (so decoding overlaps etcd's work, and no page's buffers outlive its turn).
 */
export async function listPrefixPages(client: Etcd3, prefix: string, pageSize: number, handler: PageHandler): Promise<{ count: number; revision: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const end = prefixEnd(prefix);
      let res: IRangeResponse = await client.kv.range({ key: Buffer.from(prefix), range_end: end, limit: pageSize });
      const revision = res.header.revision;
      let count = 0;
      for (;;) {
        const last = res.kvs[res.kvs.length - 1];
        const next = res.more && last ? client.kv.range({ key: Buffer.concat([last.key, Buffer.from([0])]), range_end: end, limit: pageSize, revision }) : undefined;
        // Awaited below; this only keeps a failure from being unhandled while onPage runs.
        next?.catch(() => undefined);
        count += res.kvs.length;
        handler.onPage(res.kvs, revision);
        if (!next) return { count, revision };
        res = await next;
      }
    } catch (err) {
      if (!isCompactedError(err) || attempt >= 5) throw err;
      handler.onRestart();
    }
  }
}
