/**
 * The policy compiler: Engine dataplane state -> the five maps, as an ordered, gap-free diff
 * of map writes from the previous tables. Ids (slots, classes, policies) are allocated stably
 * in `CompilerMemory`, so a label change moves only LPM entries (plus rows for a brand-new
 * class) and a policy edit rewrites only the affected slots under a new version.
 *
 * Write order (see docs/ebpf-datapath.md):
 *   1 rows and sport rows of new slot versions; rows of new classes under kept versions; rows of
 *     transition classes; records of new slots
 *   2 LPM entries move (directly, or to a transition class when any slot flips or goes away)
 *   3 slot version flips; endpoint entries added, changed, removed
 *   4 LPM entries move from their transition class to their final class
 *   5 everything no longer reachable is deleted
 */
import { type DataplaneState, type IpAddr, formatIp, parseIp } from '@gingham/core';
import { wireAddr } from '../addr.js';
import {
  applyWrites,
  emptyMaps,
  encodeClassKey,
  encodeEndpointKey,
  encodeEndpointValue,
  encodeSlotKey,
  encodeSlotValue,
  encodeSportKey,
  encodeU32Value,
  encodeVerdictKey,
  encodeVerdictValue,
  hexKey,
  MAP_NAMES,
  type MapName,
  type MapWrite,
  SLOT_HAS_SPORT,
  type TableMaps,
} from '../wire.js';
import { computeRegions, type Region } from './classes.js';
import { classRows, type Row } from './evaluate.js';
import { prefixEntries } from './prefixes.js';
import { type EndpointState, parseNamedMember, type Program, programConditions, slotProgram } from './program.js';

export interface SlotMemory {
  readonly id: number;
  readonly key: string;
  readonly version: number;
  readonly flags: number;
  readonly fingerprint: string;
  readonly program: Program;
  /** Verdict rows of the active version, per live class id. */
  readonly rows: ReadonlyMap<number, readonly Row[]>;
}

/** What the compiler remembers between runs (never written to the kernel). */
export interface CompilerMemory {
  readonly slotIds: ReadonlyMap<string, number>;
  readonly nextSlot: number;
  readonly classIds: ReadonlyMap<string, number>;
  readonly nextClass: number;
  readonly policyNums: ReadonlyMap<string, number>;
  readonly slots: ReadonlyMap<string, SlotMemory>;
  /** LPM regions by prefix id, with their class id. */
  readonly regions: ReadonlyMap<string, Region & { readonly classId: number }>;
  /** Live class id -> signature. */
  readonly classes: ReadonlyMap<number, string>;
  /** Endpoint map: hex key -> address text and slot keys. */
  readonly endpoints: ReadonlyMap<string, { readonly addr: string; readonly ingress: string; readonly egress: string }>;
}

export interface Tables {
  readonly maps: TableMaps;
  readonly memory: CompilerMemory;
}

export interface CompileResult {
  readonly tables: Tables;
  /** Ordered writes turning the previous tables' maps into `tables.maps`. */
  readonly writes: readonly MapWrite[];
  readonly stats: { readonly slots: number; readonly classes: number; readonly flipped: number; readonly transitions: number };
}

export function emptyTables(): Tables {
  return {
    maps: emptyMaps(),
    memory: {
      slotIds: new Map(),
      nextSlot: 1,
      classIds: new Map(),
      nextClass: 1,
      policyNums: new Map(),
      slots: new Map(),
      regions: new Map(),
      classes: new Map(),
      endpoints: new Map(),
    },
  };
}

function hostIp(cidr: string): IpAddr | undefined {
  return parseIp(cidr.split('/')[0]!);
}

