/**
 * Exposure of endpoints for the `network-access` report, per equivalence class: for each endpoint
 * and direction, whether some public address, and some endpoint of another namespace, has an
 * allowed flow with it, each "yes" with one witness flow.
 *
 * The answers are those of `reachability()` from every endpoint and the public internet to every
 * endpoint and the public internet (the source's egress and the destination's ingress; for a
 * pair that may cross a node, every check of its path), without asking for every allowed flow:
 * it stops at the first witness per endpoint and direction, and decides groups of classes at
 * once. The peers a program cannot tell apart (one peer signature) share one direction map, so
 * a group whose map allows nothing is skipped whole; peers that run the same program with the
 * same own signature (one role) share the other direction's map, so one combination decides them
 * all. It never decides a verdict itself: every map comes from the analysis (`evaluate()`'s own
 * checks on representatives). Pure data.
 */
import type { Endpoint, Snapshot } from '../model/types.js';
import type { Decision, EvaluateOptions, Flow } from '../evaluate/types.js';
import { endpointAddresses } from '../evaluate/evaluate.js';
import { cidrContains, formatIp, parseCidr } from '../net/cidr.js';
import { protocolName } from '../convert/protocol.js';
import { Analysis } from '../analysis/analysis.js';
import { witnessL4 } from '../analysis/assemble.js';
import { cidrBounds, rangeToCidrs, toAddr } from '../analysis/address-space.js';
import { atomEnd, combineMaps, type L4Map } from '../analysis/l4.js';
import { buildUniverse, mayCross, outsideCidrs, pairable, type PeerClass } from '../analysis/universe.js';
import { PRIVATE_NETWORKS } from './flow-log.js';

/** Witness flows of an endpoint's exposure (absent: not exposed that way). */
export interface Exposure {
  ingressFromInternet?: Flow;
  egressToInternet?: Flow;
  ingressFromOtherNamespace?: Flow;
  egressToOtherNamespace?: Flow;
}

/** Every address that is not in an RFC 1918 network (what flow logs name `pub`), as CIDRs. */
export function publicCidrs(): string[] {
  const holes = PRIVATE_NETWORKS.map((c) => cidrBounds(parseCidr(c)!)).sort((a, b) => (a.lo < b.lo ? -1 : 1));
  const out: string[] = [];
  let next = 0n;
  for (const h of holes) {
    if (h.lo > next) out.push(...rangeToCidrs(4, next, h.lo - 1n));
    next = h.hi + 1n;
  }
  out.push(...rangeToCidrs(4, next, (1n << 32n) - 1n), '::/0');
  return out;
}

const refOf = (e: Endpoint): string => (e.kind === 'WorkloadEndpoint' ? e.id : e.name);
const namespaceOf = (e: Endpoint): string | undefined => (e.kind === 'WorkloadEndpoint' ? e.namespace : undefined);

/** Whether `peer` sits in another namespace than `e` (for a host endpoint: any pod does). */
function otherNamespace(e: Endpoint, peer: Endpoint): boolean {
  if (e.kind !== peer.kind && e.node === peer.node) return false;
  const mine = namespaceOf(e);
  const theirs = namespaceOf(peer);
  return theirs !== undefined && theirs !== mine;
}

/** Addresses people recognise as "somewhere on the internet" (documentation ranges), tried first. */
const EXAMPLE_ADDRESSES = ['203.0.113.10', '198.51.100.10', '192.0.2.10', '8.8.8.8', '2001:db8::10'].map((a) => parseCidr(`${a}/${a.includes(':') ? 128 : 32}`)!);

/** An address of a set of CIDRs: a documentation address where one fits, else the first address after a network address. */
function anAddress(cidrs: readonly string[]): string {
  const parsed = cidrs.map((c) => parseCidr(c)!);
  for (const x of EXAMPLE_ADDRESSES) {
    const { lo } = cidrBounds(x);
    if (parsed.some((c) => c.version === x.version && cidrBounds(c).lo <= lo && lo <= cidrBounds(c).hi)) return formatIp(toAddr(x.version, lo));
  }
  const c = parsed[0]!;
  const { lo, hi } = cidrBounds(c);
  return formatIp(toAddr(c.version, hi > lo ? lo + 1n : lo));
}

