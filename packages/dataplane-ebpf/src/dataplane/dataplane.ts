/**
 * The eBPF dataplane: keeps the Engine's dataplane state, compiles it into the five policy maps
 * and enforces it with the `gingham_tc` program on tc ingress and egress of every endpoint
 * interface. Everything it leaves in the kernel is pinned under `<bpffs>/gingham/<name>/`
 * (`pins.ts`), so enforcement outlives the process and a later process can take it over or
 * remove it. It must never touch an interface or pin it did not record there.
 *
 * Design rationale (generations). The policy maps come in generations `g<N>`; the shared maps
 * (conntrack, events, counters, meta) are one per instance. In a process the first complete
 * state (the batch carrying `in-sync`) builds a whole new generation: fresh maps, a full fill, a
 * program bound to them, pinned. Only then is the program swapped in on every hook at once per
 * hook — `BPF_LINK_UPDATE` on a pinned tcx link, or `tc filter replace` at the same
 * priority/handle — both atomic, so a hook never runs without a program or with half-filled
 * maps; hooks not needed any more are detached afterwards and the previous generation is
 * unpinned (freed once no link holds its program). The same path resynchronises after a
 * restart, takes over a second `gingham enforce` run, and recovers from a failed apply.
 * Every later batch is the compiler's ordered, gap-free diff written to the live maps; no
 * program reload. Established flows survive both: conntrack is shared by every generation.
 */
import { existsSync, mkdirSync } from 'node:fs';
import {
  applyMessage,
  emptyDataplaneState,
  type Dataplane,
  type DataplaneMessage,
  type DataplaneState,
} from '@gingham/core';
import {
  attachTc,
  BPFFS,
  bpffsMounts,
  BpfSyscallError,
  createCollection,
  detachPinnedTcxLink,
  detachTcFilter,
  ensureBpffs,
  getBpfBinding,
  loadCollectionSpec,
  netnsPath,
  RingBufReader,
  updatePinnedTcxLink,
  withNetns,
  BpfMap,
  type BpfProgram,
  type Collection,
  type CollectionSpec,
  type TcDirection,
} from '@gingham/ebpf-loader';
import { compile, policyNames, type Tables } from '../compile/index.js';
import { DATAPATH_OBJECT, DATAPATH_PROGRAM, decodeEvent, readCounters, readDatapathObject, SHARED_MAP_NAMES, writeTables, type DatapathCounter, type DatapathEvent } from '../datapath.js';
import { MAP_NAMES, type MapName } from '../wire.js';
import { EbpfDataplaneError } from './errors.js';
import { listLinks, wantedInterfaces } from './interfaces.js';
import { hostFacts } from './host-facts.js';
import type { HostFacts } from '../compile/index.js';
import { PinLayout, type PinnedAttachment } from './pins.js';

export type AttachMode = 'auto' | 'tcx' | 'tc';

export interface EbpfDataplaneOptions {
  /**
   * The network namespace whose interfaces get the program: a name under /run/netns (as
   * `ip netns add` makes) or a path. Default: this process's namespace. BPF objects are global;
   * only attaching happens inside the namespace.
   */
  readonly netns?: string;
  /** The bpffs mount under which pins live (default /sys/fs/bpf, mounted when absent). */
  readonly bpffs?: string;
  /** Instance name, `[a-z0-9-]{1,32}` (default `default`): pins go to `<bpffs>/gingham/<name>/`. */
  readonly name?: string;
  /** The compiled datapath object (default: the package's `bpf/gingham.bpf.o`). */
  readonly object?: string;
  /** `auto` (default): tcx links when the kernel has them, else tc cls_bpf filters. */
  readonly mode?: AttachMode;
}

/** One hook the program is attached to. */
export interface EbpfAttachment {
  readonly ifname: string;
  readonly direction: TcDirection;
  readonly kind: 'tcx' | 'tc';
}