function byId<T extends { id: string }>(m: Map<string, T>): T[] {
  return [...m.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Address -> owning endpoint, as the model resolves a peer address (workloads by id, then host endpoints). */
function owners(state: DataplaneState): Map<string, { ip: IpAddr; e: EndpointState; kind: 'w' | 'h' }> {
  const out = new Map<string, { ip: IpAddr; e: EndpointState; kind: 'w' | 'h' }>();
  const claim = (e: EndpointState, kind: 'w' | 'h', texts: readonly string[]): void => {
    for (const t of texts) {
      const ip = hostIp(t);
      if (!ip) continue;
      const k = formatIp(ip);
      if (!out.has(k)) out.set(k, { ip, e, kind });
    }
  };
  for (const w of byId(state.workloadEndpoints)) claim(w, 'w', w.addresses);
  for (const h of byId(state.hostEndpoints)) claim(h, 'h', h.expectedIPs);
  return out;
}

function containsRegion(outer: Region, inner: Region): boolean {
  if (outer.addr.family !== inner.addr.family || outer.prefix > inner.prefix) return false;
  for (let i = 0; i * 8 < outer.prefix; i++) {
    const bits = Math.min(8, outer.prefix - i * 8);
    const mask = (0xff00 >> bits) & 0xff;
    if ((outer.addr.bytes[i]! & mask) !== (inner.addr.bytes[i]! & mask)) return false;
  }
  return true;
}

function longestContaining<R extends Region>(regions: Iterable<R>, r: Region): R {
  let best: R | undefined;
  for (const x of regions) if (containsRegion(x, r) && (!best || x.prefix > best.prefix)) best = x;
  return best!;
}

/**
 * Compiles `state` against the previous tables (default: empty), returning the new tables and
 * the ordered writes. Pure: `prev` is not modified.
 */
export function compile(state: DataplaneState, prev: Tables = emptyTables()): CompileResult {
  const pm = prev.memory;
  const slotIds = new Map(pm.slotIds);
  let nextSlot = pm.nextSlot;
  const classIds = new Map(pm.classIds);
  let nextClass = pm.nextClass;
  const policyNums = new Map(pm.policyNums);
  const policyNum = (name: string): number => {
    let n = policyNums.get(name);
    if (n === undefined) {
      n = policyNums.size;
      policyNums.set(name, n);
    }
    return n;
  };

  // Named-port sets: every port any member carries (source-port classes split there).
  const namedPortCache = new Map<string, number[]>();
  const peerNamedPorts = (id: string): number[] => {
    let ports = namedPortCache.get(id);
    if (!ports) {
      const s = new Set<number>();
      for (const m of state.ipSets.get(id)?.members ?? []) {
        const p = parseNamedMember(m);
        if (p) s.add(p.port);
      }
      ports = [...s].sort((a, b) => a - b);
      namedPortCache.set(id, ports);
    }
    return ports;
  };

  // 1. Endpoint map and slot programs.
  const endpoints = new Map<string, { addr: string; ingress: string; egress: string }>();
  const programs = new Map<string, Program>();
  for (const [text, o] of owners(state)) {
    const keys = { ingress: `ingress|${o.kind}:${o.e.id}|${text}`, egress: `egress|${o.kind}:${o.e.id}|${text}` };
    for (const dir of ['ingress', 'egress'] as const) programs.set(keys[dir], slotProgram(state, o.e, dir, o.ip, peerNamedPorts));
    endpoints.set(hexKey(encodeEndpointKey(wireAddr(o.ip))), { addr: text, ...keys });
  }

  // 2. Peer classes over every condition any program references.
  const keys = new Set<string>();
  const namedSets = new Set<string>();
  for (const p of programs.values()) {
    const c = programConditions(p);
    for (const k of c.keys) keys.add(k);
    for (const id of c.namedSets) namedSets.add(id);
  }
  const rawRegions = computeRegions(state, keys, namedSets);
  const liveSigs = new Set([...rawRegions.values()].map((r) => r.sig));
  for (const sig of classIds.keys()) if (!liveSigs.has(sig)) classIds.delete(sig);
  for (const sig of [...liveSigs].sort()) {
    if (!classIds.has(sig)) classIds.set(sig, nextClass++);
  }
  const regions = new Map<string, Region & { classId: number }>();
  for (const [id, r] of rawRegions) regions.set(id, { ...r, classId: classIds.get(r.sig)! });
  const classes = new Map<number, string>();
  for (const sig of liveSigs) classes.set(classIds.get(sig)!, sig);

  // 3. Slots: kept (same program) or a new version.
  const slots = new Map<string, SlotMemory>();
  let flipped = 0;
  for (const key of [...programs.keys()].sort()) {
    const program = programs.get(key)!;
    const fingerprint = JSON.stringify(program);
    const old = pm.slots.get(key);
    let id = slotIds.get(key);
    if (id === undefined) {
      id = nextSlot++;
      slotIds.set(key, id);
    }
    const kept = old !== undefined && old.fingerprint === fingerprint;
    if (old && !kept) flipped++;
    const rows = new Map<number, readonly Row[]>();
    for (const [cid, sig] of classes) rows.set(cid, (kept ? old.rows.get(cid) : undefined) ?? classRows(program, sig, policyNum));
    slots.set(key, {
      id,
      key,
      version: kept ? old.version : (old?.version ?? 0) + 1,
      flags: program.sportStarts.length > 1 ? SLOT_HAS_SPORT : 0,
      fingerprint,
      program,
      rows,
    });
  }
  for (const key of slotIds.keys()) if (!programs.has(key)) slotIds.delete(key);
  const removed = [...pm.slots.keys()].filter((k) => !slots.has(k));
  const needTransitions = flipped > 0 || removed.length > 0;

  // 4. Desired maps.
  const want = emptyMaps();
  const verdictEntries = (s: { id: number; version: number }, cid: number, rows: readonly Row[]): [Uint8Array, Uint8Array][] =>
    rows.map((r) => [encodeVerdictKey(s.id, s.version, cid, r.sport, r.bits, r.value), encodeVerdictValue(r.verdict)]);
  const sportEntries = (s: SlotMemory): [Uint8Array, Uint8Array][] => {
    if (s.flags === 0) return [];
    const st = s.program.sportStarts;
    const segs = st.map((lo, k) => ({ lo, hi: k + 1 < st.length ? st[k + 1]! - 1 : 0xffff, v: k, key: String(k) }));
    return prefixEntries(segs, 16).map((e) => [encodeSportKey(s.id, s.version, e.bits, e.value), encodeU32Value(e.v)]);
  };
  const put = (m: MapName, k: Uint8Array, v: Uint8Array): void => void want[m].set(hexKey(k), v);
  for (const [k, e] of endpoints) {
    want.endpoints.set(k, encodeEndpointValue(slots.get(e.ingress)!.id, slots.get(e.egress)!.id));
  }
  for (const s of slots.values()) {
    put('slots', encodeSlotKey(s.id), encodeSlotValue(s.version, s.flags));
    for (const [k, v] of sportEntries(s)) put('sports', k, v);
    for (const [cid, rows] of s.rows) for (const [k, v] of verdictEntries(s, cid, rows)) put('verdicts', k, v);
  }
  for (const r of regions.values()) put('classes', encodeClassKey(r.addr, r.prefix), encodeU32Value(r.classId));

  // 5. Ordered writes.
  const writes: MapWrite[] = [];
  const work = applyWrites(prev.maps, []);
  const emit = (map: MapName, op: 'update' | 'delete', key: Uint8Array, value?: Uint8Array): void => {
    const w: MapWrite = op === 'update' ? { map, op, key, value: value! } : { map, op, key };
    writes.push(w);
    applyWrites(work, [w], true);
  };
  const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
  const emitIfChanged = (map: MapName, key: Uint8Array, value: Uint8Array): void => {
    if (!same(work[map].get(hexKey(key)), value)) emit(map, 'update', key, value);
  };

  // Region moves.
  type Move = { region: Region; from: number; to: number; del: boolean };
  const moves: Move[] = [];
  for (const [id, r] of regions) {
    const o = pm.regions.get(id);
    const from = o ? o.classId : pm.regions.size > 0 ? longestContaining(pm.regions.values(), r).classId : 0;
    if (!o || o.classId !== r.classId) moves.push({ region: r, from, to: r.classId, del: false });
  }
  for (const [id, o] of pm.regions) {
    if (!regions.has(id)) moves.push({ region: o, from: o.classId, to: longestContaining(regions.values(), o).classId, del: true });
  }
  const transition = new Map<string, number>();
  if (needTransitions) {
    for (const m of moves) {
      if (m.from === 0) continue;
      const k = `${m.from}>${m.to}`;
      if (!transition.has(k)) transition.set(k, nextClass++);
    }
  }

  // Phase 1: rows first.
  const oldSlotById = new Map([...pm.slots.values()].map((s) => [s.key, s]));
  for (const s of slots.values()) {
    const old = oldSlotById.get(s.key);
    const kept = old !== undefined && old.version === s.version;
    for (const [k, v] of sportEntries(s)) emitIfChanged('sports', k, v);
    for (const [cid, rows] of s.rows) {
      if (kept && pm.classes.has(cid)) continue;
      for (const [k, v] of verdictEntries(s, cid, rows)) emitIfChanged('verdicts', k, v);
    }
    for (const [pair, t] of transition) {
      const [from, to] = pair.split('>').map(Number) as [number, number];
      if (old) for (const [k, v] of verdictEntries(old, t, old.rows.get(from) ?? [])) emit('verdicts', 'update', k, v);
      if (!kept) for (const [k, v] of verdictEntries(s, t, s.rows.get(to) ?? [])) emit('verdicts', 'update', k, v);
    }
    if (!old) emit('slots', 'update', encodeSlotKey(s.id), encodeSlotValue(s.version, s.flags));
  }
  for (const key of removed) {
    const old = pm.slots.get(key)!;
    for (const [pair, t] of transition) {
      const from = Number(pair.split('>')[0]);
      for (const [k, v] of verdictEntries(old, t, old.rows.get(from) ?? [])) emit('verdicts', 'update', k, v);
    }
  }

  // Phase 2: LPM moves (longest first for updates, shortest first for deletes).
  const byLenDesc = [...moves].sort((a, b) => b.region.prefix - a.region.prefix);
  const classKey = (m: Move): Uint8Array => encodeClassKey(m.region.addr, m.region.prefix);
  const finalMoves = (): void => {
    for (const m of byLenDesc) if (!m.del) emit('classes', 'update', classKey(m), encodeU32Value(m.to));
    for (const m of [...byLenDesc].reverse()) if (m.del) emit('classes', 'delete', classKey(m));
  };
  if (transition.size > 0) {
    for (const m of byLenDesc) {
      const t = m.from === 0 ? m.to : transition.get(`${m.from}>${m.to}`)!;
      emit('classes', 'update', classKey(m), encodeU32Value(t));
    }
  } else {
    finalMoves();
  }

  // Phase 3: version flips, endpoint entries.
  for (const s of slots.values()) emitIfChanged('slots', encodeSlotKey(s.id), encodeSlotValue(s.version, s.flags));
  for (const [k, v] of want.endpoints) {
    const key = Buffer.from(k, 'hex');
    emitIfChanged('endpoints', new Uint8Array(key), v);
  }
  for (const k of prev.maps.endpoints.keys()) if (!want.endpoints.has(k)) emit('endpoints', 'delete', new Uint8Array(Buffer.from(k, 'hex')));

  // Phase 4: transition classes to final classes.
  if (transition.size > 0) finalMoves();

  // Phase 5: garbage (unreachable now).
  for (const name of ['slots', 'sports', 'verdicts', 'classes'] as const) {
    for (const k of [...work[name].keys()]) if (!want[name].has(k)) emit(name, 'delete', new Uint8Array(Buffer.from(k, 'hex')));
  }
  for (const name of MAP_NAMES) {
    for (const [k, v] of want[name]) if (!same(work[name].get(k), v)) throw new Error(`ebpf compile: internal: ${name} entry ${k} not written in order`);
  }

  return {
    tables: {
      maps: want,
      memory: { slotIds, nextSlot, classIds, nextClass, policyNums, slots, regions, classes, endpoints },
    },
    writes,
    stats: { slots: slots.size, classes: classes.size, flipped, transitions: transition.size },
  };
}

/** Numeric policy id -> name (for decoding verdict values and ring-buffer events). */
export function policyNames(memory: CompilerMemory): Map<number, string> {
  return new Map([...memory.policyNums].map(([name, n]) => [n, name]));
}