/** A peer as a flow can name it in one family: its ref when that is unambiguous, else its address of the family. */
function inFamily(peer: string, e: Endpoint, family: 4 | 6): string {
  if (peer !== refOf(e)) return peer;
  const addrs = endpointAddresses(e);
  if (addrs.every((a) => a.version === family)) return peer;
  const a = addrs.find((x) => x.version === family);
  return a ? formatIp(a) : peer;
}

/** The layer-4 part of a flow a map allows (its first allowed cell), or undefined when it allows none. */
type L4 = Omit<Flow, 'src' | 'dst'>;

function firstAllowed(map: L4Map<boolean>): L4 | undefined {
  for (let p = 0; p < map.grids.length; p++) {
    const grid = map.grids[p]!;
    const values = map.values[p]!;
    const i = values.indexOf(true);
    if (i < 0) continue;
    const ai = Math.floor(i / grid.b.length);
    const bi = i % grid.b.length;
    const l4 = witnessL4(grid.protocol, [{ from: grid.a[ai]!, to: atomEnd(grid, 'a', ai) }], [{ from: grid.b[bi]!, to: atomEnd(grid, 'b', bi) }]);
    return { ...l4, protocol: protocolName(l4.protocol as number) };
  }
  return undefined;
}

const allows = (d: unknown): boolean => (d as Decision | undefined)?.action === 'Allow';

/** An endpoint of a class under the name a result gives its point. */
interface Named {
  readonly name: string;
  readonly endpoints: readonly Endpoint[];
}

/**
 * Exposure of `endpoints` (of `snapshot`), exactly, with one witness flow each "yes": the same
 * answers as `reachability()` from every endpoint and the public internet to every endpoint and
 * the public internet.
 */