export interface EbpfDataplaneStats {
  /** The generation now enforced (0 before the first complete apply). */
  readonly generation: number;
  /** Map writes of the last apply (a full fill when it built a generation). */
  readonly mapWrites: number;
  /** The last apply built a new generation (first apply of a process, or recovery). */
  readonly fullFill: boolean;
  /** The generation the last apply replaced, when it swapped one out. */
  readonly replacedGeneration?: number;
  /** Every hook holding the program (read from the pins). */
  readonly attached: readonly EbpfAttachment[];
  /** Endpoint interfaces that do not exist yet; attached by a later apply once they do. */
  readonly pendingInterfaces: readonly string[];
}

/** A datapath event (a Deny or a Log verdict) with the policy's name resolved when known. */
export type EbpfEvent = DatapathEvent & { readonly policyName?: string };

/** A per-(policy, rule, direction) counter with the policy's name resolved when known. */
export type EbpfCounter = DatapathCounter & { readonly policyName?: string };

export interface EbpfDataplane extends Dataplane {
  /**
   * Applies one batch. Messages are kept until the stream is in sync (the batch with `in-sync`);
   * that batch builds and swaps in a generation, every later one is a map diff. Throws
   * `EBPF_CONTRACT_VIOLATION` (and writes nothing) for a batch that breaks the ordering rules.
   */
  apply(messages: readonly DataplaneMessage[]): Promise<void>;
  /**
   * Detaches the program from every hook recorded in the pins and removes every pin of this
   * instance (works from a fresh process; idempotent). The object stays usable: a later apply
   * rebuilds from its state.
   */
  clean(): Promise<void>;
  /** Releases this process's file descriptors; what is attached and pinned stays enforced. */
  close(): void;
  /**
   * Re-checks the endpoint interfaces now (every apply already does for batches that change
   * endpoints, and retries pending interfaces): attaches to interfaces that appeared or were
   * recreated under the same name, detaches from those no longer wanted. Call it when the host
   * reports interface changes (a restarted pod's veth) that come with no endpoint change.
   */
  syncInterfaces(): Promise<void>;
  stats(): EbpfDataplaneStats;
  /** Drains the events ring buffer (non-blocking), decoded. */
  readEvents(max?: number): EbpfEvent[];
  /** Polls the events ring buffer every `intervalMs` (default 100) until `signal` aborts. */
  events(options?: { readonly intervalMs?: number; readonly signal?: AbortSignal }): AsyncIterableIterator<EbpfEvent>;
  /** The rule counters (counted since the current generation started). */
  counters(): EbpfCounter[];
  /** `<bpffs>/gingham/<name>`. */
  readonly pinPath: string;
}

const PROGRAM = DATAPATH_PROGRAM;
const SHARED = SHARED_MAP_NAMES;
const DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];
/** cls_bpf filter priority of our filters in tc mode (handle 1). */
const TC_PRIORITY = 1;

const ENDPOINT_KINDS = new Set<DataplaneMessage['kind']>([
  'workload-endpoint-upsert', 'workload-endpoint-remove', 'host-endpoint-upsert', 'host-endpoint-remove', 'in-sync',
]);

interface Generation {
  readonly number: number;
  readonly collection: Collection;
  readonly maps: Record<MapName, BpfMap>;
  readonly program: BpfProgram;
  tables: Tables;
}

