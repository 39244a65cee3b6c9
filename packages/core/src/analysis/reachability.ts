/**
 * `reachability(snapshot, { from, to, ports? })`: every allowed flow from one set of peers to
 * another, exactly (over equivalence classes of peers and layer-4 atoms, not by sampling), each
 * set of flows with the deciding steps and a witness. "Is there any path from X to Y" is
 * `result.reachable`; an empty `paths` is a proof that there is none.
 */
import type { Decision } from '../evaluate/types.js';
import type { Endpoint, Snapshot } from '../model/types.js';
import { GinghamError } from '../errors.js';
import { resolvePeer } from '../evaluate/evaluate.js';
import { indexSnapshot } from '../evaluate/snapshot-index.js';
import { protocolNumber } from '../convert/protocol.js';
import { cidrContains, parseCidr } from '../net/cidr.js';
import type { Selector } from '../selector/index.js';
import { Analysis } from './analysis.js';
import { bucket, compareFlowSets, l4Spec, mergeResults, type PairResult, pairsOf, peerSet, witnessOf } from './assemble.js';
import { combineMaps, CutSet, fillMap, type L4Map, PORT_MAX, protocolShape, someCell } from './l4.js';
import type { PeerQuery, PortQuery, ReachabilityOptions, ReachabilityResult, ReachablePath } from './types.js';
import { buildUniverse, endpointKeyOf, pairable, type PeerClass, restrictClass, type Universe } from './universe.js';

interface AllowedCell {
  readonly egress: Decision;
  readonly ingress: Decision;
  readonly key: string;
}

function normalise(q: string | PeerQuery): PeerQuery {
  return typeof q === 'string' ? { selector: q } : q;
}

function queryCidrs(q: PeerQuery): string[] {
  return Array.isArray(q.outside) ? [...(q.outside as readonly string[])] : [];
}

/** The classes (narrowed to matching points) a query selects. */
function select(u: Universe, snapshot: Snapshot, q: PeerQuery, what: string): PeerClass[] {
  const index = indexSnapshot(snapshot);
  const namespaces = q.namespace === undefined ? undefined : new Set(typeof q.namespace === 'string' ? [q.namespace] : q.namespace);
  let selector: Selector | undefined;
  if (q.selector !== undefined) {
    try {
      selector = index.selector(q.selector);
    } catch (e) {
      throw new GinghamError('INVALID_QUERY', `${what}: invalid selector "${q.selector}": ${(e as Error).message}`);
    }
  }
  const listed = new Set<string>();
  const listedOutside: string[] = [];
  for (const ref of q.endpoints ?? []) {
    const peer = resolvePeer(snapshot, ref);
    if (peer.endpointId === undefined) listedOutside.push(peer.addresses[0]!);
    else listed.add(peer.kind === 'host' ? `h:${peer.endpointId}` : `w:${peer.endpointId}`);
  }
  const nets = [...queryCidrs(q), ...listedOutside].map((t) => {
    const c = parseCidr(t);
    if (!c) throw new GinghamError('INVALID_QUERY', `${what}: invalid CIDR "${t}" in outside`);
    return c;
  });
  const byLabels = selector !== undefined || namespaces !== undefined;
  const matchesEndpoint = (e: Endpoint): boolean => {
    if (listed.has(endpointKeyOf(e))) return true;
    if (!byLabels) return false;
    if (namespaces && (e.kind !== 'WorkloadEndpoint' || !namespaces.has(e.namespace))) return false;
    return selector === undefined || selector.matches(index.effectiveLabels(e));
  };
  const out: PeerClass[] = [];
  for (const cls of u.classes) {
    if (cls.outside) {
      if (q.outside === true || (cls.addr && nets.some((c) => cidrContains(c, cls.addr!)))) out.push(cls);
      continue;
    }
    const narrowed = restrictClass(cls, (p) => matchesEndpoint(u.common.get(p.endpointKey!)![0]));
    if (narrowed) out.push(narrowed);
  }
  return out;
}

function portCuts(u: Universe, ports: readonly PortQuery[]): { cuts: CutSet; inQuery: (protocol: number, b: number) => boolean } {
  const cuts = new CutSet(u.protocols);
  const wanted: { protocol: number; min: number; max: number }[] = [];
  for (const p of ports) {
    const protocol = protocolNumber(p.protocol);
    if (protocol === undefined) throw new GinghamError('INVALID_QUERY', `ports: unknown protocol "${String(p.protocol)}"`);
    const shape = protocolShape(protocol);
    if (p.port !== undefined) {
      const max = p.endPort ?? p.port;
      if (shape !== 'ports') throw new GinghamError('INVALID_QUERY', `ports: protocol ${String(p.protocol)} has no ports`);
      if (!Number.isInteger(p.port) || p.port < 1 || max > PORT_MAX || max < p.port) throw new GinghamError('INVALID_QUERY', `ports: invalid port range ${p.port}-${max}`);
      cuts.addRange('b', p.port, max, 'ports', protocol);
      wanted.push({ protocol, min: p.port, max });
    } else wanted.push({ protocol, min: 0, max: PORT_MAX });
  }
  // A protocol the rules never name is in the "other" class: ask about it by its stand-in.
  const known = new Set(u.protocols.protocols);
  const stand = (n: number): number => (known.has(n) ? n : (u.protocols.other ?? n));
  return { cuts, inQuery: (protocol, b) => wanted.some((w) => stand(w.protocol) === protocol && b >= w.min && b <= w.max) };
}

