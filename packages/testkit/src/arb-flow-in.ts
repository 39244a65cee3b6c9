/**
 * `arbFlowIn(snapshot, options)`: fast-check flows drawn from a user's own snapshot, aimed where
 * policy bugs hide. Most draws follow a rule: a destination the rule's policy selects (ingress)
 * or a source it selects (egress), a peer its other side matches, its protocol, and its ports —
 * each port, both ends of each range and one past them, named ports resolved on the destination.
 * Some draws combine peers with every port any rule or endpoint mentions, and a few are uniform
 * (any port, any ICMP type), so nothing is excluded. Indices shrink towards the first peer,
 * template and port, so counterexamples end up short and readable.
 *
 * Why: drawing ports uniformly from 1–65535 almost never tries 5432, so a property such as "the
 * database accepts only the backend on 5432" passes even when it is false.
 */
import fc from 'fast-check';
import { cidrContains, GinghamError, parseCidr, protocolName, protocolNumber, type EntityMatch, type Flow, type PeerQuery, type PortMatch, type Snapshot } from '@gingham/core';
import { inQuery, type Peer, selects, snapshotPeers } from './snapshot-peers.js';

export interface FlowArbOptions {
  /** Sources: a selector over effective labels, or a query (namespace, endpoints, outside CIDRs). Default: every peer. */
  readonly from?: string | PeerQuery;
  /** Destinations, as `from`. */
  readonly to?: string | PeerQuery;
  /** Share of draws aimed at the rules (default 0.9); 0 draws uniformly (ports 1–65535). */
  readonly bias?: number;
  /** Protocols to draw (names or numbers). Default: TCP, UDP, ICMP and every protocol a rule names. */
  readonly protocols?: readonly (string | number)[];
}

const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);
const ICMP_PROTOCOLS = new Set([1, 58]);

interface Template {
  /** How often it is drawn relative to the others. */
  weight: number;
  srcs: readonly Peer[];
  dsts: readonly Peer[];
  /** Protocol numbers this rule can match (one when it names one). */
  readonly protocols: readonly number[];
  readonly dstPorts: readonly PortMatch[] | undefined;
  readonly srcPorts: readonly PortMatch[] | undefined;
  readonly icmp: { readonly type: number; readonly code?: number } | undefined;
}

function entityMatches(e: EntityMatch, peer: Peer): boolean {
  const inNets = (nets: readonly string[]): boolean =>
    peer.addrs.some((a) =>
      nets.some((n) => {
        const c = parseCidr(n);
        return c !== undefined && cidrContains(c, a);
      }),
    );
  if (e.nets && !inNets(e.nets)) return false;
  if (e.notNets && inNets(e.notNets)) return false;
  if (e.selector !== undefined && !selects(e.selector, peer)) return false;
  if (e.notSelector !== undefined && selects(e.notSelector, peer)) return false;
  return true;
}

/** Values worth trying for a port list: each port, both ends of each range and one past them. */
function portEdges(ports: readonly PortMatch[], named: (name: string) => number[]): number[] {
  const out: number[] = [];
  for (const p of ports) {
    if (p.kind === 'range') {
      out.push(p.min, p.max, p.min, p.max, p.min, p.max); // the ends three times: inside is what rules are about
      if (p.min > 1) out.push(p.min - 1);
      if (p.max < 65535) out.push(p.max + 1);
    } else out.push(...named(p.name));
  }
  return out;
}

