/**
 * What WireGuard needs on top of core's IP model (`@gingham/core`: `parseCidr`, `formatCidr`,
 * `canonicalIp`, `Cidr`): memoised canonical text, the total order peers and dumps are sorted
 * in, and the overlap sweep of peer computation. Core parses and prints; nothing here does.
 * Pure, internal to this package (not exported).
 *
 * Why memoise: every apply meets the same prefixes again (peer computation, validation, the
 * read-back of `wg show dump`, routes and UAPI replies: thousands for a 1,000-peer mesh), and
 * parsing and printing them each time is measurable in a read-back apply.
 */
import { canonicalIp, cidrContainsCidr, formatCidr, parseCidr, type Cidr } from '@gingham/core';

/** A parsed prefix and its canonical text (`10.1.0.0/24`, `10.1.0.5/32`, `fd00::/64`). */
export interface Prefix {
  readonly cidr: Cidr;
  readonly text: string;
}

const MEMO_LIMIT = 200_000;
const prefixMemo = new Map<string, Prefix | undefined>();
const ipMemo = new Map<string, string | undefined>();

function remember<V>(memo: Map<string, V>, key: string, value: V): V {
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, value);
  return value;
}

/**
 * `addr/len` (host bits cleared) or a plain address (a host prefix), with its canonical text;
 * undefined for anything else. Core's `parseCidr`, memoised.
 */
export function parsePrefix(text: string): Prefix | undefined {
  const hit = prefixMemo.get(text);
  if (hit !== undefined || prefixMemo.has(text)) return hit;
  const cidr = parseCidr(text);
  return remember(prefixMemo, text, cidr ? Object.freeze({ cidr, text: formatCidr(cidr) }) : undefined);
}

/** Canonical text of a prefix, or undefined when `text` is not one. */
export function canonicalPrefix(text: string): string | undefined {
  return parsePrefix(text)?.text;
}

/** Canonical text of an address (a `/len` is dropped), or undefined. Core's `canonicalIp`, memoised. */
export function canonicalAddress(text: string): string | undefined {
  const hit = ipMemo.get(text);
  if (hit !== undefined || ipMemo.has(text)) return hit;
  return remember(ipMemo, text, canonicalIp(text));
}

/** The last address of a prefix (IPv4: a number, IPv6: a bigint, as core's `base`). */
function lastAddress(c: Cidr): number | bigint {
  return c.version === 4 ? (c.base | ~c.mask) >>> 0 : c.base | (~c.mask & ((1n << 128n) - 1n));
}

/** True when `outer` contains `inner` (same family; equal prefixes contain each other). */
export function prefixContains(outer: Cidr, inner: Cidr): boolean {
  return outer.version === inner.version && cidrContainsCidr(outer, inner);
}

/** Total order: family, network, then shorter prefix first. */
export function comparePrefix(a: Cidr, b: Cidr): number {
  if (a.version !== b.version) return a.version - b.version;
  if (a.base !== b.base) return a.base < b.base ? -1 : 1;
  return a.prefix - b.prefix;
}

/** Sorts prefix texts in `comparePrefix` order (unparseable text sorts last, bytewise). */
export function sortPrefixTexts(texts: readonly string[]): string[] {
  const parsed = texts.map((t) => ({ t, p: parsePrefix(t) }));
  parsed.sort((x, y) => {
    if (x.p && y.p) return comparePrefix(x.p.cidr, y.p.cidr);
    if (x.p) return -1;
    if (y.p) return 1;
    return x.t < y.t ? -1 : x.t > y.t ? 1 : 0;
  });
  return parsed.map((x) => x.t);
}

/** One claim of a prefix by an owner (a node name). */
export interface Claim<O extends string = string> {
  readonly owner: O;
  readonly prefix: Prefix;
}

/** A pair of overlapping claims by different owners. */
export interface Overlap<O extends string = string> {
  readonly a: Claim<O>;
  readonly b: Claim<O>;
}

/**
 * Every pair of overlapping claims with different owners, in O(n log n + pairs): claims are
 * swept in `comparePrefix` order with a stack of the currently open (enclosing) prefixes.
 * Because prefixes nest or are disjoint, everything on the stack contains the current claim.
 */
export function findOverlaps<O extends string>(claims: readonly Claim<O>[]): Overlap<O>[] {
  const sorted = [...claims].sort((x, y) => comparePrefix(x.prefix.cidr, y.prefix.cidr) || (x.owner < y.owner ? -1 : x.owner > y.owner ? 1 : 0));
  const out: Overlap<O>[] = [];
  const stack: { claim: Claim<O>; end: number | bigint }[] = [];
  let family = 0;
  for (const claim of sorted) {
    const c = claim.prefix.cidr;
    if (c.version !== family) {
      stack.length = 0;
      family = c.version;
    }
    while (stack.length > 0 && stack[stack.length - 1]!.end < c.base) stack.pop();
    for (const open of stack) {
      if (open.claim.owner !== claim.owner) out.push({ a: open.claim, b: claim });
    }
    stack.push({ claim, end: lastAddress(c) });
  }
  return out;
}
