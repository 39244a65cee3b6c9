/**
 * The policy compiler: Engine dataplane state -> the five maps, as an ordered, gap-free diff
 * of map writes from the previous tables. Ids (slots, classes, policies) are allocated stably
 * in `CompilerMemory`, so a label change moves only LPM entries (plus rows for a brand-new
 * class) and a policy edit rewrites only the affected slots under a new version.
 *
 * Write order (see docs/ebpf-datapath.md):
 *   1 rows and sport rows of new slot versions; rows of new classes under kept versions; rows of
 *     transition classes; records of new slots
 *   2 LPM entries move (directly, or to a transition class when a slot that flips or goes away
 *     would give a moving region neither its old nor its new verdict in between: `directMoveSafe`)
 *   3 slot version flips; endpoint entries added, changed, removed
 *   4 LPM entries move from their transition class to their final class
 *   5 everything no longer reachable is deleted
 *
 * Incremental in work too: slot programs are reused while the reads they recorded (`SlotDeps`)
 * still hold, kept slots keep their rows, regions are updated from the sets that changed
 * (`region-index.ts`), and the new maps are layers of changes over the previous ones
 * (`layered-map.ts`), so a label change costs O(slots + changed members + written rows), not
 * O(rules) or O(regions).
 */
import { type CompiledPolicy, type CompiledProfile, type DataplaneState, type IpAddr, formatIp, parseIp } from '@gingham/core';
import { wireAddr } from '../addr.js';
import {
  emptyMaps,
  encodeClassKey,
  ENDPOINT_HOST,
  ENDPOINT_WORKLOAD,
  encodeEndpointKey,
  encodeEndpointValue,
  encodeIfaceKey,
  encodeSlotKey,
  encodeSlotValue,
  encodeSportKey,
  encodeU32Value,
  encodeVerdictKey,
  encodeVerdictValue,
  hexKey,
  type MapName,
  type MapWrite,
  SLOT_HAS_SPORT,
  type TableMaps,
  type WriteSink,
} from '../wire.js';
import { classKeyOfId, IdRegion, type Region } from './classes.js';
import { type ClassedRegion, ClassedRegions } from './classed-regions.js';
import { LayeredMap } from './layered-map.js';
import { emptyRegionIndex, type RegionIndex, updateRegions } from './region-index.js';
import { forwardEntries, forwardSlots, type FwdSlotMemory, hostBindings, type HostFacts, ifaceTable, planForwardSlot } from './forward.js';
import { classRows, type Row } from './evaluate.js';
import { prefixEntries } from './prefixes.js';
import { type EndpointState, type Program, programConditions, type ProgramReads, slotProgram, stateReads } from './program.js';

/**
 * What a slot program read from the state besides its key (endpoint, direction, local address),
 * with the answers: a later compile keeps the program when every entry still holds. Objects
 * (endpoint, policies, profiles) are compared by identity, then structurally; IP set facts are
 * kept as values, because core's `applyMessage` edits member Sets in place.
 */
export interface SlotDeps {
  readonly endpoint: EndpointState;
  /** Policy / profile id -> the object read (undefined: absent). */
  readonly policies: ReadonlyMap<string, CompiledPolicy | undefined>;
  readonly profiles: ReadonlyMap<string, CompiledProfile | undefined>;
  /** Set id -> whether the local address is in it (local-side selectors). */
  readonly inSet: ReadonlyMap<string, boolean>;
  /** Set id -> the local address's named ports in it (local-side named ports). */
  readonly localNamed: ReadonlyMap<string, readonly (readonly [number, number])[]>;
  /** Set id -> every port of that named-port set (source-port class starts). */
  readonly peerNamed: ReadonlyMap<string, readonly number[]>;
}

export interface SlotMemory {
  readonly id: number;
  readonly key: string;
  readonly version: number;
  readonly flags: number;
  readonly program: Program;
  readonly deps: SlotDeps;
  /** Peer condition keys and named-port sets the program references (`programConditions`). */
  readonly conds: { readonly keys: readonly string[]; readonly namedSets: readonly string[] };
  /** Verdict rows of the active version, per live class id. */
  readonly rows: ReadonlyMap<number, readonly Row[]>;
  /** The program as JSON: slots with equal programs (endpoints with the same policies) share rows. */
  readonly print: string;
}

/** What the compiler remembers between runs (never written to the kernel). */
export interface CompilerMemory {
  readonly slotIds: ReadonlyMap<string, number>;
  readonly nextSlot: number;
  readonly classIds: ReadonlyMap<string, number>;
  readonly nextClass: number;
  readonly policyNums: ReadonlyMap<string, number>;
  readonly slots: ReadonlyMap<string, SlotMemory>;
  /** LPM regions by prefix id, with their class id (a view over `regionIndex` and `classIds`). */
  readonly regions: ReadonlyMap<string, ClassedRegion>;
  /** What the regions were computed from, for the next compile's incremental update. */
  readonly regionIndex: RegionIndex;
  /** Live class signature -> how many regions have it. */
  readonly sigCounts: ReadonlyMap<string, number>;
  /** Live class id -> signature. */
  readonly classes: ReadonlyMap<number, string>;
  /** Endpoint map: hex key -> address text and slot keys. */
  readonly endpoints: ReadonlyMap<string, { readonly addr: string; readonly ingress: string; readonly egress: string }>;
  /** Forwarding slots of host endpoints, by key (`fwd-in|h:<id>`, `fwd-out|…`, `pre-in|…`). */
  readonly fwdSlots: ReadonlyMap<string, FwdSlotMemory>;
  /**
   * The two small kernel maps as written (one entry per local address, per interface with a host
   * endpoint); the others are derived from the slots, regions and forwarding slots on demand.
   */
  readonly direct: Readonly<Pick<TableMaps, 'endpoints' | 'ifaces'>>;
}

