/**
 * Consumer side of a `BPF_MAP_TYPE_RINGBUF` map: the consumer page is mapped read-write, the
 * producer page and the data area (mapped twice back to back by the kernel, so records never
 * wrap) read-only. `read()` drains what is there, without blocking; call it from a timer or
 * after the code that produces events (e.g. `testRun`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { getBpfBinding } from './binding.js';
import { BpfError, BpfSyscallError, NotSupportedError } from './errors.js';
import type { BpfMap } from './map.js';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;

/** AT_PAGESZ in the auxiliary vector the kernel hands every process. */
const AT_PAGESZ = 6n;

/**
 * The kernel's page size, from `/proc/self/auxv` (no child process: a fork makes every private
 * page of this process fault again on its next write, which a pre-faulted flow table would pay
 * for); `getconf` only where auxv cannot be read.
 */
function readPageSize(): number {
  try {
    const auxv = readFileSync('/proc/self/auxv');
    const view = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
    const le = endianness() === 'LE';
    for (let off = 0; off + 16 <= auxv.byteLength; off += 16) {
      const type = view.getBigUint64(off, le);
      if (type === 0n) break;
      if (type === AT_PAGESZ) return Number(view.getBigUint64(off + 8, le));
    }
  } catch {
    // not Linux /proc, or not readable: ask getconf
  }
  return Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
}

let pageSize: number | undefined;
/** The kernel's page size (read once per process). */
export function systemPageSize(): number {
  pageSize ??= readPageSize();
  return pageSize;
}

export class RingBufReader {
  readonly map: BpfMap;
  #consumer: ArrayBuffer | undefined;
  #producer: ArrayBuffer | undefined;
  readonly #size: number;

  constructor(map: BpfMap) {
    if (map.type !== 'ringbuf') throw new BpfError('BPF_INVALID_ARGUMENT', `map ${map.name} is not a ringbuf`);
    const b = getBpfBinding();
    if (!b.mmap || !b.munmap) throw new NotSupportedError('ring buffer reading (the binding has no mmap)');
    this.map = map;
    this.#size = map.maxEntries;
    const ps = systemPageSize();
    const cons = b.mmap(map.fd, ps, true, 0);
    if (typeof cons === 'number') throw new BpfSyscallError('mmap(ringbuf consumer page)', -cons, `map ${map.name}`);
    const prod = b.mmap(map.fd, ps + 2 * this.#size, false, ps);
    if (typeof prod === 'number') {
      b.munmap(cons);
      throw new BpfSyscallError('mmap(ringbuf producer pages)', -prod, `map ${map.name}`);
    }
    this.#consumer = cons;
    this.#producer = prod;
  }

  /** Copy out every committed record (up to `max`) and release their space to the producer. */
  read(max = Number.POSITIVE_INFINITY): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.consume((data, offset, size) => void out.push(data.slice(offset, offset + size)), max);
    return out;
  }

  /**
   * Hands every committed record (up to `max`) to `visit` in place — `data` is the mapped ring,
   * the record is `data[offset, offset + size)`, valid only during the call — and releases its
   * space to the producer after the call. No copy and no allocation per record: for consumers
   * that decode at ring-buffer speed. Returns how many records were visited.
   */
  consume(visit: (data: Uint8Array, offset: number, size: number) => void, max = Number.POSITIVE_INFINITY): number {
    if (!this.#consumer || !this.#producer) throw new BpfError('BPF_INVALID_ARGUMENT', 'ring buffer reader is closed');
    const consPos = new BigInt64Array(this.#consumer, 0, 1);
    const prodPos = new BigInt64Array(this.#producer, 0, 1);
    const data = new Uint8Array(this.#producer, systemPageSize());
    const hdr = new Int32Array(this.#producer, systemPageSize());
    const mask = this.#size - 1;
    // Positions are u64 byte counters; arithmetic stays in numbers from the batch's start, and
    // the consumer position is published every 64 records (so the producer gets space back
    // during a long drain) and at the end.
    const start = Atomics.load(consPos, 0);
    const base = Number(start & BigInt(mask));
    let avail = Number(Atomics.load(prodPos, 0) - start);
    let done = 0;
    let n = 0;
    let unpublished = 0;
    try {
      while (n < max) {
        if (done >= avail) {
          avail = Number(Atomics.load(prodPos, 0) - start);
          if (done >= avail) break;
        }
        const off = (base + done) & mask;
        const len = Atomics.load(hdr, off / 4) >>> 0;
        if (len & BUSY) break; // reserved, not yet committed
        const size = (len & ~(BUSY | DISCARD)) >>> 0;
        if (!(len & DISCARD)) {
          visit(data, off + HDR, size);
          n++;
        }
        done += (size + HDR + 7) & ~7;
        if (++unpublished === 64) {
          Atomics.store(consPos, 0, start + BigInt(done));
          unpublished = 0;
        }
      }
    } finally {
      if (done > 0) Atomics.store(consPos, 0, start + BigInt(done));
    }
    return n;
  }

  /** Unmap (the map itself stays open). */
  close(): void {
    const b = getBpfBinding();
    if (this.#consumer) b.munmap?.(this.#consumer);
    if (this.#producer) b.munmap?.(this.#producer);
    this.#consumer = undefined;
    this.#producer = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
