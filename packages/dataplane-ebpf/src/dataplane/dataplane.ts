/**
 * The eBPF dataplane: keeps the Engine's dataplane state, compiles it into the five policy maps
 * and enforces it with the `gingham_tc` program on tc ingress and egress of every endpoint
 * interface. Everything it leaves in the kernel is pinned under `<bpffs>/gingham/<name>/`
 * (`pins.ts`), so enforcement outlives the process and a later process can take it over or
 * remove it. It must never touch an interface or pin it did not record there, and never report
 * enforcement that will not outlive the process.
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
 *
 * Design rationale (fail closed). Before its first kernel change (and before `clean()`) the
 * dataplane checks, reading only: privileges (`privileges.ts`), that the bpffs will outlive the
 * process (`pin-home.ts`: never a bpffs of a private mount namespace such as `ip netns exec`
 * makes, never mounting one there), and takes the instance's lock (`@gingham/host`, a flock the
 * kernel releases even on kill -9) so that two processes never program one instance at once. A
 * refusal changes nothing. kill -9 at any point leaves a state a later run converges from: tcx
 * links exist only once pinned (an unpinned link dies with its process), tc hooks are recorded
 * before they are changed (`tc-hooks.ts`), a half-built generation is just an older one.
 *
 * The parts, one file each: generation building and map diffs (`generations.ts`), hook
 * reconciliation (`hooks.ts`), interface discovery (`interface-discovery.ts`); this file holds
 * the instance's state, the fail-closed checks, the lock, `clean()`, events and counters.
 */
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { applyMessage, emptyDataplaneState, type Dataplane, type DataplaneMessage, type DataplaneState } from '@gingham/core';
import { acquireInstanceLock, DEFAULT_LOCK_DIR, lockName, type InstanceLock } from '@gingham/host';
import { BPFFS, BpfMap, ensureBpffs, RingBufReader, type CollectionSpec, type TcDirection } from '@gingham/ebpf-loader';
import { policyNames } from '../compile/index.js';
import { DATAPATH_OBJECT, decodeEvent, readCounters, SHARED_MAP_NAMES, type DatapathCounter, type DatapathEvent } from '../datapath.js';
import { EbpfDataplaneError } from './errors.js';
import { buildGeneration, loadDatapathSpec, updateGeneration, type Generation } from './generations.js';
import { detachRecorded, reconcileChangedHooks, reconcileHooks, reconcileReportedHooks, type AttachMode, type HookContext, type InterfaceChange, type VerifiedHooks } from './hooks.js';
import { InterfaceDiscovery } from './interface-discovery.js';
import { checkPinHome } from './pin-home.js';
import { PinLayout } from './pins.js';
import { checkPrivileges, permissionError } from './privileges.js';
import { scanTcFilters, type DetachedHook, type OrphanFilter, type TcContext } from './tc-hooks.js';


export interface EbpfDataplaneOptions {
  /**
   * The network namespace whose interfaces get the program: a name under /run/netns (as
   * `ip netns add` makes) or a path. Default: this process's namespace. BPF objects are global;
   * only attaching happens inside the namespace.
   */
  readonly netns?: string;
  /**
   * The bpffs under which pins live: a mounted bpffs that outlives this process (else every
   * operation is refused before any change, with the commands that fix it). Default
   * /sys/fs/bpf, mounted when absent if this process runs in a long-lived mount namespace.
   */
  readonly bpffs?: string;
  /** Instance name, `[a-z0-9-]{1,32}` (default `default`): pins go to `<bpffs>/gingham/<name>/`. */
  readonly name?: string;
  /** The compiled datapath object (default: the package's `bpf/gingham.bpf.o`). */
  readonly object?: string;
  /** `auto` (default): tcx links when the kernel has them, else tc cls_bpf filters. */
  readonly mode?: AttachMode;
  /**
   * How long the first kernel change (or `clean()`) waits for another process holding this
   * instance's lock, in ms (default 0: fail at once with `INSTANCE_LOCKED` naming the holder).
   */
  readonly lockWaitMs?: number;
  /** Directory of the instance locks (default `/run/gingham/locks`). */
  readonly lockDir?: string;
  /**
   * Flow logs (default false): the program emits an event for every evaluated direction of a
   * new flow (not only Deny and Log) and counts packets and bytes per tracked flow, for
   * `createEbpfFlowSource`. Costs one hash lookup and two atomic adds per established packet.
   */
  readonly flowLogs?: boolean;
}

