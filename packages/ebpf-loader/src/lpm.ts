/**
 * LPM trie keys: `struct { __u32 prefixlen; __u8 data[]; }` with the prefix length in host
 * (little-endian) order and the address in network order, as the kernel expects.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { BpfError } from './errors.js';

function v4(addr: string): Uint8Array {
  return Uint8Array.from(addr.split('.').map(Number));
}

function v6(addr: string): Uint8Array {
  let [head, tail] = addr.includes('::') ? addr.split('::') as [string, string] : [addr, undefined];
  let embedded: number[] = [];
  const last = (tail ?? head).split(':').pop() ?? '';
  if (last.includes('.')) {
    const b = v4(last);
    embedded = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    if (tail !== undefined) tail = tail.slice(0, tail.length - last.length).replace(/:$/, '');
    else head = head.slice(0, head.length - last.length).replace(/:$/, '');
  }
  const h = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const t = tail ? tail.split(':').map((x) => parseInt(x, 16)) : [];
  const words = [...h, ...new Array(8 - h.length - t.length - embedded.length).fill(0), ...t, ...embedded];
  const out = new Uint8Array(16);
  words.forEach((w, i) => { out[i * 2] = w >> 8; out[i * 2 + 1] = w & 0xff; });
  return out;
}

/** An LPM trie key from a prefix length and address bytes (network order). */
export function lpmKey(prefixLen: number, address: Uint8Array): Uint8Array {
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > address.length * 8) {
    throw new BpfError('BPF_INVALID_ARGUMENT', `prefix length ${prefixLen} out of range for a ${address.length}-byte address`);
  }
  const key = new Uint8Array(4 + address.length);
  new DataView(key.buffer).setUint32(0, prefixLen, true);
  key.set(address, 4);
  return key;
}

/** An LPM trie key from a CIDR (`10.0.0.0/8`, `fd00::/64`) or a bare address (full length). */
export function lpmKeyFromCidr(cidr: string): Uint8Array {
  const [addr = '', len] = cidr.split('/');
  let bytes: Uint8Array;
  if (isIPv4(addr)) bytes = v4(addr);
  else if (isIPv6(addr)) bytes = v6(addr);
  else throw new BpfError('BPF_INVALID_ARGUMENT', `not an IP address or CIDR: ${cidr}`);
  const prefix = len === undefined ? bytes.length * 8 : Number(len);
  if (len !== undefined && !/^\d+$/.test(len)) throw new BpfError('BPF_INVALID_ARGUMENT', `bad prefix length in ${cidr}`);
  return lpmKey(prefix, bytes);
}

/** Decode an LPM key back to `{ prefixLen, address }`. */
export function parseLpmKey(key: Uint8Array): { prefixLen: number; address: Uint8Array } {
  if (key.length < 4) throw new BpfError('BPF_INVALID_ARGUMENT', 'LPM key shorter than 4 bytes');
  return { prefixLen: new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true), address: key.slice(4) };
}