export interface Tables {
  /**
   * The content of every kernel map after the writes that produced these tables. Derived from
   * `memory` on first use and kept (the compiler itself never reads it: at 100k addresses a
   * mirror of the classes map alone is ~100k hex strings and byte arrays the dataplane would
   * hold for nothing); tests, the simulator and benches read it.
   */
  readonly maps: TableMaps;
  readonly memory: CompilerMemory;
}

/** The maps of tables whose `maps` has been read. */
const derived = new WeakMap<Tables, TableMaps>();

/**
 * Tables over `memory`, with `maps` derived when first read: from `from` (the previous tables'
 * maps, already derived, and the writes from them) as layers of changes, else from `memory`. The
 * writes are kept only in the first case (tests and the simulator, which read every tables' maps);
 * the dataplane never reads them, so it never holds a diff past its apply.
 */
export function tablesOf(memory: CompilerMemory, from?: { readonly maps: TableMaps; readonly writes: readonly MapWrite[] }): Tables {
  let base = from;
  const t: Tables = {
    memory,
    get maps() {
      let m = derived.get(t);
      if (!m) {
        m = base ? layered(base.maps, base.writes) : kernelMaps(memory);
        derived.set(t, m);
        base = undefined;
      }
      return m;
    },
  };
  return t;
}

/** `maps` with `writes` applied, as layers over the maps they change (`maps` is not modified). */
function layered(maps: TableMaps, writes: readonly MapWrite[]): TableMaps {
  const out: TableMaps = { ...maps };
  const own = new Set<MapName>();
  for (const w of writes) {
    if (!own.has(w.map)) {
      out[w.map] = LayeredMap.over(maps[w.map]);
      own.add(w.map);
    }
    if (w.op === 'update') out[w.map].set(hexKey(w.key), w.value!);
    else out[w.map].delete(hexKey(w.key));
  }
  return out;
}

function verdictEntries(s: { readonly id: number; readonly version: number }, cid: number, rows: readonly Row[]): [Uint8Array, Uint8Array][] {
  return rows.map((r) => [encodeVerdictKey(s.id, s.version, cid, r.sport, r.bits, r.value), encodeVerdictValue(r.verdict)]);
}

function sportEntries(s: SlotMemory): [Uint8Array, Uint8Array][] {
  if (s.flags === 0) return [];
  const st = s.program.sportStarts;
  const segs = st.map((lo, k) => ({ lo, hi: k + 1 < st.length ? st[k + 1]! - 1 : 0xffff, v: k, key: String(k) }));
  return prefixEntries(segs, 16).map((e) => [encodeSportKey(s.id, s.version, e.bits, e.value), encodeU32Value(e.v)]);
}

export interface CompileOptions {
  /**
   * The IP sets whose members may differ from the state `prev` was compiled from (a set deleted,
   * replaced or edited since). Undefined: any set may have changed (every referenced set's
   * members are compared with what `prev` saw). A set missing here that did change leaves stale
   * LPM entries: pass exactly what the messages since `prev` touched, or nothing.
   */
  readonly dirtySets?: ReadonlySet<string>;
  /**
   * The policy and profile ids upserted or removed since `prev` (their objects may differ).
   * Given together with `dirtySets`, a slot program is checked against its recorded reads only
   * when its endpoint object changed or it read one of these ids or sets (O(slots × dirty ids)
   * instead of O(every recorded read)); otherwise every recorded read is compared. The same
   * contract as `dirtySets`: an id missing here whose object did change keeps a stale program.
   */
  readonly dirtyPolicies?: ReadonlySet<string>;
  /**
   * For a set in `dirtySets`: the members added or removed since `prev` (a superset is fine; a
   * set replaced or deleted is left out and compared in full). Saves comparing every member.
   */
  readonly dirtyMembers?: ReadonlyMap<string, ReadonlySet<string>>;
  readonly dirtyProfiles?: ReadonlySet<string>;
}

/** Above this many dirty ids, every recorded read is compared instead (cheaper than the has() checks). */
const MAX_DIRTY_HINTS = 64;

/** Whether slot deps `d` (of an unchanged endpoint object) may read something a dirty id changed. */
function readsDirty(d: SlotDeps, hints: { readonly sets: ReadonlySet<string>; readonly policies: ReadonlySet<string>; readonly profiles: ReadonlySet<string> }): boolean {
  for (const id of hints.policies) if (d.policies.has(id)) return true;
  for (const id of hints.profiles) if (d.profiles.has(id)) return true;
  if (d.inSet.size + d.localNamed.size + d.peerNamed.size === 0) return false;
  for (const id of hints.sets) if (d.inSet.has(id) || d.localNamed.has(id) || d.peerNamed.has(id)) return true;
  return false;
}