/** What `clean()` actually removed. */
export interface EbpfCleanReport {
  /** `<bpffs>/gingham/<name>`. */
  readonly pinPath: string;
  /** Hooks the program was taken off (tcx links detached, tc filters deleted), per interface and direction. */
  readonly detached: readonly DetachedHook[];
  /** clsact qdiscs deleted (created by this instance, empty afterwards). */
  readonly qdiscsDeleted: readonly string[];
  /** Pins removed under the instance directory (maps, programs, links, temporary pins). */
  readonly pinsRemoved: number;
  /** Temporary pins of killed older versions removed from the bpffs root. */
  readonly strayPinsRemoved: readonly string[];
  /** `gingham_tc` filters owned by no instance of this bpffs: left alone, each with the command that removes it. */
  readonly orphans: readonly OrphanFilter[];
  /** Nothing of this instance was found (no pin, no hook). */
  readonly nothingFound: boolean;
  /** No bpffs at the default /sys/fs/bpf, so nothing can have been pinned (nothing was mounted to look). */
  readonly noBpffs: boolean;
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
   * Detaches the program from every hook recorded in the pins (and from tc hooks running a
   * program of this instance that a crash left unrecorded), deletes the clsact qdiscs it created,
   * and removes every pin of this instance (works from a fresh process, and after `close()`;
   * idempotent). Says what it removed. The object stays usable: a later apply rebuilds from its
   * state.
   */
  clean(): Promise<EbpfCleanReport>;
  /**
   * Releases this process's file descriptors and the instance lock; what is attached and pinned
   * stays enforced. Idempotent; `await using` calls it (`[Symbol.asyncDispose]`).
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
  /**
   * Re-checks the endpoint interfaces now (every apply already does for batches that change
   * endpoints, and retries pending interfaces): attaches to interfaces that appeared or were
   * recreated under the same name, detaches from those no longer wanted. Call it when the host
   * reports interface changes (a restarted pod's veth) that come with no endpoint change.
   *
   * By default only hooks this process has not confirmed at their interface's current ifindex
   * are touched (one ifindex lookup per endpoint interface; a new interface costs its two
   * hooks). `{ changed }`: the interfaces the kernel reported changed since the last re-check
   * (rtnetlink link and address events: name and ifindex), and nothing else changed: only those
   * names (and hooks confirmed at a reported ifindex: an interface renamed away) are looked up,
   * so a new interface costs two lookups and its two hooks whatever the number of endpoints.
   * Pass it only when no event may have been lost since the last re-check. `{ full: true }`
   * re-reads every pinned hook and puts the program on each again, which repairs drift this
   * process cannot see (a hook removed by hand): run it now and then.
   */
  syncInterfaces(options?: { readonly full?: boolean; readonly changed?: readonly InterfaceChange[] }): Promise<void>;
  stats(): EbpfDataplaneStats;
  /** Drains the events ring buffer (non-blocking), decoded. */
  readEvents(max?: number): EbpfEvent[];
  /** Polls the events ring buffer every `intervalMs` (default 100) until `signal` aborts. */
  events(options?: { readonly intervalMs?: number; readonly signal?: AbortSignal }): AsyncIterableIterator<EbpfEvent>;
  /** The rule counters (counted since the current generation started). */
  counters(): EbpfCounter[];
  /** Numeric policy ids of the live generation's verdicts and events -> policy or profile id. */
  policyNames(): ReadonlyMap<number, string>;
  /** Whether the program runs with flow logs (the `flowLogs` option). */
  readonly flowLogs: boolean;
  /** `<bpffs>/gingham/<name>`. */
  readonly pinPath: string;
}


const SHARED = SHARED_MAP_NAMES;
/** cls_bpf filter priority of our filters in tc mode (handle 1). */
const TC_PRIORITY = 1;

const ENDPOINT_KINDS = new Set<DataplaneMessage['kind']>([
  'workload-endpoint-upsert', 'workload-endpoint-remove', 'host-endpoint-upsert', 'host-endpoint-remove', 'in-sync',
]);