/**
 * Every allowed flow from the peers `from` selects to the peers `to` selects (an endpoint never
 * to itself), optionally limited to `ports`. A string query is a selector over endpoints'
 * effective labels. Exact: the answer covers every address, protocol, port and ICMP type.
 * @throws GinghamError `INVALID_QUERY` for an invalid selector, CIDR or port; `UNKNOWN_PEER` for an unknown endpoint.
 */
export function reachability(snapshot: Snapshot, options: ReachabilityOptions): ReachabilityResult {
  const from = normalise(options.from);
  const to = normalise(options.to);
  const extraCidrs = [...queryCidrs(from), ...queryCidrs(to)];
  const u = buildUniverse(snapshot, undefined, { ...(options.evaluate ? { evaluate: options.evaluate } : {}), extraCidrs });
  const ports = options.ports && options.ports.length > 0 ? portCuts(u, options.ports) : undefined;
  const an = new Analysis(u, ports?.cuts);
  const [side] = u.sides;
  const sources = select(u, snapshot, from, 'from');
  const dests = select(u, snapshot, to, 'to');
  const mask: L4Map<boolean> | undefined = ports ? fillMap(ports.cuts.grids(), (protocol, _a, b) => ports.inQuery(protocol, protocolShape(protocol) === 'ports' ? b : 0)) : undefined;

  const cells = new Map<string, AllowedCell>();
  const allowed = (values: readonly unknown[]): AllowedCell | undefined => {
    const [e, i, m] = values as readonly [Decision, Decision, boolean | undefined];
    if (e.action !== 'Allow' || i.action !== 'Allow' || m === false) return undefined;
    const key = `${an.decisionId(e)},${an.decisionId(i)}`;
    let c = cells.get(key);
    if (!c) cells.set(key, (c = { egress: e, ingress: i, key }));
    return c;
  };
  const results: PairResult<AllowedCell>[] = [];
  const roles = new Map<number, string>();
  const roleOf = (cls: PeerClass): string => {
    let r = roles.get(cls.id);
    if (r === undefined) {
      const p = an.program(side, cls, 'egress');
      r = `${p?.id ?? '-'}|${an.sig(p, 'own', cls).key}|${cls.addr ? 1 : 0}`;
      roles.set(cls.id, r);
    }
    return r;
  };
  for (const dst of dests) {
    const program = an.program(side, dst, 'ingress');
    const candidates = sources.filter((s) => pairable(s, dst));
    for (const group of bucket(candidates, (s) => `${an.sig(program, 'peer', s).key}#${s.addr ? 1 : 0}`).values()) {
      const inMap = an.directionMap(side, 'ingress', dst, group[0]!);
      const open = mask ? combineMaps([inMap, mask], ([d, m]) => (d as Decision).action === 'Allow' && m === true) : combineMaps([inMap], ([d]) => (d as Decision).action === 'Allow');
      if (!someCell(open, (v) => v)) continue;
      // Sources with the same egress decisions towards dst are allowed alike: one combination each.
      // One evaluation per egress role (programs and own signature): its members decide alike.
      const decided = new Map<PeerClass, L4Map<Decision>>();
      for (const members of bucket(group, (src) => roleOf(src)).values()) {
        const egMap = an.directionMap(side, 'egress', members[0]!, dst);
        for (const m of members) decided.set(m, egMap);
      }
      for (const [egMap, srcs] of bucket(group, (src) => decided.get(src)!)) {
        const map = combineMaps(mask ? [egMap, inMap, mask] : [egMap, inMap], allowed);
        if (someCell(map, (c) => c !== undefined)) results.push({ src: srcs, dst: [dst], map });
      }
    }
  }
  const paths: ReachablePath[] = mergeResults(results, (c) => c.key).map((e) => ({
    ipVersion: e.src[0]!.family,
    from: peerSet(e.src),
    to: peerSet(e.dst),
    ...l4Spec(u, e.protocol, e.a, e.b),
    pairs: pairsOf(e.src, e.dst),
    verdict: { allowed: true, egress: e.value.egress, ingress: e.value.ingress },
    witness: witnessOf(e),
  })).sort(compareFlowSets);
  const count = (classes: readonly PeerClass[]): number => classes.reduce((n, c) => n + c.points.length, 0);
  return { reachable: paths.length > 0, paths, matched: { from: count(sources), to: count(dests) }, stats: { ...an.stats } };
}
