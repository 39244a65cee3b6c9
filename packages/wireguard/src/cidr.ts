/**
 * Small, pure IPv4/IPv6 address and prefix helpers: parsing, canonical text, containment and an
 * overlap sweep. Used by peer computation and by the apply layer to normalise what `wg` and `ip`
 * print. No I/O. Parsing and printing are core's (`@gingham/core`); this module adds the
 * bigint prefix arithmetic and the overlap sweep that peer computation needs.
 */
import { formatIp as formatCoreIp, parseIpStrict } from '@gingham/core';

/** A parsed prefix. `network` has all host bits cleared. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  /** Canonical text: `10.1.0.0/24`, `10.1.0.5/32`, `fd00::/64`. */
  readonly text: string;
}

/** Parses a plain IP address (core's parser: Go's `net.ParseIP` rules), as a bigint for prefix arithmetic. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } | undefined {
  const addr = parseIpStrict(text);
  return addr === undefined ? undefined : { family: addr.version, value: BigInt(addr.value) };
}

/** Canonical text of an address (dotted quad; RFC 5952 for IPv6), via core. */
export function formatIp(family: 4 | 6, value: bigint): string {
  return family === 4 ? formatCoreIp({ version: 4, value: Number(value) }) : formatCoreIp({ version: 6, value });
}

/** Canonical text of an address, or undefined when it is not one. Accepts and drops a `/len`. */
export function canonicalIp(text: string): string | undefined {
  const hit = ipMemo.get(text);
  if (hit !== undefined || ipMemo.has(text)) return hit;
  const bare = text.trim().split('/')[0] ?? '';
  const ip = parseIp(bare);
  const out = ip ? formatIp(ip.family, ip.value) : undefined;
  if (ipMemo.size >= 200_000) ipMemo.clear();
  ipMemo.set(text, out);
  return out;
}

const ipMemo = new Map<string, string | undefined>();

/**
 * Parses `addr/len` (host bits are cleared) or a plain address (a host prefix, /32 or /128).
 * Returns undefined for anything else.
 */
export function parseCidr(text: string): Cidr | undefined {
  // Memoised: the same prefixes are parsed on every apply (peer computation, validation,
  // diffing, read-back); BigInt parsing of 1,000 peers' prefixes otherwise dominates an apply.
  const hit = memo.get(text);
  if (hit !== undefined || memo.has(text)) return hit;
  const parsed = parseCidrUncached(text);
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(text, parsed === undefined ? undefined : Object.freeze(parsed));
  return parsed;
}

const MEMO_LIMIT = 200_000;
const memo = new Map<string, Cidr | undefined>();

function parseCidrUncached(text: string): Cidr | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const ip = parseIp(slash < 0 ? t : t.slice(0, slash));
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > bits) return undefined;
  }
  const hostBits = BigInt(bits - prefix);
  const network = (ip.value >> hostBits) << hostBits;
  return { family: ip.family, network, prefix, text: `${formatIp(ip.family, network)}/${prefix}` };
}

/** Last address of a prefix. */
export function cidrEnd(c: Cidr): bigint {
  const bits = c.family === 4 ? 32 : 128;
  return c.network | ((1n << BigInt(bits - c.prefix)) - 1n);
}

/** True when `outer` contains `inner` (same family; equal prefixes contain each other). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && inner.network >= outer.network && inner.network <= cidrEnd(outer);
}

/** Prefixes either nest or are disjoint, so two overlap exactly when one contains the other. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** Total order: family, network, then shorter prefix first. */
export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  return a.prefix - b.prefix;
}

/** Sorts canonical prefix strings in `compareCidr` order (unparseable text sorts last, bytewise). */
export function sortCidrTexts(texts: readonly string[]): string[] {
  const parsed = texts.map((t) => ({ t, c: parseCidr(t) }));
  parsed.sort((x, y) => {
    if (x.c && y.c) return compareCidr(x.c, y.c);
    if (x.c) return -1;
    if (y.c) return 1;
    return x.t < y.t ? -1 : x.t > y.t ? 1 : 0;
  });
  return parsed.map((p) => p.t);
}

/** One claim of a prefix by an owner (a node name). */
export interface Claim<O extends string = string> {
  readonly owner: O;
  readonly cidr: Cidr;
}

/** A pair of overlapping claims by different owners. */
export interface Overlap<O extends string = string> {
  readonly a: Claim<O>;
  readonly b: Claim<O>;
}

/**
 * Finds every pair of overlapping claims with different owners in O(n log n + pairs): claims
 * are swept in `compareCidr` order with a stack of the currently open (enclosing) prefixes.
 * Because prefixes nest or are disjoint, everything on the stack contains the current claim.
 */
export function findOverlaps<O extends string>(claims: readonly Claim<O>[]): Overlap<O>[] {
  const sorted = [...claims].sort((x, y) => compareCidr(x.cidr, y.cidr) || (x.owner < y.owner ? -1 : x.owner > y.owner ? 1 : 0));
  const out: Overlap<O>[] = [];
  const stack: { claim: Claim<O>; end: bigint }[] = [];
  let family = 0;
  for (const claim of sorted) {
    if (claim.cidr.family !== family) {
      stack.length = 0;
      family = claim.cidr.family;
    }
    while (stack.length > 0 && stack[stack.length - 1]!.end < claim.cidr.network) stack.pop();
    for (const open of stack) {
      if (open.claim.owner !== claim.owner) out.push({ a: open.claim, b: claim });
    }
    stack.push({ claim, end: cidrEnd(claim.cidr) });
  }
  return out;
}
