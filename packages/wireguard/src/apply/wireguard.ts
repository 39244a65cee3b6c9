/**
 * The WireGuard handle: converges one interface in one network namespace to a desired state
 * (private key, port, address, MTU, peers) and the routing around it, and tears it all down
 * again. This file is the wiring of the parts, each in its own file:
 *
 *   apply(desired) ─▶ desired.ts   validate everything (nothing runs when it throws)
 *                  ─▶ device.ts    own the name; create the device (kernel module / wireguard-go)
 *                  ─▶ observed.ts  read back (or take the handle's cache)
 *                  ─▶ plan.ts      pure: desired + observed → ordered operations
 *                  ─▶ applier.ts   run them (UAPI, `wg`, `ip`, the persistent `ip` session)
 *                  ─▶ result.ts    one report for every apply
 *   applyChanges(changes) ─▶ peerindex.ts (validate against the indexes) ─▶ plan ─▶ applier ─▶ result
 *   down() ─▶ device.ts;  close() ─▶ supervisor.ts stops, the `ip` session ends
 *
 * Design rationale
 *  - Everything kernel-facing goes through the injected `@gingham/host` runner (`wg`, `ip`), so
 *    the same code targets `ip netns exec NS` in tests. Local files (state, pid, /proc) are read
 *    directly: they are machine-wide anyway.
 *  - Incremental: the current state is read back (`wg show dump` or UAPI, `ip -j`) on every
 *    apply and only differences are written. Untouched peers keep their sessions, handshakes,
 *    counters. A long-lived handle diffs against what it applied last for `resyncIntervalMs`.
 *  - Changes by delta: `applyChanges` validates and diffs a change against the handle's indexes
 *    of what it applied last (`PeerIndex`), so a node joining costs the same in a 1,000-peer
 *    mesh as in a 2-peer one; anything unexpected falls back to a read-back `apply`.
 *  - Validate first: the desired state is checked completely, and the interface name's owner
 *    established, before the first mutating command runs.
 *  - Routing as Felix: peers' allowed IPs are routed through the interface in a dedicated table
 *    (default 1) consulted by a rule of priority 99 for packets NOT carrying the device's fwmark
 *    (default 0x100000); the encrypted UDP the device emits carries the mark and so skips the
 *    table, which is what stops it from looping back into the tunnel.
 *  - Never adopt: an interface Gingham did not create (no state record) is refused, and a
 *    wireguard-go socket of another namespace is refused, instead of being reconfigured.
 *  - wireguard-go is started in the foreground so its pid is the daemon's, recorded in a pid
 *    file and used (after an identity check) to stop it. Detached daemons (the CLI) are
 *    restarted by the next `apply` when found dead; attached ones by the handle's supervisor.
 */
import { runChecked } from '@gingham/host';
import { WireguardError } from '../errors.js';
import { runOperations, type ApplyTarget } from './applier.js';
import { prepareDesiredState, type DesiredWireguardState, type OwnKeys } from './desired.js';
import { createDevice, establishOwnership, takeDown, type DeviceHome } from './device.js';
import type { WgDump } from './dump.js';
import { readLink } from './ip.js';
import { IpSessionSlot } from './ipsession.js';
import { expectedAfter, readDump, readObserved, type Observed } from './observed.js';
import { resolveOptions, type WireguardOptions } from './options.js';
import { PeerIndex, type PeerChanges, type ValidationMemo } from './peerindex.js';
import { planApply, planPeerChanges } from './plan.js';
import { buildApplyResult, type ApplyResult, type DownResult } from './result.js';
import { statePaths, writeState, type InterfaceState } from './state.js';
import { DaemonSupervisor } from './supervisor.js';
import { DEFAULT_HOST_PATHS, isAlive } from './userspace.js';

