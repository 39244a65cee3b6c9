/**
 * Live kernel maps. A `BpfMap` owns one file descriptor; it is created from a `MapSpec`, from a
 * pin in bpffs, or from an fd. Keys and values are raw bytes (`Uint8Array`); per-CPU maps use
 * `valueSize` rounded up to 8 bytes times the number of possible CPUs, as the kernel does.
 */
import { readFileSync } from 'node:fs';
import { BpfError, BpfSyscallError } from './errors.js';
import { MAP_TYPES, type MapSpec, type MapType } from './spec.js';
import { Attr, bpf, bpfRaw, closeFd } from './syscall.js';
import { pinObject, getPinned } from './pin.js';

const ENOENT = 2;
const EINVAL = 22;
const ENOTSUPP = 524;
const EOPNOTSUPP = 95;
const ENOSPC = 28;

const UPDATE_FLAGS = { any: 0, noexist: 1, exist: 2 } as const;
export type UpdateMode = keyof typeof UPDATE_FLAGS;

let cpus: number | undefined;
/** Number of possible CPUs (`/sys/devices/system/cpu/possible`), which sizes per-CPU values. */
export function possibleCpus(): number {
  if (cpus === undefined) {
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    let n = 0;
    for (const part of text.split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b - a! + 1;
    }
    cpus = n;
  }
  return cpus;
}

function isPerCpu(type: MapType | number): boolean {
  return type === 'percpu_hash' || type === 'percpu_array' || type === 'lru_percpu_hash';
}

/** Options for `BpfMap.updateBatch` / `lookupBatch`. */
export interface BatchOptions {
  /** Entries per syscall (default 256 for lookups, all for updates). */
  chunk?: number;
  /** Update mode for every element (default `any`). */
  mode?: UpdateMode;
}

/** Result of a batch update: how many entries, and whether the kernel's batch op was used. */
export interface BatchResult {
  count: number;
  batched: boolean;
}

export class BpfMap {
  #fd: number;
  readonly name: string;
  readonly type: MapType | number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;

  private constructor(fd: number, info: { name: string; type: MapType | number; keySize: number; valueSize: number; maxEntries: number; flags: number }) {
    this.#fd = fd;
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
  }

  /** Create a map in the kernel from a spec (contents are written, `.rodata` frozen). */
  static create(spec: MapSpec): BpfMap {
    const type = MAP_TYPES[spec.type];
    if (type === undefined) throw new BpfError('BPF_INVALID_ARGUMENT', `unknown map type ${String(spec.type)}`);
    const attr = new Attr()
      .u32(0, type).u32(4, spec.keySize).u32(8, spec.valueSize).u32(12, spec.maxEntries).u32(16, spec.flags)
      .str(28, kernelName(spec.name), 16);
    const fd = bpf('MAP_CREATE', attr, `map ${spec.name} (${spec.type})`);
    const map = new BpfMap(fd, { name: spec.name, type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags: spec.flags });
    try {
      for (const { key, value } of spec.contents ?? []) map.update(key, value);
      if (spec.freeze) map.freeze();
    } catch (e) {
      map.close();
      throw e;
    }
    return map;
  }

  /** Wrap an fd (the map takes ownership); key/value sizes are read from the kernel. */
  static fromFd(fd: number): BpfMap {
    const info = new Uint8Array(80);
    const attr = new Attr().u32(0, fd).u32(4, info.length).ptr(8, info);
    bpf('OBJ_GET_INFO_BY_FD', attr, 'map info');
    const dv = new DataView(info.buffer);
    const typeNum = dv.getUint32(0, true);
    const type = (Object.entries(MAP_TYPES).find(([, v]) => v === typeNum)?.[0] as MapType | undefined) ?? typeNum;
    const nameBytes = info.subarray(24, 40);
    const name = new TextDecoder().decode(nameBytes.subarray(0, Math.max(0, nameBytes.indexOf(0)) || 16));
    return new BpfMap(fd, {
      name, type, keySize: dv.getUint32(8, true), valueSize: dv.getUint32(12, true),
      maxEntries: dv.getUint32(16, true), flags: dv.getUint32(20, true),
    });
  }

  /** Open a map pinned at `path` in bpffs (`BPF_OBJ_GET`). */
  static fromPin(path: string): BpfMap {
    return BpfMap.fromFd(getPinned(path));
  }

  /** The file descriptor; throws once closed. */
  get fd(): number {
    if (this.#fd < 0) throw new BpfError('BPF_INVALID_ARGUMENT', `map ${this.name} is closed`);
    return this.#fd;
  }

  /** Bytes of one value as seen from user space (per-CPU maps: one 8-byte-aligned slot per CPU). */
  get userValueSize(): number {
    return isPerCpu(this.type) ? Math.ceil(this.valueSize / 8) * 8 * possibleCpus() : this.valueSize;
  }

  private checkKey(key: Uint8Array): void {
    if (key.length !== this.keySize) {
      throw new BpfError('BPF_INVALID_ARGUMENT', `map ${this.name}: key has ${key.length} bytes, want ${this.keySize}`);
    }
  }

  /** The value for `key`, or undefined when absent. */
  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkKey(key);
    const value = new Uint8Array(this.userValueSize);
    const r = bpfRaw('MAP_LOOKUP_ELEM', new Attr().u32(0, this.fd).ptr(8, key).ptr(16, value));
    if (r === -ENOENT) return undefined;
    if (r < 0) throw new BpfSyscallError('BPF_MAP_LOOKUP_ELEM', -r, `map ${this.name}`);
    return value;
  }

