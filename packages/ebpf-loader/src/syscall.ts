/**
 * `bpf(2)` commands and `union bpf_attr` marshalling (DataView over a zeroed buffer). Pointers
 * are never computed here: fields that hold user pointers are handed to the binding as
 * (offset, Uint8Array) pairs and patched natively just before the syscall.
 */
import { closeSync } from 'node:fs';
import { getBpfBinding } from './binding.js';
import { BpfSyscallError } from './errors.js';

export const CMD = {
  MAP_CREATE: 0, MAP_LOOKUP_ELEM: 1, MAP_UPDATE_ELEM: 2, MAP_DELETE_ELEM: 3, MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5, OBJ_PIN: 6, OBJ_GET: 7, PROG_ATTACH: 8, PROG_DETACH: 9, PROG_TEST_RUN: 10,
  OBJ_GET_INFO_BY_FD: 15, PROG_QUERY: 16, BTF_LOAD: 18, MAP_FREEZE: 22, MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25, MAP_UPDATE_BATCH: 26, MAP_DELETE_BATCH: 27, LINK_CREATE: 28,
  LINK_UPDATE: 29, LINK_DETACH: 34,
} as const;
export type Command = keyof typeof CMD;

/** Enough for every command used here on any 5.x/6.x kernel (trailing bytes stay zero). */
export const ATTR_SIZE = 144;

/** A zeroed `union bpf_attr` with typed setters and pointer fields. */
export class Attr {
  readonly bytes = new Uint8Array(ATTR_SIZE);
  readonly view = new DataView(this.bytes.buffer);
  readonly ptrs: Array<number | Uint8Array> = [];

  u32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }
  u64(off: number, v: number | bigint): this {
    this.view.setBigUint64(off, BigInt(v), true);
    return this;
  }
  /** Point the u64 at `off` to `data` (a NULL pointer when `data` is undefined). */
  ptr(off: number, data: Uint8Array | undefined): this {
    if (data && data.length > 0) this.ptrs.push(off, data);
    return this;
  }
  str(off: number, s: string, max: number): this {
    const b = new TextEncoder().encode(s).subarray(0, max - 1);
    this.bytes.set(b, off);
    return this;
  }
  getU32(off: number): number {
    return this.view.getUint32(off, true);
  }
}

/** Run a command; returns the result or -errno without throwing. */
export function bpfRaw(cmd: Command, attr: Attr): number {
  return getBpfBinding().bpf(CMD[cmd], attr.bytes, attr.ptrs);
}

/** Run a command; throws `BpfSyscallError` on failure. */
export function bpf(cmd: Command, attr: Attr, detail?: string): number {
  const r = bpfRaw(cmd, attr);
  if (r < 0) throw new BpfSyscallError(`BPF_${cmd}`, -r, detail);
  return r;
}

/** Close a file descriptor returned by the kernel. */
export function closeFd(fd: number): void {
  if (fd >= 0) closeSync(fd);
}
