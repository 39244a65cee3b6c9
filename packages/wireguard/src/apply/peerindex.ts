/**
 * Incremental indexes over the peers a handle applied last, so that a small change (one node
 * joining or leaving a 1,000-peer mesh) is validated and diffed at a cost proportional to the
 * change, not to the mesh.
 *
 * Two maps, kept up to date change by change:
 *  - `peers`: public key → validated peer (canonical prefixes, fingerprint), in desired order;
 *  - `claims`: canonical prefix → the peers (public key → node) whose allowed IPs list it.
 *    A prefix is routed while it has a claimant; it is a conflict when its claimants belong to
 *    more than one node (the rule `validateDesiredState` applies to a full list).
 *
 * `plan` validates a change set against the indexes WITHOUT modifying them (so a rejected
 * change leaves everything as it was) and returns the peer diff and route changes; `commit`
 * then applies the plan to the indexes. Validating a change this way accepts and rejects
 * exactly what validating the resulting full list would (property-tested).
 */
import { canonicalPrefix } from '../prefix.js';
import { WireguardError } from '../errors.js';
import { isValidKey } from '../keys.js';
import type { WireguardPeer } from '../peers.js';
import { canonicalEndpoint, type PeerDiff } from './diff.js';

/** A validated peer: canonical allowed IPs and a fingerprint of everything WireGuard is told. */
export interface PreparedPeer {
  readonly peer: WireguardPeer;
  /** Canonical prefixes, in the peer's order. */
  readonly prefixes: readonly string[];
  /** Canonical endpoint, keepalive and prefixes: equal fingerprints = nothing to change. */
  readonly fingerprint: string;
}

/**
 * Per-peer validation results keyed by the peer's raw content, so a long-lived handle checks
 * each distinct peer once.
 */
export type ValidationMemo = Map<string, { readonly prefixes: readonly string[]; readonly fingerprint: string }>;

export function rawPeerKey(p: WireguardPeer): string {
  return `${p.publicKey}\n${p.endpoint}\n${p.persistentKeepalive}\n${p.allowedIPs.join(',')}`;
}

function assertKeepalive(value: number, node: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new WireguardError('WG_INVALID_ARGUMENT', `persistent keepalive of peer ${node} ${value} is not an integer in 0..65535`);
  }
}

/** Checks one peer on its own (key, endpoint, keepalive, prefixes); memoised by raw content. */
export function preparePeer(p: WireguardPeer, memo?: ValidationMemo): PreparedPeer {
  const raw = rawPeerKey(p);
  let known = memo?.get(raw);
  if (!known) {
    if (!isValidKey(p.publicKey)) throw new WireguardError('WG_INVALID_KEY', `public key of peer ${p.node} is not a WireGuard key (base64 of exactly 32 bytes)`);
    const endpoint = canonicalEndpoint(p.endpoint);
    if (!endpoint) throw new WireguardError('WG_INVALID_ARGUMENT', `endpoint "${p.endpoint}" of peer ${p.node} is not ip:port or [ipv6]:port`);
    assertKeepalive(p.persistentKeepalive, p.node);
    const prefixes = p.allowedIPs.map((a) => {
      const c = canonicalPrefix(a);
      if (!c) throw new WireguardError('WG_INVALID_ARGUMENT', `allowed IP "${a}" of peer ${p.node} is not a prefix`);
      return c;
    });
    known = { prefixes, fingerprint: `${endpoint}|${p.persistentKeepalive}|${[...prefixes].sort().join(',')}` };
    memo?.set(raw, known);
  }
  return { peer: p, prefixes: known.prefixes, fingerprint: known.fingerprint };
}

/** A change set for {@link PeerIndex.plan}: peers to add or replace (by public key), keys to remove. */
export interface PeerChanges {
  readonly upsert?: readonly WireguardPeer[];
  readonly remove?: readonly string[];
}

/** A validated change, ready to be written and committed. */
export interface PeerPlan {
  readonly diff: PeerDiff;
  /** Prefixes that gain their first claimant (routes to add) / lose their last (routes to delete), sorted. */
  readonly routes: { readonly add: readonly string[]; readonly remove: readonly string[] };
  /** Validated upserts, by key. */
  readonly upserts: ReadonlyMap<string, PreparedPeer>;
  /** Keys actually present and removed. */
  readonly removals: readonly string[];
}

/** See the module comment. */
export class PeerIndex {
  readonly peers = new Map<string, PreparedPeer>();
  readonly claims = new Map<string, Map<string, string>>();

  /** Builds the indexes from an already validated full list (no checks). */
  static fromPrepared(peers: readonly PreparedPeer[]): PeerIndex {
    const idx = new PeerIndex();
    for (const p of peers) idx.put(p);
    return idx;
  }