  /** Insert or replace (`mode`: `any` | `noexist` | `exist`). */
  update(key: Uint8Array, value: Uint8Array, mode: UpdateMode = 'any'): void {
    this.checkKey(key);
    if (value.length !== this.userValueSize) {
      throw new BpfError('BPF_INVALID_ARGUMENT', `map ${this.name}: value has ${value.length} bytes, want ${this.userValueSize}`);
    }
    bpf('MAP_UPDATE_ELEM', new Attr().u32(0, this.fd).ptr(8, key).ptr(16, value).u64(24, UPDATE_FLAGS[mode]), `map ${this.name}`);
  }

  /** Delete `key`; false when it was absent. */
  delete(key: Uint8Array): boolean {
    this.checkKey(key);
    const r = bpfRaw('MAP_DELETE_ELEM', new Attr().u32(0, this.fd).ptr(8, key));
    if (r === -ENOENT) return false;
    if (r < 0) throw new BpfSyscallError('BPF_MAP_DELETE_ELEM', -r, `map ${this.name}`);
    return true;
  }

  /** The key after `key` (the first key when `key` is undefined), or undefined at the end. */
  nextKey(key?: Uint8Array): Uint8Array | undefined {
    if (key) this.checkKey(key);
    const next = new Uint8Array(this.keySize);
    const r = bpfRaw('MAP_GET_NEXT_KEY', new Attr().u32(0, this.fd).ptr(8, key).ptr(16, next));
    if (r === -ENOENT) return undefined;
    if (r < 0) throw new BpfSyscallError('BPF_MAP_GET_NEXT_KEY', -r, `map ${this.name}`);
    return next;
  }

  /** Iterate keys with `BPF_MAP_GET_NEXT_KEY`. */
  *keys(): IterableIterator<Uint8Array> {
    for (let k = this.nextKey(); k; k = this.nextKey(k)) yield k;
  }

