/**
 * Parser for `wg show <interface> dump`: one tab-separated line for the interface
 * (private key, public key, listen port, fwmark), then one per peer (public key, preshared key,
 * endpoint, allowed IPs, latest handshake, rx bytes, tx bytes, persistent keepalive). Pure.
 */
import { WireguardError } from '../errors.js';
import { canonicalPrefix, sortPrefixTexts } from '../prefix.js';

/** The interface line. */
export interface WgDumpInterface {
  readonly privateKey?: string;
  readonly publicKey?: string;
  readonly listenPort: number;
  /** 0 when off. */
  readonly fwmark: number;
}

/** One peer line. */
export interface WgDumpPeer {
  readonly publicKey: string;
  readonly presharedKey?: string;
  /** `ip:port` / `[ipv6]:port`, absent when unknown. */
  readonly endpoint?: string;
  /** Canonical prefixes in address order. */
  readonly allowedIPs: readonly string[];
  /** Unix seconds of the latest handshake; 0 = never. */
  readonly latestHandshake: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** Seconds; 0 = off. */
  readonly persistentKeepalive: number;
}

/** A parsed dump. */
export interface WgDump {
  readonly interface: WgDumpInterface;
  readonly peers: readonly WgDumpPeer[];
}

const NONE = '(none)';

/** The offending line with its secret field (private key, preshared key) masked. */
function redact(line: number, text: string): string {
  const f = text.split('\t');
  const secret = line === 1 ? 0 : 1;
  if (f[secret] !== undefined && f[secret] !== NONE) f[secret] = '<secret>';
  return f.join(' ');
}

function fail(line: number, text: string, why: string): never {
  throw new WireguardError('WG_DUMP_PARSE', `cannot parse line ${line} of wg show dump (${why}): ${redact(line, text)}`);
}

function int(text: string, line: number, raw: string, what: string): number {
  if (!/^[0-9]+$/.test(text)) fail(line, raw, `${what} "${text}" is not a number`);
  return Number(text);
}

/** Parses `wg show <interface> dump` output. Throws `WG_DUMP_PARSE` on malformed lines. */
export function parseWgDump(text: string): WgDump {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const head = lines[0];
  if (head === undefined) throw new WireguardError('WG_DUMP_PARSE', 'wg show dump printed nothing');
  const h = head.split('\t');
  if (h.length !== 4) fail(1, head, `expected 4 fields, got ${h.length}`);
  const [priv, pub, port, mark] = h as [string, string, string, string];
  const fwmark = mark === 'off' ? 0 : /^0x[0-9a-f]+$/i.test(mark) ? parseInt(mark, 16) : int(mark, 1, head, 'fwmark');
  const iface: WgDumpInterface = {
    ...(priv !== NONE ? { privateKey: priv } : {}),
    ...(pub !== NONE ? { publicKey: pub } : {}),
    listenPort: int(port, 1, head, 'listen port'),
    fwmark,
  };
  const peers: WgDumpPeer[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!;
    const f = raw.split('\t');
    if (f.length !== 8) fail(i + 1, raw, `expected 8 fields, got ${f.length}`);
    const [key, psk, endpoint, allowed, hs, rx, tx, ka] = f as [string, string, string, string, string, string, string, string];
    const allowedIPs = allowed === NONE || allowed === '' ? [] : allowed.split(',').map((a) => canonicalPrefix(a) ?? fail(i + 1, raw, `allowed IP "${a}"`));
    peers.push({
      publicKey: key,
      ...(psk !== NONE ? { presharedKey: psk } : {}),
      ...(endpoint !== NONE ? { endpoint } : {}),
      allowedIPs: sortPrefixTexts(allowedIPs),
      latestHandshake: int(hs, i + 1, raw, 'latest handshake'),
      rxBytes: int(rx, i + 1, raw, 'rx bytes'),
      txBytes: int(tx, i + 1, raw, 'tx bytes'),
      persistentKeepalive: ka === 'off' ? 0 : int(ka, i + 1, raw, 'persistent keepalive'),
    });
  }
  return { interface: iface, peers };
}
