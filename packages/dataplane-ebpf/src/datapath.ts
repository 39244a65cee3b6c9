/**
 * TypeScript side of the C datapath (bpf/gingham.bpf.c): where the object lives, the byte
 * layouts of the maps the program writes (conntrack, events, counters), and applying a
 * compiler diff to live maps. Maps are taken structurally (`update`/`delete`/`entries`), so this
 * module never loads the native binding itself and its pure parts run anywhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatIp, GinghamError, type IpAddr } from '@gingham/core';
import { parseWireAddr } from './addr.js';
import type { Packet } from './simulate.js';
import { hexKey, type MapName, type MapWrite, type WireAddr, type WriteSink } from './wire.js';

/** Stable codes of `DatapathError`. */
export type DatapathErrorCode =
  /** `bpf/gingham.bpf.o` is not where the package says (not built, or files stripped). */
  | 'DATAPATH_OBJECT_MISSING'
  /** A ring-buffer record, conntrack or counter entry of the wrong size or content. */
  | 'DATAPATH_BAD_RECORD'
  /** A map write of a compiler diff failed; `cause` is the loader's error. */
  | 'DATAPATH_WRITE_FAILED'
  /** `buildPacket`/`buildIcmpError` got addresses or options it cannot encode. */
  | 'DATAPATH_BAD_PACKET';

/** Errors of the datapath helpers (message prefix `gingham: `). */
export class DatapathError extends GinghamError {
  declare readonly code: DatapathErrorCode;

  constructor(code: DatapathErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@gingham/dataplane-ebpf') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    if (dirname(dir) === dir) return join(here, '..'); // src/ and dist/ both sit one level below the root
  }
}

/** Absolute path of the datapath object (`bpf/gingham.bpf.o` in this package). */
export const DATAPATH_OBJECT: string = join(packageRoot(), 'bpf', 'gingham.bpf.o');
/** Name of the tc program in the object. */
export const DATAPATH_PROGRAM = 'gingham_tc';
/** Maps the object pins by name (shared across program generations). */
export const SHARED_MAP_NAMES = ['conntrack', 'events', 'counters', 'meta', 'flowstats', 'event_lost'] as const;
export type SharedMapName = (typeof SHARED_MAP_NAMES)[number];
/**
 * The `__sk_buff` context for `BPF_PROG_TEST_RUN`: where the program sees the packet, as
 * `SimContext` says (`ingress_ifindex` at 36, `ifindex` at 40; everything else zero). 256 bytes,
 * more than the kernel's struct: the kernel checks the tail is zero, and copies the context back
 * only into a buffer at least as large as its own. `ifindex` must be 1 (the loopback, also the
 * default) or a device of the caller's network namespace.
 */
export function encodeSkbContext(ctx: { readonly ingressIfindex: number; readonly ifindex: number }): Uint8Array {
  const b = new Uint8Array(256);
  const d = new DataView(b.buffer);
  d.setUint32(36, ctx.ingressIfindex, true);
  d.setUint32(40, ctx.ifindex, true);
  return b;
}

export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;
/** meta.flags: never insert conntrack entries (every packet takes the policy path; for benchmarks). */
export const META_NO_CT_INSERT = 1;
/** meta.flags: emit no ring-buffer events (counters still count). */
export const META_NO_EVENTS = 2;
/** meta.flags: flow logs: an event for every evaluated direction of a new flow, and per-flow counts in `flowstats`. */
export const META_FLOW_LOGS = 4;

/** The 16-byte value of meta[0]: generation u64, flags u32, reserved u32 (little-endian). */
export function encodeMetaValue(generation: bigint, flags: number): Uint8Array {
  const b = new Uint8Array(16);
  const d = new DataView(b.buffer);
  d.setBigUint64(0, generation, true);
  d.setUint32(8, flags, true);
  return b;
}

export function decodeMetaValue(b: Uint8Array): { generation: bigint; flags: number } {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { generation: d.getBigUint64(0, true), flags: d.getUint32(8, true) };
}

/** The bytes of the datapath object; throws `DATAPATH_OBJECT_MISSING` when it is not there. */
export function readDatapathObject(path: string = DATAPATH_OBJECT): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new DatapathError('DATAPATH_OBJECT_MISSING', `cannot read the datapath object ${path} (run the package build)`, { cause: e });
  }
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function formatWire(family: number, bytes: Uint8Array): string {
  if (family === 4) return formatIp({ version: 4, value: ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0 });
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(bytes[i]!);
  return formatIp({ version: 6, value: v } satisfies IpAddr);
}