export interface CompileResult {
  readonly tables: Tables;
  /** Ordered writes turning the previous tables' maps into `tables.maps`. */
  readonly writes: readonly MapWrite[];
  /** `reused`: slots whose program was kept without being rebuilt (their recorded reads held). */
  readonly stats: { readonly slots: number; readonly classes: number; readonly flipped: number; readonly transitions: number; readonly reused: number };
}

/**
 * Hex keys and values of a slot version's rows (by its rows map, which a kept slot shares with
 * the previous compile) and of a region's classes entry (by its region object, shared while
 * unchanged): encoded once however many tables derive their maps.
 */
const rowEntries = new WeakMap<object, { readonly id: number; readonly version: number; readonly entries: readonly (readonly [string, Uint8Array])[] }>();
const regionEntries = new WeakMap<object, readonly [string, Uint8Array, number]>();

/**
 * What the kernel maps hold once a compile's writes are applied, from its memory: every slot's
 * record, source-port entries and rows (per live class), every forwarding slot's record and
 * entries, one classes entry per region, and the endpoints and ifaces maps as written. Rows and
 * regions shared with earlier tables are not encoded again (`rowEntries`, `regionEntries`), so
 * deriving the maps of a chain of compiles, as the tests do, costs mostly map inserts.
 */
function kernelMaps(memory: CompilerMemory): TableMaps {
  const maps = emptyMaps();
  const set = (m: MapName, k: Uint8Array, v: Uint8Array): void => void maps[m].set(hexKey(k), v);
  for (const [k, v] of memory.direct.endpoints) maps.endpoints.set(k, v);
  for (const [k, v] of memory.direct.ifaces) maps.ifaces.set(k, v);
  for (const s of memory.slots.values()) {
    set('slots', encodeSlotKey(s.id), encodeSlotValue(s.version, s.flags));
    for (const [k, v] of sportEntries(s)) set('sports', k, v);
    let e = rowEntries.get(s.rows);
    if (!e || e.id !== s.id || e.version !== s.version) {
      const entries: (readonly [string, Uint8Array])[] = [];
      for (const [cid, rows] of s.rows) for (const [k, v] of verdictEntries(s, cid, rows)) entries.push([hexKey(k), v]);
      rowEntries.set(s.rows, (e = { id: s.id, version: s.version, entries }));
    }
    for (const [k, v] of e.entries) maps.verdicts.set(k, v);
  }
  for (const f of memory.fwdSlots.values()) {
    set('slots', encodeSlotKey(f.id), encodeSlotValue(f.version, f.flags));
    for (const e of f.entries) set(e.map, e.key, e.value);
  }
  for (const r of memory.regionIndex.regions.values()) {
    const classId = memory.classIds.get(r.sig)!;
    let e = regionEntries.get(r);
    if (!e || e[2] !== classId) regionEntries.set(r, (e = [hexKey(encodeClassKey(r.addr, r.prefix)), encodeU32Value(classId), classId]));
    maps.classes.set(e[0], e[1]);
  }
  return maps;
}

export function emptyTables(): Tables {
  return tablesOf({
    slotIds: new Map(),
    nextSlot: 1,
    classIds: new Map(),
    nextClass: 1,
    policyNums: new Map(),
    slots: new Map(),
    regions: new ClassedRegions(new Map(), new Map()),
    regionIndex: emptyRegionIndex(),
    sigCounts: new Map(),
    classes: new Map(),
    endpoints: new Map(),
    fwdSlots: new Map(),
    direct: { endpoints: new Map(), ifaces: new Map() },
  });
}

function hostIp(cidr: string): IpAddr | undefined {
  return parseIp(cidr.split('/')[0]!);
}

