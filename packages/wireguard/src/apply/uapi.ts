/**
 * The cross-platform userspace API (UAPI) of WireGuard, spoken in-process over wireguard-go's
 * unix socket (`/var/run/wireguard/NAME.sock`). A filesystem socket is reachable from every
 * network namespace, so no `ip netns exec wg ...` process is needed to read or change a
 * wireguard-go device: one `connect()` and a few hundred bytes replace a `wg` spawn.
 *
 * Protocol (wireguard.com/xplatform): a request is `get=1\n\n` or `set=1\n` followed by
 * `key=value` lines and an empty line; the reply is `key=value` lines ending with `errno=N`
 * and an empty line. Keys are lowercase hex here (base64 everywhere else in this package).
 * Used only for wireguard-go (`mode: 'userspace'`); the kernel module keeps `wg`.
 *
 * Encoding and parsing are pure and exported for unit tests; `uapiRequest` does the I/O.
 */
import { connect } from 'node:net';
import { canonicalPrefix, sortPrefixTexts } from '../prefix.js';
import { WireguardError } from '../errors.js';
import { publicKeyFromPrivate } from '../keys.js';
import type { PeerDiff } from './diff.js';
import type { WgDump, WgDumpPeer } from './dump.js';

/** Interface-level settings to change in a `set` request. */
export interface UapiInterfaceChanges {
  /** Base64 private key. */
  readonly privateKey?: string;
  readonly listenPort?: number;
  /** 0 = off. */
  readonly fwmark?: number;
}

/** Base64 key to the lowercase hex the UAPI speaks. */
export function keyToHex(key: string): string {
  return Buffer.from(key, 'base64').toString('hex');
}

/** Hex key from the UAPI to base64; throws on anything but 64 hex digits. */
export function hexToKey(hex: string): string {
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new WireguardError('WG_DUMP_PARSE', `UAPI key is not 64 hex digits (${hex.length} characters)`);
  return Buffer.from(hex, 'hex').toString('base64');
}

/**
 * Renders a diff (and interface changes) as one UAPI `set` request, including the final empty
 * line. Removals come first (as in `renderWgSet`); added or updated peers get their endpoint,
 * keepalive and a replaced allowed-IP list. Returns undefined when there is nothing to set.
 */
export function encodeUapiSet(diff: PeerDiff, changes: UapiInterfaceChanges = {}): string | undefined {
  const lines: string[] = [];
  if (changes.privateKey !== undefined) lines.push(`private_key=${keyToHex(changes.privateKey)}`);
  if (changes.listenPort !== undefined) lines.push(`listen_port=${changes.listenPort}`);
  if (changes.fwmark !== undefined) lines.push(`fwmark=${changes.fwmark}`);
  for (const k of diff.remove) lines.push(`public_key=${keyToHex(k)}`, 'remove=true');
  for (const p of [...diff.add, ...diff.update]) {
    lines.push(`public_key=${keyToHex(p.publicKey)}`, `endpoint=${p.endpoint}`, `persistent_keepalive_interval=${p.persistentKeepalive}`, 'replace_allowed_ips=true');
    for (const a of p.allowedIPs) lines.push(`allowed_ip=${canonicalPrefix(a) ?? a}`);
  }
  if (lines.length === 0) return undefined;
  return `set=1\n${lines.join('\n')}\n\n`;
}

/** The `errno=N` of a reply (the last one); throws when the reply has none. */
export function parseUapiErrno(reply: string): number {
  const m = /(?:^|\n)errno=(-?[0-9]+)\n/.exec(reply);
  if (!m) throw new WireguardError('WG_DUMP_PARSE', `UAPI reply has no errno line: ${JSON.stringify(reply.slice(0, 200))}`);
  return Number(m[1]);
}

function uint(value: string, what: string): number {
  if (!/^[0-9]+$/.test(value)) throw new WireguardError('WG_DUMP_PARSE', `UAPI ${what} "${value}" is not a number`);
  return Number(value);
}

/**
 * Parses a `get=1` reply into the same shape as `wg show dump`. Throws `WG_DUMP_PARSE` on
 * malformed lines and `WG_COMMAND_FAILED` when errno is not 0. Secrets never appear in errors.
 */
