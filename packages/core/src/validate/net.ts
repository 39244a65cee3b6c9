/**
 * IP addresses and CIDRs as Go's `net.ParseIP` / `net.ParseCIDR` read them (IPv4 dotted quads
 * without leading zeros, IPv6 with `::` and an optional trailing dotted quad, no zones), plus the
 * checks Calico applies on top: strict masking and "bare IP means /32 or /128".
 */

export type IpVersion = 4 | 6;

export interface ParsedIp {
  readonly version: IpVersion;
  /** 4 or 16 bytes, network order. */
  readonly bytes: readonly number[];
}

export interface ParsedCidr extends ParsedIp {
  readonly prefix: number;
  /** Written without a `/prefix`. */
  readonly bare: boolean;
}

const DEC_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!DEC_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseV6(text: string): number[] | undefined {
  if (text.length > 45 || text.length < 2) return undefined;
  let head = text;
  let tailV4: number[] | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (!tailV4) return undefined;
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const groupsWanted = tailV4 ? 6 : 8;
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::') && dbl !== -1) return undefined;
  const toGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!HEX_GROUP.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl === -1) {
    const g = toGroups(head);
    if (!g || g.length !== groupsWanted) return undefined;
    groups = g;
  } else {
    const left = toGroups(head.slice(0, dbl));
    const right = toGroups(head.slice(dbl + 2));
    if (!left || !right) return undefined;
    const missing = groupsWanted - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  }
  const bytes: number[] = [];
  for (const g of groups) bytes.push(g >> 8, g & 0xff);
  if (tailV4) bytes.push(...tailV4);
  return bytes;
}

export function parseIp(text: string): ParsedIp | undefined {
  if (text.includes(':')) {
    const bytes = parseV6(text);
    return bytes ? { version: 6, bytes } : undefined;
  }
  const bytes = parseV4(text);
  return bytes ? { version: 4, bytes } : undefined;
}

/** A CIDR (`10.0.0.0/8`) or, when `allowBare`, a bare address (taken as /32 or /128). */
export function parseCidr(text: string, allowBare = true): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  if (slash === -1) {
    if (!allowBare) return undefined;
    const ip = parseIp(text);
    return ip ? { ...ip, prefix: ip.version === 4 ? 32 : 128, bare: true } : undefined;
  }
  const ip = parseIp(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (!ip || !/^[0-9]{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > ip.bytes.length * 8) return undefined;
  return { ...ip, prefix, bare: false };
}

function maskBytes(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
}

/** True when no host bits are set (`10.0.0.0/8` yes, `10.0.0.1/8` no). */
export function isStrictlyMasked(cidr: ParsedCidr): boolean {
  return maskBytes(cidr.bytes, cidr.prefix).every((b, i) => b === cidr.bytes[i]);
}

export function formatIp(version: IpVersion, bytes: readonly number[]): string {
  if (version === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** The network a CIDR denotes, canonically written: `10.0.0.1/8` → `10.0.0.0/8`. */
export function maskedCidr(cidr: ParsedCidr): string {
  return `${formatIp(cidr.version, maskBytes(cidr.bytes, cidr.prefix))}/${cidr.prefix}`;
}

/** True when every address of `inner` is in `outer` (same family). */
export function cidrContains(outer: ParsedCidr, inner: ParsedCidr): boolean {
  if (outer.version !== inner.version || inner.prefix < outer.prefix) return false;
  const a = maskBytes(outer.bytes, outer.prefix);
  const b = maskBytes(inner.bytes, outer.prefix);
  return a.every((x, i) => x === b[i]);
}