function family(b: number, what: string): 4 | 6 {
  if (b !== 4 && b !== 6) throw new DatapathError('DATAPATH_BAD_RECORD', `${what}: family ${b} is neither 4 nor 6`);
  return b;
}

// ---- events ----

export const EVENT_SIZE = 64;

/** One ring-buffer record: a logged or denied enforcement point of a new flow. */
export interface DatapathEvent {
  /** `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the packet was evaluated. */
  readonly tsNs: bigint;
  readonly slot: number;
  /** Numeric policy id (`policyNames()` maps it back), NONE32 for none. */
  readonly policy: number;
  readonly tier: number;
  readonly rule: number;
  /** ACTION_ALLOW | ACTION_DENY. */
  readonly action: number;
  /** FLAG_LOG | FLAG_DEFAULT | FLAG_PROFILE | FLAG_FAILSAFE | FLAG_UNTRACKED; 0 with policy NONE32 for a failed lookup. */
  readonly flags: number;
  readonly direction: 'ingress' | 'egress';
  readonly family: 4 | 6;
  readonly protocol: number;
  /** TCP/UDP/SCTP source port; ICMP: the echo identifier, or 0. */
  readonly srcPort: number;
  /** TCP/UDP/SCTP destination port; ICMP: type << 8 | code. */
  readonly dstPort: number;
  readonly src: string;
  readonly dst: string;
  /** The packet's length (skb->len, at most 65535; 0 from objects before flow logs). */
  readonly len: number;
}

/** Decode one 64-byte ring-buffer record (layout in bpf/gingham.h, `struct event`). */
export function decodeEvent(bytes: Uint8Array): DatapathEvent {
  if (bytes.length !== EVENT_SIZE) throw new DatapathError('DATAPATH_BAD_RECORD', `event has ${bytes.length} bytes, want ${EVENT_SIZE}`);
  const d = dv(bytes);
  const fam = family(bytes[23]!, 'event');
  const dir = bytes[22]!;
  if (dir > 1) throw new DatapathError('DATAPATH_BAD_RECORD', `event: direction ${dir} is neither 0 nor 1`);
  return {
    tsNs: d.getBigUint64(0, true),
    slot: d.getUint32(8, true),
    policy: d.getUint32(12, true),
    tier: d.getUint16(16, true),
    rule: d.getUint16(18, true),
    action: bytes[20]!,
    flags: bytes[21]!,
    direction: dir === 1 ? 'egress' : 'ingress',
    family: fam,
    protocol: bytes[24]!,
    srcPort: d.getUint16(28, true),
    dstPort: d.getUint16(30, true),
    src: formatWire(fam, bytes.subarray(32, 48)),
    dst: formatWire(fam, bytes.subarray(48, 64)),
    len: d.getUint16(26, true),
  };
}

/** Encode an event as the program writes it (for tests and replay tools). */
export function encodeEvent(e: DatapathEvent): Uint8Array {
  const b = new Uint8Array(EVENT_SIZE);
  const d = dv(b);
  d.setBigUint64(0, e.tsNs, true);
  d.setUint32(8, e.slot, true);
  d.setUint32(12, e.policy, true);
  d.setUint16(16, e.tier, true);
  d.setUint16(18, e.rule, true);
  b[20] = e.action;
  b[21] = e.flags;
  b[22] = e.direction === 'egress' ? 1 : 0;
  b[23] = e.family;
  b[24] = e.protocol;
  d.setUint16(26, Math.min(0xffff, e.len ?? 0), true);
  d.setUint16(28, e.srcPort, true);
  d.setUint16(30, e.dstPort, true);
  b.set(wire(e.src).bytes, 32);
  b.set(wire(e.dst).bytes, 48);
  return b;
}

function wire(text: string): WireAddr {
  const a = parseWireAddr(text);
  if (!a) throw new DatapathError('DATAPATH_BAD_PACKET', `not an IP address: ${text}`);
  return a;
}

// ---- conntrack ----

export const CONNTRACK_KEY_SIZE = 40;
export const CONNTRACK_VALUE_SIZE = 16;
export const CT_FLAG_CLOSING = 1;

