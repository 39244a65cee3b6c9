/**
 * The desired state of one interface and its complete validation, which runs before the first
 * command of an apply: a state that throws here changes nothing. Pure (the key derivation is
 * `node:crypto`, no I/O).
 */
import { isValidKey, publicKeyFromPrivate } from '../keys.js';
import { WireguardError } from '../errors.js';
import type { InterfaceSettings, WireguardPeer } from '../peers.js';
import { canonicalPrefix } from '../prefix.js';
import { assertInt } from './options.js';
import { preparePeer, rawPeerKey, type PreparedPeer, type ValidationMemo } from './peerindex.js';

/** What an apply should converge to. A `WireguardConfig` plus the private key fits. */
export interface DesiredWireguardState {
  readonly privateKey: string;
  readonly interface: InterfaceSettings;
  readonly peers: readonly WireguardPeer[];
  /** Family of the policy-routing rule (the device's family). Default 4. */
  readonly ipVersion?: 4 | 6;
}

/** A validated desired state. */
export interface PreparedState {
  readonly peers: readonly PreparedPeer[];
  /** Every allowed IP (canonical) and the node claiming it: the routes wanted. */
  readonly prefixOwner: ReadonlyMap<string, string>;
  /** The interface address as a canonical prefix, when there is one. */
  readonly address?: string;
  /** Families that need the policy-routing rule: the device's, and those of the routes. */
  readonly families: ReadonlySet<4 | 6>;
}

/** This interface's own keys (the public one derived once per private key). */
export interface OwnKeys {
  readonly privateKey: string;
  readonly publicKey: string;
}

/**
 * Validates `desired` completely (keys, port, MTU, address, every peer, duplicate keys, prefixes
 * claimed by two nodes). `memo` (per-peer results of the previous state) and `own` (the keys of
 * the previous state) make a long-lived handle re-check only what changed. Throws
 * `WG_INVALID_KEY` / `WG_INVALID_ARGUMENT`.
 */
export function prepareDesiredState(
  desired: DesiredWireguardState,
  memo?: ValidationMemo,
  ownKeys?: OwnKeys,
): { readonly prepared: PreparedState; readonly memo: ValidationMemo; readonly own: OwnKeys } {
  let own = ownKeys;
  if (own?.privateKey !== desired.privateKey) {
    if (!isValidKey(desired.privateKey)) throw new WireguardError('WG_INVALID_KEY', 'private key is not a WireGuard key (base64 of exactly 32 bytes)');
    own = { privateKey: desired.privateKey, publicKey: publicKeyFromPrivate(desired.privateKey) };
  }
  const i = desired.interface;
  assertInt(i.listenPort, 1, 65535, 'listen port');
  assertInt(i.mtu, 576, 65535, 'MTU');
  const address = i.address !== undefined ? canonicalPrefix(i.address) : undefined;
  if (i.address !== undefined && address === undefined) throw new WireguardError('WG_INVALID_ARGUMENT', `interface address "${i.address}" is not an IP address or prefix`);
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
  const families = new Set<4 | 6>([desired.ipVersion ?? 4]);
  for (const r of prefixOwner.keys()) families.add(r.includes(':') ? 6 : 4);
  return { prepared: { peers, prefixOwner, ...(address !== undefined ? { address } : {}), families }, memo: nextMemo, own };
}

/** Checks a desired state completely; throws before anything is touched. */
export function validateDesiredState(desired: DesiredWireguardState): void {
  prepareDesiredState(desired, undefined);
}