export function parseUapiGet(reply: string): WgDump {
  const errno = parseUapiErrno(reply);
  if (errno !== 0) throw new WireguardError('WG_COMMAND_FAILED', `UAPI get failed: errno=${errno}`);
  let privateKey: string | undefined;
  let listenPort = 0;
  let fwmark = 0;
  type MutablePeer = { publicKey: string; presharedKey?: string; endpoint?: string; allowedIPs: string[]; hsSec: number; rxBytes: number; txBytes: number; persistentKeepalive: number };
  const peers: MutablePeer[] = [];
  let peer: MutablePeer | undefined;
  for (const line of reply.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new WireguardError('WG_DUMP_PARSE', `UAPI reply line is not key=value: ${JSON.stringify(line.slice(0, 40))}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'errno') break;
    if (key === 'public_key') {
      peer = { publicKey: hexToKey(value), allowedIPs: [], hsSec: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 0 };
      peers.push(peer);
      continue;
    }
    if (!peer) {
      if (key === 'private_key') privateKey = /^0{64}$/.test(value) ? undefined : hexToKey(value);
      else if (key === 'listen_port') listenPort = uint(value, 'listen_port');
      else if (key === 'fwmark') fwmark = uint(value, 'fwmark');
      // Unknown interface keys are ignored (the protocol may grow).
      continue;
    }
    switch (key) {
      case 'preshared_key':
        if (!/^0{64}$/.test(value)) peer.presharedKey = hexToKey(value);
        break;
      case 'endpoint':
        peer.endpoint = value;
        break;
      case 'allowed_ip': {
        const c = canonicalPrefix(value);
        if (!c) throw new WireguardError('WG_DUMP_PARSE', `UAPI allowed_ip "${value}" is not a prefix`);
        peer.allowedIPs.push(c);
        break;
      }
      case 'last_handshake_time_sec':
        peer.hsSec = uint(value, key);
        break;
      case 'rx_bytes':
        peer.rxBytes = uint(value, key);
        break;
      case 'tx_bytes':
        peer.txBytes = uint(value, key);
        break;
      case 'persistent_keepalive_interval':
        peer.persistentKeepalive = uint(value, key);
        break;
      default:
        break; // protocol_version, last_handshake_time_nsec, future keys
    }
  }
  const out: WgDumpPeer[] = peers.map((p) => ({
    publicKey: p.publicKey,
    ...(p.presharedKey !== undefined ? { presharedKey: p.presharedKey } : {}),
    ...(p.endpoint !== undefined ? { endpoint: p.endpoint } : {}),
    allowedIPs: sortPrefixTexts(p.allowedIPs),
    latestHandshake: p.hsSec,
    rxBytes: p.rxBytes,
    txBytes: p.txBytes,
    persistentKeepalive: p.persistentKeepalive,
  }));
  return {
    interface: {
      ...(privateKey !== undefined ? { privateKey, publicKey: publicKeyFromPrivate(privateKey) } : {}),
      listenPort,
      fwmark,
    },
    peers: out,
  };
}

/**
 * Sends one request on a fresh connection to the socket and returns the reply (up to and
 * including `errno=N\n\n`). Rejects with `WG_COMMAND_FAILED` when the socket cannot be reached,
 * closes early, or does not answer within `timeoutMs`.
 */
export function uapiRequest(path: string, request: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path });
    const chunks: Buffer[] = [];
    let tail = '';
    let settled = false;
    const finish = (error: Error | undefined, reply?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (error) reject(error);
      else resolve(reply!);
    };
    const what = request.startsWith('get') ? 'get' : 'set';
    const timer = setTimeout(() => finish(new WireguardError('WG_COMMAND_FAILED', `UAPI ${what} on ${path}: no reply within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => sock.write(request));
    sock.on('data', (b: Buffer) => {
      chunks.push(b);
      // The reply ends with "errno=N\n\n"; look only at the last bytes (big dumps come in many chunks).
      const whole = tail.length + b.length < 64;
      tail = (tail + b.toString('latin1')).slice(-64);
      if (/\nerrno=-?[0-9]+\n\n$/.test(tail) || (whole && /^errno=-?[0-9]+\n\n$/.test(tail))) finish(undefined, Buffer.concat(chunks).toString('utf8'));
    });
    sock.on('error', (cause: Error) => finish(new WireguardError('WG_COMMAND_FAILED', `UAPI ${what} on ${path}: ${cause.message}`, { cause })));
    sock.on('close', () => finish(new WireguardError('WG_COMMAND_FAILED', `UAPI ${what} on ${path}: connection closed before a complete reply`)));
  });
}

/** Reads a wireguard-go device's configuration and peers. */
export async function uapiGet(path: string, timeoutMs?: number): Promise<WgDump> {
  return parseUapiGet(await uapiRequest(path, 'get=1\n\n', timeoutMs));
}

/** Sends one `set` request; throws `WG_COMMAND_FAILED` (with the errno) unless it succeeded. */
export async function uapiSet(path: string, request: string, timeoutMs?: number): Promise<void> {
  const reply = await uapiRequest(path, request, timeoutMs);
  const errno = parseUapiErrno(reply);
  if (errno !== 0) {
    // Never echo the request: it can hold the private key.
    throw new WireguardError('WG_COMMAND_FAILED', `UAPI set on ${path} failed: errno=${errno}`);
  }
}