/** Creates the eBPF dataplane. Nothing touches the kernel until the first in-sync apply (or `clean()`). */
export function createEbpfDataplane(options: EbpfDataplaneOptions = {}): EbpfDataplane {
  const bpffs = options.bpffs ?? BPFFS;
  if (!bpffs.startsWith('/')) throw new EbpfDataplaneError('EBPF_INVALID_ARGUMENT', `bpffs must be an absolute path, got "${bpffs}"`, { detail: [bpffs] });
  const mode = options.mode ?? 'auto';
  if (!['auto', 'tcx', 'tc'].includes(mode)) throw new EbpfDataplaneError('EBPF_INVALID_ARGUMENT', `mode must be auto, tcx or tc, got "${mode}"`, { detail: [mode] });
  const layout = new PinLayout(bpffs, options.name ?? 'default');
  const object = options.object ?? DATAPATH_OBJECT;
  const netns = options.netns;
  const tcx: TcContext = { layout, priority: TC_PRIORITY, ...(netns ? { netns } : {}) };
  const interfaces = new InterfaceDiscovery(netns);
  const hooks: HookContext = { tc: tcx, mode, ifindexes: interfaces.ifindexes };

  const state: DataplaneState = emptyDataplaneState();
  let spec: CollectionSpec | undefined;
  let current: Generation | undefined;
  let rebuild = false;
  let closed = false;
  let lock: InstanceLock | undefined;
  let ready = false;
  let reader: RingBufReader | undefined;
  let readerMap: BpfMap | undefined;
  const pending = new Set<string>();
  const verified: VerifiedHooks = new Map();
  /**
   * IP sets, policy and profile ids the messages since the live generation's tables touched: the
   * compiler diffs only these sets and re-checks only the slot programs that read one of them.
   */
  const dirty = { sets: new Set<string>(), members: new Map<string, Set<string>>(), policies: new Set<string>(), profiles: new Set<string>() };
  /** Sets replaced or deleted since: compared in full (no member list). */
  const wholeSets = new Set<string>();
  const clearDirty = (): void => {
    dirty.sets.clear();
    dirty.members.clear();
    wholeSets.clear();
    dirty.policies.clear();
    dirty.profiles.clear();
  };
  const touch = (m: DataplaneMessage): void => {
    switch (m.kind) {
      case 'ipset-add-members':
      case 'ipset-remove-members': {
        dirty.sets.add(m.id);
        if (wholeSets.has(m.id)) break;
        let touched = dirty.members.get(m.id);
        if (!touched) dirty.members.set(m.id, (touched = new Set()));
        for (const x of m.members) touched.add(x);
        break;
      }
      case 'ipset-replace':
      case 'ipset-delete':
        dirty.sets.add(m.id);
        wholeSets.add(m.id);
        dirty.members.delete(m.id);
        break;
      case 'policy-upsert':
        dirty.policies.add(m.policy.id);
        break;
      case 'policy-remove':
        dirty.policies.add(m.id);
        break;
      case 'profile-upsert':
        dirty.profiles.add(m.profile.id);
        break;
      case 'profile-remove':
        dirty.profiles.add(m.id);
        break;
      default:
        break;
    }
  };
  let last = { writes: 0, fullFill: false, replacedGeneration: undefined as number | undefined };

  /**
   * The instance lock, by the pin root's real path (so that two spellings of one bpffs share
   * it). Taken before the first change; kept until close().
   */
  const takeLock = (): InstanceLock => {
    let root = layout.root;
    try {
      root = join(realpathSync(bpffs), 'gingham', layout.root.split('/').pop()!);
    } catch {
      // not there yet: the path as given
    }
    try {
      return acquireInstanceLock(lockName('ebpf', root), {
        waitMs: options.lockWaitMs ?? 0,
        ...(options.lockDir !== undefined ? { dir: options.lockDir } : {}),
      });
    } catch (e) {
      const dir = options.lockDir ?? DEFAULT_LOCK_DIR;
      throw permissionError(e, `take the instance lock of ${layout.root}`, `write access to the lock directory ${dir} (root owns it)`);
    }
  };

  /**
   * Everything decided before the first kernel change, reading only: privileges, a bpffs that
   * outlives the process, the instance lock. Then /sys/fs/bpf is mounted when that was the
   * decision (a long-lived mount namespace only). A refusal changes nothing.
   */
  const prepare = (): void => {
    if (ready) return;
    checkPrivileges();
    const home = checkPinHome({ bpffs, explicit: options.bpffs !== undefined, purpose: 'enforce' });
    lock ??= takeLock();
    if (home.action === 'mount') {
      try {
        ensureBpffs(bpffs);
      } catch (e) {
        throw permissionError(e, `mount a bpffs at ${bpffs}`);
      }
    }
    ready = true;
  };

  const reconcile = (program: Generation['program'], swap: boolean): void => reconcileHooks(hooks, program, interfaces.wanted(state), swap, pending, verified);
  const reconcileChanged = (program: Generation['program']): void => reconcileChangedHooks(hooks, program, interfaces.wanted(state), pending, verified);

  const resetReader = (): void => {
    reader?.close();
    reader = undefined;
    readerMap?.close();
    readerMap = undefined;
  };

  /** Builds generation N+1 completely, swaps it in on every hook, then drops the older ones. */
  const build = (): void => {
    spec ??= loadDatapathSpec(object);
    const built = buildGeneration({
      spec,
      layout,
      state,
      current: current?.number,
      facts: () => {
        interfaces.refreshFacts(state);
        return interfaces.facts;
      },
      swapHooks: (program) => reconcile(program, true),
      flowLogs: options.flowLogs === true,
    });
    clearDirty();
    const previous = current;
    current = built.generation;
    resetReader();
    previous?.collection.close();
    last = { writes: built.writes, fullFill: true, replacedGeneration: built.replaced };
  };

  const incremental = (g: Generation, endpointsChanged: boolean): void => {
    if (endpointsChanged || pending.size > 0) interfaces.refreshFacts(state);
    const writes = updateGeneration(g, state, interfaces.facts, dirty);
    clearDirty();
    // A batch that changed endpoints re-checks every endpoint interface; any other batch retries
    // the pending ones alone (looked up by name; no other hook or pin is read).
    if (endpointsChanged) reconcileChanged(g.program);
    else if (pending.size > 0) reconcileReportedHooks(hooks, g.program, interfaces.wanted(state), [...pending].map((name) => ({ name })), pending, verified);
    last = { writes, fullFill: false, replacedGeneration: undefined };
  };

  const open = (): void => {
    if (closed) throw new EbpfDataplaneError('EBPF_CLOSED', `eBPF dataplane ${layout.root} is closed`);
  };

  /** A shared map of this instance: from the live generation, else from its pin (or undefined). */
  const sharedMap = (name: (typeof SHARED)[number]): { map: BpfMap; owned: boolean } | undefined => {
    if (current) return { map: current.collection.map(name), owned: false };
    const path = `${layout.root}/${name}`;
    if (!existsSync(path)) return undefined;
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

  const clean = (): EbpfCleanReport => {
    resetReader();
    current?.collection.close();
    current = undefined;
    rebuild = false;
    pending.clear();
    verified.clear();
    last = { writes: 0, fullFill: false, replacedGeneration: undefined };
    checkPrivileges();
    const home = checkPinHome({ bpffs, explicit: options.bpffs !== undefined, purpose: 'clean' });
    lock ??= takeLock();
    try {
      const pinsBefore = home.action === 'absent' ? 0 : layout.countPins();
      const recorded = home.action === 'absent' ? [] : layout.attachments();
      // tc filters running a program of this instance that a crash left without a marker, and
      // Gingham filters nobody owns (reported only).
      const ifnames = interfaces.exists() ? interfaces.links().map((l) => l.ifname) : [];
      const scan = scanTcFilters(tcx, ifnames, recorded);
      const { detached, qdiscsDeleted } = detachRecorded(hooks, recorded, scan.ours);
      if (home.action !== 'absent') layout.removeAll();
      const strayPinsRemoved = home.action === 'absent' ? [] : layout.legacyTempPins();
      for (const p of strayPinsRemoved) layout.removeTree(p);
      return {
        pinPath: layout.root,
        detached,
        qdiscsDeleted,
        pinsRemoved: pinsBefore,
        strayPinsRemoved,
        orphans: scan.orphans,
        nothingFound: pinsBefore === 0 && detached.length === 0 && qdiscsDeleted.length === 0 && strayPinsRemoved.length === 0 && recorded.length === 0,
        noBpffs: home.action === 'absent',
      };
    } finally {
      // A closed object cleans under a lock of its own, released here; an open one keeps it until close().
      if (closed) {
        lock?.release();
        lock = undefined;
      }
    }
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    resetReader();
    current?.collection.close();
    lock?.release();
    lock = undefined;
    ready = false;
  };

  return {
    pinPath: layout.root,
    flowLogs: options.flowLogs === true,
    policyNames: names,
    async apply(messages) {
      open();
      const violations: string[] = [];
      for (const m of messages) {
        touch(m);
        violations.push(...applyMessage(state, m));
      }
      if (violations.length > 0) {
        throw new EbpfDataplaneError('EBPF_CONTRACT_VIOLATION', `the batch breaks the dataplane contract: ${violations.join('; ')}`, { detail: violations });
      }
      if (!state.inSync) return;
      prepare();
      try {
        if (!current || rebuild) {
          build();
          rebuild = false;
        } else {
          incremental(current, messages.some((m) => ENDPOINT_KINDS.has(m.kind)));
        }
      } catch (e) {
        rebuild = true;
        throw permissionError(e, `program the kernel for ${layout.root}`);
      }
    },
    async clean() {
      try {
        return clean();
      } catch (e) {
        throw permissionError(e, `clean ${layout.root}`);
      }
    },
    close,
    [Symbol.asyncDispose]: close,
    async syncInterfaces(o = {}) {
      open();
      if (!current) return;
      try {
        if (o.full === true) reconcile(current.program, false);
        else if (o.changed) reconcileReportedHooks(hooks, current.program, interfaces.wanted(state), o.changed, pending, verified);
        else reconcileChanged(current.program);
      } catch (e) {
        throw permissionError(e, `attach to the interfaces of ${layout.root}`);
      }
      if (interfaces.refreshFacts(state)) {
        updateGeneration(current, state, interfaces.facts, dirty);
        clearDirty();
      }
    },
    stats() {
      const attached = existsSync(layout.root) ? layout.attachments().filter((a) => !a.pending).map((a) => ({ ifname: a.ifname, direction: a.direction, kind: a.kind })) : [];
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
