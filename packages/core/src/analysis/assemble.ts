/**
 * Turns per class-pair results (a value per layer-4 cell) into the exact, compact entries the
 * analysis returns: cells with the same value become port ranges, class pairs with the same
 * ranges and value are merged into peer sets, and each entry gets a concrete witness flow.
 */
import type { Flow } from '../evaluate/types.js';
import { protocolName } from '../convert/protocol.js';
import { compareBytewise } from '../convert/strings.js';
import { formatIp } from '../net/cidr.js';
import { boxesOf, type L4Map, protocolShape, type ValueRange } from './l4.js';
import type { L4Spec, PeerSet, NumberRange } from './types.js';
import { rangeToCidrs } from './address-space.js';
import { outsideCidrs, pairCount, type PeerClass, type Point, type Universe } from './universe.js';

/** Every class of `src` to every class of `dst` has the values of `map`. */
export interface PairResult<C> {
  readonly src: readonly PeerClass[];
  readonly dst: readonly PeerClass[];
  readonly map: L4Map<C | undefined>;
}

export interface Entry<C> {
  readonly src: readonly PeerClass[];
  readonly dst: readonly PeerClass[];
  readonly protocol: number;
  readonly a: readonly ValueRange[];
  readonly b: readonly ValueRange[];
  readonly value: C;
}

const rangesKey = (rs: readonly ValueRange[]): string => rs.map((r) => `${r.from}-${r.to}`).join(',');
const byId = (x: PeerClass, y: PeerClass): number => x.id - y.id;

/**
 * Merges equal-valued cells into ranges, then class pairs with equal ranges and value: first the
 * sources of each destination, then the destinations of each source set. Both steps group sets,
 * so the entries do not depend on the order the pairs were found in.
 */
export function mergeResults<C>(results: readonly PairResult<C>[], valueKey: (value: C) => string): Entry<C>[] {
  type Acc = { src: Map<number, PeerClass>; dst: PeerClass; protocol: number; a: ValueRange[]; b: ValueRange[]; value: C; vk: string };
  const byDst = new Map<string, Acc>();
  for (const r of results) {
    r.map.grids.forEach((grid, p) => {
      const boxes = boxesOf(grid, r.map.values[p]!, (v) => (v === undefined ? undefined : valueKey(v)));
      for (const [vk, list] of boxes) {
        for (const box of list) {
          const shape = `${grid.protocol}|${rangesKey(box.a)}|${rangesKey(box.b)}|${vk}`;
          for (const d of r.dst) {
            const key = `${d.id}|${shape}`;
            let e = byDst.get(key);
            if (!e) byDst.set(key, (e = { src: new Map(), dst: d, protocol: grid.protocol, a: box.a, b: box.b, value: box.sample as C, vk }));
            for (const s of r.src) e.src.set(s.id, s);
          }
        }
      }
    });
  }
  const out = new Map<string, { src: PeerClass[]; dst: PeerClass[]; protocol: number; a: ValueRange[]; b: ValueRange[]; value: C }>();
  for (const e of byDst.values()) {
    const src = [...e.src.values()].sort(byId);
    const key = `${src.map((c) => c.id).join(',')}|${e.protocol}|${rangesKey(e.a)}|${rangesKey(e.b)}|${e.vk}`;
    const m = out.get(key);
    if (m) m.dst.push(e.dst);
    else out.set(key, { src, dst: [e.dst], protocol: e.protocol, a: e.a, b: e.b, value: e.value });
  }
  return [...out.values()].map((e) => ({ ...e, dst: e.dst.sort(byId) }));
}

/** The peers of some classes, named as results name them (outside ranges merged into the fewest CIDRs). */
export function peerSet(classes: readonly PeerClass[]): PeerSet {
  const endpoints = new Set<string>();
  const ranges: (readonly [bigint, bigint])[] = [];
  let family: 4 | 6 = 4;
  for (const c of classes) {
    if (c.outside) {
      ranges.push(...(c.ranges ?? []));
      family = c.family;
    } else for (const p of c.points) endpoints.add(p.peer ?? p.ref ?? '');
  }
  if (ranges.length === 1 || (classes.length === 1 && classes[0]!.outside)) {
    return { endpoints: [...endpoints].sort(compareBytewise), outside: classes.flatMap((c) => (c.outside ? outsideCidrs(c) : [])) };
  }
  ranges.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const [lo, hi] of ranges) {
    const last = merged[merged.length - 1];
    if (last && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else merged.push([lo, hi]);
  }
  return { endpoints: [...endpoints].sort(compareBytewise), outside: merged.flatMap(([lo, hi]) => rangeToCidrs(family, lo, hi)) };
}

