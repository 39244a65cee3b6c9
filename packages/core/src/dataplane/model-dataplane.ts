/**
 * The model dataplane: a pure interpreter of a `DataplaneState` (what a `RecordingDataplane`
 * holds) that answers "is this flow allowed" the way a real dataplane enforcing those messages
 * would: IP sets by membership, tiers in order with Pass and default actions, profiles,
 * failsafes on host endpoints. It sees only messages (never the model or the Engine), so it is
 * the reference every real dataplane's tests compare against, and it must agree with
 * `evaluate()`. It never mutates the state. A flow that crosses a node (`flow.via`, or both ends
 * on one node) also meets that node's host endpoint checks, by the rules `evaluate()` documents.
 */
import { type Cidr, cidrContains, formatIp, type IpAddr, parseCidr, parseIp } from '../net/cidr.js';
import { protocolNumber } from '../convert/protocol.js';
import { matchFailsafe } from '../evaluate/failsafe.js';
import type { EndpointToHostAction, Flow } from '../evaluate/types.js';
import { GinghamError } from '../errors.js';
import type { CompiledRule, CompiledSide, HostEndpointState, PortRange, TierRef, WorkloadEndpointState } from './messages.js';
import type { DataplaneState } from './recording-dataplane.js';

type EndpointState = WorkloadEndpointState | HostEndpointState;

export interface ModelDirectionVerdict {
  readonly allowed: boolean;
  /** The endpoint whose policy ran; absent when the peer has no endpoint in this state. */
  readonly endpointId?: string;
  /**
   * What decided: `no-policy`, `failsafe`, `untracked`, `pre-dnat`, `tier`, `forward`,
   * `forward-default`, `local-host`, `endpoint-to-host`, `profile`, `no-profile`.
   */
  readonly stage: string;
}

export interface ModelVerdict {
  readonly allowed: boolean;
  readonly egress: ModelDirectionVerdict;
  readonly ingress: ModelDirectionVerdict;
  /** The host endpoint checks of the node the flow crosses (see `evaluate()`'s `trace.via`). */
  readonly via?: { readonly node: string; readonly in?: ModelDirectionVerdict; readonly out?: ModelDirectionVerdict };
}

export interface ModelOptions {
  /** Felix `DefaultEndpointToHostAction` (default `ACCEPT`, as `evaluate()`). */
  readonly endpointToHostAction?: EndpointToHostAction;
}

interface Peer {
  readonly endpoint?: EndpointState;
  readonly addrs: readonly IpAddr[];
  readonly given?: IpAddr;
}

interface Ctx {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly src?: IpAddr;
  readonly dst?: IpAddr;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmp?: { readonly type: number; readonly code?: number };
}

function hostIp(cidr: string): IpAddr | undefined {
  return parseIp(cidr.split('/')[0]!);
}

function addrsOf(e: EndpointState): IpAddr[] {
  const texts = 'binding' in e ? e.expectedIPs : e.addresses;
  return texts.map(hostIp).filter((a): a is IpAddr => a !== undefined);
}

