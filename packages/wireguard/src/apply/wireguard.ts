/**
 * The apply layer: converge one WireGuard interface in one network namespace to a desired state
 * (private key, port, address, MTU, peers) and the routing around it; tear it all down again.
 *
 * Design rationale
 *  - Everything kernel-facing goes through the injected `CommandRunner` (`wg`, `ip`), so the
 *    same code targets `ip netns exec NS` in tests. Local files (state, pid, /proc) are read
 *    directly: they are machine-wide anyway.
 *  - Incremental: the current state is read back (`wg show dump`, `ip -j`) on every apply and
 *    only differences are written. Untouched peers keep their sessions, handshakes, counters.
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
 *    file and used (after an identity check) to stop it. Restart policy: detached daemons (the
 *    CLI) are restarted by the next `apply` when found dead; attached ones are restarted by the
 *    handle with exponential backoff, at most `maxRestarts` within `windowMs`, re-applying the
 *    last desired state.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidKey, publicKeyFromPrivate } from '../keys.js';
import { parseCidr } from '../cidr.js';
import { CommandFailedError, NotSupportedError, WireguardError } from '../errors.js';
import type { InterfaceSettings, WireguardPeer } from '../peers.js';
import { detectWireguard } from './detect.js';
import { diffPeers, diffSets, type PeerDiff, renderWgSet } from './diff.js';
import { parseWgDump, type WgDump, type WgDumpPeer } from './dump.js';
import { isWireguardRule, readAddresses, readLink, readRoutes, readRules, ruleArgs, type LinkInfo, type RuleInfo } from './ip.js';
import { type CommandRunner, createLocalRunner, runChecked } from './runner.js';
import { DEFAULT_STATE_DIR, type InterfaceState, readPidFile, readState, removeFiles, statePaths, type StatePaths, writePidFile, writeState, ensureStateDir } from './state.js';
import { checkSocketOwnership, DEFAULT_HOST_PATHS, type HostPaths, isAlive, socketPath, startWireguardGo, stopProcess } from './userspace.js';
import { encodeUapiSet, uapiGet, uapiSet } from './uapi.js';
import { type IpSession, openIpSession } from './ipsession.js';
import { type PeerChanges, PeerIndex, preparePeer, type PreparedPeer, rawPeerKey, type ValidationMemo } from './peerindex.js';

/** Default interface name. */
export const DEFAULT_INTERFACE_NAME = 'gingham-wg';
/** Default routing table (Felix allocates one from RouteTableRanges; 1 is the first). */
export const DEFAULT_ROUTE_TABLE = 1;
/** Felix's WireguardRoutingRulePriority. */
export const DEFAULT_RULE_PRIORITY = 99;
/** The fwmark bit the device puts on its encrypted packets (Felix's default WireGuard mark). */
export const DEFAULT_FWMARK = 0x100000;

const IFACE_RE = /^[a-zA-Z0-9_.-]{1,15}$/;

/** Throws `WG_INVALID_ARGUMENT` unless `name` is a valid interface name. */
export function assertInterfaceName(name: string): void {
  if (!IFACE_RE.test(name) || name === '.' || name === '..') {
    throw new WireguardError('WG_INVALID_ARGUMENT', `invalid interface name "${name}": 1 to 15 characters of letters, digits, "_", "." and "-"`);
  }
}

/** Events reported by a handle (daemon supervision). */
export type WireguardEvent =
  | { readonly kind: 'daemon-started'; readonly pid: number }
  | { readonly kind: 'daemon-exited'; readonly pid: number; readonly code: number | null; readonly signal: string | null }
  | { readonly kind: 'daemon-restarted'; readonly pid: number; readonly attempt: number }
  | { readonly kind: 'daemon-gave-up'; readonly restarts: number; readonly error?: unknown };

/** Options of {@link createWireguard}. */
export interface WireguardOptions {
  /** Interface name (`^[a-zA-Z0-9_.-]{1,15}$`). Default `gingham-wg`. */
  readonly interfaceName?: string;
  /** Where commands run. Default: this process's namespace. */
  readonly runner?: CommandRunner;
  /** `auto` (default): kernel module when present, else wireguard-go. */
  readonly mode?: 'auto' | 'kernel' | 'userspace';
  /** Routing table for peers' allowed IPs. Default 1. */
  readonly table?: number;
  /** Priority of the policy-routing rule. Default 99. */
  readonly rulePriority?: number;
  /** fwmark of the device's own packets (a single bit is recommended). Default 0x100000. */
  readonly fwmark?: number;
  /** State, pid and log files. Default `/run/gingham/wireguard`. */
  readonly stateDir?: string;
  /**
   * wireguard-go outlives this process (own process group, not waited for). Default true: the
   * CLI's `apply` returns and the tunnel stays. False: an attached child supervised here.
   */
  readonly detach?: boolean;
  /** Restart policy for attached wireguard-go. Defaults: 5 restarts per 5 minutes, backoff from 1 s. */
  readonly restart?: { readonly maxRestarts?: number; readonly windowMs?: number; readonly backoffMs?: number };
  /** wireguard-go binary. Default `wireguard-go` (from PATH). */
  readonly wireguardGo?: string;
  /** Supervision events. */
  readonly onEvent?: (event: WireguardEvent) => void;
  /** Socket and /proc locations (tests). */
  readonly hostPaths?: HostPaths;
  /**
   * A handle remembers what its last apply left behind and, for this long, diffs against that
   * instead of reading it back (it still checks that the interface or daemon is alive, and
   * reads back and retries when a command fails). 0 = always read back. Default 60 s. The CLI
   * uses a fresh handle per run, so it always reads back.
   */
  readonly resyncIntervalMs?: number;
}

