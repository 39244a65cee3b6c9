/**
 * IP addresses and CIDRs, the one implementation in core: parsing as Go's `net.ParseIP` /
 * `net.ParseCIDR` read them (IPv4 dotted quads without leading zeros, IPv6 with `::` and an
 * optional trailing dotted quad, no zones), canonical text as Go prints it, strict-mask checks
 * for validation, and containment for evaluation. IPv4 values are unsigned 32-bit numbers,
 * IPv6 values are bigints.
 */

export type IpAddr =
  | { readonly version: 4; readonly value: number }
  | { readonly version: 6; readonly value: bigint };

export type Cidr =
  | { readonly version: 4; readonly base: number; readonly prefix: number; readonly mask: number }
  | { readonly version: 6; readonly base: bigint; readonly prefix: number; readonly mask: bigint };

const V6_ALL = (1n << 128n) - 1n;

function parseIpv4(text: string): number | undefined {
  // Four dot-separated decimal parts 0–255 without leading zeros, read a character at a time
  // (no split, no regex: every endpoint address of a 100k-endpoint sync passes here).
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return undefined;
      if (++digits > 3) return undefined;
      part = part * 10 + (c - 48);
      if (part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + part;
}

function parseIpv6(text: string): bigint | undefined {
  if (text.length < 2 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let head = text;
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    const tail4 = parseIpv4(text.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}${(tail4 >>> 16).toString(16)}:${(tail4 & 0xffff).toString(16)}`;
  }
  const doubles = head.split('::');
  if (doubles.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (doubles.length === 2) {
    const left = parseGroups(doubles[0]!);
    const right = parseGroups(doubles[1]!);
    if (!left || !right || left.length + right.length > 7) return undefined;
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/** Parses a bare IPv4 or IPv6 address exactly (no prefix, no zone, no surrounding space). */
export function parseIpStrict(t: string): IpAddr | undefined {
  if (t.includes(':')) {
    const v = parseIpv6(t);
    return v === undefined ? undefined : { version: 6, value: v };
  }
  const v = parseIpv4(t);
  return v === undefined ? undefined : { version: 4, value: v };
}

/** Like `parseIpStrict`, tolerating surrounding whitespace. */
export function parseIp(text: string): IpAddr | undefined {
  return parseIpStrict(text.trim());
}

/** A CIDR as written, host bits kept: what validation needs to judge the text. */
export interface WrittenCidr {
  readonly addr: IpAddr;
  readonly prefix: number;
  /** Written without `/prefix` (then the prefix is the full length). */
  readonly bare: boolean;
}

/** Parses `addr/prefix` (or, when `allowBare`, a bare address) exactly, keeping host bits. */
export function parseWrittenCidr(text: string, allowBare: boolean): WrittenCidr | undefined {
  const slash = text.indexOf('/');
  const addr = parseIpStrict(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return undefined;
  const max = addr.version === 4 ? 32 : 128;
  if (slash < 0) return allowBare ? { addr, prefix: max, bare: true } : undefined;
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
  return { addr, prefix: Number(p), bare: false };
}

/** True when no host bits are set (`10.0.0.0/8` yes, `10.0.0.1/8` no). */
export function isStrictlyMasked(written: WrittenCidr): boolean {
  return makeCidr(written.addr, written.prefix).base === written.addr.value;
}

function v4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function v6Mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (V6_ALL << BigInt(128 - prefix)) & V6_ALL;
}

/** Builds a CIDR from an address and a prefix length, masking host bits away. */
export function makeCidr(addr: IpAddr, prefix: number): Cidr {
  if (addr.version === 4) {
    const mask = v4Mask(prefix);
    return { version: 4, base: (addr.value & mask) >>> 0, prefix, mask };
  }
  const mask = v6Mask(prefix);
  return { version: 6, base: addr.value & mask, prefix, mask };
}

/**
 * Parses `addr/prefix` or a bare address (= /32 or /128). Host bits are masked away (Calico
 * normalises rule nets to their network; validation, not conversion, rejects sloppy masks).
 */
export function parseCidr(text: string): Cidr | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = parseIp(slash < 0 ? t : t.slice(0, slash));
  if (!addr) return undefined;
  const max = addr.version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > max) return undefined;
  }
  return makeCidr(addr, prefix);
}

export function formatIp(addr: IpAddr): string {
  if (addr.version === 4) {
    const v = addr.value;
    return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatCidr(cidr: Cidr): string {
  const addr: IpAddr = cidr.version === 4 ? { version: 4, value: cidr.base } : { version: 6, value: cidr.base };
  return `${formatIp(addr)}/${cidr.prefix}`;
}

/** Canonical CIDR text (`10.0.0.0/8`, `10.1.2.3/32`, `fd00::/64`), or undefined if unparseable. */
export function canonicalCidr(text: string): string | undefined {
  const c = parseCidr(text);
  return c ? formatCidr(c) : undefined;
}

/** Canonical host CIDR for a bare address or CIDR whose address part is kept (pod IPs). */
export function canonicalHostCidr(text: string): string | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = parseIp(slash < 0 ? t : t.slice(0, slash));
  if (!addr) return undefined;
  return formatCidr(makeCidr(addr, addr.version === 4 ? 32 : 128));
}

/** Canonical text of a bare address (`::ffff:0:1`, `10.0.0.1`); accepts `a/32`-style input too. */
export function canonicalIp(text: string): string | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = parseIp(slash < 0 ? t : t.slice(0, slash));
  return addr ? formatIp(addr) : undefined;
}

/** Full prefix length of an address family: 32 or 128. */
export function hostPrefix(version: 4 | 6): number {
  return version === 4 ? 32 : 128;
}

/** True when every address of `inner` is in `outer` (same family). */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  if (inner.prefix < outer.prefix) return false;
  return cidrContains(outer, inner.version === 4 ? { version: 4, value: inner.base } : { version: 6, value: inner.base });
}

export function cidrContains(cidr: Cidr, addr: IpAddr): boolean {
  if (cidr.version === 4) return addr.version === 4 && ((addr.value & cidr.mask) >>> 0) === cidr.base;
  return addr.version === 6 && (addr.value & cidr.mask) === cidr.base;
}

/** A stable map key for an address (`4:<n>` / `6:<n>`). */
export function ipKey(addr: IpAddr): string {
  return `${addr.version}:${addr.value.toString(16)}`;
}
