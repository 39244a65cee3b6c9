/**
 * The peers of a user's snapshot, as flow generators see them: endpoints (by id, with effective
 * labels, addresses and named ports), addresses of network sets, and outside addresses at the
 * edges of every CIDR the rules name. Also: which peers a query (`from` / `to`) names, and the
 * selector matching the generators use to aim at rules. Used only to choose which flows to try;
 * verdicts always come from `@gingham/core`'s `evaluate()`.
 */
import {
  canonicalIp,
  cidrContains,
  formatIp,
  type Cidr,
  type EndpointPort,
  type IpAddr,
  type Labels,
  parseCidr,
  parseIp,
  parseSelector,
  type PeerQuery,
  type Rule,
  type Selector,
  type Snapshot,
} from '@gingham/core';

/** A peer a generated flow can start or end at. */
export interface Peer {
  /** What the flow names: a workload id, a host endpoint name, or an address. */
  readonly ref: string;
  readonly kind: 'workload' | 'host' | 'network-set' | 'outside';
  /** Effective labels (endpoints and network sets). */
  readonly labels: Labels;
  readonly namespace?: string;
  readonly addrs: readonly IpAddr[];
  readonly ports: readonly EndpointPort[];
}

const OUTSIDE_DEFAULTS = ['8.8.8.8', '2001:db8::8'];

function effectiveLabels(s: Snapshot, own: Labels, profiles: readonly string[]): Labels {
  const out: Record<string, string> = { ...own };
  for (const name of profiles) {
    const p = s.profiles.find((x) => x.name === name);
    if (!p) continue;
    for (const [k, v] of Object.entries(p.labelsToApply)) if (!(k in out)) out[k] = v;
  }
  return out;
}

function addrsOf(texts: readonly string[]): IpAddr[] {
  const out: IpAddr[] = [];
  for (const t of texts) {
    const a = parseIp(t.split('/')[0]!);
    if (a) out.push(a);
  }
  return out;
}

function* allRules(s: Snapshot): Generator<Rule> {
  for (const p of s.policies) yield* [...p.ingress, ...p.egress];
  for (const p of s.profiles) yield* [...p.ingress, ...p.egress];
}

function addrAt(c: Cidr, offset: 'first' | 'last' | 'before' | 'after'): IpAddr | undefined {
  const bits = BigInt((c.version === 4 ? 32 : 128) - c.prefix);
  const first = BigInt(c.base);
  const last = first + (1n << bits) - 1n;
  const max = c.version === 4 ? 0xffffffffn : (1n << 128n) - 1n;
  const v = offset === 'first' ? first : offset === 'last' ? last : offset === 'before' ? first - 1n : last + 1n;
  if (v < 0n || v > max) return undefined;
  return c.version === 4 ? { version: 4, value: Number(v) } : { version: 6, value: v };
}

/** Every peer of a snapshot: endpoints first (by id), then network-set and outside addresses. */
export function snapshotPeers(s: Snapshot): Peer[] {
  const endpoints: Peer[] = [
    ...s.workloadEndpoints.map(
      (w): Peer => ({ ref: w.id, kind: 'workload', labels: effectiveLabels(s, w.labels, w.profiles), namespace: w.namespace, addrs: addrsOf(w.addresses), ports: w.ports }),
    ),
    ...s.hostEndpoints.map((h): Peer => ({ ref: h.name, kind: 'host', labels: effectiveLabels(s, h.labels, h.profiles), addrs: addrsOf(h.expectedIPs), ports: h.ports })),
  ].sort((x, y) => (x.ref < y.ref ? -1 : x.ref > y.ref ? 1 : 0));
  const taken = new Set(endpoints.flatMap((e) => e.addrs.map(formatIp)));
  const seen = new Set<string>();
  const addresses: Peer[] = [];
  const add = (a: IpAddr | undefined, kind: 'network-set' | 'outside', labels: Labels): void => {
    if (!a) return;
    const text = formatIp(a);
    if (taken.has(text) || seen.has(text)) return;
    seen.add(text);
    addresses.push({ ref: text, kind, labels, addrs: [a], ports: [] });
  };
  for (const set of s.networkSets) {
    const labels = effectiveLabels(s, set.labels, set.profiles);
    for (const n of set.nets) {
      const c = parseCidr(n);
      if (!c) continue;
      add(addrAt(c, 'first'), 'network-set', labels);
      add(addrAt(c, 'last'), 'network-set', labels);
    }
  }
  for (const r of allRules(s)) {
    for (const e of [r.source, r.destination]) {
      for (const n of [...(e.nets ?? []), ...(e.notNets ?? [])]) {
        const c = parseCidr(n);
        if (!c) continue;
        for (const at of ['first', 'last', 'before', 'after'] as const) add(addrAt(c, at), 'outside', {});
      }
    }
  }
  for (const t of OUTSIDE_DEFAULTS) add(parseIp(t), 'outside', {});
  return [...endpoints, ...addresses];
}

const selectorCache = new Map<string, Selector | null>();

/** A compiled selector, or null for text that does not parse (it selects nothing). */
export function compiled(text: string): Selector | null {
  let s = selectorCache.get(text);
  if (s === undefined) {
    try {
      s = parseSelector(text);
    } catch {
      s = null;
    }
    selectorCache.set(text, s);
  }
  return s;
}

/** Whether a selector (IP-set semantics, roughly) covers a peer: its labels match. */
export function selects(text: string, peer: Peer): boolean {
  if (peer.kind === 'outside') return false;
  const s = compiled(text);
  return s !== null && s.matches(peer.labels);
}

/** Whether a query (`from` / `to` of a property) names a peer. */
export function inQuery(query: string | PeerQuery | undefined, peer: Peer): boolean {
  if (query === undefined) return true;
  const q: PeerQuery = typeof query === 'string' ? { selector: query } : query;
  const isEndpoint = peer.kind === 'workload' || peer.kind === 'host';
  if (isEndpoint && q.endpoints?.some((ref) => ref === peer.ref || peer.addrs.some((a) => formatIp(a) === canonicalIp(ref)))) return true;
  if (!isEndpoint) {
    if (q.outside === true) return true;
    if (Array.isArray(q.outside)) {
      const nets = (q.outside as readonly string[]).map((t) => parseCidr(t)).filter((c): c is Cidr => c !== undefined);
      return peer.addrs.some((a) => nets.some((c) => cidrContains(c, a)));
    }
    return false;
  }
  if (q.selector === undefined && q.namespace === undefined) return false;
  if (q.namespace !== undefined) {
    const names = typeof q.namespace === 'string' ? [q.namespace] : q.namespace;
    if (peer.kind !== 'workload' || !names.includes(peer.namespace ?? '')) return false;
  }
  return q.selector === undefined || selects(q.selector, peer);
}