function templatesOf(
  s: Snapshot,
  peers: readonly Peer[],
  from: readonly Peer[],
  to: readonly Peer[],
  allowed: ReadonlySet<number>,
  restricted: { readonly from: boolean; readonly to: boolean },
): Template[] {
  const endpoints = peers.filter((p) => p.kind === 'workload' || p.kind === 'host');
  const fromSet = new Set(from);
  const toSet = new Set(to);
  const out: Template[] = [];
  const merged = new Map<string, Template>();
  for (const policy of s.policies) {
    if (policy.staged) continue;
    const selected = endpoints.filter((e) => selects(policy.selector, e));
    if (selected.length === 0) continue;
    for (const direction of ['ingress', 'egress'] as const) {
      if (policy.types.length > 0 && !policy.types.includes(direction === 'ingress' ? 'Ingress' : 'Egress')) continue;
      for (const rule of direction === 'ingress' ? policy.ingress : policy.egress) {
        if (rule.action === 'Log') continue;
        const own = selected.filter((e) => (direction === 'ingress' ? toSet : fromSet).has(e));
        const other = (direction === 'ingress' ? from : to).filter((p) => entityMatches(direction === 'ingress' ? rule.source : rule.destination, p));
        const srcs = direction === 'ingress' ? other : own.filter((e) => entityMatches(rule.source, e));
        const dsts = direction === 'ingress' ? own.filter((e) => entityMatches(rule.destination, e)) : other;
        if (srcs.length === 0 || dsts.length === 0) continue;
        const named = rule.protocol?.number;
        const protocols = named !== undefined ? (allowed.has(named) ? [named] : []) : [...allowed].filter((p) => p !== 1 && p !== 58);
        if (protocols.length === 0) continue;
        // Allow rules are where holes are; rules of the policies of the peers the property is
        // about (its destinations for ingress, its sources for egress) are where its answer is.
        const aimed = direction === 'ingress' ? restricted.to : restricted.from;
        const weight = (rule.action === 'Allow' ? 2 : 1) * (aimed ? 2 : 1);
        const t: Template = { weight, srcs, dsts, protocols, dstPorts: rule.destination.ports ?? rule.destination.notPorts, srcPorts: rule.source.ports ?? rule.source.notPorts, icmp: rule.icmp ?? rule.notICMP };
        // Rules that differ only in which endpoints their policy selects (every team's "DNS to
        // anywhere") are one template: merge their endpoints instead of multiplying the draws.
        const otherSide = direction === 'ingress' ? srcs : dsts;
        const key = `${direction}|${JSON.stringify([t.protocols, t.dstPorts, t.srcPorts, t.icmp])}|${otherSide.map((p) => p.ref).join(',')}`;
        const same = merged.get(key);
        if (same) {
          const own = new Set(direction === 'ingress' ? same.dsts : same.srcs);
          for (const e of direction === 'ingress' ? dsts : srcs) own.add(e);
          if (direction === 'ingress') same.dsts = [...own];
          else same.srcs = [...own];
          same.weight = Math.max(same.weight, weight);
        } else {
          merged.set(key, t);
          out.push(t);
        }
      }
    }
  }
  return out;
}

function pick<T>(list: readonly T[], i: number): T {
  return list[i % list.length]!;
}

/**
 * Flows between the peers of a snapshot, biased to every edge its rules mention. Sources and
 * destinations are workload ids (`namespace/pod`), host endpoint names, or addresses (network
 * sets and outside networks); an endpoint is never paired with itself.
 * @throws GinghamError `EMPTY_QUERY` when `from` or `to` names no peer.
 */
