/**
 * What an interface and the routing around it look like now: read back from the kernel (or
 * wireguard-go) with read-only commands, or, for a long-lived handle, what its last apply left
 * behind (`expectedAfter`, pure). The plan diffs the desired state against one of these.
 */
import { runChecked, type CommandRunner } from '@gingham/host';
import { parseWgDump, type WgDump, type WgDumpPeer } from './dump.js';
import { readAddresses, readRoutes, readRules, type LinkInfo, type RuleInfo } from './ip.js';
import type { Routing } from './options.js';
import type { InterfaceState } from './state.js';
import { uapiGet } from './uapi.js';
import { socketPath, type HostPaths } from './userspace.js';

/** The interface and its routing as they are (read back) or as the last apply left them (cache). */
export interface Observed {
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

/** Where to read from. */
export interface ReadTarget {
  readonly name: string;
  readonly runner: CommandRunner;
  readonly hostPaths: HostPaths;
}

/** The device's configuration and peers: UAPI for wireguard-go (no process), `wg show dump` for the kernel module. */
export async function readDump(target: ReadTarget, mode: 'kernel' | 'userspace'): Promise<WgDump> {
  if (mode === 'userspace') return uapiGet(socketPath(target.name, target.hostPaths));
  return parseWgDump((await runChecked(target.runner, ['wg', 'show', target.name, 'dump'])).stdout);
}

/**
 * Reads everything an apply may change, with read-only commands run concurrently: the device,
 * its addresses, the routes through it in the wanted table (and in the recorded one when that
 * differs), and the rules of the families in use or recorded.
 */
export async function readObserved(target: ReadTarget, link: LinkInfo, state: InterfaceState, routing: Routing, families: ReadonlySet<4 | 6>): Promise<Observed> {
  const { runner, name } = target;
  const fams = ([4, 6] as const).filter((f) => families.has(f) || state.ruleFamilies.includes(f));
  const stale = state.table !== routing.table;
  const [dump, addresses, routes, staleRoutes, rules] = await Promise.all([
    readDump(target, state.mode),
    readAddresses(runner, name),
    Promise.all(([4, 6] as const).map((f) => readRoutes(runner, f, routing.table, name))).then((x) => x.flat()),
    stale ? Promise.all(([4, 6] as const).map((f) => readRoutes(runner, f, state.table, name))).then((x) => x.flat()) : Promise.resolve([]),
    Promise.all(fams.map(async (f) => [f, await readRules(runner, f)] as const)).then((x) => new Map(x)),
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
}

/**
 * What the interface looks like once a state is applied: the cache of a long-lived handle. Its
 * peers and routes are not listed here: they live in the handle's `PeerIndex`.
 */
export function expectedAfter(
  applied: { readonly privateKey: string; readonly listenPort: number; readonly mtu: number; readonly address?: string },
  ruleFamilies: readonly (4 | 6)[],
  routing: Routing,
): Observed {
  return {
    privateKey: applied.privateKey,
    listenPort: applied.listenPort,
    fwmark: routing.fwmark,
    peers: [],
    addresses: applied.address !== undefined ? [applied.address] : [],
    mtu: applied.mtu,
    up: true,
    routes: [],
    staleRoutes: [],
    rules: new Map(ruleFamilies.map((f) => [f, [{ priority: routing.priority, table: String(routing.table), not: true, fwmark: routing.fwmark, fwmask: routing.fwmark }]] as const)),
  };
}
