/**
 * Who an address is, from the snapshot the dataplane enforces: a workload endpoint, a host
 * endpoint, a network set (longest prefix wins), or else a network, `pvt` (RFC 1918, IPv6 ULA)
 * or `pub`. Each distinct identity is one interned `Entity` (with the names records print at
 * each aggregation level and its labels as `k=v`), so the collector keys flows by small integers.
 * Built once per snapshot; lookups of outside addresses are cached with a bound.
 */
import { cidrContains, parseCidr, parseIp, type Cidr, type IpAddr, type Labels, type Snapshot } from '@gingham/core';
import type { FlowEndpointType } from '@gingham/core';

export interface Entity {
  /** Dense id, unique within one index. */
  readonly id: number;
  readonly type: FlowEndpointType;
  /** Full name: pod name, host endpoint name, network set name, `pub`/`pvt`. */
  readonly name: string;
  /** The name aggregated records use: the generate-name prefix plus `*` for pods that have one. */
  readonly aggregatedName: string;
  /** `-` when not namespaced. */
  readonly namespace: string;
  /** `k=v`, sorted; Calico's synthetic `projectcalico.org/*` labels and `pod-template-hash` left out. */
  readonly labels: readonly string[];
  /** Same for entities with equal aggregated name, namespace and type (the level-2 key). */
  readonly aggregateId: number;
}

/**
 * Kubernetes' random name suffix (5 characters of `bcdfghjklmnpqrstvwxz2456789`) after a dash:
 * pods created from a generateName (Deployments, DaemonSets, Jobs) are aggregated under the
 * prefix, `web-7f9c4d5b6-*`, as Felix aggregates by GenerateName; other names stay whole.
 */
const GENERATED = /^(.+-)[bcdfghjklmnpqrstvwxz2456789]{5}$/;

export function aggregatedPodName(name: string): string {
  const m = GENERATED.exec(name);
  return m ? `${m[1]}*` : name;
}

const HIDDEN_LABEL = (k: string): boolean => k.startsWith('projectcalico.org/') || k === 'pod-template-hash';

export function labelList(labels: Labels): string[] {
  return Object.keys(labels)
    .filter((k) => !HIDDEN_LABEL(k))
    .sort()
    .map((k) => `${k}=${labels[k]}`);
}

const PRIVATE: readonly Cidr[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'].map((c) => parseCidr(c)!);

/** RFC 1918 (and IPv6 unique local) addresses are `pvt`, the rest `pub`. */
export function isPrivate(ip: IpAddr): boolean {
  return PRIVATE.some((c) => cidrContains(c, ip));
}

function hostOf(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

const OUTSIDE_CACHE = 65_536;

export interface IdentityIndex {
  /** The entity of an address (canonical text). Never throws; unparsable text is `pub`. */
  lookup(ip: string): Entity;
  /** Every entity created so far (by id). */
  entity(id: number): Entity;
  readonly size: number;
}

/** The identity index of one snapshot. */
export function createIdentityIndex(snapshot: Snapshot): IdentityIndex {
  const entities: Entity[] = [];
  const aggregates = new Map<string, number>();
  const make = (type: FlowEndpointType, name: string, aggregatedName: string, namespace: string, labels: readonly string[]): Entity => {
    const aggKey = `${type}\u0000${namespace}\u0000${aggregatedName}`;
    let aggregateId = aggregates.get(aggKey);
    if (aggregateId === undefined) {
      aggregateId = aggregates.size;
      aggregates.set(aggKey, aggregateId);
    }
    const e: Entity = { id: entities.length, type, name, aggregatedName, namespace, labels, aggregateId };
    entities.push(e);
    return e;
  };
  const byIp = new Map<string, Entity>();
  for (const w of snapshot.workloadEndpoints) {
    const e = make('wep', w.name, aggregatedPodName(w.name), w.namespace || '-', labelList(w.labels));
    for (const a of w.addresses) if (!byIp.has(hostOf(a))) byIp.set(hostOf(a), e);
  }
  for (const h of snapshot.hostEndpoints) {
    const e = make('hep', h.name, h.name, '-', labelList(h.labels));
    for (const a of h.expectedIPs) if (!byIp.has(hostOf(a))) byIp.set(hostOf(a), e);
  }
  const nets: { cidr: Cidr; entity: Entity }[] = [];
  for (const s of snapshot.networkSets) {
    const e = make('ns', s.name, s.name, s.namespace || '-', labelList(s.labels));
    for (const n of s.nets) {
      const c = parseCidr(n);
      if (c) nets.push({ cidr: c, entity: e });
    }
  }
  // Longest prefix first, then the set's id for a deterministic choice between equal prefixes.
  nets.sort((a, b) => b.cidr.prefix - a.cidr.prefix || a.entity.id - b.entity.id);
  const pub = make('net', 'pub', 'pub', '-', []);
  const pvt = make('net', 'pvt', 'pvt', '-', []);
  const outside = new Map<string, Entity>();

  return {
    lookup(ip) {
      const known = byIp.get(ip) ?? outside.get(ip);
      if (known) return known;
      const addr = parseIp(ip);
      let e = pub;
      if (addr) {
        const set = nets.find((n) => n.cidr.version === addr.version && cidrContains(n.cidr, addr));
        e = set ? set.entity : isPrivate(addr) ? pvt : pub;
      }
      if (outside.size >= OUTSIDE_CACHE) outside.clear();
      outside.set(ip, e);
      return e;
    },
    entity: (id) => entities[id]!,
    get size() {
      return entities.length;
    },
  };
}