export function exposures(snapshot: Snapshot, endpoints: readonly Endpoint[], evaluateOptions: EvaluateOptions | undefined): Map<Endpoint, Exposure> {
  const out = new Map<Endpoint, Exposure>(endpoints.map((e) => [e, {}]));
  const publicNets = publicCidrs();
  const u = buildUniverse(snapshot, undefined, { ...(evaluateOptions ? { evaluate: evaluateOptions } : {}), extraCidrs: publicNets });
  const an = new Analysis(u);
  const [side] = u.sides;
  const nets = publicNets.map((t) => parseCidr(t)!);
  // The peers: every endpoint class and the outside classes of public addresses. Outside classes
  // holding a documentation address come first (in EXAMPLE_ADDRESSES' order), so the first witness
  // from the internet is `203.0.113.10` whenever that address has an allowed flow, not whichever
  // range happens to have the lowest class id (`0.0.0.1`).
  const exampleRank = (c: PeerClass): number => {
    if (!c.outside || !c.ranges) return EXAMPLE_ADDRESSES.length;
    const i = EXAMPLE_ADDRESSES.findIndex((x) => x.version === c.family && c.ranges!.some(([lo, hi]) => lo <= cidrBounds(x).lo && cidrBounds(x).lo <= hi));
    return i < 0 ? EXAMPLE_ADDRESSES.length : i;
  };
  const peers = u.classes
    .filter((c) => !c.outside || (c.addr !== undefined && nets.some((n) => cidrContains(n, c.addr!))))
    .map((c) => ({ c, rank: exampleRank(c) }))
    .sort((a, b) => a.rank - b.rank || a.c.id - b.c.id)
    .map((x) => x.c);

  // What a result's peer name stands for: the endpoints with that ref or address.
  const byName = new Map<string, Endpoint[]>();
  const add = (k: string, e: Endpoint): void => {
    const list = byName.get(k);
    if (list) list.push(e);
    else byName.set(k, [e]);
  };
  for (const e of [...snapshot.workloadEndpoints, ...snapshot.hostEndpoints]) {
    add(refOf(e), e);
    for (const a of endpointAddresses(e)) add(formatIp(a), e);
  }
  const addresses = new Map<PeerClass, string>();
  const addressOf = (cls: PeerClass): string => addresses.get(cls) ?? addresses.set(cls, anAddress(outsideCidrs(cls))).get(cls)!;
  const namedMemo = new Map<PeerClass, readonly Named[]>();
  const namedOf = (cls: PeerClass): readonly Named[] => {
    let list = namedMemo.get(cls);
    if (!list) {
      const names = [...new Set(cls.points.map((p) => p.peer ?? p.ref ?? ''))];
      namedMemo.set(cls, (list = names.map((name) => ({ name, endpoints: byName.get(name) ?? [] }))));
    }
    return list;
  };

  // Classes by the nodes their flows may cross (the only partners `mayCross` can be true with).
  const bySite = new Map<string, PeerClass[]>();
  for (const c of peers) for (const n of c.sites) (bySite.get(n) ?? bySite.set(n, []).get(n)!).push(c);
  const crossing = (c: PeerClass): PeerClass[] => {
    const seen = new Set<PeerClass>();
    for (const n of c.sites) for (const x of bySite.get(n) ?? []) seen.add(x);
    return [...seen].sort((x, y) => x.id - y.id);
  };

  // Allowed cells of a combination of direction maps (memoised by the maps, which the analysis interns).
  const combined = new Map<L4Map<Decision>, Map<L4Map<Decision>, L4 | null>>();
  const allowedBoth = (egress: L4Map<Decision>, ingress: L4Map<Decision>): L4 | undefined => {
    let inner = combined.get(egress);
    if (!inner) combined.set(egress, (inner = new Map()));
    let r = inner.get(ingress);
    if (r === undefined) inner.set(ingress, (r = firstAllowed(combineMaps([egress, ingress], ([e, i]) => allows(e) && allows(i))) ?? null));
    return r ?? undefined;
  };
  const opens = new Map<L4Map<Decision>, boolean>();
  const anyAllow = (m: L4Map<Decision>): boolean => {
    let r = opens.get(m);
    if (r === undefined) opens.set(m, (r = m.values.some((vs) => vs.some(allows))));
    return r;
  };
  const allowedPath = (src: PeerClass, dst: PeerClass): L4 | undefined => {
    const p = an.pathMaps(side, src, dst);
    const maps: L4Map<unknown>[] = [p.egress, p.ingress, ...(p.in ? [p.in] : []), ...(p.out ? [p.out] : [])];
    return firstAllowed(combineMaps(maps, (vs) => vs.every(allows)));
  };

  // Peers grouped by what a program sees of them (one peer signature: one direction map), then by
  // their role in the other direction (program and own signature: one map towards a fixed peer).
  type Groups = readonly (readonly (readonly PeerClass[])[])[];
  const groupMemo = new Map<string, Groups>();
  // A class's role in a direction, as a small number (what its program and own signature are).
  const roleIds = new Map<string, number>();
  const roleMemo = { ingress: new Map<PeerClass, number>(), egress: new Map<PeerClass, number>() };
  const roleOf = (c: PeerClass, direction: 'ingress' | 'egress'): number => {
    let id = roleMemo[direction].get(c);
    if (id === undefined) {
      const p = an.program(side, c, direction);
      const k = `${direction}|${p?.id ?? '-'}|${an.sig(p, 'own', c).key}|${c.addr ? 1 : 0}`;
      id = roleIds.get(k) ?? roleIds.set(k, roleIds.size).size - 1;
      roleMemo[direction].set(c, id);
    }
    return id;
  };
  const groupsFor = (program: ReturnType<Analysis['program']>, other: 'ingress' | 'egress', candidates: readonly PeerClass[]): Groups => {
    // Programs with one list of peer predicates group peers alike (signatures are per list).
    const key = `${program?.peerKey ?? '-'}|${other}`;
    let groups = groupMemo.get(key);
    if (!groups) {
      groups = an.partitionBySig(program, 'peer', candidates, (c) => c.family * 2 + (c.addr ? 1 : 0)).map((members) => {
        const byRole = new Map<number, PeerClass[]>();
        for (const c of members) {
          const k = roleOf(c, other);
          (byRole.get(k) ?? byRole.set(k, []).get(k)!).push(c);
        }
        return [...byRole.values()];
      });
      groupMemo.set(key, groups);
    }
    return groups;
  };

  const mapsOfRole = new Map<string, (L4Map<Decision> | undefined)[]>();

  /**
   * One direction of every class of `mine`: the peers `theirs` that `mine`'s program hears from
   * (ingress) or sends to (egress), until each in-scope endpoint of the class has its witnesses.
   */
  const pass = (direction: 'ingress' | 'egress', mine: readonly PeerClass[], theirs: readonly PeerClass[]): void => {
    const other = direction === 'ingress' ? 'egress' : 'ingress';
    const internet = direction === 'ingress' ? 'ingressFromInternet' : 'egressToInternet';
    const namespaces = direction === 'ingress' ? 'ingressFromOtherNamespace' : 'egressToOtherNamespace';
    for (const cls of mine) {
      const targets = namedOf(cls).flatMap((n) => n.endpoints.filter((e) => out.has(e)).map((e) => ({ name: n.name, e, x: out.get(e)! })));
      if (targets.length === 0) continue;
      const pending = (): boolean => targets.some((t) => t.x[internet] === undefined || t.x[namespaces] === undefined);
      const flow = (mineName: string, theirName: string, l4: L4): Flow => ({ ...l4, ...(direction === 'ingress' ? { src: theirName, dst: mineName } : { src: mineName, dst: theirName }) } as Flow);
      /** Whether a peer class would answer a question still open for the class. */
      const helps = (peer: PeerClass): boolean => {
        if (peer.outside) return targets.some((t) => t.x[internet] === undefined);
        return targets.some((t) => t.x[namespaces] === undefined && namedOf(peer).some((n) => n.endpoints.length === 1 && otherNamespace(t.e, n.endpoints[0]!)));
      };
      const record = (peer: PeerClass, l4: L4): void => {
        const family = peer.family;
        for (const t of targets) {
          const me = inFamily(t.name, t.e, family);
          if (peer.outside) {
            t.x[internet] ??= flow(me, addressOf(peer), l4);
            continue;
          }
          if (t.x[namespaces] !== undefined) continue;
          const n = namedOf(peer).find((x) => x.endpoints.length === 1 && otherNamespace(t.e, x.endpoints[0]!));
          if (n) t.x[namespaces] = flow(me, inFamily(n.name, n.endpoints[0]!, family), l4);
        }
      };
      // The pair as reachability() takes it: in the domain, and judged by the two ends' policies alone.
      const direct = (peer: PeerClass): boolean => (direction === 'ingress' ? pairable(peer, cls) : pairable(cls, peer)) && !mayCross(peer, cls);
      const firstDirect = (members: readonly PeerClass[]): PeerClass | undefined => {
        for (const m of members) if (direct(m)) return m;
        return undefined;
      };
      const program = an.program(side, cls, direction);
      const groups = groupsFor(program, other, theirs);
      // Classes with one role (program, own signature) see each group through one map.
      const role = `${direction}|${program?.id ?? '-'}|${an.sig(program, 'own', cls).key}|${cls.family}|${cls.addr ? 1 : 0}`;
      let maps = mapsOfRole.get(role);
      if (!maps) mapsOfRole.set(role, (maps = new Array<L4Map<Decision> | undefined>(groups.length)));
      for (let g = 0; g < groups.length; g++) {
        if (!pending()) break;
        const roles = groups[g]!;
        let mineMap = maps[g];
        if (mineMap === undefined) {
          let rep: PeerClass | undefined;
          for (const members of roles) if ((rep = firstDirect(members))) break;
          if (!rep) continue;
          maps[g] = mineMap = an.directionMap(side, direction, cls, rep);
        }
        if (!anyAllow(mineMap)) continue;
        for (const members of roles) {
          if (!pending()) break;
          // Only peers that would answer an open question are worth a map.
          const first = members.find((m) => direct(m) && helps(m));
          if (!first) continue;
          const theirMap = an.directionMap(side, other, first, cls);
          const l4 = direction === 'ingress' ? allowedBoth(theirMap, mineMap) : allowedBoth(mineMap, theirMap);
          if (l4 === undefined) continue;
          for (const m of members) {
            if (!pending()) break;
            if (direct(m) && helps(m)) record(m, l4);
          }
        }
      }
      // Pairs that may cross a node: every check of their path.
      for (const peer of cls.sites.length > 0 ? crossing(cls) : []) {
        if (!pending()) break;
        if (!(direction === 'ingress' ? pairable(peer, cls) : pairable(cls, peer)) || !mayCross(peer, cls) || !helps(peer)) continue;
        const l4 = direction === 'ingress' ? allowedPath(peer, cls) : allowedPath(cls, peer);
        if (l4 !== undefined) record(peer, l4);
      }
    }
  };
  const endpointClasses = peers.filter((c) => !c.outside);
  pass('ingress', endpointClasses, peers);
  pass('egress', endpointClasses, peers);
  return out;
}
