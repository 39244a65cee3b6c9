/**
 * Pure diffing of desired vs. current WireGuard state, and rendering of the minimal `wg set`
 * argument lists. Only peers that differ are touched, so sessions (handshakes, counters) of
 * every other peer survive an apply.
 */
import { canonicalAddress, canonicalPrefix } from '../prefix.js';
import type { WireguardPeer } from '../peers.js';
import type { WgDumpPeer } from './dump.js';

/** What has to change for the peers to match. */
export interface PeerDiff {
  /** Peers to create, in desired order. */
  readonly add: readonly WireguardPeer[];
  /** Existing peers whose endpoint, allowed IPs or keepalive differ. */
  readonly update: readonly WireguardPeer[];
  /** Public keys of peers to remove, sorted. */
  readonly remove: readonly string[];
  /** Peers left alone. */
  readonly unchanged: number;
}

/** `ip:port` or `[ipv6]:port` in canonical form; undefined when it is neither. */
export function canonicalEndpoint(endpoint: string): string | undefined {
  const m = /^\[([^\]]+)\]:([0-9]{1,5})$/.exec(endpoint) ?? /^([^:]+):([0-9]{1,5})$/.exec(endpoint);
  if (!m) return undefined;
  const ip = canonicalAddress(m[1]!);
  const port = Number(m[2]);
  if (!ip || port < 1 || port > 65535) return undefined;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** True when `current` already is what `desired` asks for. */
export function peerMatches(current: WgDumpPeer, desired: WireguardPeer): boolean {
  const endpointOk = current.endpoint !== undefined && canonicalEndpoint(current.endpoint) === canonicalEndpoint(desired.endpoint);
  return (
    endpointOk &&
    current.presharedKey === undefined &&
    current.persistentKeepalive === desired.persistentKeepalive &&
    sameList([...current.allowedIPs].sort(), desired.allowedIPs.map((a) => canonicalPrefix(a) ?? a).sort())
  );
}

/** Diffs the peers read from `wg show dump` against the desired ones. */
export function diffPeers(current: readonly WgDumpPeer[], desired: readonly WireguardPeer[]): PeerDiff {
  const have = new Map(current.map((p) => [p.publicKey, p]));
  const want = new Set(desired.map((p) => p.publicKey));
  const add: WireguardPeer[] = [];
  const update: WireguardPeer[] = [];
  let unchanged = 0;
  for (const d of desired) {
    const c = have.get(d.publicKey);
    if (!c) add.push(d);
    else if (!peerMatches(c, d)) update.push(d);
    else unchanged++;
  }
  const remove = current.map((p) => p.publicKey).filter((k) => !want.has(k)).sort();
  return { add, update, remove, unchanged };
}

/** Set difference of two string lists: what to add and what to remove (both sorted). */
export function diffSets(current: readonly string[], desired: readonly string[]): { add: string[]; remove: string[] } {
  const have = new Set(current);
  const want = new Set(desired);
  return {
    add: [...want].filter((x) => !have.has(x)).sort(),
    remove: [...have].filter((x) => !want.has(x)).sort(),
  };
}

/** Interface-level settings to change in the same `wg set` call. */
export interface InterfaceChanges {
  /**
   * Set the private key from this file (never on a command line). `wg` fopen()s the path, so
   * it must be a real file: Node's stdio pipes are sockets, which `/dev/stdin` cannot open.
   */
  readonly privateKeyFile?: string;
  readonly listenPort?: number;
  readonly fwmark?: number;
}

/** A `wg set` invocation. */
export interface WgSetCommand {
  readonly argv: readonly string[];
  /** Peer operations (add, update or remove) in this command. */
  readonly peerOps: number;
}

/**
 * Renders the diff as `wg set` commands of at most `chunk` peer operations each (command lines
 * stay well under the kernel's argument limits). Removals come first, so a peer re-keyed to a
 * key that another peer had is never rejected as a duplicate. Interface changes go in the first
 * command. Returns no command when nothing changes.
 */
export function renderWgSet(interfaceName: string, diff: PeerDiff, changes: InterfaceChanges = {}, chunk = 200): WgSetCommand[] {
  const ops: string[][] = [
    ...diff.remove.map((k) => ['peer', k, 'remove']),
    ...[...diff.add, ...diff.update].map((p) => [
      'peer',
      p.publicKey,
      'endpoint',
      p.endpoint,
      'persistent-keepalive',
      p.persistentKeepalive > 0 ? String(p.persistentKeepalive) : 'off',
      'allowed-ips',
      p.allowedIPs.join(','),
    ]),
  ];
  const head: string[] = [];
  if (changes.privateKeyFile !== undefined) head.push('private-key', changes.privateKeyFile);
  if (changes.listenPort !== undefined) head.push('listen-port', String(changes.listenPort));
  if (changes.fwmark !== undefined) head.push('fwmark', changes.fwmark === 0 ? 'off' : `0x${changes.fwmark.toString(16)}`);
  const out: WgSetCommand[] = [];
  for (let i = 0; i < ops.length || (i === 0 && head.length > 0); i += chunk) {
    const slice = ops.slice(i, i + chunk);
    const first = i === 0;
    out.push({
      argv: ['wg', 'set', interfaceName, ...(first ? head : []), ...slice.flat()],
      peerOps: slice.length,
    });
  }
  return out;
}
