/**
 * Peer classification: the referenced address conditions (`s:<set>` membership, `n:<cidr>`,
 * `np:<set>:<proto>:<port>` named-port host entries) cut the address space into regions; each
 * distinct prefix that some condition mentions is one LPM entry, and the addresses whose longest
 * match is that entry all satisfy the same conditions: its class signature. Classes are global
 * (shared by every slot) and identified by their signature, so an address moving between
 * existing classes is one LPM write.
 */
import { type DataplaneState, parseCidr } from '@gingham/core';
import { wireCidr } from '../addr.js';
import { CLASS_KEY_SIZE, type WireAddr } from '../wire.js';
import { parseNamedMember } from './program.js';

export interface Region {
  readonly addr: WireAddr;
  readonly prefix: number;
  /** `<family>|` + sorted condition keys joined by `\u0001`. */
  readonly sig: string;
}

interface Atom {
  readonly addr: WireAddr;
  readonly prefix: number;
  readonly conds: Set<string>;
}

const idChars: number[] = [];

/**
 * `<family>/<the first prefix bits as 0s and 1s>`: sorting puts ancestors first, and a prefix's
 * ancestors are its id's prefixes. Built as one flat string (a concatenation would keep a cons
 * string beside the flattened text: ~30 bytes more for each of 100k ids).
 */
export function prefixId(addr: WireAddr, prefix: number): string {
  idChars.length = 0;
  idChars.push(addr.family === 4 ? 0x34 : 0x36, 0x2f);
  for (let i = 0; i < prefix; i++) idChars.push(0x30 + ((addr.bytes[i >> 3]! >> (7 - (i & 7))) & 1));
  return String.fromCharCode.apply(null, idChars);
}

/** The family of prefix id `id`. */
export function idFamily(id: string): 4 | 6 {
  return id.charCodeAt(0) === 0x34 ? 4 : 6;
}

/** The address (host bits zero) of prefix id `id`: the inverse of `prefixId`. */
export function idAddr(id: string): WireAddr {
  const bytes = new Uint8Array(16);
  for (let i = 2; i < id.length; i++) if (id.charCodeAt(i) === 0x31) bytes[(i - 2) >> 3]! |= 0x80 >> ((i - 2) & 7);
  return { family: idFamily(id), bytes };
}

/**
 * The `classes` map key of prefix id `id` (`encodeClassKey(idAddr(id), prefix)`), written straight
 * from the id's bits: a first fill encodes 100k of them, without an address object each.
 */
export function classKeyOfId(id: string, prefix: number): Uint8Array {
  const b = new Uint8Array(CLASS_KEY_SIZE);
  const plen = 8 + prefix;
  b[0] = plen & 0xff;
  b[1] = plen >>> 8;
  b[4] = idFamily(id);
  for (let i = 2; i < id.length; i++) if (id.charCodeAt(i) === 0x31) b[5 + ((i - 2) >> 3)]! |= 0x80 >> ((i - 2) & 7);
  return b;
}

/**
 * A region of the region index: its prefix id instead of an address object, which is derived
 * when read (the compiler reads the addresses of the regions that moved; at 100k remote
 * addresses an address object and byte array each would be ~14 MiB held for those reads).
 */
export class IdRegion implements Region {
  constructor(
    readonly id: string,
    readonly prefix: number,
    readonly sig: string,
  ) {}

  get addr(): WireAddr {
    return idAddr(this.id);
  }
}

export function signature(family: 4 | 6, conds: Iterable<string>): string {
  return `${family}|${[...conds].sort().join('\u0001')}`;
}

export function sigConds(sig: string): Set<string> {
  const body = sig.slice(2);
  return new Set(body === '' ? [] : body.split('\u0001'));
}

export function sigFamily(sig: string): 4 | 6 {
  return sig.startsWith('6') ? 6 : 4;
}

/**
 * Parsed prefixes by text (`null`: not a CIDR), shared by every compile; a pure function's cache.
 * Small: the region index keeps what it needs of each member (address, prefix id), and after the
 * first fill a compile parses only the members that changed, so a cache the size of the cluster
 * (100k entries, ~8 MiB) would be held for repeated full compiles only.
 */
const parsed = new Map<string, { readonly addr: WireAddr; readonly prefix: number; readonly id: string } | null>();
const PARSED_MAX = 1 << 14;

/**
 * The 16 address bytes of parsed prefixes, as views into shared 16 KiB slabs: the parse cache
 * and `computeRegions` hold one per prefix, and a typed array of its own costs an ArrayBuffer
 * object besides (~90 bytes each). Never written after the copy.
 */