/** Creates the eBPF dataplane. Nothing touches the kernel until the first in-sync apply. */
export function createEbpfDataplane(options: EbpfDataplaneOptions = {}): EbpfDataplane {
  const bpffs = options.bpffs ?? BPFFS;
  if (!bpffs.startsWith('/')) throw new EbpfDataplaneError('EBPF_INVALID_ARGUMENT', `bpffs must be an absolute path, got "${bpffs}"`, { detail: [bpffs] });
  const mode = options.mode ?? 'auto';
  if (!['auto', 'tcx', 'tc'].includes(mode)) throw new EbpfDataplaneError('EBPF_INVALID_ARGUMENT', `mode must be auto, tcx or tc, got "${mode}"`, { detail: [mode] });
  const layout = new PinLayout(bpffs, options.name ?? 'default');
  const object = options.object ?? DATAPATH_OBJECT;
  const netns = options.netns;

  const state: DataplaneState = emptyDataplaneState();
  let spec: CollectionSpec | undefined;
  let current: Generation | undefined;
  let rebuild = false;
  let closed = false;
  let reader: RingBufReader | undefined;
  let readerMap: BpfMap | undefined;
  const pending = new Set<string>();
  let last = { writes: 0, fullFill: false, replacedGeneration: undefined as number | undefined };
  // Interfaces of named host endpoints, for the forwarding table (re-read when hooks change).
  let facts: HostFacts = {};
  const refreshFacts = (): boolean => {
    const next = hostFacts(state, () => listLinks(netns), ifindexes);
    const changed = JSON.stringify(next) !== JSON.stringify(facts);
    facts = next;
    return changed;
  };

  const loadSpec = (): CollectionSpec => {
    if (spec) return spec;
    const s = loadCollectionSpec(readDatapathObject(object));
    const missing = [...MAP_NAMES, ...SHARED].filter((m) => !s.maps[m]);
    if (!s.programs[PROGRAM] || missing.length > 0) {
      throw new EbpfDataplaneError('EBPF_OBJECT_INVALID', `datapath object ${object} lacks ${[...(s.programs[PROGRAM] ? [] : [`program ${PROGRAM}`]), ...missing.map((m) => `map ${m}`)].join(', ')}`, { detail: [object] });
    }
    spec = s;
    return s;
  };

  const ifindexes = (names: readonly string[]): Map<string, number> => {
    if (netns && !existsSync(netnsPath(netns))) return new Map(names.map((n) => [n, 0]));
    const b = getBpfBinding();
    return withNetns(netns, () => new Map(names.map((n) => [n, b.ifNameToIndex(n)])));
  };

  const detach = (a: PinnedAttachment): void => {
    if (a.kind === 'tcx') {
      detachPinnedTcxLink(a.path);
      return;
    }
    // The filter went away with its interface or namespace; only the marker is left then.
    if (!netns || existsSync(netnsPath(netns))) {
      detachTcFilter({ ifname: a.ifname, direction: a.direction, priority: TC_PRIORITY, removeEmptyQdisc: a.createdQdisc, ...(netns ? { netns } : {}) });
    }
    layout.removeTree(a.path);
  };

  const attachFresh = (program: BpfProgram, ifname: string, direction: TcDirection): void => {
    const link = attachTc({ program, direction, ifname, mode, bpffs, priority: TC_PRIORITY, ...(netns ? { netns } : {}) });
    if (link.kind === 'tcx') {
      try {
        link.pin(layout.tcxLink(ifname, direction));
      } catch (e) {
        link.detach();
        throw e;
      }
      link.release();
    } else {
      link.release();
      layout.mark(layout.tcMarker(ifname, direction, link.createdQdisc === true, link.ifindex));
    }
  };

  /**
   * Puts `program` on both hooks of every wanted interface and takes it off the others. With
   * `swap`, hooks that hold an older program get this one atomically. A hook whose interface
   * was deleted and recreated under the same name is attached anew: tcx links are probed
   * (`BPF_LINK_UPDATE` answers ENOLINK once their interface is gone), tc markers carry the
   * ifindex.
   */
  const reconcile = (program: BpfProgram, swap: boolean): void => {
    const want = wantedInterfaces(state, () => listLinks(netns));
    const pinned = layout.attachments();
    const idx = ifindexes([...new Set([...want, ...pinned.map((a) => a.ifname)])]);
    const byHook = new Map(pinned.map((a) => [`${a.direction} ${a.ifname}`, a]));
    pending.clear();
    for (const ifname of want) {
      const exists = (idx.get(ifname) ?? 0) !== 0;
      if (!exists) pending.add(ifname);
      for (const direction of DIRECTIONS) {
        const a = byHook.get(`${direction} ${ifname}`);
        byHook.delete(`${direction} ${ifname}`);
        if (!exists) {
          if (a) detach(a);
          continue;
        }
        if (a?.kind === 'tcx') {
          try {
            updatePinnedTcxLink(a.path, program);
            continue;
          } catch (e) {
            if (!(e instanceof BpfSyscallError && e.errnoName === 'ENOLINK')) throw e;
            detachPinnedTcxLink(a.path); // the interface was recreated: attach anew
          }
        } else if (a?.kind === 'tc') {
          if (a.ifindex === idx.get(ifname)) {
            if (swap) attachTc({ program, direction, ifname, mode: 'tc', bpffs, priority: TC_PRIORITY, replace: true, ...(netns ? { netns } : {}) }).release();
            continue;
          }
          layout.removeTree(a.path); // the interface was recreated (its filter went with the old one): attach anew
        }
        attachFresh(program, ifname, direction);
      }
    }
    for (const a of byHook.values()) detach(a);
  };

  const clearMap = (m: BpfMap): void => {
    const keys: Uint8Array[] = [];
    for (let k = m.nextKey(); k; k = m.nextKey(k)) keys.push(k);
    for (const k of keys) m.delete(k);
  };

  const writeMeta = (c: Collection, generation: number): void => {
    const key = new Uint8Array(4);
    const value = new Uint8Array(16);
    new DataView(value.buffer).setBigUint64(0, BigInt(generation), true);
    c.map('meta').update(key, value);
  };

  const resetReader = (): void => {
    reader?.close();
    reader = undefined;
    readerMap?.close();
    readerMap = undefined;
  };

  /** Builds generation N+1 completely, swaps it in on every hook, then drops the older ones. */
  const build = (): void => {
    ensureBpffs(bpffs);
    const s = loadSpec();
    mkdirSync(layout.root, { recursive: true });
    const older = layout.generations();
    const number = Math.max(older.at(-1) ?? 0, current?.number ?? 0) + 1;
    const collection = createCollection(s, { pinPath: layout.root, programs: [PROGRAM] });
    const dir = layout.generationDir(number);
    let swapped = false;
    let result: ReturnType<typeof compile>;
    let maps: Record<MapName, BpfMap>;
    let program: BpfProgram;
    try {
      maps = Object.fromEntries(MAP_NAMES.map((n) => [n, collection.map(n)])) as Record<MapName, BpfMap>;
      program = collection.program(PROGRAM);
      refreshFacts();
      result = compile(state, undefined, facts);
      writeTables(maps, result.writes);
      for (const n of MAP_NAMES) maps[n].pin(`${dir}/${n}`);
      program.pin(`${dir}/${PROGRAM}`);
      swapped = true;
      reconcile(program, true);
      writeMeta(collection, number);
      for (const g of older) if (g !== number) layout.removeTree(layout.generationDir(g));
      // Counter keys are policy numbers of the compiler that built the generation: a new
      // compiler numbers afresh, so counts restart with the generation.
      if (older.length > 0) clearMap(collection.map('counters'));
    } catch (e) {
      collection.close();
      // Hooks already swapped keep this (complete) generation alive through their links; the
      // next apply builds another one and moves every hook to it.
      if (!swapped) layout.removeTree(dir);
      throw e;
    }
    const previous = current;
    current = { number, collection, maps, program, tables: result.tables };
    resetReader();
    previous?.collection.close();
    last = { writes: result.writes.length, fullFill: true, replacedGeneration: older.at(-1) ?? previous?.number };
  };

  const incremental = (g: Generation, hooks: boolean): void => {
    if (hooks || pending.size > 0) refreshFacts();
    const result = compile(state, g.tables, facts);
    writeTables(g.maps, result.writes);
    g.tables = result.tables;
    if (hooks || pending.size > 0) reconcile(g.program, false);
    last = { writes: result.writes.length, fullFill: false, replacedGeneration: undefined };
  };

  const open = (): void => {
    if (closed) throw new EbpfDataplaneError('EBPF_CLOSED', `eBPF dataplane ${layout.root} is closed`);
  };

  /** A shared map of this instance: from the live generation, else from its pin (or undefined). */
  const sharedMap = (name: (typeof SHARED)[number]): { map: BpfMap; owned: boolean } | undefined => {
    if (current) return { map: current.collection.map(name), owned: false };
    const path = `${layout.root}/${name}`;
    if (!bpffsMounts().includes(bpffs) || !existsSync(path)) return undefined;
    return { map: BpfMap.fromPin(path), owned: true };
  };

  const names = (): Map<number, string> => (current ? policyNames(current.tables.memory) : new Map());

  const readEvents = (max?: number): EbpfEvent[] => {
    open();
    if (!reader) {
      const m = sharedMap('events');
      if (!m) return [];
      reader = new RingBufReader(m.map);
      if (m.owned) readerMap = m.map;
    }
    const byNum = names();
    return reader.read(max).map((bytes) => {
      const e = decodeEvent(bytes);
      const policyName = byNum.get(e.policy);
      return policyName === undefined ? e : { ...e, policyName };
    });
  };

  return {
    pinPath: layout.root,
    async apply(messages) {
      open();
      const violations: string[] = [];
      for (const m of messages) violations.push(...applyMessage(state, m));
      if (violations.length > 0) {
        throw new EbpfDataplaneError('EBPF_CONTRACT_VIOLATION', `the batch breaks the dataplane contract: ${violations.join('; ')}`, { detail: violations });
      }
      if (!state.inSync) return;
      try {
        if (!current || rebuild) {
          build();
          rebuild = false;
        } else {
          incremental(current, messages.some((m) => ENDPOINT_KINDS.has(m.kind)));
        }
      } catch (e) {
        rebuild = true;
        throw e;
      }
    },
    async clean() {
      resetReader();
      current?.collection.close();
      current = undefined;
      rebuild = false;
      pending.clear();
      last = { writes: 0, fullFill: false, replacedGeneration: undefined };
      if (!bpffsMounts().includes(bpffs)) return;
      for (const a of layout.attachments()) detach(a);
      layout.removeAll();
    },
    close() {
      closed = true;
      resetReader();
      current?.collection.close();
    },
    async syncInterfaces() {
      open();
      if (!current) return;
      reconcile(current.program, false);
      if (refreshFacts()) {
        const result = compile(state, current.tables, facts);
        writeTables(current.maps, result.writes);
        current.tables = result.tables;
      }
    },
    stats() {
      const attached = existsSync(layout.root) ? layout.attachments().map((a) => ({ ifname: a.ifname, direction: a.direction, kind: a.kind })) : [];
      return {
        generation: current?.number ?? 0,
        mapWrites: last.writes,
        fullFill: last.fullFill,
        ...(last.replacedGeneration !== undefined ? { replacedGeneration: last.replacedGeneration } : {}),
        attached,
        pendingInterfaces: [...pending].sort(),
      };
    },
    readEvents,
    async *events(o = {}) {
      const interval = o.intervalMs ?? 100;
      while (!o.signal?.aborted) {
        for (const e of readEvents()) yield e;
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, interval);
          function done(): void {
            clearTimeout(t);
            o.signal?.removeEventListener('abort', done);
            resolve();
          }
          o.signal?.addEventListener('abort', done, { once: true });
        });
      }
    },
    counters() {
      open();
      const m = sharedMap('counters');
      if (!m) return [];
      try {
        const byNum = names();
        return readCounters(m.map).map((c) => {
          const policyName = byNum.get(c.policy);
          return policyName === undefined ? c : { ...c, policyName };
        });
      } finally {
        if (m.owned) m.map.close();
      }
    },
  };
}