export function arbFlowIn(snapshot: Snapshot, options: FlowArbOptions = {}): fc.Arbitrary<Flow> {
  const peers = snapshotPeers(snapshot);
  const from = peers.filter((p) => inQuery(options.from, p));
  const to = peers.filter((p) => inQuery(options.to, p));
  if (from.length === 0) throw new GinghamError('EMPTY_QUERY', `arbFlowIn: "from" names no peer of the snapshot (${JSON.stringify(options.from)})`);
  if (to.length === 0) throw new GinghamError('EMPTY_QUERY', `arbFlowIn: "to" names no peer of the snapshot (${JSON.stringify(options.to)})`);

  const protocols = new Set<number>();
  for (const p of options.protocols ?? ['TCP', 'UDP', 'ICMP']) {
    const n = protocolNumber(p);
    if (n === undefined) throw new GinghamError('INVALID_FLOW', `arbFlowIn: unknown protocol "${String(p)}"`);
    protocols.add(n);
  }
  const rules = [...snapshot.policies.flatMap((p) => [...p.ingress, ...p.egress]), ...snapshot.profiles.flatMap((p) => [...p.ingress, ...p.egress])];
  if (options.protocols === undefined) for (const r of rules) if (r.protocol) protocols.add(r.protocol.number);
  const protocolList = [...protocols].sort((a, b) => a - b);

  // Every port any rule or endpoint mentions (with neighbours), per protocol, for edge draws.
  const namedPorts = (name: string, dst?: Peer): number[] =>
    (dst ? [dst] : peers).flatMap((p) => p.ports.filter((x) => x.name === name).map((x) => x.port));
  const edgePorts = [
    ...new Set([...rules.flatMap((r) => portEdges([...(r.destination.ports ?? []), ...(r.destination.notPorts ?? [])], (n) => namedPorts(n))), ...peers.flatMap((p) => p.ports.map((x) => x.port))]),
  ].sort((a, b) => a - b);
  const usesSourcePorts = rules.some((r) => (r.source.ports?.length ?? 0) > 0 || (r.source.notPorts?.length ?? 0) > 0);
  const sourceEdges = usesSourcePorts ? [...new Set(rules.flatMap((r) => portEdges([...(r.source.ports ?? []), ...(r.source.notPorts ?? [])], (n) => namedPorts(n))))].sort((a, b) => a - b) : [];
  const icmpTypes = [...new Set([8, 0, ...rules.flatMap((r) => [r.icmp?.type, r.notICMP?.type]).filter((t): t is number => t !== undefined)])];

  const flow = (src: Peer, dst: Peer, protocol: number, port: number | undefined, srcPort: number | undefined, icmp: { type: number; code?: number } | undefined): Flow => {
    const base = { src: src.ref, dst: dst.ref, protocol: protocolName(protocol) };
    if (PORT_PROTOCOLS.has(protocol)) {
      return { ...base, ...(srcPort !== undefined ? { srcPort } : {}), dstPort: port ?? 1 };
    }
    if (ICMP_PROTOCOLS.has(protocol)) return { ...base, icmp: icmp ?? { type: 8, code: 0 } };
    return base;
  };
  /** A source and a destination from two lists, never the same endpoint (the next one instead). */
  const pair = (srcs: readonly Peer[], dsts: readonly Peer[], s: number, d: number): [Peer, Peer] => {
    for (let i = 0; i < srcs.length; i++) {
      const src = pick(srcs, s + i);
      for (let j = 0; j < dsts.length; j++) {
        const dst = pick(dsts, d + j);
        if (dst !== src) return [src, dst];
      }
    }
    return [pick(srcs, s), pick(dsts, d)]; // unreachable: templates and queries with one shared peer only are dropped
  };
  const pairable = (srcs: readonly Peer[], dsts: readonly Peer[]): boolean => srcs.some((x) => dsts.some((y) => x !== y));
  if (!pairable(from, to)) throw new GinghamError('EMPTY_QUERY', 'arbFlowIn: "from" and "to" name only the same endpoint (a flow to itself is never policed)');

  const templates = templatesOf(snapshot, peers, from, to, protocols, { from: options.from !== undefined, to: options.to !== undefined }).filter((t) => pairable(t.srcs, t.dsts));
  // Each template as many times as its weight: a drawn index picks by weight.
  const weighted = templates.flatMap((t) => new Array<Template>(t.weight).fill(t));
  const directed = fc
    .record({ t: fc.nat({ max: Math.max(0, weighted.length - 1) }), s: fc.nat(), d: fc.nat(), proto: fc.nat(), port: fc.nat(), sport: fc.nat() })
    .map(({ t, s, d, proto, port, sport }) => {
      const tpl = pick(weighted, t);
      const [src, dst] = pair(tpl.srcs, tpl.dsts, s, d);
      const protocol = pick(tpl.protocols, proto);
      const dstEdges = tpl.dstPorts ? portEdges(tpl.dstPorts, (n) => namedPorts(n, dst)) : [];
      const dstPort = dstEdges.length > 0 ? pick(dstEdges, port) : pick(edgePorts.length > 0 ? edgePorts : [80], port);
      const srcEdges = tpl.srcPorts ? portEdges(tpl.srcPorts, (n) => namedPorts(n, src)) : sourceEdges;
      const srcPort = usesSourcePorts ? pick(srcEdges.length > 0 ? srcEdges : [49152], sport) : undefined;
      return flow(src, dst, protocol, dstPort, srcPort, tpl.icmp ? { type: tpl.icmp.type, ...(tpl.icmp.code !== undefined ? { code: tpl.icmp.code } : { code: 0 }) } : undefined);
    });
  const edges = fc.record({ s: fc.nat(), d: fc.nat(), proto: fc.nat(), port: fc.nat(), sport: fc.nat(), type: fc.nat() }).map(({ s, d, proto, port, sport, type }) => {
    const [src, dst] = pair(from, to, s, d);
    return flow(src, dst, pick(protocolList, proto), pick(edgePorts.length > 0 ? edgePorts : [80], port), usesSourcePorts ? pick(sourceEdges, sport) : undefined, { type: pick(icmpTypes, type), code: 0 });
  });
  const uniform = fc
    .record({ s: fc.nat(), d: fc.nat(), proto: fc.nat(), port: fc.integer({ min: 1, max: 65535 }), sport: fc.integer({ min: 1, max: 65535 }), type: fc.integer({ min: 0, max: 255 }), code: fc.integer({ min: 0, max: 255 }) })
    .map(({ s, d, proto, port, sport, type, code }) => {
      const [src, dst] = pair(from, to, s, d);
      return flow(src, dst, pick(protocolList, proto), port, usesSourcePorts ? sport : undefined, { type, code });
    });

  const bias = Math.min(1, Math.max(0, options.bias ?? 0.9));
  const scale = 1000;
  const arms: { weight: number; arbitrary: fc.Arbitrary<Flow> }[] = [];
  if (bias > 0 && templates.length > 0) arms.push({ weight: Math.round(bias * 0.85 * scale), arbitrary: directed });
  if (bias > 0) arms.push({ weight: Math.round(bias * (templates.length > 0 ? 0.15 : 1) * scale), arbitrary: edges });
  if (bias < 1) arms.push({ weight: Math.round((1 - bias) * scale), arbitrary: uniform });
  return arms.length === 1 ? arms[0]!.arbitrary : fc.oneof(...arms);
}