/** What an apply should converge to. A `WireguardConfig` plus the private key fits. */
export interface DesiredWireguardState {
  readonly privateKey: string;
  readonly interface: InterfaceSettings;
  readonly peers: readonly WireguardPeer[];
  /** Family of the policy-routing rule (the device's family). Default 4. */
  readonly ipVersion?: 4 | 6;
}

/** What an apply did. */
export interface ApplyResult {
  readonly interfaceName: string;
  readonly mode: 'kernel' | 'userspace';
  /** The interface was created by this apply. */
  readonly created: boolean;
  /** It was recreated because its wireguard-go had died. */
  readonly restarted: boolean;
  /** wireguard-go's pid (userspace). */
  readonly pid?: number;
  readonly peers: { readonly added: number; readonly updated: number; readonly removed: number; readonly unchanged: number };
  readonly routes: { readonly added: number; readonly removed: number };
  /** Peer operations sent to WireGuard (add + update + remove). */
  readonly peerOperations: number;
  /** Mutating commands run (wg set or UAPI set, ip addr/link/route/rule/batch). 0 means nothing changed. */
  readonly commands: number;
  /**
   * How the mutating commands were sent: UAPI `set` requests on wireguard-go's socket (no
   * process), batches on the handle's persistent `ip` session (no process), and processes
   * spawned (`wg set`, one-shot `ip`).
   */
  readonly writes: { readonly uapiSets: number; readonly ipSessionBatches: number; readonly processes: number };
  /** The current state was read back from the kernel (false: taken from this handle's cache). */
  readonly readBack: boolean;
  /** Time spent reading the current state, writing changes, and in total. */
  readonly durationMs: {
    readonly read: number;
    readonly write: number;
    readonly total: number;
    /** Of `write`: the WireGuard request(s) (UAPI set or `wg set`) and the route batch. */
    readonly wireguard?: number;
    readonly routes?: number;
  };
}

/** What a `down` removed. */
export interface DownResult {
  readonly interfaceName: string;
  readonly removedInterface: boolean;
  readonly stoppedPid?: number;
  readonly removedRules: number;
  readonly removedRoutes: number;
}

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

function assertInt(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new WireguardError('WG_INVALID_ARGUMENT', `${what} ${value} is not an integer in ${min}..${max}`);
  }
}

/** A validated desired state. */
interface PreparedState {
  readonly peers: readonly PreparedPeer[];
  /** Every allowed IP (canonical) and the node claiming it: the routes wanted. */
  readonly prefixOwner: ReadonlyMap<string, string>;
}

function prepareDesiredState(desired: DesiredWireguardState, memo: ValidationMemo | undefined, ownKeys?: { privateKey: string; publicKey: string }): { prepared: PreparedState; memo: ValidationMemo; own: { privateKey: string; publicKey: string } } {
  let own = ownKeys;
  if (own?.privateKey !== desired.privateKey) {
    if (!isValidKey(desired.privateKey)) throw new WireguardError('WG_INVALID_KEY', 'private key is not a WireGuard key (base64 of exactly 32 bytes)');
    own = { privateKey: desired.privateKey, publicKey: publicKeyFromPrivate(desired.privateKey) };
  }
  const i = desired.interface;
  assertInt(i.listenPort, 1, 65535, 'listen port');
  assertInt(i.mtu, 576, 65535, 'MTU');
  if (i.address !== undefined && !parseCidr(i.address)) throw new WireguardError('WG_INVALID_ARGUMENT', `interface address "${i.address}" is not an IP address or prefix`);
  const keys = new Set<string>();
  const prefixOwner = new Map<string, string>();
  const nextMemo: ValidationMemo = new Map();
  const peers: PreparedPeer[] = [];
  for (const p of desired.peers) {
    const raw = rawPeerKey(p);
    const cached = memo?.get(raw);
    const known = cached ? { peer: p, ...cached } : preparePeer(p);
    nextMemo.set(raw, { prefixes: known.prefixes, fingerprint: known.fingerprint });
    if (p.publicKey === own.publicKey) throw new WireguardError('WG_INVALID_ARGUMENT', `peer ${p.node} has this interface's own public key`);
    if (keys.has(p.publicKey)) throw new WireguardError('WG_INVALID_ARGUMENT', `peer ${p.node} repeats the public key of another peer`);
    keys.add(p.publicKey);
    for (const c of known.prefixes) {
      const other = prefixOwner.get(c);
      if (other !== undefined && other !== p.node) throw new WireguardError('WG_INVALID_ARGUMENT', `allowed IP ${c} is claimed by peers ${other} and ${p.node}`);
      prefixOwner.set(c, p.node);
    }
    peers.push({ peer: p, prefixes: known.prefixes, fingerprint: known.fingerprint });
  }
  return { prepared: { peers, prefixOwner }, memo: nextMemo, own };
}