  /** Iterate entries (key, value); entries deleted meanwhile are skipped. */
  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v) yield [k, v];
    }
  }

  /**
   * Write many entries with `BPF_MAP_UPDATE_BATCH`; falls back to one update per entry on kernels
   * or map types without batch support (`batched: false`).
   */
  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], options: BatchOptions = {}): BatchResult {
    if (keys.length !== values.length) throw new BpfError('BPF_INVALID_ARGUMENT', 'updateBatch: keys and values differ in length');
    if (keys.length === 0) return { count: 0, batched: true };
    keys.forEach((k) => this.checkKey(k));
    const vs = this.userValueSize;
    for (const v of values) {
      if (v.length !== vs) throw new BpfError('BPF_INVALID_ARGUMENT', `map ${this.name}: value has ${v.length} bytes, want ${vs}`);
    }
    const chunk = Math.min(options.chunk ?? keys.length, keys.length);
    const kbuf = new Uint8Array(chunk * this.keySize);
    const vbuf = new Uint8Array(chunk * vs);
    let batched = true;
    for (let done = 0; done < keys.length; ) {
      const n = Math.min(chunk, keys.length - done);
      for (let i = 0; i < n; i++) {
        kbuf.set(keys[done + i]!, i * this.keySize);
        vbuf.set(values[done + i]!, i * vs);
      }
      const r = this.#updateBatch(kbuf, vbuf, n, options.mode ?? 'any');
      if (r.errno !== 0) throw new BpfSyscallError('BPF_MAP_UPDATE_BATCH', r.errno, `map ${this.name}: ${done + r.written} of ${keys.length} written`);
      batched &&= r.batched;
      done += n;
    }
    return { count: keys.length, batched };
  }

  /**
   * Write `count` entries packed back to back, keys in `keys` (`count × keySize` bytes at least)
   * and values in `values` (`count × userValueSize`), with one `BPF_MAP_UPDATE_BATCH`; the kernel
   * applies them in order. Callers that encode into reused buffers write without an array per
   * entry. Falls back to one update per entry where the kernel or map type lacks the batch op
   * (`batched: false`). A failed batch throws `BpfSyscallError` (some entries may be written).
   */
  updateBatchPacked(keys: Uint8Array, values: Uint8Array, count: number, options: { mode?: UpdateMode } = {}): BatchResult {
    const ks = this.keySize;
    const vs = this.userValueSize;
    if (!Number.isInteger(count) || count < 0 || keys.length < count * ks || values.length < count * vs) {
      throw new BpfError('BPF_INVALID_ARGUMENT', `map ${this.name}: updateBatchPacked of ${count} entries needs ${count * ks} key and ${count * vs} value bytes, got ${keys.length} and ${values.length}`);
    }
    if (count === 0) return { count: 0, batched: true };
    const r = this.#updateBatch(keys, values, count, options.mode ?? 'any');
    if (r.errno !== 0) throw new BpfSyscallError('BPF_MAP_UPDATE_BATCH', r.errno, `map ${this.name}: ${r.written} of ${count} written`);
    return { count, batched: r.batched };
  }

  /** One `BPF_MAP_UPDATE_BATCH` of `count` packed entries, or one update each where the kernel lacks it; errno 0 on success. */
  #updateBatch(keys: Uint8Array, values: Uint8Array, count: number, mode: UpdateMode): { errno: number; written: number; batched: boolean } {
    const ks = this.keySize;
    const vs = this.userValueSize;
    const attr = new Attr().ptr(16, keys).ptr(24, values).u32(32, count).u32(36, this.fd).u64(40, UPDATE_FLAGS[mode]);
    const r = bpfRaw('MAP_UPDATE_BATCH', attr);
    if (r >= 0) return { errno: 0, written: count, batched: true };
    const written = attr.getU32(32);
    if (written === 0 && (r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP)) {
      for (let i = 0; i < count; i++) this.update(keys.subarray(i * ks, (i + 1) * ks), values.subarray(i * vs, (i + 1) * vs), mode);
      return { errno: 0, written: count, batched: false };
    }
    return { errno: -r, written, batched: true };
  }

  /** Delete many keys with `BPF_MAP_DELETE_BATCH` (fallback: one delete per key). Returns how many existed. */
  deleteBatch(keys: readonly Uint8Array[]): BatchResult {
    if (keys.length === 0) return { count: 0, batched: true };
    keys.forEach((k) => this.checkKey(k));
    const kbuf = new Uint8Array(keys.length * this.keySize);
    keys.forEach((k, i) => kbuf.set(k, i * this.keySize));
    const attr = new Attr().ptr(16, kbuf).u32(32, keys.length).u32(36, this.fd);
    const r = bpfRaw('MAP_DELETE_BATCH', attr);
    if (r === 0) return { count: keys.length, batched: true };
    if (r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP || r === -ENOENT) {
      let count = attr.getU32(32);
      for (const k of keys.slice(count)) if (this.delete(k)) count++;
      return { count, batched: r === -ENOENT };
    }
    throw new BpfSyscallError('BPF_MAP_DELETE_BATCH', -r, `map ${this.name}`);
  }

  /** Read every entry with `BPF_MAP_LOOKUP_BATCH` (fallback: `entries()`). */
  lookupBatch(options: BatchOptions = {}): { entries: Array<[Uint8Array, Uint8Array]>; batched: boolean } {
    const chunk = Math.max(1, options.chunk ?? 256);
    const vs = this.userValueSize;
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    const tokenSize = Math.max(this.keySize, 8);
    let inBatch: Uint8Array | undefined;
    for (;;) {
      const outBatch = new Uint8Array(tokenSize);
      const kbuf = new Uint8Array(chunk * this.keySize);
      const vbuf = new Uint8Array(chunk * vs);
      const attr = new Attr().ptr(0, inBatch).ptr(8, outBatch).ptr(16, kbuf).ptr(24, vbuf).u32(32, chunk).u32(36, this.fd);
      const r = bpfRaw('MAP_LOOKUP_BATCH', attr);
      if (r < 0 && r !== -ENOENT) {
        if (!inBatch && (r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP)) {
          return { entries: [...this.entries()], batched: false };
        }
        if (r === -ENOSPC) throw new BpfSyscallError('BPF_MAP_LOOKUP_BATCH', -r, `map ${this.name}: chunk ${chunk} too small for a bucket; pass a larger chunk`);
        throw new BpfSyscallError('BPF_MAP_LOOKUP_BATCH', -r, `map ${this.name}`);
      }
      const n = attr.getU32(32);
      for (let i = 0; i < n; i++) {
        entries.push([kbuf.slice(i * this.keySize, (i + 1) * this.keySize), vbuf.slice(i * vs, (i + 1) * vs)]);
      }
      if (r === -ENOENT) return { entries, batched: true };
      inBatch = outBatch;
    }
  }

  /** Make the map read-only for user space (`BPF_MAP_FREEZE`). */
  freeze(): void {
    bpf('MAP_FREEZE', new Attr().u32(0, this.fd), `map ${this.name}`);
  }

  /** Pin at `path` in bpffs; the map lives on after every fd is closed until `unpin`. */
  pin(path: string): void {
    pinObject(this.fd, path);
  }

  close(): void {
    if (this.#fd >= 0) {
      closeFd(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Kernel object names: at most 15 characters of [A-Za-z0-9_.]. */
export function kernelName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}
