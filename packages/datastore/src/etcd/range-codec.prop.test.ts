/**
 * range-codec.ts against the protobufjs codec etcd3 itself uses (its own copy, loaded from its
 * .proto files): requests we write are the requests protobufjs reads, and responses protobufjs
 * writes (with the fields we skip set too) are read as protobufjs reads them.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRangeResponse, encodeRangeRequest } from './range-codec.js';

// The protobufjs etcd3 resolves (not a dependency of ours), and etcd3's own .proto files.
const etcd3Main = createRequire(import.meta.url).resolve('etcd3');
const protobuf = createRequire(etcd3Main)('protobufjs') as typeof import('protobufjs');
const root = new protobuf.Root().loadSync(join(dirname(etcd3Main), '..', 'proto', 'rpc.proto'), { keepCase: true });
const RangeRequestType = root.lookupType('etcdserverpb.RangeRequest');
const RangeResponseType = root.lookupType('etcdserverpb.RangeResponse');

/** Revisions and counts as etcd has them: int64, up to 2^53 here. */
const int64 = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 2 ** 31 }), fc.maxSafeNat());
const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const text = fc.string({ unit: 'grapheme', maxLength: 60 });

describe('etcd range codec', () => {
  it('a request we write is the request protobufjs reads', () => {
    fc.assert(
      fc.property(bytes, fc.option(bytes, { nil: undefined }), fc.option(int64, { nil: undefined }), fc.option(int64, { nil: undefined }), fc.boolean(), (key, rangeEnd, limit, revision, keysOnly) => {
        const msg = RangeRequestType.toObject(RangeRequestType.decode(encodeRangeRequest({ key, ...(rangeEnd ? { rangeEnd } : {}), ...(limit !== undefined ? { limit } : {}), ...(revision !== undefined ? { revision } : {}), keysOnly })), { longs: Number, bytes: Buffer, defaults: true });
        expect(Buffer.from(msg['key'] as Uint8Array).equals(key)).toBe(true);
        expect(Buffer.from(msg['range_end'] as Uint8Array).equals(rangeEnd ?? Buffer.alloc(0))).toBe(true);
        expect(msg['limit']).toBe(limit ?? 0);
        expect(msg['revision']).toBe(revision ?? 0);
        expect(msg['keys_only']).toBe(keysOnly);
        expect(msg['count_only']).toBe(false);
      }),
      { numRuns: propRuns(300) },
    );
  });

  it('a response protobufjs writes is read as protobufjs reads it: keys, values, mod_revisions, the header revision and more; other fields skipped', () => {
    const kv = fc.record({
      key: text,
      value: fc.option(text, { nil: undefined }),
      create_revision: int64,
      mod_revision: int64,
      version: int64,
      lease: int64,
    });
    fc.assert(
      fc.property(fc.array(kv, { maxLength: 20 }), int64, int64, int64, fc.boolean(), int64, (kvs, clusterId, revision, raftTerm, more, count) => {
        const wire = Buffer.from(
          RangeResponseType.encode(
            RangeResponseType.fromObject({
              header: { cluster_id: clusterId, member_id: 7, revision, raft_term: raftTerm },
              kvs: kvs.map((k) => ({ ...k, key: Buffer.from(k.key), ...(k.value !== undefined ? { value: Buffer.from(k.value) } : {}) })),
              more,
              count,
            }),
          ).finish(),
        );
        const read = decodeRangeResponse(wire);
        expect(read.revision).toBe(revision);
        expect(read.more).toBe(more);
        expect(read.kvs.map((k) => k.key)).toEqual(kvs.map((k) => k.key));
        expect(read.kvs.map((k) => k.modRevision)).toEqual(kvs.map((k) => k.mod_revision));
        // No value field (a keys-only range) reads as undefined; etcd leaves an empty value off the wire too.
        expect(read.kvs.map((k) => k.value ?? '')).toEqual(kvs.map((k) => k.value ?? ''));
        for (const [i, k] of kvs.entries()) if (k.value === undefined) expect(read.kvs[i]!.value).toBeUndefined();
        expect(read.firstKey?.toString()).toBe(kvs[0]?.key);
        expect(read.lastKey?.toString()).toBe(kvs.at(-1)?.key);
      }),
      { numRuns: propRuns(300) },
    );
  });

  it('keys that are not UTF-8 keep their exact bytes for the next page', () => {
    const key = Buffer.from([0x2f, 0xff, 0xfe, 0x41]);
    const read = decodeRangeResponse(Buffer.from(RangeResponseType.encode(RangeResponseType.fromObject({ kvs: [{ key, mod_revision: 5 }], more: true })).finish()));
    expect(read.lastKey?.equals(key)).toBe(true);
    expect(read.kvs[0]!.modRevision).toBe(5);
  });

  it('a truncated or malformed response is an error, not a short page', () => {
    const whole = Buffer.from(RangeResponseType.encode(RangeResponseType.fromObject({ header: { revision: 9 }, kvs: [{ key: Buffer.from('/a'), value: Buffer.from('{"x":1}'), mod_revision: 3 }] })).finish());
    expect(() => decodeRangeResponse(whole.subarray(0, whole.length - 2))).toThrow(/runs past|truncated/);
    expect(() => decodeRangeResponse(Buffer.from([0x13]))).toThrow(/wire type/);
  });
});
