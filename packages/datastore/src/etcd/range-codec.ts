/**
 * etcd's `RangeRequest` and `RangeResponse` (etcdserverpb/rpc.proto, mvccpb/kv.proto) written and
 * read straight from the protobuf wire format, for the paged lists of 100k keys: each key and value
 * becomes one string sliced from the response's bytes, and each mod_revision one number. etcd3's
 * own path (protobufjs `decode` then `toObject`) makes two Buffers, four int64 strings and two
 * objects per key, which at 110k keys was ~0.8 s of CPU and most of the list's garbage. Pure:
 * bytes in, values out; it never does I/O. Fields it does not read are skipped by wire type, so a
 * newer etcd adding fields is read as before.
 */

/** What a list asks for (the fields of `RangeRequest` a paged list uses). */
export interface RangeRequest {
  readonly key: Buffer;
  readonly rangeEnd?: Buffer;
  readonly limit?: number;
  /** 0 or absent: the current revision. */
  readonly revision?: number;
  readonly keysOnly?: boolean;
}

/** One key of a range: its key and value as UTF-8 strings (no value when listed keys only). */
export interface RangeKv {
  readonly key: string;
  readonly modRevision: number;
  readonly value: string | undefined;
}

export interface RangeResult {
  /** The store's revision the range was read at (the response header's). */
  readonly revision: number;
  readonly kvs: RangeKv[];
  /** More keys follow in the range (the limit cut it). */
  readonly more: boolean;
  /** The raw bytes of the last key, where the next page starts (undefined when no keys). */
  readonly lastKey: Buffer | undefined;
  /** The raw bytes of the first key (undefined when no keys). */
  readonly firstKey: Buffer | undefined;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 128) {
    buf[at++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/** The protobuf bytes of a `RangeRequest`. */
export function encodeRangeRequest(req: RangeRequest): Buffer {
  const ints: [number, number][] = [];
  if (req.limit) ints.push([3, req.limit]);
  if (req.revision) ints.push([4, req.revision]);
  if (req.keysOnly) ints.push([8, 1]);
  for (const [, v] of ints) if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`range request: ${v} is not a non-negative integer`);
  const bytes: [number, Buffer][] = [[1, req.key]];
  if (req.rangeEnd) bytes.push([2, req.rangeEnd]);
  let size = 0;
  for (const [, b] of bytes) size += 1 + varintLength(b.length) + b.length;
  for (const [, v] of ints) size += 1 + varintLength(v);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [field, b] of bytes) {
    out[at++] = (field << 3) | WIRE_LEN;
    at = writeVarint(out, at, b.length);
    at += b.copy(out, at);
  }
  // Fields in ascending order (3, 4, 8 after 1, 2): what protobuf encoders write.
  for (const [field, v] of ints) {
    out[at++] = (field << 3) | WIRE_VARINT;
    at = writeVarint(out, at, v);
  }
  return out;
}

/** A reader over one message's bytes (`end` exclusive); int64 fields up to 2^53 as numbers. */
class Reader {
  at: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.at = start;
  }

  varint(): number {
    const buf = this.buf;
    let b = buf[this.at++]!;
    if (b < 128) return b;
    let n = b & 127;
    let mul = 128;
    for (let i = 1; i < 10; i++) {
      if (this.at >= this.end) throw new RangeError('etcd range response: truncated varint');
      b = buf[this.at++]!;
      n += (b & 127) * mul;
      if (b < 128) return n;
      mul *= 128;
    }
    throw new RangeError('etcd range response: varint longer than 10 bytes');
  }

  /** A length-delimited field: its [start, end) in the buffer. */
  span(): number {
    const len = this.varint();
    const start = this.at;
    this.at += len;
    if (this.at > this.end) throw new RangeError('etcd range response: a field runs past its message');
    return start;
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.at += 8;
    else if (wire === WIRE_LEN) this.span();
    else if (wire === WIRE_I32) this.at += 4;
    else throw new RangeError(`etcd range response: wire type ${wire} is not read`);
  }
}

/** Reads a `RangeResponse` (keys and values become strings: the bytes are not kept). */
export function decodeRangeResponse(buf: Buffer): RangeResult {
  const r = new Reader(buf, 0, buf.length);
  let revision = 0;
  let more = false;
  const kvs: RangeKv[] = [];
  let firstKey: [number, number] | undefined;
  let lastKey: [number, number] | undefined;
  while (r.at < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_LEN) {
      // ResponseHeader: revision is field 3.
      const start = r.span();
      const h = new Reader(buf, start, r.at);
      while (h.at < h.end) {
        const t = h.varint();
        if (t === ((3 << 3) | WIRE_VARINT)) revision = h.varint();
        else h.skip(t & 7);
      }
    } else if (field === 2 && wire === WIRE_LEN) {
      // mvccpb.KeyValue: key 1, mod_revision 3, value 5.
      const start = r.span();
      const k = new Reader(buf, start, r.at);
      let keyStart = 0;
      let keyEnd = 0;
      let modRevision = 0;
      let value: string | undefined;
      while (k.at < k.end) {
        const t = k.varint();
        if (t === ((1 << 3) | WIRE_LEN)) {
          keyStart = k.span();
          keyEnd = k.at;
        } else if (t === ((3 << 3) | WIRE_VARINT)) modRevision = k.varint();
        else if (t === ((5 << 3) | WIRE_LEN)) {
          const s = k.span();
          value = buf.toString('utf8', s, k.at);
        } else k.skip(t & 7);
      }
      kvs.push({ key: buf.toString('utf8', keyStart, keyEnd), modRevision, value });
      firstKey ??= [keyStart, keyEnd];
      lastKey = [keyStart, keyEnd];
    } else if (field === 3 && wire === WIRE_VARINT) more = r.varint() !== 0;
    else r.skip(wire);
  }
  const copy = (s: [number, number] | undefined) => (s ? Buffer.from(buf.subarray(s[0], s[1])) : undefined);
  return { revision, kvs, more, firstKey: copy(firstKey), lastKey: copy(lastKey) };
}