function byId<T extends { id: string }>(m: Map<string, T>): T[] {
  return [...m.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function resolve(state: DataplaneState, ref: string): Peer {
  const ip = parseIp(ref);
  if (ip) {
    const text = formatIp(ip);
    const has = (e: EndpointState): boolean => addrsOf(e).some((a) => formatIp(a) === text);
    const endpoint = byId(state.workloadEndpoints).find(has) ?? byId(state.hostEndpoints).find(has);
    return endpoint ? { endpoint, addrs: addrsOf(endpoint), given: ip } : { addrs: [ip], given: ip };
  }
  let endpoint: EndpointState | undefined = state.workloadEndpoints.get(ref) ?? state.hostEndpoints.get(ref);
  if (!endpoint) {
    const named = byId(state.workloadEndpoints).filter((w) => w.name === ref);
    if (named.length > 1) throw new GinghamError('AMBIGUOUS_PEER', `flow peer "${ref}" names ${named.length} workload endpoints`);
    endpoint = named[0];
  }
  if (!endpoint) throw new GinghamError('UNKNOWN_PEER', `unknown flow peer "${ref}"`);
  return { endpoint, addrs: addrsOf(endpoint) };
}

class SetLookup {
  private readonly cidrs = new Map<string, Cidr[]>();
  constructor(private readonly state: DataplaneState) {}

  contains(id: string, addr: IpAddr): boolean {
    let list = this.cidrs.get(id);
    if (!list) {
      list = [];
      for (const m of this.state.ipSets.get(id)?.members ?? []) {
        const c = parseCidr(m);
        if (c) list.push(c);
      }
      this.cidrs.set(id, list);
    }
    return list.some((c) => cidrContains(c, addr));
  }

  containsPort(id: string, addr: IpAddr, protocol: number, port: number): boolean {
    const members = this.state.ipSets.get(id)?.members;
    if (!members) return false;
    const suffix = `,${protoText(protocol)}:${port}`;
    const prefix = addr.version === 4 ? 32 : 128;
    return members.has(`${formatIp(addr)}/${prefix}${suffix}`);
  }
}

/** Protocol spelling inside `net-port-proto` members. */
export function protoText(protocol: number): string {
  return protocol === 6 ? 'tcp' : protocol === 17 ? 'udp' : protocol === 132 ? 'sctp' : String(protocol);
}

function inRanges(ranges: readonly PortRange[] | undefined, port: number): boolean {
  return (ranges ?? []).some((r) => port >= r.min && port <= r.max);
}

function familyCidrs(texts: readonly string[], family: 4 | 6): Cidr[] {
  return texts.map((t) => parseCidr(t)).filter((c): c is Cidr => c !== undefined && c.version === family);
}

function sideMatches(sets: SetLookup, s: CompiledSide, addr: IpAddr | undefined, port: number | undefined, ctx: Ctx): boolean {
  if (s.nets) {
    if (!addr || !familyCidrs(s.nets, ctx.family).some((c) => cidrContains(c, addr))) return false;
  }
  if (s.notNets) {
    if (!addr || familyCidrs(s.notNets, ctx.family).some((c) => cidrContains(c, addr))) return false;
  }
  if (s.ipSetId !== undefined && (!addr || !sets.contains(s.ipSetId, addr))) return false;
  if (s.notIpSetId !== undefined && (!addr || sets.contains(s.notIpSetId, addr))) return false;
  const portIn = (ranges: readonly PortRange[] | undefined, named: readonly string[] | undefined, p: number): boolean =>
    inRanges(ranges, p) || (addr !== undefined && (named ?? []).some((id) => sets.containsPort(id, addr, ctx.protocol, p)));
  if ((s.ports?.length ?? 0) + (s.namedPortIpSetIds?.length ?? 0) > 0) {
    if (port === undefined || !portIn(s.ports, s.namedPortIpSetIds, port)) return false;
  }
  if ((s.notPorts?.length ?? 0) + (s.notNamedPortIpSetIds?.length ?? 0) > 0) {
    if (port === undefined || portIn(s.notPorts, s.notNamedPortIpSetIds, port)) return false;
  }
  if (s.domains && s.domains.length > 0) return false;
  return true;
}

function ruleMatches(sets: SetLookup, r: CompiledRule, ctx: Ctx): boolean {
  if (r.ipVersion !== undefined && r.ipVersion !== ctx.family) return false;
  for (const s of [r.source, r.destination]) {
    if (s.nets && familyCidrs(s.nets, ctx.family).length === 0) return false;
    if (s.notNets && familyCidrs(s.notNets, ctx.family).length === 0) return false;
  }
  if (r.protocol !== undefined && r.protocol !== ctx.protocol) return false;
  if (r.notProtocol !== undefined && r.notProtocol === ctx.protocol) return false;
  if (!sideMatches(sets, r.source, ctx.src, ctx.srcPort, ctx)) return false;
  if (!sideMatches(sets, r.destination, ctx.dst, ctx.dstPort, ctx)) return false;
  const icmpHit = (m: { type: number; code?: number }): boolean =>
    ctx.icmp !== undefined && m.type === ctx.icmp.type && (m.code === undefined || m.code === ctx.icmp.code);
  if (r.icmp && !icmpHit(r.icmp)) return false;
  if (r.notICMP && (!ctx.icmp || icmpHit(r.notICMP))) return false;
  return true;
}

/** First rule that matches and is not Log: its action, else undefined. */
function firstAction(sets: SetLookup, rules: readonly CompiledRule[], ctx: Ctx): CompiledRule['action'] | undefined {
  for (const r of rules) if (r.action !== 'Log' && ruleMatches(sets, r, ctx)) return r.action;
  return undefined;
}

function runTiers(
  state: DataplaneState,
  sets: SetLookup,
  tiers: readonly TierRef[],
  dir: 'ingress' | 'egress',
  ctx: Ctx,
): 'Allow' | 'Deny' | undefined {
  // (A tier's defaultAction is what the message says: the Engine already forced Pass on untracked and pre-DNAT tiers.)
  for (const tier of tiers) {
    let result: 'Allow' | 'Deny' | 'Pass' | undefined;
    for (const id of tier.policyIds) {
      const p = state.policies.get(id);
      if (!p || p.staged) continue;
      const a = firstAction(sets, dir === 'ingress' ? p.ingress : p.egress, ctx);
      if (a === 'Allow' || a === 'Deny' || a === 'Pass') {
        result = a;
        break;
      }
    }
    if (result === 'Allow' || result === 'Deny') return result;
    if (result === undefined && tier.defaultAction === 'Deny') return 'Deny';
  }
  return undefined;
}

function direction(state: DataplaneState, sets: SetLookup, e: EndpointState | undefined, dir: 'ingress' | 'egress', ctx: Ctx): ModelDirectionVerdict {
  if (!e) return { allowed: true, stage: 'no-policy' };
  const done = (allowed: boolean, stage: string): ModelDirectionVerdict => ({ allowed, stage, endpointId: e.id });
  if ('binding' in e) {
    const entries = dir === 'ingress' ? e.failsafeInbound : e.failsafeOutbound;
    if (matchFailsafe(entries, ctx.protocol, ctx.dstPort, dir === 'ingress' ? ctx.src : ctx.dst)) return done(true, 'failsafe');
    const untracked = runTiers(state, sets, dir === 'ingress' ? e.untrackedIngressTiers : e.untrackedEgressTiers, dir, ctx);
    if (untracked) return done(untracked === 'Allow', 'untracked');
    if (dir === 'ingress') {
      const pre = runTiers(state, sets, e.preDnatIngressTiers, dir, ctx);
      if (pre) return done(pre === 'Allow', 'pre-dnat');
    }
  }
  const normal = runTiers(state, sets, dir === 'ingress' ? e.ingressTiers : e.egressTiers, dir, ctx);
  if (normal) return done(normal === 'Allow', 'tier');
  for (const id of e.profileIds) {
    const p = state.profiles.get(id);
    if (!p) continue;
    const a = firstAction(sets, dir === 'ingress' ? p.ingress : p.egress, ctx);
    if (a === 'Allow' || a === 'Deny') return done(a === 'Allow', 'profile');
  }
  return done(false, 'no-profile');
}

/** A host endpoint's checks on a forwarded packet (no failsafes, no profiles; nothing decides: allowed). */
function hostSide(state: DataplaneState, sets: SetLookup, h: HostEndpointState, dir: 'ingress' | 'egress', ctx: Ctx, forward: boolean, untracked: boolean): ModelDirectionVerdict {
  const done = (allowed: boolean, stage: string): ModelDirectionVerdict => ({ allowed, stage, endpointId: h.id });
  if (dir === 'ingress') {
    if (untracked) {
      const u = runTiers(state, sets, h.untrackedIngressTiers, dir, ctx);
      if (u) return done(u === 'Allow', 'untracked');
    }
    const pre = runTiers(state, sets, h.preDnatIngressTiers, dir, ctx);
    if (pre) return done(pre === 'Allow', 'pre-dnat');
  }
  if (forward) {
    const f = runTiers(state, sets, dir === 'ingress' ? h.forwardIngressTiers : h.forwardEgressTiers, dir, ctx);
    if (f) return done(f === 'Allow', 'forward');
  }
  return done(true, 'forward-default');
}

interface Crossing {
  readonly node: string;
  readonly in?: HostEndpointState;
  readonly out?: HostEndpointState;
}

function nodeNames(state: DataplaneState): Set<string> {
  const out = new Set<string>(state.hosts.keys());
  for (const w of state.workloadEndpoints.values()) out.add(w.node);
  for (const h of state.hostEndpoints.values()) out.add(h.node);
  return out;
}

function isNodeAddress(state: DataplaneState, node: string, addr: IpAddr): boolean {
  const text = formatIp(addr);
  return (state.hosts.get(node)?.addresses ?? []).some((a) => {
    const ip = hostIp(a);
    return ip !== undefined && formatIp(ip) === text;
  });
}

function crossingOf(state: DataplaneState, flow: Flow, src: Peer, dst: Peer): Crossing | undefined {
  const via = flow.via;
  if (via !== undefined) {
    const spec = typeof via === 'string' ? { node: via } : via;
    const hep = (name: string | undefined, what: string): HostEndpointState | undefined => {
      if (name === undefined) return undefined;
      const h = state.hostEndpoints.get(name);
      if (!h) throw new GinghamError('INVALID_FLOW', `via.${what}: unknown host endpoint "${name}"`);
      return h;
    };
    const hin = hep(spec.in, 'in');
    const hout = hep(spec.out, 'out');
    const node = spec.node ?? hin?.node ?? hout?.node;
    if (node === undefined || node === '') throw new GinghamError('INVALID_FLOW', 'via: name a node, or the host endpoints the flow crosses');
    if (!nodeNames(state).has(node)) throw new GinghamError('INVALID_FLOW', `via: unknown node "${node}"`);
    for (const h of [hin, hout]) if (h && h.node !== node) throw new GinghamError('INVALID_FLOW', `via: host endpoint "${h.id}" is not on node "${node}"`);
    return { node, ...(hin ? { in: hin } : {}), ...(hout ? { out: hout } : {}) };
  }
  const s = src.endpoint;
  const d = dst.endpoint;
  const wep = (e: EndpointState | undefined): e is WorkloadEndpointState => e !== undefined && !('binding' in e);
  if (wep(s) && d && d.node === s.node) return { node: s.node };
  if (wep(d) && s && s.node === d.node) return { node: d.node };
  if (wep(d) && !s && src.given && isNodeAddress(state, d.node, src.given)) return { node: d.node };
  if (wep(s) && !d && dst.given && isNodeAddress(state, s.node, dst.given)) return { node: s.node };
  return undefined;
}

function placeOf(state: DataplaneState, p: Peer, node: string): 'workload' | 'host' | 'remote' {
  const e = p.endpoint;
  if (e) return e.node !== node ? 'remote' : 'binding' in e ? 'host' : 'workload';
  return p.given && isNodeAddress(state, node, p.given) ? 'host' : 'remote';
}

function starOf(state: DataplaneState, node: string): HostEndpointState | undefined {
  return byId(state.hostEndpoints).find((h) => h.node === node && h.binding.kind === 'all-interfaces');
}

/**
 * The verdict a dataplane enforcing `state` gives `flow`: the source endpoint's egress, then the
 * destination endpoint's ingress (peers that are not endpoints in this state have no policy),
 * and for a flow that crosses a node the host endpoint checks on the way in and out.
 * @throws GinghamError `UNKNOWN_PEER` / `INVALID_FLOW` for a malformed flow.
 */
export function modelVerdict(state: DataplaneState, flow: Flow, options: ModelOptions = {}): ModelVerdict {
  const protocol = protocolNumber(flow.protocol);
  if (protocol === undefined) throw new GinghamError('INVALID_FLOW', `unknown protocol "${String(flow.protocol)}"`);
  const src = resolve(state, flow.src);
  const dst = resolve(state, flow.dst);
  const has = (p: Peer, v: 4 | 6): boolean => p.addrs.some((a) => a.version === v);
  let family: 4 | 6 = 4;
  if (src.given) family = src.given.version;
  else if (dst.given) family = dst.given.version;
  else if (has(src, 4) && has(dst, 4)) family = 4;
  else if (has(src, 6) && has(dst, 6)) family = 6;
  else if (has(src, 4) || has(dst, 4)) family = 4;
  else if (has(src, 6) || has(dst, 6)) family = 6;
  const pick = (p: Peer): IpAddr | undefined => (p.given && p.given.version === family ? p.given : p.addrs.find((a) => a.version === family));
  const srcAddr = pick(src);
  const dstAddr = pick(dst);
  const ctx: Ctx = {
    family,
    protocol,
    ...(srcAddr ? { src: srcAddr } : {}),
    ...(dstAddr ? { dst: dstAddr } : {}),
    ...(flow.srcPort !== undefined ? { srcPort: flow.srcPort } : {}),
    ...(flow.dstPort !== undefined ? { dstPort: flow.dstPort } : {}),
    ...(flow.icmp ? { icmp: flow.icmp } : {}),
  };
  const sets = new SetLookup(state);
  const dirOf = (e: EndpointState | undefined, d: 'ingress' | 'egress'): ModelDirectionVerdict => direction(state, sets, e, d, ctx);
  const verdict = (egress: ModelDirectionVerdict, ingress: ModelDirectionVerdict, via?: ModelVerdict['via']): ModelVerdict => ({
    allowed: egress.allowed && ingress.allowed && (via?.in?.allowed ?? true) && (via?.out?.allowed ?? true),
    egress,
    ingress,
    ...(via ? { via } : {}),
  });
  const c = crossingOf(state, flow, src, dst);
  if (c) {
    const from = placeOf(state, src, c.node);
    const to = placeOf(state, dst, c.node);
    const star = starOf(state, c.node);
    const fixed = (e: EndpointState | undefined, allowed: boolean, stage: string): ModelDirectionVerdict => ({ allowed, stage, ...(e ? { endpointId: e.id } : {}) });
    const isHep = (e: EndpointState | undefined): e is HostEndpointState => e !== undefined && 'binding' in e;
    if (from === 'host' && to === 'workload') {
      return verdict(fixed(src.endpoint, true, 'local-host'), fixed(dst.endpoint, true, 'local-host'), { node: c.node });
    }
    if (!(from === 'host' && to === 'host')) {
      if (to === 'host' && from === 'remote') {
        return verdict(dirOf(src.endpoint, 'egress'), dirOf(c.in ?? (isHep(dst.endpoint) ? dst.endpoint : star), 'ingress'), { node: c.node });
      }
      if (from === 'host') {
        return verdict(dirOf(c.out ?? (isHep(src.endpoint) ? src.endpoint : star), 'egress'), dirOf(dst.endpoint, 'ingress'), { node: c.node });
      }
      if (to === 'host') {
        const action = options.endpointToHostAction ?? 'ACCEPT';
        const hin = star ? hostSide(state, sets, star, 'ingress', ctx, false, false) : undefined;
        return verdict(dirOf(src.endpoint, 'egress'), fixed(dst.endpoint, action !== 'DROP', 'endpoint-to-host'), { node: c.node, ...(hin ? { in: hin } : {}) });
      }
      const hepIn = from === 'workload' ? star : (c.in ?? star);
      const hepOut = to === 'workload' ? star : (c.out ?? star);
      const hin = hepIn ? hostSide(state, sets, hepIn, 'ingress', ctx, true, from === 'remote') : undefined;
      const hout = hepOut ? hostSide(state, sets, hepOut, 'egress', ctx, true, false) : undefined;
      return verdict(dirOf(src.endpoint, 'egress'), dirOf(dst.endpoint, 'ingress'), { node: c.node, ...(hin ? { in: hin } : {}), ...(hout ? { out: hout } : {}) });
    }
  }
  return verdict(dirOf(src.endpoint, 'egress'), dirOf(dst.endpoint, 'ingress'));
}