/** A handle on one interface. */
export interface Wireguard {
  readonly interfaceName: string;
  /** Converges the interface (creating it, and starting wireguard-go, when needed). */
  apply(desired: DesiredWireguardState): Promise<ApplyResult>;
  /**
   * Changes some peers of the state applied last by this handle: `upsert` adds or replaces
   * peers (by public key), `remove` drops peers by public key (unknown keys are ignored). Cost
   * proportional to the change: validated against the handle's indexes (key → peer, prefix →
   * claimants), then one UAPI set (or `wg set`) and one route batch. Rejected changes (bad
   * peer, our own key, a key upserted twice, a prefix another node claims) throw the typed
   * errors of `apply` and change nothing. Without a usable cache (none yet, too old, daemon
   * gone, a write failed) it falls back to a read-back `apply` of the resulting full state.
   * Throws `WG_INVALID_ARGUMENT` when this handle has applied nothing yet.
   */
  applyChanges(changes: PeerChanges): Promise<ApplyResult>;
  /** Removes the interface, its routes and rule, stops wireguard-go. Errors when absent. */
  down(): Promise<DownResult>;
  /** `wg show dump` of the interface, undefined when it does not exist here. */
  status(): Promise<WgDump | undefined>;
  /** Stops supervising; an attached wireguard-go is taken down (it would die with us anyway). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a long-lived handle remembers of its last apply, to skip reading it back (see `resyncIntervalMs`). */
interface Cache {
  readonly at: number;
  /** Interface, addresses and rules as left by the last apply; its peers and routes are in `index`. */
  readonly observed: Observed;
  /** The peers applied last (public key → peer) and the routes (prefix → claimants): see `PeerIndex`. */
  readonly index: PeerIndex;
  readonly state: InterfaceState;
  readonly home: DeviceHome;
}

/**
 * The desired state applied last by a handle: everything but the peers, our public key, and the
 * peers as indexes (shared with the cache while it is valid; `applyChanges` updates them in
 * place). Survives cache invalidation, so a fallback can rebuild the full state.
 */
interface Applied {
  readonly base: Omit<DesiredWireguardState, 'peers'>;
  readonly publicKey: string;
  readonly index: PeerIndex;
}

/**
 * Creates a handle for one interface. Nothing happens until `apply` or `down`. Options are
 * validated here (`WG_INVALID_ARGUMENT`).
 */
export function createWireguard(options: WireguardOptions = {}): Wireguard {
  const o = resolveOptions(options);

  let netnsCache: string | undefined;
  /** The namespace (by inode) and the state paths of this interface in it. */
  const homeOf = async (): Promise<DeviceHome> => {
    netnsCache ??= (await runChecked(o.runner, ['readlink', '/proc/self/ns/net'])).stdout.trim();
    return { netns: netnsCache, paths: statePaths(o.stateDir, o.name, netnsCache) };
  };
  const target = (mode: 'kernel' | 'userspace'): ApplyTarget => ({ name: o.name, runner: o.runner, mode, stateDir: o.stateDir, hostPaths: o.hostPaths });

  let cache: Cache | undefined;
  let applied: Applied | undefined;
  /** Validation results of the last desired state (see `ValidationMemo`). */
  let memo: ValidationMemo | undefined;
  let ownKeys: OwnKeys | undefined;
  /** The persistent `ip` session of this handle (incremental applies only); opened lazily. */
  const ipSession = new IpSessionSlot(o.runner);
  const sessionBatch = (lines: readonly string[]): Promise<boolean> => ipSession.batch(lines);

  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  const supervisor = new DaemonSupervisor(o.restart, o.emit, {
    onExit: () => {
      cache = undefined;
    },
    canReapply: () => applied !== undefined,
    reapply: () => serialize(() => doApply({ ...applied!.base, peers: applied!.index.list() })),
  });

  /** The cache is usable: fresh enough, and the daemon (userspace) or the interface (kernel) is still there. */
  const cacheUsable = async (): Promise<Cache | undefined> => {
    const c = cache;
    if (!c || o.resyncIntervalMs <= 0 || Date.now() - c.at > o.resyncIntervalMs) return undefined;
    if (c.state.mode === 'userspace') {
      if (c.state.pid === undefined) return undefined;
      // O(1): a signal-0 probe of the recorded pid (no /proc read, no socket round trip); an
      // attached daemon's exit also clears the cache (see the supervisor). Test hosts fake /proc.
      if (o.hostPaths.procDir !== DEFAULT_HOST_PATHS.procDir) return (await isAlive(c.state.pid, o.hostPaths.procDir)) ? c : undefined;
      try {
        process.kill(c.state.pid, 0);
        return c;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM' ? c : undefined;
      }
    }
    return (await readLink(o.runner, o.name)) !== undefined ? c : undefined;
  };

  const doApply = async (desired: DesiredWireguardState): Promise<ApplyResult> => {
    const started = performance.now();
    // Validate first: nothing is touched when this throws.
    const checked = prepareDesiredState(desired, memo, ownKeys);
    memo = checked.memo;
    ownKeys = checked.own;
    const prepared = checked.prepared;

    let created = false;
    let restarted = false;
    let state: InterfaceState;
    let home: DeviceHome;
    let current: Observed;
    const cached = await cacheUsable();
    if (cached) {
      ({ state, home, observed: current } = cached);
    } else {
      cache = undefined;
      let link = await readLink(o.runner, o.name);
      home = await homeOf();
      const prior = await establishOwnership(o, home, link);
      if (!link) {
        const made = await createDevice(o, home.paths, prior, supervisor);
        created = true;
        restarted = prior !== undefined;
        state = {
          version: 1,
          interfaceName: o.name,
          netns: home.netns,
          mode: made.mode,
          ...(made.pid !== undefined ? { pid: made.pid } : {}),
          table: prior?.table ?? o.table,
          rulePriority: prior?.rulePriority ?? o.priority,
          fwmark: prior?.fwmark ?? o.fwmark,
          ruleFamilies: prior?.ruleFamilies ?? [],
        };
        // Record before configuring, so a failure below still leaves `down` able to clean up.
        await writeState(home.paths, state);
        link = await readLink(o.runner, o.name);
        if (!link) throw new WireguardError('WG_DAEMON_FAILED', `interface ${o.name} vanished right after it was created`);
      } else {
        state = prior!;
      }
      current = await readObserved({ name: o.name, runner: o.runner, hostPaths: o.hostPaths }, link, state, o, prepared.families);
    }
    const readMs = performance.now() - started;

    const plan = planApply({ name: o.name, routing: o, recorded: state, desired, prepared, current, ...(cached ? { applied: cached.index } : {}) });
    let writes;
    try {
      // Incremental applies of a long-lived handle send route batches on its persistent `ip`
      // session (no spawn); a read-back apply (fresh handle, CLI) runs one `ip -batch -` process.
      writes = await runOperations(plan.operations, { ...target(state.mode), ...(cached ? { sessionBatch } : {}) });
    } catch (e) {
      cache = undefined;
      // The cache was wrong (someone changed the interface behind our back): read back and retry once.
      if (cached) return doApply(desired);
      throw e;
    }

    const next: InterfaceState = { ...state, table: o.table, rulePriority: o.priority, fwmark: o.fwmark, ruleFamilies: plan.ruleFamilies };
    if (JSON.stringify(next) !== JSON.stringify(state) || created) await writeState(home.paths, next);
    const index = PeerIndex.fromPrepared(prepared.peers);
    applied = {
      base: { privateKey: desired.privateKey, interface: desired.interface, ...(desired.ipVersion !== undefined ? { ipVersion: desired.ipVersion } : {}) },
      publicKey: checked.own.publicKey,
      index,
    };
    const after = { privateKey: desired.privateKey, listenPort: desired.interface.listenPort, mtu: desired.interface.mtu, ...(prepared.address !== undefined ? { address: prepared.address } : {}) };
    cache = { at: Date.now(), observed: expectedAfter(after, next.ruleFamilies, o), index, state: next, home };
    return buildApplyResult({ interfaceName: o.name, mode: next.mode, created, restarted, pid: next.pid, plan, writes, readBack: !cached, readMs, totalMs: performance.now() - started });
  };

  const doApplyChanges = async (changes: PeerChanges): Promise<ApplyResult> => {
    const started = performance.now();
    const base = applied;
    if (!base) throw new WireguardError('WG_INVALID_ARGUMENT', `applyChanges on ${o.name} needs a prior apply by this handle (it changes the state applied last)`);
    // Validate first, against the indexes (cost proportional to the change): nothing is touched when this throws.
    const change = base.index.plan(changes, base.publicKey, memo);
    const full = (): DesiredWireguardState => ({ ...base.base, peers: base.index.list(change) });
    // No usable cache (too old, daemon gone, a failed write): a read-back apply of the full result.
    const cached = await cacheUsable();
    if (!cached || cached.index !== base.index) return doApply(full());
    // A prefix of a family the policy rule does not cover yet: the full apply adds the rule.
    if (change.routes.add.some((r) => !cached.state.ruleFamilies.includes(r.includes(':') ? 6 : 4))) return doApply(full());
    const readMs = performance.now() - started;
    const plan = planPeerChanges(o.name, o, change, cached.state.ruleFamilies);
    let writes;
    try {
      writes = await runOperations(plan.operations, { ...target(cached.state.mode), sessionBatch });
    } catch {
      // The cache was wrong (someone changed the interface behind our back), or a write failed
      // half-way: read back and converge to the full resulting state.
      cache = undefined;
      return doApply(full());
    }
    base.index.commit(change);
    cache = { ...cached, at: Date.now() };
    const s = cached.state;
    return buildApplyResult({ interfaceName: o.name, mode: s.mode, created: false, restarted: false, pid: s.pid, plan, writes, readBack: false, readMs, totalMs: performance.now() - started });
  };

  const doDown = async (): Promise<DownResult> => {
    await ipSession.reset();
    const result = await takeDown(o, await homeOf(), supervisor);
    applied = undefined;
    cache = undefined;
    return result;
  };

  const handle: Wireguard = {
    interfaceName: o.name,
    apply: (desired) => serialize(() => doApply(desired)),
    applyChanges: (changes) => serialize(() => doApplyChanges(changes)),
    down: () => serialize(() => doDown()),
    status: () =>
      serialize(async () => {
        const link = await readLink(o.runner, o.name);
        if (!link) return undefined;
        const state = await establishOwnership(o, await homeOf(), link);
        return readDump({ name: o.name, runner: o.runner, hostPaths: o.hostPaths }, state?.mode ?? (link.kind === 'tun' ? 'userspace' : 'kernel'));
      }),
    close: async () => {
      supervisor.stop();
      if (supervisor.pid !== undefined) await serialize(() => doDown()).catch(() => undefined);
      await serialize(() => ipSession.close());
    },
    [Symbol.asyncDispose]: () => handle.close(),
  };
  return handle;
}