/** Checks a desired state completely; throws before anything is touched. */
export function validateDesiredState(desired: DesiredWireguardState): void {
  prepareDesiredState(desired, undefined);
}

/** What the interface and its routing look like now (read back, or taken from the cache). */
interface Observed {
  readonly privateKey?: string;
  readonly listenPort: number;
  readonly fwmark: number;
  readonly peers: readonly WgDumpPeer[];
  readonly addresses: readonly string[];
  readonly mtu: number;
  readonly up: boolean;
  /** Routes through the interface in the configured table. */
  readonly routes: readonly string[];
  /** Routes through the interface left in a previously used table. */
  readonly staleRoutes: readonly string[];
  readonly rules: ReadonlyMap<4 | 6, readonly RuleInfo[]>;
}

interface Resolved {
  readonly name: string;
  readonly runner: CommandRunner;
  readonly table: number;
  readonly priority: number;
  readonly fwmark: number;
  readonly stateDir: string;
  readonly detach: boolean;
  readonly wireguardGo: string;
  readonly hostPaths: HostPaths;
}

/** The peer diff against the peers a handle applied last (same result as `diffPeers` on a read-back). */
function diffPrepared(applied: ReadonlyMap<string, PreparedPeer>, want: PreparedState): PeerDiff {
  const add: WireguardPeer[] = [];
  const update: WireguardPeer[] = [];
  let unchanged = 0;
  const keep = new Set<string>();
  for (const p of want.peers) {
    keep.add(p.peer.publicKey);
    const old = applied.get(p.peer.publicKey);
    if (!old) add.push(p.peer);
    else if (old.fingerprint !== p.fingerprint) update.push(p.peer);
    else unchanged++;
  }
  const remove = [...applied.keys()].filter((k) => !keep.has(k)).sort();
  return { add, update, remove, unchanged };
}

/** Route changes implied by a peer diff against the routes a handle applied last. */
function diffPreparedRoutes(applied: ReadonlyMap<string, PreparedPeer>, appliedRoutes: ReadonlyMap<string, unknown>, want: PreparedState, diff: PeerDiff): { add: string[]; remove: string[] } {
  const add = new Set<string>();
  const remove = new Set<string>();
  const changed = new Set<WireguardPeer>([...diff.add, ...diff.update]);
  for (const p of want.peers) if (changed.has(p.peer)) for (const r of p.prefixes) if (!appliedRoutes.has(r)) add.add(r);
  for (const k of [...diff.remove, ...diff.update.map((p) => p.publicKey)]) {
    for (const r of applied.get(k)?.prefixes ?? []) if (!want.prefixOwner.has(r)) remove.add(r);
  }
  return { add: [...add].sort(), remove: [...remove].sort() };
}

/**
 * Creates a handle for one interface. Nothing happens until `apply` or `down`. Options are
 * validated here (`WG_INVALID_ARGUMENT`).
 */
