/**
 * One address family cut into regions by every CIDR that any rule, network set or failsafe entry
 * names (and by endpoint CIDRs wider than a host). Two addresses of a region are inside exactly
 * the same CIDRs, so no `nets`/`notNets` criterion, network-set membership or failsafe net can
 * tell them apart. Each region carries a key naming what contains it; regions with equal keys
 * are interchangeable. Addresses are bigints here (IPv4 too) so both families share one code path.
 */
import { type Cidr, formatIp, type IpAddr } from '../net/cidr.js';

/** Something that contains addresses: its `key` says what it is (equal keys = same thing). */
export interface SpaceItem {
  readonly key: string;
  readonly cidr: Cidr;
}

export interface AddressSpace {
  readonly family: 4 | 6;
  /** First address of each region, ascending; region `i` ends where region `i + 1` starts. */
  readonly starts: readonly bigint[];
  /** Per region: the sorted keys of the items containing it, joined. */
  readonly keys: readonly string[];
}

export function familyMax(family: 4 | 6): bigint {
  return family === 4 ? 0xffffffffn : (1n << 128n) - 1n;
}

export function cidrBounds(c: Cidr): { lo: bigint; hi: bigint } {
  const bits = BigInt((c.version === 4 ? 32 : 128) - c.prefix);
  const lo = BigInt(c.base);
  return { lo, hi: lo + (1n << bits) - 1n };
}

export function addrValue(a: IpAddr): bigint {
  return BigInt(a.value);
}

export function toAddr(family: 4 | 6, value: bigint): IpAddr {
  return family === 4 ? { version: 4, value: Number(value) } : { version: 6, value };
}

export function buildAddressSpace(family: 4 | 6, items: readonly SpaceItem[]): AddressSpace {
  const max = familyMax(family);
  const events = new Map<bigint, { add: string[]; remove: string[] }>();
  const at = (v: bigint): { add: string[]; remove: string[] } => {
    let e = events.get(v);
    if (!e) events.set(v, (e = { add: [], remove: [] }));
    return e;
  };
  at(0n);
  for (const item of items) {
    if (item.cidr.version !== family) continue;
    const { lo, hi } = cidrBounds(item.cidr);
    at(lo).add.push(item.key);
    if (hi < max) at(hi + 1n).remove.push(item.key);
  }
  const starts = [...events.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const active = new Map<string, number>();
  const keys: string[] = [];
  for (const s of starts) {
    const e = events.get(s)!;
    for (const k of e.remove) {
      const n = (active.get(k) ?? 0) - 1;
      if (n <= 0) active.delete(k);
      else active.set(k, n);
    }
    for (const k of e.add) active.set(k, (active.get(k) ?? 0) + 1);
    keys.push([...active.keys()].sort().join('\n'));
  }
  return { family, starts, keys };
}

/** Index of the region holding `value`. */
export function regionOf(space: AddressSpace, value: bigint): number {
  const s = space.starts;
  let lo = 0;
  let hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s[mid]! <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function regionEnd(space: AddressSpace, i: number): bigint {
  return i + 1 < space.starts.length ? space.starts[i + 1]! - 1n : familyMax(space.family);
}

/** The first address in [lo, hi] not in `taken` (sorted ascending), or undefined. */
export function firstFree(lo: bigint, hi: bigint, taken: readonly bigint[]): bigint | undefined {
  let a = 0;
  let b = taken.length;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (taken[mid]! < lo) a = mid + 1;
    else b = mid;
  }
  let candidate = lo;
  for (let i = a; i < taken.length && taken[i] === candidate; i++) candidate++;
  return candidate <= hi ? candidate : undefined;
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

/** The fewest CIDRs covering exactly [lo, hi], as canonical text. */
export function rangeToCidrs(family: 4 | 6, lo: bigint, hi: bigint): string[] {
  const width = family === 4 ? 32 : 128;
  const out: string[] = [];
  let cur = lo;
  while (cur <= hi) {
    // The largest block that starts aligned at `cur` and does not pass `hi`.
    const align = cur === 0n ? width : bitLength(cur & -cur) - 1;
    const fits = bitLength(hi - cur + 1n) - 1;
    const size = Math.min(align, fits, width);
    out.push(`${formatIp(toAddr(family, cur))}/${width - size}`);
    if (size === width) break;
    cur += 1n << BigInt(size);
  }
  return out;
}