export function pairsOf(src: readonly PeerClass[], dst: readonly PeerClass[]): number {
  let n = 0;
  for (const s of src) for (const d of dst) n += pairCount(s, d);
  return n;
}

function toPortRanges(rs: readonly ValueRange[]): NumberRange[] {
  return rs.map((r) => ({ from: r.from, to: r.to }));
}

export function l4Spec(universe: Universe, protocol: number, a: readonly ValueRange[], b: readonly ValueRange[]): L4Spec {
  const isOther = protocol === universe.protocols.other;
  const ref = isOther ? { number: protocol, name: 'other', otherThan: universe.protocols.named } : { number: protocol, name: protocolName(protocol) };
  const shape = protocolShape(protocol);
  if (shape === 'ports') return { protocol: ref, srcPorts: toPortRanges(a), dstPorts: toPortRanges(b) };
  if (shape === 'icmp') return { protocol: ref, icmpTypes: toPortRanges(a), icmpCodes: toPortRanges(b) };
  return { protocol: ref };
}

function pointRef(p: Point): string {
  return p.addr ? formatIp(p.addr) : (p.ref ?? '');
}

/** A source port to show in a witness: an ephemeral one when the range allows. */
function witnessSourcePort(a: readonly ValueRange[]): number {
  for (const r of a) if (r.from <= 49152 && r.to >= 49152) return 49152;
  return a[0]!.from;
}

/** The layer-4 part of a witness flow in the given ranges: an ephemeral source port where it fits, the first destination port, type and code. */
export function witnessL4(protocol: number, a: readonly ValueRange[], b: readonly ValueRange[]): Pick<Flow, 'protocol' | 'srcPort' | 'dstPort' | 'icmp'> {
  const shape = protocolShape(protocol);
  return {
    protocol,
    ...(shape === 'ports' ? { srcPort: witnessSourcePort(a), dstPort: b[0]!.from } : {}),
    ...(shape === 'icmp' ? { icmp: { type: a[0]!.from, code: b[0]!.from } } : {}),
  };
}

/** One concrete flow of an entry (two distinct endpoints, IPs where they have one). */
export function witnessOf(entry: Entry<unknown>): Flow {
  for (const s of entry.src) {
    for (const d of entry.dst) {
      if (pairCount(s, d) === 0) continue;
      for (const ps of s.points) {
        for (const pd of d.points) {
          if (ps.endpointKey !== undefined && ps.endpointKey === pd.endpointKey) continue;
          return { src: pointRef(ps), dst: pointRef(pd), ...witnessL4(entry.protocol, entry.a, entry.b) };
        }
      }
    }
  }
  throw new Error('analysis: an entry without a pair of distinct peers');
}

/** Deterministic order of result entries: by peers, family, protocol, then first port / type. */
export function compareFlowSets(x: L4Spec & { readonly ipVersion: number; readonly from: PeerSet; readonly to: PeerSet }, y: typeof x): number {
  const k = (c: typeof x): string =>
    [c.from.endpoints.join(','), c.from.outside.join(','), c.to.endpoints.join(','), c.to.outside.join(','), c.ipVersion, String(c.protocol.number).padStart(3, '0')].join('\u0000');
  const a = k(x);
  const b = k(y);
  if (a !== b) return a < b ? -1 : 1;
  const first = (c: typeof x): number => (c.dstPorts ?? c.icmpTypes ?? [{ from: 0 }])[0]!.from * 65536 + (c.srcPorts ?? c.icmpCodes ?? [{ from: 0 }])[0]!.from;
  return first(x) - first(y);
}

/** Items grouped by a key (any value compared with `===`, e.g. a memoised map), in first-seen order. */
export function bucket<K, T>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