/** A conntrack key: the (address, port) pairs ordered so that a <= b bytewise. */
export interface ConntrackKey {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly addrA: string;
  readonly addrB: string;
  readonly portA: number;
  readonly portB: number;
}

export interface ConntrackValue {
  readonly lastSeenNs: bigint;
  readonly flags: number;
  /** TCP FIN or RST seen: the entry expires 10 s after its last packet. */
  readonly closing: boolean;
}

function isEcho(protocol: number, type: number | undefined): boolean {
  if (protocol === 1) return type === 8 || type === 0;
  if (protocol === 58) return type === 128 || type === 129;
  return false;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * The conntrack key the program uses for `p`'s flow (both directions give the same key).
 * Ports are TCP/UDP/SCTP ports, the echo identifier for ICMP echo (`icmpId`, default 0x4747 as
 * in `buildPacket`), 0 otherwise.
 */
export function conntrackKey(p: Packet, icmpId = 0x4747): Uint8Array {
  const src = wire(p.src);
  const dst = wire(p.dst);
  const ports = p.protocol === 6 || p.protocol === 17 || p.protocol === 132;
  const echo = isEcho(p.protocol, p.icmp?.type ?? (p.protocol === 1 ? 8 : 128));
  const sp = ports ? (p.srcPort ?? 0) : echo ? icmpId : 0;
  const dp = ports ? (p.dstPort ?? 0) : echo ? icmpId : 0;
  let c = compareBytes(src.bytes, dst.bytes);
  if (c === 0) c = sp - dp;
  const [a, pa, b, pb] = c <= 0 ? [src, sp, dst, dp] : [dst, dp, src, sp];
  const k = new Uint8Array(CONNTRACK_KEY_SIZE);
  const d = dv(k);
  k[0] = src.family;
  k[1] = p.protocol;
  k.set(a.bytes, 4);
  k.set(b.bytes, 20);
  d.setUint16(36, pa);
  d.setUint16(38, pb);
  return k;
}

export function decodeConntrackKey(k: Uint8Array): ConntrackKey {
  if (k.length !== CONNTRACK_KEY_SIZE) throw new DatapathError('DATAPATH_BAD_RECORD', `conntrack key has ${k.length} bytes, want ${CONNTRACK_KEY_SIZE}`);
  const fam = family(k[0]!, 'conntrack key');
  const d = dv(k);
  return {
    family: fam,
    protocol: k[1]!,
    addrA: formatWire(fam, k.subarray(4, 20)),
    addrB: formatWire(fam, k.subarray(20, 36)),
    portA: d.getUint16(36),
    portB: d.getUint16(38),
  };
}

export function encodeConntrackValue(v: { lastSeenNs: bigint; flags: number }): Uint8Array {
  const b = new Uint8Array(CONNTRACK_VALUE_SIZE);
  dv(b).setBigUint64(0, v.lastSeenNs, true);
  dv(b).setUint32(8, v.flags, true);
  return b;
}

export function decodeConntrackValue(b: Uint8Array): ConntrackValue {
  if (b.length !== CONNTRACK_VALUE_SIZE) throw new DatapathError('DATAPATH_BAD_RECORD', `conntrack value has ${b.length} bytes, want ${CONNTRACK_VALUE_SIZE}`);
  const flags = dv(b).getUint32(8, true);
  return { lastSeenNs: dv(b).getBigUint64(0, true), flags, closing: (flags & CT_FLAG_CLOSING) !== 0 };
}

// ---- flow logs: per-flow counts and lost events ----

export const FLOWSTATS_VALUE_SIZE = 64;
/** flowstats flags: the first packet came from the key's `a` side; TCP FIN or RST seen. */
export const FLOW_A_INITIATED = 1;
export const FLOW_CLOSING = 2;

/** Packets and bytes of one tracked flow, each way (`ab`: from the conntrack key's `a` to `b`). */
export interface FlowStatsValue {
  readonly firstNs: bigint;
  readonly lastNs: bigint;
  readonly packetsAb: number;
  readonly bytesAb: number;
  readonly packetsBa: number;
  readonly bytesBa: number;
  /** The first packet came from `a`. */
  readonly aInitiated: boolean;
  readonly closing: boolean;
}

export function decodeFlowStats(b: Uint8Array): FlowStatsValue {
  if (b.length !== FLOWSTATS_VALUE_SIZE) throw new DatapathError('DATAPATH_BAD_RECORD', `flowstats value has ${b.length} bytes, want ${FLOWSTATS_VALUE_SIZE}`);
  const d = dv(b);
  const flags = d.getUint32(56, true);
  return {
    firstNs: d.getBigUint64(0, true),
    lastNs: d.getBigUint64(8, true),
    packetsAb: Number(d.getBigUint64(16, true)),
    bytesAb: Number(d.getBigUint64(24, true)),
    packetsBa: Number(d.getBigUint64(32, true)),
    bytesBa: Number(d.getBigUint64(40, true)),
    aInitiated: (flags & FLOW_A_INITIATED) !== 0,
    closing: (flags & FLOW_CLOSING) !== 0,
  };
}

/** The conntrack timeout of a flow, as the program applies it (ns). */
export function conntrackTimeoutNs(protocol: number, closing: boolean): bigint {
  if (protocol === 6) return closing ? 10_000_000_000n : 3_600_000_000_000n;
  if (protocol === 17) return 60_000_000_000n;
  if (protocol === 1 || protocol === 58) return 30_000_000_000n;
  return 600_000_000_000n;
}

// ---- counters ----

export const COUNTER_KEY_SIZE = 8;
export const COUNTER_VALUE_SIZE = 16;

/** Packets and bytes of new flows decided by one (policy, rule) in one direction. */
export interface DatapathCounter {
  readonly policy: number;
  readonly rule: number;
  readonly direction: 'ingress' | 'egress';
  readonly packets: bigint;
  readonly bytes: bigint;
}

export function encodeCounterKey(policy: number, rule: number, direction: 'ingress' | 'egress'): Uint8Array {
  const b = new Uint8Array(COUNTER_KEY_SIZE);
  dv(b).setUint32(0, policy, true);
  dv(b).setUint16(4, rule, true);
  dv(b).setUint16(6, direction === 'egress' ? 1 : 0, true);
  return b;
}

export function decodeCounter(key: Uint8Array, value: Uint8Array): DatapathCounter {
  if (key.length !== COUNTER_KEY_SIZE || value.length !== COUNTER_VALUE_SIZE) {
    throw new DatapathError('DATAPATH_BAD_RECORD', `counter entry has ${key.length}/${value.length} bytes, want ${COUNTER_KEY_SIZE}/${COUNTER_VALUE_SIZE}`);
  }
  const k = dv(key);
  const v = dv(value);
  return {
    policy: k.getUint32(0, true),
    rule: k.getUint16(4, true),
    direction: (k.getUint16(6, true) & 1) === 1 ? 'egress' : 'ingress',
    packets: v.getBigUint64(0, true),
    bytes: v.getBigUint64(8, true),
  };
}

/** Every counter of the `counters` map, sorted by policy, rule, direction. */
export function readCounters(map: { entries(): Iterable<[Uint8Array, Uint8Array]> }): DatapathCounter[] {
  const out = [...map.entries()].map(([k, v]) => decodeCounter(k, v));
  return out.sort((a, b) => a.policy - b.policy || a.rule - b.rule || a.direction.localeCompare(b.direction));
}

// ---- policy tables ----

/** The part of a live map `writeTables` needs (a `BpfMap` fits). */
export interface WritableMap {
  update(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): boolean;
  /**
   * Optional: `count` updates packed back to back (keys, then values, each of one size), applied
   * in order in one call (`BpfMap`: one `BPF_MAP_UPDATE_BATCH`, falling back to single updates
   * where the kernel lacks it). Throws when one fails (the ones before it may be written).
   */
  updateBatchPacked?(keys: Uint8Array, values: Uint8Array, count: number): unknown;
}

/** Entries per `BPF_MAP_UPDATE_BATCH` call (key and value buffers of a few hundred KiB at most). */
export const BATCH_CHUNK = 8192;

/** Writes a diff to live maps as it is produced (`createTableWriter`). */
export interface TableWriter {
  /** The next write of the diff, in order; a run of updates to one map may wait in its slab until `end()`. */
  readonly write: WriteSink;
  /** Writes what is still waiting; returns how many writes the diff had. */
  end(): number;
}

/**
 * A run of updates to one map waiting to be sent as one batch: keys and values copied into the
 * map's two slabs (allocated once, `chunk` entries each, reused for every batch).
 */
interface Slab {
  readonly keys: Uint8Array;
  readonly values: Uint8Array;
  readonly keySize: number;
  readonly valueSize: number;
}

/**
 * Applies a compiler diff to the live policy maps in order while it is produced (the order is
 * what makes the diff gap-free), so that no write outlives its turn: a run of consecutive
 * updates to one map is copied into that map's reused key and value slabs and sent as one
 * `updateBatchPacked` when the run ends (another map, a delete, `end()`) or fills `chunk`
 * entries; the kernel applies a batch's elements in order, one after another, so every reader
 * sees the same sequence of states as with one syscall per write. Deletes and updates of maps
 * without batches go one at a time. Deleting a missing key is not an error. A failing write
 * throws `DATAPATH_WRITE_FAILED` naming its index (and of `total`, when given); the writes before
 * it stay applied (a failed batch is written again one update at a time to find it: updates are
 * idempotent), nothing after it is written.
 */
export function createTableWriter(maps: Readonly<Record<MapName, WritableMap>>, options: { readonly chunk?: number; readonly total?: number } = {}): TableWriter {
  const chunk = Math.max(1, options.chunk ?? BATCH_CHUNK);
  const slabs = new Map<MapName, Slab>();
  let index = 0;
  /** The run waiting in a slab: its map, its first write's index, its length. */
  let run: { map: MapName; slab: Slab; first: number; n: number } | undefined;
  const failed = (i: number, op: string, map: MapName, key: Uint8Array, e: unknown): DatapathError =>
    new DatapathError('DATAPATH_WRITE_FAILED', `write ${i + 1}${options.total !== undefined ? ` of ${options.total}` : ''} (${op} ${map} ${hexKey(key)}) failed: ${(e as Error).message}`, { cause: e });
  const one = (i: number, map: MapName, op: 'update' | 'delete', key: Uint8Array, value: Uint8Array | undefined): void => {
    try {
      if (op === 'update') {
        if (!value) throw new DatapathError('DATAPATH_WRITE_FAILED', `update of ${map} without a value`);
        maps[map].update(key, value);
      } else {
        maps[map].delete(key);
      }
    } catch (e) {
      throw failed(i, op, map, key, e);
    }
  };
  const flush = (): void => {
    if (!run) return;
    const { map, slab, first, n } = run;
    run = undefined;
    const { keys, values, keySize: ks, valueSize: vs } = slab;
    if (n === 1) return one(first, map, 'update', keys.subarray(0, ks), values.subarray(0, vs));
    try {
      maps[map].updateBatchPacked!(keys, values, n);
    } catch {
      for (let k = 0; k < n; k++) one(first + k, map, 'update', keys.subarray(k * ks, (k + 1) * ks), values.subarray(k * vs, (k + 1) * vs));
    }
  };
  const write: WriteSink = (map, op, key, value) => {
    const i = index++;
    const m = maps[map];
    if (op !== 'update' || !value || !m.updateBatchPacked) {
      flush();
      return one(i, map, op, key, value);
    }
    if (run && (run.map !== map || run.n === chunk || key.length !== run.slab.keySize || value.length !== run.slab.valueSize)) flush();
    if (!run) {
      let slab = slabs.get(map);
      if (!slab || slab.keySize !== key.length || slab.valueSize !== value.length) {
        slab = { keys: new Uint8Array(chunk * key.length), values: new Uint8Array(chunk * value.length), keySize: key.length, valueSize: value.length };
        slabs.set(map, slab);
      }
      run = { map, slab, first: i, n: 0 };
    }
    run.slab.keys.set(key, run.n * run.slab.keySize);
    run.slab.values.set(value, run.n * run.slab.valueSize);
    run.n++;
  };
  return {
    write,
    end() {
      flush();
      return index;
    },
  };
}

/** Applies a whole compiler diff to the live policy maps, in order (`createTableWriter`, which says how). */
export function writeTables(maps: Readonly<Record<MapName, WritableMap>>, writes: readonly MapWrite[]): void {
  const writer = createTableWriter(maps, { total: writes.length });
  for (const w of writes) writer.write(w.map, w.op, w.key, w.value);
  writer.end();
}