export function createWireguard(options: WireguardOptions = {}): Wireguard {
  const o: Resolved = {
    name: options.interfaceName ?? DEFAULT_INTERFACE_NAME,
    runner: options.runner ?? createLocalRunner(),
    table: options.table ?? DEFAULT_ROUTE_TABLE,
    priority: options.rulePriority ?? DEFAULT_RULE_PRIORITY,
    fwmark: options.fwmark ?? DEFAULT_FWMARK,
    stateDir: options.stateDir ?? DEFAULT_STATE_DIR,
    detach: options.detach ?? true,
    wireguardGo: options.wireguardGo ?? 'wireguard-go',
    hostPaths: options.hostPaths ?? DEFAULT_HOST_PATHS,
  };
  assertInterfaceName(o.name);
  assertInt(o.table, 1, 0xfffffffe, 'routing table');
  if (o.table === 253 || o.table === 254 || o.table === 255) throw new WireguardError('WG_INVALID_ARGUMENT', `routing table ${o.table} is reserved (default, main, local)`);
  assertInt(o.priority, 1, 32765, 'rule priority');
  assertInt(o.fwmark, 1, 0xffffffff, 'fwmark');
  const mode = options.mode ?? 'auto';
  const restart = { maxRestarts: options.restart?.maxRestarts ?? 5, windowMs: options.restart?.windowMs ?? 300_000, backoffMs: options.restart?.backoffMs ?? 1000 };
  const emit = (e: WireguardEvent): void => options.onEvent?.(e);
  const resyncIntervalMs = options.resyncIntervalMs ?? 60_000;

  let netnsCache: string | undefined;
  const netns = async (): Promise<string> => {
    if (netnsCache) return netnsCache;
    const res = await runChecked(o.runner, ['readlink', '/proc/self/ns/net']);
    netnsCache = res.stdout.trim();
    return netnsCache;
  };
  const pathsFor = async (): Promise<StatePaths> => statePaths(o.stateDir, o.name, await netns());

  /** The state after the last successful apply, to skip reading it back (see `resyncIntervalMs`). */
  let cache:
    | {
        readonly at: number;
        /** Interface, addresses and rules as left by the last apply; its peers and routes are in `peers`/`prefixOwner`. */
        readonly observed: Observed;
        /** The peers applied last (public key → peer) and the routes (prefix → claimants): see `PeerIndex`. */
        readonly index: PeerIndex;
        readonly state: InterfaceState;
        readonly paths: StatePaths;
      }
    | undefined;
  /** Validation results of the last desired state (see `ValidationMemo`). */
  let memo: ValidationMemo | undefined;
  let ownKeys: { privateKey: string; publicKey: string } | undefined;

  // Supervision of an attached wireguard-go.
  /**
   * The desired state applied last by this handle: everything but the peers, our public key,
   * and the peers as indexes (shared with `cache` while it is valid; `applyChanges` updates
   * them in place). Survives cache invalidation, so a fallback can rebuild the full state.
   */
  let applied: { readonly base: Omit<DesiredWireguardState, 'peers'>; readonly publicKey: string; readonly index: PeerIndex } | undefined;
  const lastDesired = (): DesiredWireguardState | undefined => (applied ? { ...applied.base, peers: applied.index.list() } : undefined);
  let attachedPid: number | undefined;
  let stopping = false;
  const restartTimes: number[] = [];
  const watch = (pid: number, exited: Promise<{ code: number | null; signal: string | null }>): void => {
    attachedPid = pid;
    void exited.then(async ({ code, signal }) => {
      if (attachedPid !== pid) return;
      attachedPid = undefined;
      cache = undefined;
      if (stopping) return;
      emit({ kind: 'daemon-exited', pid, code, signal });
      const now = Date.now();
      while (restartTimes.length > 0 && restartTimes[0]! < now - restart.windowMs) restartTimes.shift();
      if (restartTimes.length >= restart.maxRestarts || !applied) {
        emit({ kind: 'daemon-gave-up', restarts: restartTimes.length });
        return;
      }
      const attempt = restartTimes.length + 1;
      restartTimes.push(now);
      await new Promise((r) => setTimeout(r, restart.backoffMs * 2 ** (attempt - 1)));
      if (stopping) return;
      try {
        const r = await serialize(() => doApply(lastDesired()!));
        if (r.pid !== undefined) emit({ kind: 'daemon-restarted', pid: r.pid, attempt });
      } catch (error) {
        emit({ kind: 'daemon-gave-up', restarts: restartTimes.length, error });
      }
    });
  };

  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  /** Establishes ownership: returns our state record (or undefined when the name is unused here). */
  const establish = async (link: LinkInfo | undefined): Promise<{ state: InterfaceState | undefined; paths: StatePaths }> => {
    const paths = await pathsFor();
    const state = await readState(paths);
    const pidHint = state?.pid ?? (await readPidFile(paths.pidFile));
    const owner = await checkSocketOwnership(o.name, await netns(), o.hostPaths, pidHint);
    if (link) {
      if (!state) {
        throw new WireguardError(
          'WG_INTERFACE_NOT_OURS',
          `interface ${o.name} already exists in ${o.runner.description} and was not created by gingham; refusing to reconfigure it (choose another --interface, or remove it)`,
        );
      }
      if (link.kind !== 'wireguard' && link.kind !== 'tun') {
        throw new WireguardError('WG_INTERFACE_NOT_OURS', `interface ${o.name} in ${o.runner.description} is a ${link.kind} device, not WireGuard; refusing to touch it`);
      }
    } else if (owner.kind === 'this-namespace') {
      // A wireguard-go for this name runs here but its TUN is gone: it is not ours to reuse.
      if (!state || owner.pid !== state.pid) {
        throw new WireguardError('WG_INTERFACE_NAME_TAKEN', `interface name ${o.name} is held by wireguard-go pid ${owner.pid} that gingham did not start; choose another --interface`);
      }
    }
    return { state, paths };
  };

  const createInterface = async (paths: StatePaths, prior: InterfaceState | undefined): Promise<{ mode: 'kernel' | 'userspace'; pid?: number }> => {
    // A previous wireguard-go of ours that lost its device: stop it before starting anew.
    if (prior?.pid !== undefined && (await isAlive(prior.pid, o.hostPaths.procDir))) await stopProcess(prior.pid, o.name, o.hostPaths);
    let want: 'kernel' | 'userspace' = mode === 'userspace' ? 'userspace' : 'kernel';
    const caps = await detectWireguard(o.runner, { wireguardGo: o.wireguardGo });
    if (!caps.wg) throw new NotSupportedError('wg', `the wg tool (wireguard-tools) is not installed in ${o.runner.description}`);
    if (want === 'kernel' && !caps.kernel) {
      if (mode === 'kernel') throw new NotSupportedError('wireguard-kernel', 'the WireGuard kernel module is not available (no generic netlink family "wireguard")');
      want = 'userspace';
    }
    if (want === 'kernel') {
      const res = await o.runner.run(['ip', 'link', 'add', 'dev', o.name, 'type', 'wireguard']);
      if (res.code === 0) return { mode: 'kernel' };
      if (mode === 'kernel' || !/Unknown device type|not supported/i.test(res.stderr)) {
        throw new CommandFailedError(['ip', 'link', 'add', 'dev', o.name, 'type', 'wireguard'], res);
      }
    }
    if (!caps.userspace) throw new NotSupportedError('wireguard-go', `neither the WireGuard kernel module nor wireguard-go is available in ${o.runner.description}`);
    await ensureStateDir(o.stateDir);
    const child = await startWireguardGo(o.runner, o.name, {
      binary: o.wireguardGo,
      logFile: paths.logFile,
      detached: o.detach,
      paths: o.hostPaths,
      linkExists: async () => (await readLink(o.runner, o.name)) !== undefined,
    });
    await writePidFile(paths.pidFile, child.pid);
    emit({ kind: 'daemon-started', pid: child.pid });
    if (!o.detach) watch(child.pid, child.exited);
    return { mode: 'userspace', pid: child.pid };
  };


  /** The device's configuration and peers: UAPI for wireguard-go (no process), `wg show dump` for the kernel. */
  const readDump = async (m: 'kernel' | 'userspace'): Promise<WgDump> =>
    m === 'userspace' ? uapiGet(socketPath(o.name, o.hostPaths)) : parseWgDump((await runChecked(o.runner, ['wg', 'show', o.name, 'dump'])).stdout);

  /** The persistent `ip` session of this handle (incremental applies only); opened lazily. */
  let ipSession: IpSession | undefined;
  const closeIpSession = async (): Promise<void> => {
    const s = ipSession;
    ipSession = undefined;
    await s?.close();
  };
  /** Sends a route batch on the session; false when no session can be had (caller spawns). */
  const sessionBatch = async (lines: readonly string[]): Promise<boolean> => {
    if (stopping) return false;
    if (!ipSession?.alive) {
      await closeIpSession();
      ipSession = await openIpSession(o.runner);
      if (!ipSession) return false;
    }
    await ipSession.batch(lines);
    return true;
  };

  const observe = async (link: LinkInfo, state: InterfaceState, families: ReadonlySet<4 | 6>): Promise<Observed> => {
    const fams = [4, 6].filter((f) => families.has(f as 4 | 6) || state.ruleFamilies.includes(f as 4 | 6)) as (4 | 6)[];
    const stale = state.table !== o.table;
    // Read-only commands, run concurrently.
    const [dump, addresses, routes, staleRoutes, rules] = await Promise.all([
      readDump(state.mode),
      readAddresses(o.runner, o.name),
      Promise.all([4, 6].map((f) => readRoutes(o.runner, f as 4 | 6, o.table, o.name))).then((x) => x.flat()),
      stale ? Promise.all([4, 6].map((f) => readRoutes(o.runner, f as 4 | 6, state.table, o.name))).then((x) => x.flat()) : Promise.resolve([]),
      Promise.all(fams.map(async (f) => [f, await readRules(o.runner, f)] as const)).then((x) => new Map(x)),
    ]);
    return {
      ...(dump.interface.privateKey !== undefined ? { privateKey: dump.interface.privateKey } : {}),
      listenPort: dump.interface.listenPort,
      fwmark: dump.interface.fwmark,
      peers: dump.peers,
      addresses,
      mtu: link.mtu,
      up: link.up,
      routes,
      staleRoutes,
      rules,
    };
  };

  /** What the interface looks like once `desired` is applied (the cache after an apply). */
  const expected = (desired: DesiredWireguardState, state: InterfaceState): Observed => ({
    privateKey: desired.privateKey,
    listenPort: desired.interface.listenPort,
    fwmark: o.fwmark,
    // Peers and routes of the cache live in its `peers` / `prefixOwner` maps.
    peers: [],
    addresses: desired.interface.address ? [parseCidr(desired.interface.address)!.text] : [],
    mtu: desired.interface.mtu,
    up: true,
    routes: [],
    staleRoutes: [],
    rules: new Map(state.ruleFamilies.map((f) => [f, [{ priority: o.priority, table: String(o.table), not: true, fwmark: o.fwmark, fwmask: o.fwmark }]] as const)),
  });

  /** The cache is usable: fresh enough, and (userspace) the daemon is still alive. */
  const cacheUsable = async (): Promise<boolean> => {
    if (!cache || resyncIntervalMs <= 0 || Date.now() - cache.at > resyncIntervalMs) return false;
    if (cache.state.mode === 'userspace') {
      if (cache.state.pid === undefined) return false;
      // O(1): a signal-0 probe of the recorded pid (no /proc read, no socket round trip); an
      // attached daemon's exit also clears the cache (see `watch`). Test hosts fake /proc.
      if (o.hostPaths.procDir !== DEFAULT_HOST_PATHS.procDir) return isAlive(cache.state.pid, o.hostPaths.procDir);
      try {
        process.kill(cache.state.pid, 0);
        return true;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    return (await readLink(o.runner, o.name)) !== undefined;
  };

  const doApply = async (desired: DesiredWireguardState): Promise<ApplyResult> => {
    const started = performance.now();
    const checked = prepareDesiredState(desired, memo, ownKeys);
    memo = checked.memo;
    ownKeys = checked.own;
    const prepared = checked.prepared;
    const family = desired.ipVersion ?? 4;
    const wantRoutes = [...prepared.prefixOwner.keys()];
    const families = new Set<4 | 6>([family]);
    for (const r of wantRoutes) families.add(r.includes(':') ? 6 : 4);

    let created = false;
    let restarted = false;
    let state: InterfaceState;
    let paths: StatePaths;
    let current: Observed;
    const fromCache = await cacheUsable();
    let cached: NonNullable<typeof cache> | undefined;
    if (fromCache) {
      ({ state, paths, observed: current } = cache!);
      cached = cache!;
    } else {
      cache = undefined;
      let link = await readLink(o.runner, o.name);
      const established = await establish(link);
      paths = established.paths;
      const prior = established.state;
      if (!link) {
        const made = await createInterface(paths, prior);
        created = true;
        restarted = prior !== undefined;
        state = {
          version: 1,
          interfaceName: o.name,
          netns: await netns(),
          mode: made.mode,
          ...(made.pid !== undefined ? { pid: made.pid } : {}),
          table: prior?.table ?? o.table,
          rulePriority: prior?.rulePriority ?? o.priority,
          fwmark: prior?.fwmark ?? o.fwmark,
          ruleFamilies: prior?.ruleFamilies ?? [],
        };
        // Record before configuring, so a failure below still leaves `down` able to clean up.
        await writeState(paths, state);
        link = await readLink(o.runner, o.name);
        if (!link) throw new WireguardError('WG_DAEMON_FAILED', `interface ${o.name} vanished right after it was created`);
      } else {
        state = prior!;
      }
      current = await observe(link, state, families);
    }
    const readMs = performance.now() - started;

    let commands = 0;
    let uapiSets = 0;
    let ipSessionBatches = 0;
    let processes = 0;
    const mutate = async (argv: readonly string[], input?: string): Promise<void> => {
      commands++;
      processes++;
      await runChecked(o.runner, argv, input === undefined ? undefined : { input });
    };

    let wgMs = 0;
    let routesMs = 0;
    let diff: ReturnType<typeof diffPeers>;
    let routesAdded = 0;
    let routesRemoved = 0;
    const ruleFamilies = new Set<4 | 6>(state.ruleFamilies);
    try {
      // WireGuard: key, port, fwmark, peers.
      // From the cache: compare fingerprints (the peers applied last are known exactly);
      // read back: compare with what the device reports.
      diff = cached ? diffPrepared(cached.index.peers, prepared) : diffPeers(current.peers, desired.peers);
      if (state.mode === 'userspace') {
        // wireguard-go: one UAPI request on its socket, whatever the number of peers; the private
        // key travels over the (root-only) socket, never through a file or a command line.
        const request = encodeUapiSet(diff, {
          ...(current.privateKey !== desired.privateKey ? { privateKey: desired.privateKey } : {}),
          ...(current.listenPort !== desired.interface.listenPort ? { listenPort: desired.interface.listenPort } : {}),
          ...(current.fwmark !== o.fwmark ? { fwmark: o.fwmark } : {}),
        });
        if (request !== undefined) {
          commands++;
          uapiSets++;
          const t = performance.now();
          await uapiSet(socketPath(o.name, o.hostPaths), request);
          wgMs += performance.now() - t;
        }
      }
      const keyFile = state.mode === 'kernel' && current.privateKey !== desired.privateKey ? join(o.stateDir, `.${o.name}.${randomBytes(6).toString('hex')}.key`) : undefined;
      const changes = {
        ...(keyFile !== undefined ? { privateKeyFile: keyFile } : {}),
        ...(current.listenPort !== desired.interface.listenPort ? { listenPort: desired.interface.listenPort } : {}),
        ...(current.fwmark !== o.fwmark ? { fwmark: o.fwmark } : {}),
      };
      const wgCommands = state.mode === 'kernel' ? renderWgSet(o.name, diff, changes) : [];
      try {
        if (keyFile !== undefined) {
          await ensureStateDir(o.stateDir);
          await writeFile(keyFile, `${desired.privateKey}\n`, { mode: 0o600, flag: 'wx' });
        }
        const t = performance.now();
        for (const c of wgCommands) await mutate(c.argv);
        wgMs += performance.now() - t;
      } finally {
        if (keyFile !== undefined) await rm(keyFile, { force: true });
      }

      // Address, MTU, up.
      const wantAddr = desired.interface.address ? parseCidr(desired.interface.address)!.text : undefined;
      for (const a of current.addresses) if (a !== wantAddr) await mutate(['ip', 'addr', 'del', a, 'dev', o.name]);
      if (wantAddr && !current.addresses.includes(wantAddr)) await mutate(['ip', 'addr', 'replace', wantAddr, 'dev', o.name]);
      if (current.mtu !== desired.interface.mtu || !current.up) await mutate(['ip', 'link', 'set', 'dev', o.name, 'mtu', String(desired.interface.mtu), 'up']);

      // Routes: add before removing, in one batch; leftovers of a previously used table go too.
      const batch: string[] = [];
      const rd = cached ? diffPreparedRoutes(cached.index.peers, cached.index.claims, prepared, diff) : diffSets(current.routes, wantRoutes);
      for (const dst of rd.add) batch.push(`route replace ${dst} dev ${o.name} table ${o.table}`);
      for (const dst of rd.remove) batch.push(`route del ${dst} dev ${o.name} table ${o.table}`);
      for (const dst of current.staleRoutes) batch.push(`route del ${dst} dev ${o.name} table ${state.table}`);
      routesAdded = rd.add.length;
      routesRemoved = rd.remove.length + current.staleRoutes.length;
      if (batch.length > 0) {
        const t = performance.now();
        // Incremental applies of a long-lived handle use its persistent `ip` session (no spawn);
        // a read-back apply (fresh handle, CLI) runs one `ip -batch -` process.
        if (fromCache && (await sessionBatch(batch))) {
          commands++;
          ipSessionBatches++;
        } else {
          await mutate(['ip', '-batch', '-'], `${batch.join('\n')}\n`);
        }
        routesMs += performance.now() - t;
      }

      // Rules: drop the old one when table/priority/mark changed, then ensure ours per family.
      const ruleChanged = state.table !== o.table || state.rulePriority !== o.priority || state.fwmark !== o.fwmark;
      for (const f of [4, 6] as const) {
        const rules = current.rules.get(f) ?? [];
        if (ruleChanged && ruleFamilies.has(f) && rules.some((r) => isWireguardRule(r, state.table, state.rulePriority, state.fwmark))) {
          await mutate(['ip', `-${f}`, 'rule', 'del', ...ruleArgs(state.table, state.rulePriority, state.fwmark)]);
          ruleFamilies.delete(f);
        }
        if (families.has(f)) {
          if (!rules.some((r) => isWireguardRule(r, o.table, o.priority, o.fwmark))) await mutate(['ip', `-${f}`, 'rule', 'add', ...ruleArgs(o.table, o.priority, o.fwmark)]);
          ruleFamilies.add(f);
        }
      }
    } catch (e) {
      cache = undefined;
      // The cache was wrong (someone changed the interface behind our back): read back and retry once.
      if (fromCache) return doApply(desired);
      throw e;
    }

    const next: InterfaceState = { ...state, table: o.table, rulePriority: o.priority, fwmark: o.fwmark, ruleFamilies: [...ruleFamilies].sort() };
    if (JSON.stringify(next) !== JSON.stringify(state) || created) await writeState(paths, next);
    const index = PeerIndex.fromPrepared(prepared.peers);
    applied = {
      base: { privateKey: desired.privateKey, interface: desired.interface, ...(desired.ipVersion !== undefined ? { ipVersion: desired.ipVersion } : {}) },
      publicKey: checked.own.publicKey,
      index,
    };
    cache = { at: Date.now(), observed: expected(desired, next), index, state: next, paths };
    const total = performance.now() - started;
    return {
      interfaceName: o.name,
      mode: next.mode,
      created,
      restarted,
      ...(next.pid !== undefined ? { pid: next.pid } : {}),
      peers: { added: diff.add.length, updated: diff.update.length, removed: diff.remove.length, unchanged: diff.unchanged },
      routes: { added: routesAdded, removed: routesRemoved },
      peerOperations: diff.add.length + diff.update.length + diff.remove.length,
      commands,
      writes: { uapiSets, ipSessionBatches, processes },
      readBack: !fromCache,
      durationMs: { read: readMs, write: total - readMs, total, wireguard: wgMs, routes: routesMs },
    };
  };

  const doApplyChanges = async (changes: PeerChanges): Promise<ApplyResult> => {
    const started = performance.now();
    const base = applied;
    if (!base) throw new WireguardError('WG_INVALID_ARGUMENT', `applyChanges on ${o.name} needs a prior apply by this handle (it changes the state applied last)`);
    // Validate first, against the indexes (cost proportional to the change): nothing is touched when this throws.
    const plan = base.index.plan(changes, base.publicKey, memo);
    const full = (): DesiredWireguardState => ({ ...base.base, peers: base.index.list(plan) });
    // No usable cache (too old, daemon gone, a failed write): a read-back apply of the full result.
    const cached = (await cacheUsable()) ? cache : undefined;
    if (!cached || cached.index !== base.index) return doApply(full());
    // A prefix of a family the policy rule does not cover yet: the full apply adds the rule.
    if (plan.routes.add.some((r) => !cached.state.ruleFamilies.includes(r.includes(':') ? 6 : 4))) return doApply(full());
    const readMs = performance.now() - started;
    let commands = 0;
    let uapiSets = 0;
    let ipSessionBatches = 0;
    let processes = 0;
    let wgMs = 0;
    let routesMs = 0;
    try {
      let t = performance.now();
      if (cached.state.mode === 'userspace') {
        const request = encodeUapiSet(plan.diff);
        if (request !== undefined) {
          commands++;
          uapiSets++;
          await uapiSet(socketPath(o.name, o.hostPaths), request);
        }
      } else {
        for (const c of renderWgSet(o.name, plan.diff)) {
          commands++;
          processes++;
          await runChecked(o.runner, c.argv);
        }
      }
      wgMs = performance.now() - t;
      // Routes of the changed peers' allowed IPs, in the same step: add before removing, one batch.
      const batch = [...plan.routes.add.map((dst) => `route replace ${dst} dev ${o.name} table ${o.table}`), ...plan.routes.remove.map((dst) => `route del ${dst} dev ${o.name} table ${o.table}`)];
      t = performance.now();
      if (batch.length > 0) {
        commands++;
        if (await sessionBatch(batch)) ipSessionBatches++;
        else {
          processes++;
          await runChecked(o.runner, ['ip', '-batch', '-'], { input: `${batch.join('\n')}\n` });
        }
      }
      routesMs = performance.now() - t;
    } catch {
      // The cache was wrong (someone changed the interface behind our back), or a write failed
      // half-way: read back and converge to the full resulting state.
      cache = undefined;
      return doApply(full());
    }
    base.index.commit(plan);
    cache = { ...cached, at: Date.now() };
    const total = performance.now() - started;
    return {
      interfaceName: o.name,
      mode: cached.state.mode,
      created: false,
      restarted: false,
      ...(cached.state.pid !== undefined ? { pid: cached.state.pid } : {}),
      peers: { added: plan.diff.add.length, updated: plan.diff.update.length, removed: plan.diff.remove.length, unchanged: plan.diff.unchanged },
      routes: { added: plan.routes.add.length, removed: plan.routes.remove.length },
      peerOperations: plan.diff.add.length + plan.diff.update.length + plan.diff.remove.length,
      commands,
      writes: { uapiSets, ipSessionBatches, processes },
      readBack: false,
      durationMs: { read: readMs, write: total - readMs, total, wireguard: wgMs, routes: routesMs },
    };
  };

  const doDown = async (): Promise<DownResult> => {
    await closeIpSession();
    const link = await readLink(o.runner, o.name);
    const paths = await pathsFor();
    const state = await readState(paths);
    const pidHint = state?.pid ?? (await readPidFile(paths.pidFile));
    await checkSocketOwnership(o.name, await netns(), o.hostPaths, pidHint);
    if (!link && !state) {
      throw new WireguardError('WG_INTERFACE_NOT_FOUND', `interface ${o.name} does not exist in ${o.runner.description}; nothing to take down`);
    }
    if (link && !state) {
      throw new WireguardError('WG_INTERFACE_NOT_OURS', `interface ${o.name} in ${o.runner.description} was not created by gingham; refusing to remove it`);
    }
    const s = state!;
    let removedRules = 0;
    let removedRoutes = 0;
    // Routes through the interface in our table (they would go with the device; be explicit).
    if (link) {
      const batch: string[] = [];
      for (const f of [4, 6] as const) {
        for (const dst of await readRoutes(o.runner, f, s.table, o.name)) batch.push(`route del ${dst} dev ${o.name} table ${s.table}`);
      }
      if (batch.length > 0) {
        await runChecked(o.runner, ['ip', '-batch', '-'], { input: `${batch.join('\n')}\n` });
        removedRoutes = batch.length;
      }
    }
    // Our rule, unless the table still routes something else (another interface shares it).
    for (const f of s.ruleFamilies) {
      const others = await readRoutes(o.runner, f, s.table);
      if (others.length > 0) continue;
      const rules = await readRules(o.runner, f);
      if (rules.some((r) => isWireguardRule(r, s.table, s.rulePriority, s.fwmark))) {
        await runChecked(o.runner, ['ip', `-${f}`, 'rule', 'del', ...ruleArgs(s.table, s.rulePriority, s.fwmark)]);
        removedRules++;
      }
    }
    let stoppedPid: number | undefined;
    if (s.mode === 'userspace') {
      const pid = s.pid ?? (await readPidFile(paths.pidFile));
      if (pid !== undefined) {
        if (attachedPid === pid) attachedPid = undefined;
        if (await stopProcess(pid, o.name, o.hostPaths)) stoppedPid = pid;
      }
    }
    let removedInterface = false;
    if (await readLink(o.runner, o.name)) {
      await runChecked(o.runner, ['ip', 'link', 'del', 'dev', o.name]);
      removedInterface = true;
    } else if (link) {
      removedInterface = true;
    }
    await removeFiles(paths.stateFile, ...(s.mode === 'userspace' ? [paths.pidFile, paths.logFile] : []));
    applied = undefined;
    cache = undefined;
    return { interfaceName: o.name, removedInterface, removedRules, removedRoutes, ...(stoppedPid !== undefined ? { stoppedPid } : {}) };
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
        const { state } = await establish(link);
        return readDump(state?.mode ?? (link.kind === 'tun' ? 'userspace' : 'kernel'));
      }),
    close: async () => {
      stopping = true;
      if (attachedPid !== undefined) await serialize(() => doDown()).catch(() => undefined);
      await serialize(() => closeIpSession());
    },
    [Symbol.asyncDispose]: () => handle.close(),
  };
  return handle;
}