  private put(p: PreparedPeer): void {
    this.peers.set(p.peer.publicKey, p);
    for (const c of p.prefixes) {
      let m = this.claims.get(c);
      if (!m) this.claims.set(c, (m = new Map()));
      m.set(p.peer.publicKey, p.peer.node);
    }
  }

  private drop(key: string): void {
    const old = this.peers.get(key);
    if (!old) return;
    for (const c of old.prefixes) {
      const m = this.claims.get(c);
      m?.delete(key);
      if (m?.size === 0) this.claims.delete(c);
    }
    // Deleting keeps the insertion order of the others; an update re-inserts in place below.
  }

  /**
   * Validates `changes` against the indexes (nothing is modified). Throws the typed errors full
   * validation throws: `WG_INVALID_KEY` for a malformed key, `WG_INVALID_ARGUMENT` for our own
   * key, a key upserted twice or both upserted and removed, a bad endpoint/keepalive/prefix, or
   * a prefix that would be claimed by peers of two nodes.
   */
  plan(changes: PeerChanges, ownPublicKey: string, memo?: ValidationMemo): PeerPlan {
    const upserts = new Map<string, PreparedPeer>();
    for (const p of changes.upsert ?? []) {
      const prepared = preparePeer(p, memo);
      if (p.publicKey === ownPublicKey) throw new WireguardError('WG_INVALID_ARGUMENT', `peer ${p.node} has this interface's own public key`);
      if (upserts.has(p.publicKey)) throw new WireguardError('WG_INVALID_ARGUMENT', `peer ${p.node} repeats the public key of another peer`);
      upserts.set(p.publicKey, prepared);
    }
    const removeSet = new Set<string>();
    for (const k of changes.remove ?? []) {
      if (upserts.has(k)) throw new WireguardError('WG_INVALID_ARGUMENT', `peer ${upserts.get(k)!.peer.node} is both upserted and removed`);
      if (this.peers.has(k)) removeSet.add(k);
    }
    // Claims of every touched prefix, before and after.
    const touched = new Set<string>();
    for (const k of [...removeSet, ...upserts.keys()]) for (const c of this.peers.get(k)?.prefixes ?? []) touched.add(c);
    for (const p of upserts.values()) for (const c of p.prefixes) touched.add(c);
    const routeAdd: string[] = [];
    const routeRemove: string[] = [];
    for (const c of touched) {
      const before = this.claims.get(c);
      const after = new Map(before);
      for (const k of removeSet) after.delete(k);
      for (const k of upserts.keys()) after.delete(k);
      for (const [k, p] of upserts) if (p.prefixes.includes(c)) after.set(k, p.peer.node);
      const nodes = new Set(after.values());
      if (nodes.size > 1) {
        const [x, y] = [...nodes];
        throw new WireguardError('WG_INVALID_ARGUMENT', `allowed IP ${c} is claimed by peers ${x} and ${y}`);
      }
      const had = (before?.size ?? 0) > 0;
      if (!had && after.size > 0) routeAdd.push(c);
      else if (had && after.size === 0) routeRemove.push(c);
    }
    const add: WireguardPeer[] = [];
    const update: WireguardPeer[] = [];
    let unchanged = this.peers.size - removeSet.size;
    for (const [k, p] of upserts) {
      const old = this.peers.get(k);
      if (!old) add.push(p.peer);
      else {
        unchanged--;
        if (old.fingerprint !== p.fingerprint) update.push(p.peer);
        else unchanged++;
      }
    }
    const removals = [...removeSet].sort();
    return { diff: { add, update, remove: removals, unchanged }, routes: { add: routeAdd.sort(), remove: routeRemove.sort() }, upserts, removals };
  }

  /** Applies a plan made by `plan` on this index (unchanged since). */
  commit(plan: PeerPlan): void {
    for (const k of plan.removals) {
      this.drop(k);
      this.peers.delete(k);
    }
    for (const [k, p] of plan.upserts) {
      this.drop(k);
      this.put(p);
    }
  }

  /** The full peer list this index stands for, with `plan` applied when given (desired order). */
  list(plan?: PeerPlan): WireguardPeer[] {
    if (!plan) return [...this.peers.values()].map((p) => p.peer);
    const removed = new Set(plan.removals);
    const out: WireguardPeer[] = [];
    for (const [k, p] of this.peers) if (!removed.has(k)) out.push(plan.upserts.get(k)?.peer ?? p.peer);
    for (const [k, p] of plan.upserts) if (!this.peers.has(k)) out.push(p.peer);
    return out;
  }
}