function byId<T extends { id: string }>(m: Map<string, T>): T[] {
  return [...m.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Address -> owning endpoint, as the model resolves a peer address (workloads by id, then host
 * endpoints by expected IP, then the node's own addresses for its all-interfaces endpoint: the
 * model treats those as the host too).
 */
function owners(state: DataplaneState, stars: ReadonlyMap<string, EndpointState>): Map<string, { ip: IpAddr; e: EndpointState; kind: 'w' | 'h' }> {
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
  for (const [node, star] of [...stars].sort()) claim(star, 'h', state.hosts.get(node)?.addresses ?? []);
  return out;
}

/** The region of the longest prefix strictly above prefix id `id` (the family root at least). */
function enclosing<R>(regions: ReadonlyMap<string, R>, id: string): R {
  for (let len = id.length - 3; len >= 0; len--) {
    const r = regions.get(id.slice(0, 2 + len));
    if (r) return r;
  }
  throw new Error(`compiler: no region encloses ${id}`);
}

/**
 * Whether moving a region from class `from` to class `to` before the slot flips and removals of
 * phase 3 keeps every flow old-or-new: between the two writes a flipped slot's old version sees
 * `to`, which must give what it gave for `from` (the old verdict) or what the new version gives
 * for `to` (the new verdict, same source-port classes); a removed slot must give its old verdict.
 */
function directMoveSafe(from: number, to: number, flipped: readonly string[], removed: readonly string[], before: ReadonlyMap<string, SlotMemory>, after: ReadonlyMap<string, SlotMemory>): boolean {
  for (const key of flipped) {
    const o = before.get(key)!;
    const mid = o.rows.get(to);
    if (mid === undefined) return false;
    if (deepEqual(mid, o.rows.get(from))) continue;
    const n = after.get(key)!;
    if (deepEqual(o.program.sportStarts, n.program.sportStarts) && deepEqual(mid, n.rows.get(to))) continue;
    return false;
  }
  for (const key of removed) {
    const o = before.get(key)!;
    const mid = o.rows.get(to);
    if (mid === undefined || !deepEqual(mid, o.rows.get(from))) return false;
  }
  return true;
}

/**
 * Structural equality of JSON-like values (plain objects by their enumerable keys, a missing key
 * differing from an undefined one; arrays element-wise).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      const x: unknown = a[i];
      const y: unknown = b[i];
      if (x !== y && !deepEqual(x, y)) return false;
    }
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let n = 0;
  for (const k in ra) {
    n++;
    const x = ra[k];
    const y = rb[k];
    if (x === y) {
      if (x === undefined && !(k in rb)) return false;
    } else if (!deepEqual(x, y)) return false;
  }
  for (const _ in rb) n--;
  return n === 0;
}

/**
 * `old`'s program still holds for endpoint `e` at `local` when every read it recorded answers
 * the same now. Returns the deps re-pointed at the current objects (so the next check is by
 * identity), or undefined when something changed.
 */
function depsHold(old: SlotDeps, e: EndpointState, local: IpAddr, reads: ProgramReads, same: (a: object, b: object) => boolean): SlotDeps | undefined {
  let fresh = old.endpoint !== e;
  if (fresh && !same(old.endpoint, e)) return undefined;
  const objects = (m: ReadonlyMap<string, object | undefined>, get: (id: string) => object | undefined): boolean => {
    for (const [id, o] of m) {
      const now = get(id);
      if (now === o) continue;
      if (now === undefined || o === undefined || !same(o, now)) return false;
      fresh = true;
    }
    return true;
  };
  if (!objects(old.policies, reads.policy) || !objects(old.profiles, reads.profile)) return undefined;
  for (const [id, v] of old.inSet) if (reads.inSet(id, local) !== v) return undefined;
  for (const [id, v] of old.localNamed) if (!deepEqual(reads.localNamedPorts(id, local), v)) return undefined;
  for (const [id, v] of old.peerNamed) if (!deepEqual(reads.peerNamedPorts(id), v)) return undefined;
  if (!fresh) return old;
  const current = <T>(m: ReadonlyMap<string, T | undefined>, get: (id: string) => T | undefined): Map<string, T | undefined> => new Map([...m.keys()].map((id) => [id, get(id)]));
  return { ...old, endpoint: e, policies: current(old.policies, reads.policy), profiles: current(old.profiles, reads.profile) };
}

/** `reads`, recording every answer into a `SlotDeps` for `e`. */
function recording(reads: ProgramReads, e: EndpointState): { reads: ProgramReads; deps: SlotDeps } {
  const deps = { endpoint: e, policies: new Map(), profiles: new Map(), inSet: new Map(), localNamed: new Map(), peerNamed: new Map() };
  const record = <T>(m: Map<string, T>, id: string, v: T): T => {
    m.set(id, v);
    return v;
  };
  return {
    deps,
    reads: {
      policy: (id) => record(deps.policies, id, reads.policy(id)),
      profile: (id) => record(deps.profiles, id, reads.profile(id)),
      inSet: (id, addr) => record(deps.inSet, id, reads.inSet(id, addr)),
      localNamedPorts: (id, addr) => record(deps.localNamed, id, reads.localNamedPorts(id, addr)),
      peerNamedPorts: (id) => record(deps.peerNamed, id, reads.peerNamedPorts(id)),
    },
  };
}

type DirectMaps = CompilerMemory['direct'];
type DirectName = keyof DirectMaps;
const isDirect = (m: MapName): m is DirectName => m === 'endpoints' || m === 'ifaces';

/** Copy-on-write view of the previous direct maps: a map is copied on its first change. */
function cowMaps(base: DirectMaps): { maps: DirectMaps; set(m: DirectName, k: string, v: Uint8Array): void; delete(m: DirectName, k: string): void } {
  const maps: { -readonly [K in DirectName]: DirectMaps[K] } = { ...base };
  const copied = new Set<DirectName>();
  const own = (m: DirectName): Map<string, Uint8Array> => {
    if (!copied.has(m)) {
      maps[m] = LayeredMap.over(base[m]);
      copied.add(m);
    }
    return maps[m] as Map<string, Uint8Array>;
  };
  return { maps, set: (m, k, v) => void own(m).set(k, v), delete: (m, k) => void own(m).delete(k) };
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array): boolean => {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * Compiles `state` against the previous tables (default: empty), returning the new tables and
 * the ordered writes. Pure: `prev` is not modified (the new tables share unchanged maps, rows
 * and programs with it; nothing here or in the dataplane mutates a table's maps).
 *
 * Incremental in work, not only in writes: a slot whose recorded reads (`SlotDeps`) still hold
 * keeps its program, and its rows for every class that stays; the writes are only the changed
 * parts (new and flipped slots, new and dead classes, moved regions), so a label change that
 * moves an address between existing classes costs O(slots + regions), not O(rules). The maps
 * those writes produce are not built here: `tables.maps` derives them from the memory when read.
 */
export function compile(state: DataplaneState, prev: Tables = emptyTables(), facts: HostFacts = {}, options: CompileOptions = {}): CompileResult {
  const writes: MapWrite[] = [];
  const run = compileRun(state, prev, facts, options, (map, op, key, value) => {
    writes.push(op === 'update' ? { map, op, key, value: value! } : { map, op, key });
  });
  return { tables: tablesOf(run.memory, derivedMaps(prev, writes)), writes, stats: run.stats };
}

/** What `compileInto` returns: the tables and the number of writes it passed on. */
export interface CompileIntoResult {
  readonly tables: Tables;
  readonly writes: number;
  readonly stats: CompileResult['stats'];
}

/**
 * `compile`, with each write handed to `sink` in order as it is produced instead of collected
 * (the same writes, in the same order). For a diff written at once to maps no program reads
 * yet (a new generation's full fill: `createTableWriter`), so that no write outlives its turn;
 * a sink that throws stops the compile there. The returned tables derive their maps from the
 * memory when read.
 */
export function compileInto(state: DataplaneState, sink: WriteSink, prev: Tables = emptyTables(), facts: HostFacts = {}, options: CompileOptions = {}): CompileIntoResult {
  let n = 0;
  const run = compileRun(state, prev, facts, options, (map, op, key, value) => {
    n++;
    sink(map, op, key, value);
  });
  return { tables: tablesOf(run.memory), writes: n, stats: run.stats };
}

function compileRun(state: DataplaneState, prev: Tables, facts: HostFacts, options: CompileOptions, emit: WriteSink): { memory: CompilerMemory; stats: CompileResult['stats'] } {
  const pm = prev.memory;
  const bindings = hostBindings(state, facts);
  const slotIds = LayeredMap.over(pm.slotIds);
  let nextSlot = pm.nextSlot;
  const classIds = new Map(pm.classIds);
  let nextClass = pm.nextClass;
  const policyNums = LayeredMap.over(pm.policyNums);
  const policyNum = (name: string): number => {
    let n = policyNums.get(name);
    if (n === undefined) {
      n = policyNums.size;
      policyNums.set(name, n);
    }
    return n;
  };
  const reads = stateReads(state);
  // Structural comparisons of (old, new) object pairs, once per compile (slots share policies).
  const compared = new Map<object, Map<object, boolean>>();
  const same = (a: object, b: object): boolean => {
    let m = compared.get(b);
    if (!m) compared.set(b, (m = new Map()));
    let v = m.get(a);
    if (v === undefined) m.set(a, (v = deepEqual(a, b)));
    return v;
  };

  // 1. Endpoint map and slot programs (kept when their recorded reads still hold; with dirty
  // hints, only slots whose endpoint object changed or that read a dirty id are compared).
  const hints =
    options.dirtySets && options.dirtyPolicies && options.dirtyProfiles && options.dirtySets.size + options.dirtyPolicies.size + options.dirtyProfiles.size <= MAX_DIRTY_HINTS
      ? { sets: options.dirtySets, policies: options.dirtyPolicies, profiles: options.dirtyProfiles }
      : undefined;
  const endpoints = new Map<string, { addr: string; ingress: string; egress: string }>();
  const built = new Map<string, { program: Program; print: string; deps: SlotDeps; conds: SlotMemory['conds']; reused: boolean }>();
  /** Programs by their text: this compile's, then (on the first miss) the previous slots'. */
  const programs = new Map<string, { readonly program: Program; readonly print: string; readonly conds: SlotMemory['conds'] }>();
  let programsFromPrev = false;
  const endpointFlags = new Map<string, number>();
  for (const [text, o] of owners(state, bindings.stars)) {
    const keys = { ingress: `ingress|${o.kind}:${o.e.id}|${text}`, egress: `egress|${o.kind}:${o.e.id}|${text}` };
    for (const dir of ['ingress', 'egress'] as const) {
      const old = pm.slots.get(keys[dir]);
      const deps = old && (hints && old.deps.endpoint === o.e && !readsDirty(old.deps, hints) ? old.deps : depsHold(old.deps, o.e, o.ip, reads, same));
      if (old && deps) {
        built.set(keys[dir], { program: old.program, print: old.print, deps, conds: old.conds, reused: true });
        continue;
      }
      const rec = recording(reads, o.e);
      const fresh = slotProgram(rec.reads, o.e, dir, o.ip);
      const print = JSON.stringify(fresh);
      // Endpoints with the same policies get equal programs: one object, text and condition list
      // for all of them (at 250 local endpoints × 200 rules, ~40 MiB less than one per slot).
      let equal = programs.get(print);
      if (equal === undefined) {
        if (!programsFromPrev) {
          programsFromPrev = true;
          for (const s of pm.slots.values()) if (!programs.has(s.print)) programs.set(s.print, s);
          equal = programs.get(print);
        }
        if (equal === undefined) {
          const c = programConditions(fresh);
          programs.set(print, (equal = { program: fresh, print, conds: { keys: [...c.keys], namedSets: [...c.namedSets] } }));
        }
      }
      built.set(keys[dir], { program: equal.program, print: equal.print, deps: rec.deps, conds: equal.conds, reused: false });
    }
    const ek = hexKey(encodeEndpointKey(wireAddr(o.ip)));
    endpoints.set(ek, { addr: text, ...keys });
    endpointFlags.set(ek, o.kind === 'w' ? ENDPOINT_WORKLOAD : ENDPOINT_HOST);
  }

  // 2. Peer classes over every condition any program references.
  const condKeys = new Set<string>();
  const namedSets = new Set<string>();
  for (const b of built.values()) {
    for (const k of b.conds.keys) condKeys.add(k);
    for (const id of b.conds.namedSets) namedSets.add(id);
  }
  const { index: regionIndex, changed: changedRegions } = updateRegions(pm.regionIndex, state, condKeys, namedSets, options.dirtySets, options.dirtyMembers);
  let sigCounts = pm.sigCounts;
  if (changedRegions.length > 0) {
    const counts = new Map(pm.sigCounts);
    for (const id of changedRegions) {
      const before = pm.regionIndex.regions.get(id)?.sig;
      const after = regionIndex.regions.get(id)?.sig;
      if (before !== undefined) {
        const n = counts.get(before)! - 1;
        if (n === 0) counts.delete(before);
        else counts.set(before, n);
      }
      if (after !== undefined) counts.set(after, (counts.get(after) ?? 0) + 1);
    }
    sigCounts = counts;
  }
  for (const sig of classIds.keys()) if (!sigCounts.has(sig)) classIds.delete(sig);
  for (const sig of [...sigCounts.keys()].filter((x) => !classIds.has(x)).sort()) classIds.set(sig, nextClass++);
  // A region whose signature stayed keeps its class id (a live signature keeps its id).
  // The regions with their class ids: a view, not a copy (a live signature keeps its class id).
  const regions = new ClassedRegions(regionIndex.regions, classIds);
  const classes = new Map<number, string>();
  for (const sig of sigCounts.keys()) classes.set(classIds.get(sig)!, sig);
  const newClasses = [...classes.keys()].filter((cid) => !pm.classes.has(cid));
  const deadClasses = [...pm.classes.keys()].filter((cid) => !classes.has(cid));
  const sameClasses = newClasses.length === 0 && deadClasses.length === 0;

  // 3. Slots: kept (same program) or a new version.
  const slots = new Map<string, SlotMemory>();
  const keptKeys = new Set<string>();
  let flipped = 0;
  // Rows by program text, computed in this compile; and the previous slots' rows by program text
  // (a class id keeps its signature while live, so their rows hold for every class still live).
  const shared = new Map<string, ReadonlyMap<number, readonly Row[]>>();
  let earlier: Map<string, ReadonlyMap<number, readonly Row[]>> | undefined;
  for (const key of [...built.keys()].sort()) {
    const { program, print, deps, conds, reused } = built.get(key)!;
    const old = pm.slots.get(key);
    let id = slotIds.get(key);
    if (id === undefined) {
      id = nextSlot++;
      slotIds.set(key, id);
    }
    const kept = old !== undefined && (reused || deepEqual(old.program, program));
    if (old && !kept) flipped++;
    if (kept) keptKeys.add(key);
    let rows: ReadonlyMap<number, readonly Row[]>;
    if (kept && sameClasses) rows = old.rows;
    else {
      let m = shared.get(print);
      if (m === undefined) {
        earlier ??= new Map([...pm.slots.values()].map((x) => [x.print, x.rows]));
        const donor = kept ? old.rows : earlier.get(print);
        const fresh = new Map<number, readonly Row[]>();
        for (const [cid, sig] of classes) fresh.set(cid, donor?.get(cid) ?? classRows(program, sig, policyNum));
        shared.set(print, (m = fresh));
      }
      rows = m;
    }
    // A slot nothing changed keeps its memory object (no garbage per compile for the hundreds kept).
    if (kept && deps === old.deps && conds === old.conds && rows === old.rows && id === old.id) {
      slots.set(key, old);
      continue;
    }
    slots.set(key, {
      id,
      key,
      version: kept ? old.version : (old?.version ?? 0) + 1,
      flags: program.sportStarts.length > 1 ? SLOT_HAS_SPORT : 0,
      program: kept ? old.program : program,
      deps,
      conds,
      rows,
      print: kept ? old.print : print,
    });
  }
  // 3b. Forwarding slots: kept (same programs and classes) or a whole new version.
  const fwdWanted = forwardSlots(bindings);
  const fwdSlots = new Map<string, FwdSlotMemory>();
  const fwdKept = new Set<string>();
  for (const key of [...fwdWanted.keys()].sort()) {
    const { h, kind } = fwdWanted.get(key)!;
    const old = pm.fwdSlots.get(key);
    const plan = planForwardSlot(state, reads, h, kind, old?.cache);
    let id = slotIds.get(key);
    if (id === undefined) {
      id = nextSlot++;
      slotIds.set(key, id);
    }
    if (old && old.fingerprint === plan.fingerprint) {
      fwdSlots.set(key, old.cache === plan.cache ? old : { ...old, cache: plan.cache });
      fwdKept.add(key);
      continue;
    }
    const version = (old?.version ?? 0) + 1;
    const { entries, flags } = forwardEntries(plan, id, version, policyNum);
    fwdSlots.set(key, { key, id, version, flags, fingerprint: plan.fingerprint, classes: { S: plan.sides.S.classes, D: plan.sides.D.classes }, entries, cache: plan.cache });
  }
  const fwdRemoved = [...pm.fwdSlots.keys()].filter((k) => !fwdSlots.has(k));

  for (const key of slotIds.keys()) if (!built.has(key) && !fwdWanted.has(key)) slotIds.delete(key);
  const removed = [...pm.slots.keys()].filter((k) => !slots.has(k));

  // 4. Desired maps: the previous maps plus the changes, as ordered writes.
  const want = cowMaps(pm.direct);
  /** A write that is also part of the final maps (the direct maps keep it; the others are derived from memory). */
  const put = (map: MapName, key: Uint8Array, value: Uint8Array): void => {
    emit(map, 'update', key, value);
    if (isDirect(map)) want.set(map, hexKey(key), value);
  };
  /** A delete, also gone from the final maps. */
  const drop = (map: MapName, key: Uint8Array): void => {
    emit(map, 'delete', key);
    if (isDirect(map)) want.delete(map, hexKey(key));
  };

  // Region moves. A move holds the index's own region (its address derived only when its key is
  // encoded), not a classed copy: a first fill moves every region (100k at 100k addresses).
  type Move = { region: Region; from: number; to: number; del: boolean };
  const moves: Move[] = [];
  for (const id of changedRegions) {
    const r = regionIndex.regions.get(id);
    const o = pm.regions.get(id);
    if (r) {
      const to = classIds.get(r.sig);
      if (to === undefined) throw new Error(`compiler: no class for the live signature ${r.sig}`);
      if (o && o.classId === to) continue;
      const from = o ? o.classId : pm.regions.size > 0 ? enclosing(pm.regions, id).classId : 0;
      moves.push({ region: r, from, to, del: false });
    } else if (o) {
      moves.push({ region: o, from: o.classId, to: enclosing(regions, id).classId, del: true });
    }
  }
  // Moving regions straight to their final class before the flips is gap-free when every slot
  // that flips or goes away gives each moving region's flows their old or their new verdict in
  // between; otherwise the moving regions go through transition classes.
  const flippedKeys = [...slots.keys()].filter((k) => pm.slots.has(k) && !keptKeys.has(k));
  const needTransitions = moves.some((m) => m.from !== 0 && m.from !== m.to && !directMoveSafe(m.from, m.to, flippedKeys, removed, pm.slots, slots));
  const transition = new Map<string, number>();
  if (needTransitions) {
    for (const m of moves) {
      if (m.from === 0) continue;
      const k = `${m.from}>${m.to}`;
      if (!transition.has(k)) transition.set(k, nextClass++);
    }
  }
  const transitionPairs = [...transition].map(([pair, t]) => {
    const [from, to] = pair.split('>').map(Number) as [number, number];
    return { from, to, t };
  });
  /** Rows under transition classes: written in phase 1, deleted in phase 5. */
  const transient: Uint8Array[] = [];
  const transientRows = (s: { id: number; version: number }, t: number, rows: readonly Row[]): void => {
    for (const [k, v] of verdictEntries(s, t, rows)) {
      emit('verdicts', 'update', k, v);
      transient.push(k);
    }
  };

  // Phase 1: rows first.
  for (const s of slots.values()) {
    const old = pm.slots.get(s.key);
    const kept = keptKeys.has(s.key);
    if (!kept) {
      for (const [k, v] of sportEntries(s)) put('sports', k, v);
      for (const cid of classes.keys()) for (const [k, v] of verdictEntries(s, cid, s.rows.get(cid)!)) put('verdicts', k, v);
    } else {
      for (const cid of newClasses) for (const [k, v] of verdictEntries(s, cid, s.rows.get(cid)!)) put('verdicts', k, v);
    }
    for (const { from, to, t } of transitionPairs) {
      if (old) transientRows(old, t, old.rows.get(from) ?? []);
      if (!kept) transientRows(s, t, s.rows.get(to) ?? []);
    }
    if (!old) put('slots', encodeSlotKey(s.id), encodeSlotValue(s.version, s.flags));
  }
  for (const key of removed) {
    const old = pm.slots.get(key)!;
    for (const { from, t } of transitionPairs) transientRows(old, t, old.rows.get(from) ?? []);
  }
  for (const f of fwdSlots.values()) {
    if (fwdKept.has(f.key)) continue;
    for (const e of f.entries) put(e.map, e.key, e.value);
    if (!pm.fwdSlots.has(f.key)) put('slots', encodeSlotKey(f.id), encodeSlotValue(f.version, f.flags));
  }

  // Phase 2: LPM moves (longest first for updates, shortest first for deletes).
  // Sorted in place (a stable sort; `moves` is not read again): no second 100k-entry array on a first fill.
  const byLenDesc = moves.sort((a, b) => b.region.prefix - a.region.prefix);
  const classKey = (m: Move): Uint8Array => (m.region instanceof IdRegion ? classKeyOfId(m.region.id, m.region.prefix) : encodeClassKey(m.region.addr, m.region.prefix));
  /** The value of a classes entry, one array per class id (never modified: a sink copies what it keeps). */
  const classValues = new Map<number, Uint8Array>();
  const classValue = (c: number): Uint8Array => {
    let v = classValues.get(c);
    if (v === undefined) classValues.set(c, (v = encodeU32Value(c)));
    return v;
  };
  const finalMoves = (): void => {
    for (const m of byLenDesc) if (!m.del) put('classes', classKey(m), classValue(m.to));
    for (let i = byLenDesc.length - 1; i >= 0; i--) {
      const m = byLenDesc[i]!;
      if (m.del) drop('classes', classKey(m));
    }
  };
  if (transition.size > 0) {
    for (const m of byLenDesc) {
      const t = m.from === 0 ? m.to : transition.get(`${m.from}>${m.to}`)!;
      emit('classes', 'update', classKey(m), classValue(t));
    }
  } else {
    finalMoves();
  }

  // Phase 3: version flips, endpoint entries.
  for (const s of slots.values()) {
    if (pm.slots.has(s.key) && !keptKeys.has(s.key)) put('slots', encodeSlotKey(s.id), encodeSlotValue(s.version, s.flags));
  }
  for (const f of fwdSlots.values()) {
    if (pm.fwdSlots.has(f.key) && !fwdKept.has(f.key)) put('slots', encodeSlotKey(f.id), encodeSlotValue(f.version, f.flags));
  }
  const wantIfaces = ifaceTable(bindings, (key) => fwdSlots.get(key)?.id);
  for (const [ifindex, v] of wantIfaces) {
    const k = encodeIfaceKey(ifindex);
    if (!sameBytes(pm.direct.ifaces.get(hexKey(k)), v)) put('ifaces', k, v);
  }
  for (const k of pm.direct.ifaces.keys()) if (!wantIfaces.has(Buffer.from(k, 'hex').readUInt32LE(0))) drop('ifaces', new Uint8Array(Buffer.from(k, 'hex')));
  const wantEndpoints = new Map<string, Uint8Array>();
  for (const [k, e] of endpoints) {
    const v = encodeEndpointValue(slots.get(e.ingress)!.id, slots.get(e.egress)!.id, endpointFlags.get(k)!);
    wantEndpoints.set(k, v);
    if (!sameBytes(pm.direct.endpoints.get(k), v)) put('endpoints', new Uint8Array(Buffer.from(k, 'hex')), v);
  }
  for (const k of pm.direct.endpoints.keys()) if (!wantEndpoints.has(k)) drop('endpoints', new Uint8Array(Buffer.from(k, 'hex')));

  // Phase 4: transition classes to final classes.
  if (transition.size > 0) finalMoves();

  // Phase 5: garbage (unreachable now): records of removed slots, old versions' sport entries
  // and rows, rows of dead classes under kept versions, transition rows.
  for (const key of removed) drop('slots', encodeSlotKey(pm.slots.get(key)!.id));
  const gone = [...removed, ...[...slots.keys()].filter((k) => pm.slots.has(k) && !keptKeys.has(k))].map((k) => pm.slots.get(k)!);
  for (const old of gone) for (const [k] of sportEntries(old)) drop('sports', k);
  for (const old of gone) for (const [cid, rows] of old.rows) for (const [k] of verdictEntries(old, cid, rows)) drop('verdicts', k);
  for (const key of keptKeys) {
    const old = pm.slots.get(key)!;
    for (const cid of deadClasses) for (const [k] of verdictEntries(old, cid, old.rows.get(cid) ?? [])) drop('verdicts', k);
  }
  for (const k of transient) emit('verdicts', 'delete', k);
  for (const key of fwdRemoved) {
    const old = pm.fwdSlots.get(key)!;
    drop('slots', encodeSlotKey(old.id));
    for (const e of old.entries) drop(e.map, e.key);
  }
  for (const f of fwdSlots.values()) {
    const old = pm.fwdSlots.get(f.key);
    if (old && !fwdKept.has(f.key)) for (const e of old.entries) drop(e.map, e.key);
  }

  return {
    memory: { slotIds, nextSlot, classIds, nextClass, policyNums, slots, regions, regionIndex, sigCounts, classes, endpoints, fwdSlots, direct: want.maps },
    stats: { slots: slots.size, classes: classes.size, flipped, transitions: transition.size, reused: [...built.values()].filter((b) => b.reused).length },
  };
}

/** The previous tables' maps and these writes, when those maps were already derived (else nothing is kept). */
function derivedMaps(prev: Tables, writes: readonly MapWrite[]): { maps: TableMaps; writes: readonly MapWrite[] } | undefined {
  const maps = derived.get(prev);
  return maps ? { maps, writes } : undefined;
}

/** Numeric policy id -> name (for decoding verdict values and ring-buffer events). */
export function policyNames(memory: CompilerMemory): Map<number, string> {
  return new Map([...memory.policyNums].map(([name, n]) => [n, name]));
}
