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
  for (let attempt = 0; ; attempt++) {
    try {
      const kvs: IKeyValue[] = [];
      const end = prefixEnd(prefix);
      let res: IRangeResponse = await client.kv.range({ key: Buffer.from(prefix), range_end: end, limit: pageSize });
      const revision = res.header.revision;
      kvs.push(...res.kvs);
      while (res.more && res.kvs.length > 0) {
        const last = res.kvs[res.kvs.length - 1]!.key;
        res = await client.kv.range({ key: Buffer.concat([last, Buffer.from([0])]), range_end: end, limit: pageSize, revision });
        kvs.push(...res.kvs);
      }
      return { kvs, revision };
    } catch (err) {
      if (!isCompactedError(err) || attempt >= 5) throw err;
    }
  }
}
