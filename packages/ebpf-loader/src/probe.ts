/**
 * Feature probes: each creates the smallest object of a kind and closes it again. A missing
 * feature throws `NotSupportedError` (naming it); other failures (EPERM...) are `BpfSyscallError`.
 */
import { BpfSyscallError, NotSupportedError } from './errors.js';
import { MAP_TYPES, PROGRAM_TYPES, type MapType, type ProgramType } from './spec.js';
import { Attr, bpfRaw, closeFd } from './syscall.js';

const EINVAL = 22;
const E2BIG = 7;
const ENOTSUPP = 524;
const EOPNOTSUPP = 95;

function notSupported(r: number): boolean {
  return r === -EINVAL || r === -E2BIG || r === -ENOTSUPP || r === -EOPNOTSUPP;
}

const cache = new Map<string, true | NotSupportedError>();

function cached(key: string, probe: () => void): void {
  const hit = cache.get(key);
  if (hit === true) return;
  if (hit) throw hit;
  try {
    probe();
    cache.set(key, true);
  } catch (e) {
    if (e instanceof NotSupportedError) cache.set(key, e);
    throw e;
  }
}

/** Throws `NotSupportedError` when the kernel cannot create maps of `type`. */
export function probeMapType(type: MapType): void {
  cached(`map:${type}`, () => {
    let [key, value, max, flags] = [4, 4, 1, 0];
    if (type === 'lpm_trie') [key, value, max, flags] = [8, 4, 1, 1];
    if (type === 'ringbuf') [key, value, max] = [0, 0, 4096];
    if (type === 'queue' || type === 'stack') key = 0;
    if (type === 'array_of_maps' || type === 'hash_of_maps') {
      throw new NotSupportedError(`map type ${type} (probe not implemented: needs an inner map)`);
    }
    const r = bpfRaw('MAP_CREATE', new Attr().u32(0, MAP_TYPES[type]).u32(4, key).u32(8, value).u32(12, max).u32(16, flags));
    if (r >= 0) return closeFd(r);
    if (notSupported(r)) throw new NotSupportedError(`map type ${type}`);
    throw new BpfSyscallError('BPF_MAP_CREATE', -r, `probe of map type ${type}`);
  });
}

/** Throws `NotSupportedError` when the kernel cannot load programs of `type`. */
export function probeProgramType(type: ProgramType): void {
  cached(`prog:${type}`, () => {
    const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    const license = new TextEncoder().encode('GPL\0');
    const r = bpfRaw('PROG_LOAD', new Attr().u32(0, PROGRAM_TYPES[type]).u32(4, 2).ptr(8, insns).ptr(16, license));
    if (r >= 0) return closeFd(r);
    if (notSupported(r)) throw new NotSupportedError(`program type ${type}`);
    throw new BpfSyscallError('BPF_PROG_LOAD', -r, `probe of program type ${type}`);
  });
}
