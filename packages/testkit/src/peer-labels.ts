/**
 * What a flow's peer is, for writing invariants by labels instead of pod names:
 * `peerMatches(snapshot, flow.src, "app == 'backend'")`. Endpoints answer with their effective
 * labels (own labels, then their profiles', as Calico merges them); addresses have none.
 */
import { canonicalIp, formatIp, type Labels, type Snapshot } from '@gingham/core';
import { compiled, type Peer, snapshotPeers } from './snapshot-peers.js';

const byRef = new WeakMap<Snapshot, Map<string, Peer>>();

function peerOf(snapshot: Snapshot, ref: string): Peer | undefined {
  let m = byRef.get(snapshot);
  if (!m) {
    m = new Map();
    for (const p of snapshotPeers(snapshot)) {
      if (p.kind !== 'workload' && p.kind !== 'host') continue;
      m.set(p.ref, p);
      for (const a of p.addrs) if (!m.has(formatIp(a))) m.set(formatIp(a), p);
    }
    byRef.set(snapshot, m);
  }
  return m.get(ref) ?? m.get(canonicalIp(ref) ?? ref);
}

/** The effective labels of the endpoint a flow peer names (id, name or address); undefined for other addresses. */
export function peerLabels(snapshot: Snapshot, ref: string): Labels | undefined {
  return peerOf(snapshot, ref)?.labels;
}

/** Whether a flow peer is an endpoint whose effective labels the selector matches. */
export function peerMatches(snapshot: Snapshot, ref: string, selector: string): boolean {
  const labels = peerLabels(snapshot, ref);
  const s = compiled(selector);
  if (s === null) throw new Error(`gingham: peerMatches: invalid selector "${selector}"`);
  return labels !== undefined && s.matches(labels);
}