let slab = new Uint8Array(0);
let slabAt = 0;
const SLAB_BYTES = 16 * 1024;

function slabCopy(bytes: Uint8Array): Uint8Array {
  if (slabAt + 16 > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabAt = 0;
  }
  const v = slab.subarray(slabAt, slabAt + 16);
  v.set(bytes);
  slabAt += 16;
  return v;
}

export function parsedPrefix(text: string): { readonly addr: WireAddr; readonly prefix: number; readonly id: string } | null {
  let p = parsed.get(text);
  if (p === undefined) {
    const c = parseCidr(text);
    if (c) {
      const w = wireCidr(c);
      const addr = { family: w.addr.family, bytes: slabCopy(w.addr.bytes) };
      p = { addr, prefix: w.prefix, id: prefixId(addr, w.prefix) };
    } else p = null;
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, p);
  }
  return p;
}

/** Entries up to which `memberPrefix` fills the parse cache (~0.8 MiB; never clearing it). */
const MEMBER_CACHE_MAX = 1 << 12;

/**
 * The prefix id and length of a member text (`null`: not a CIDR), for the region index, which
 * keeps nothing else of a member: from the parse cache, which it fills up to 4k entries, else
 * parsed without adding it. A first fill parses each of 100k member texts once; cached at a full
 * cache's clears, their address views and entries (~200 bytes each) would outlive a few thousand
 * parses and die in the old generation, at the top of the initial sync's memory. Small states
 * compiled again and again (tests, tools) keep every member cached.
 */
export function memberPrefix(text: string): { readonly id: string; readonly prefix: number } | null {
  const p = parsed.get(text);
  if (p !== undefined) return p;
  if (parsed.size < MEMBER_CACHE_MAX) return parsedPrefix(text);
  const c = parseCidr(text);
  if (!c) return null;
  const w = wireCidr(c);
  return { id: prefixId(w.addr, w.prefix), prefix: w.prefix };
}

/** Regions keyed by prefix id, for the given referenced condition keys and named-port sets. */
export function computeRegions(state: DataplaneState, keys: ReadonlySet<string>, namedSets: ReadonlySet<string>): Map<string, Region> {
  const atoms = new Map<string, Atom & { bits: string }>();
  const addAt = (id: string, addr: WireAddr, prefix: number, cond: string | undefined): void => {
    let a = atoms.get(id);
    if (!a) {
      a = { addr, prefix, conds: new Set(), bits: id.slice(2) };
      atoms.set(id, a);
    }
    if (cond !== undefined) a.conds.add(cond);
  };
  const add = (addr: WireAddr, prefix: number, cond: string | undefined): void => addAt(prefixId(addr, prefix), addr, prefix, cond);
  const addText = (text: string, cond: string): void => {
    const p = parsedPrefix(text);
    if (p) addAt(p.id, p.addr, p.prefix, cond);
  };
  const zero = new Uint8Array(16);
  add({ family: 4, bytes: zero }, 0, undefined);
  add({ family: 6, bytes: zero }, 0, undefined);
  for (const k of keys) {
    if (k.startsWith('n:')) addText(k.slice(2), k);
    else if (k.startsWith('s:')) for (const m of state.ipSets.get(k.slice(2))?.members ?? []) addText(m, k);
  }
  for (const id of namedSets) {
    for (const m of state.ipSets.get(id)?.members ?? []) {
      const p = parseNamedMember(m);
      if (!p || (p.protocol !== 6 && p.protocol !== 17 && p.protocol !== 132)) continue;
      addText(p.hostText, `np:${id}:${p.protocol}:${p.port}`);
    }
  }
  // Sorted by (family, bits) with shorter prefixes first: ancestors precede descendants.
  const sorted = [...atoms.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out = new Map<string, Region>();
  const stack: { fam: number; bits: string; conds: Set<string> }[] = [];
  for (const [id, a] of sorted) {
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.fam === a.addr.family && a.bits.startsWith(top.bits)) break;
      stack.pop();
    }
    const inherited = stack.length > 0 ? stack[stack.length - 1]!.conds : new Set<string>();
    const conds = new Set([...inherited, ...a.conds]);
    stack.push({ fam: a.addr.family, bits: a.bits, conds });
    out.set(id, { addr: a.addr, prefix: a.prefix, sig: signature(a.addr.family, conds) });
  }
  return out;
}
