/**
 * `evaluate(snapshot, flow)`: Calico's verdict for one flow, with a trace. The source
 * endpoint's egress policy runs, then the destination endpoint's ingress policy; both must allow
 * (an address that is not an endpoint has no policy). Per direction:
 *
 *   host endpoints only:  failsafe ports ─▶ untracked tiers ─▶ pre-DNAT tiers (ingress) ─┐
 *   every endpoint:       normal tiers (Allow/Deny decide, Pass → next tier,            ◀┘
 *                         end of an applied tier → its default action)
 *                         ─▶ profiles in order ─▶ deny
 *
 * A flow that crosses a node (`flow.via`, or both ends on one node) also meets that node's
 * host endpoint policy where the packet enters and leaves it (see `crossNode` below):
 *
 *   in  (arrival interface's HEP): untracked ─▶ pre-DNAT ─▶ applyOnForward tiers ─▶ allow
 *   out (departure interface's HEP):                        applyOnForward tiers ─▶ allow
 *   host → own workload: allowed; workload → own host: egress, then DefaultEndpointToHostAction
 *
 * Must never throw for anything but a malformed flow (unknown peer, node or protocol).
 */
import type { Endpoint, HostEndpoint, Profile, Rule } from '../model/types.js';
import { GinghamError } from '../errors.js';
import { formatIp, type IpAddr, ipKey, parseIp } from '../net/cidr.js';
import { protocolName, protocolNumber } from '../convert/protocol.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND, formatFailsafe, matchFailsafe } from './failsafe.js';
import { type MatchContext, ruleMismatch } from './rule-match.js';
import { indexSnapshot, type PolicyView, type SnapshotIndex, type TierPlan } from './snapshot-index.js';
import type {
  Decision,
  DirectionTrace,
  EvaluateOptions,
  EvaluationResult,
  Flow,
  FlowSummary,
  ViaTrace,
  PolicyTrace,
  ProfileTrace,
  ResolvedPeer,
  RuleTrace,
  StageTrace,
  TierTrace,
  Trace,
} from './types.js';
import type { Snapshot } from '../model/types.js';

interface Resolved {
  readonly peer: ResolvedPeer;
  readonly endpoint?: Endpoint;
  readonly addrs: readonly IpAddr[];
  readonly given?: IpAddr;
}

/** An endpoint's addresses (workload `addresses`, host endpoint `expectedIPs`), prefix dropped. */
export function endpointAddresses(e: Endpoint): IpAddr[] {
  const texts = e.kind === 'WorkloadEndpoint' ? e.addresses : e.expectedIPs;
  const out: IpAddr[] = [];
  for (const t of texts) {
    const a = parseIp(t.split('/')[0]!);
    if (a) out.push(a);
  }
  return out;
}

function resolveWith(index: SnapshotIndex, ref: string): Resolved {
  const ip = parseIp(ref);
  if (ip) {
    const address = formatIp(ip);
    // An address of an endpoint is that endpoint (workloads first, then host endpoints' expectedIPs).
    const members = index.membersAt(ip);
    const wep = members.find((m) => m.kind === 'WorkloadEndpoint');
    const hep = members.find((m) => m.kind === 'HostEndpoint');
    const endpoint: Endpoint | undefined = wep ? index.workloads.get(wep.id) : hep ? index.hosts.get(hep.id) : undefined;
    if (endpoint) {
      const addrs = endpointAddresses(endpoint);
      return {
        peer: {
          ref,
          kind: endpoint.kind === 'WorkloadEndpoint' ? 'workload' : 'host',
          endpointId: endpoint.id,
          addresses: addrs.map(formatIp),
          address,
        },
        endpoint,
        addrs,
        given: ip,
      };
    }
    return { peer: { ref, kind: 'address', addresses: [address], address }, addrs: [ip], given: ip };
  }
  const byId = index.workloads.get(ref);
  const host = byId ? undefined : index.hosts.get(ref);
  let endpoint: Endpoint | undefined = byId ?? host;
  if (!endpoint) {
    const byName = index.workloadsByName.get(ref) ?? [];
    if (byName.length > 1) {
      throw new GinghamError(
        'AMBIGUOUS_PEER',
        `flow peer "${ref}" names ${byName.length} workload endpoints (${byName.map((w) => w.id).join(', ')}); use namespace/name`,
      );
    }
    endpoint = byName[0];
  }
  if (!endpoint) {
    throw new GinghamError(
      'UNKNOWN_PEER',
      `unknown flow peer "${ref}": not an IP address, a namespace/pod workload id, or a WorkloadEndpoint/HostEndpoint name`,
    );
  }
  const addrs = endpointAddresses(endpoint);
  return {
    peer: {
      ref,
      kind: endpoint.kind === 'WorkloadEndpoint' ? 'workload' : 'host',
      endpointId: endpoint.id,
      addresses: addrs.map(formatIp),
    },
    endpoint,
    addrs,
  };
}

/**
 * Resolves a flow peer reference: an IP (an endpoint's address resolves to that endpoint), a
 * `namespace/pod` workload id, a HostEndpoint name, or a WorkloadEndpoint name.
 * @throws GinghamError `UNKNOWN_PEER` / `AMBIGUOUS_PEER`.
 */
export function resolvePeer(snapshot: Snapshot, ref: string): ResolvedPeer {
  return resolveWith(indexSnapshot(snapshot), ref).peer;
}

function pickFamily(src: Resolved, dst: Resolved): 4 | 6 {
  if (src.given) return src.given.version;
  if (dst.given) return dst.given.version;
  const has = (r: Resolved, v: 4 | 6): boolean => r.addrs.some((a) => a.version === v);
  for (const v of [4, 6] as const) if (has(src, v) && has(dst, v)) return v;
  for (const v of [4, 6] as const) if (has(src, v) || has(dst, v)) return v;
  return 4;
}

function pickAddress(r: Resolved, family: 4 | 6): IpAddr | undefined {
  if (r.given && r.given.version === family) return r.given;
  return r.addrs.find((a) => a.version === family);
}

function checkPort(value: number | undefined, what: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new GinghamError('INVALID_FLOW', `invalid ${what} ${String(value)}`);
  return value;
}

type Outcome = { kind: 'decided'; decision: Decision } | { kind: 'continue' };

/** Walks tiers: first matching Allow/Deny decides, Pass skips to the next tier, Log continues. */
function runTiers(
  index: SnapshotIndex,
  view: PolicyView,
  tiers: readonly TierPlan[],
  direction: 'ingress' | 'egress',
  ctx: MatchContext,
  stage: 'untracked' | 'pre-dnat' | 'tier' | 'forward',
  traces: TierTrace[],
): Outcome {
  for (const plan of tiers) {
    const forcedPass = stage === 'untracked' || stage === 'pre-dnat';
    const policies: PolicyTrace[] = [];
    let tierResult: TierTrace['result'] | undefined;
    let decision: Decision | undefined;
    for (const policy of plan.policies) {
      const rules = direction === 'ingress' ? policy.ingress : policy.egress;
      const ruleTraces: RuleTrace[] = [];
      let result: PolicyTrace['result'] = 'no-match';
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        const reason = ruleMismatch(index, rule, ctx);
        ruleTraces.push(ruleTrace(i, rule, reason));
        if (reason !== undefined || rule.action === 'Log') continue;
        result = rule.action;
        if (rule.action !== 'Pass') {
          decision = {
            stage,
            action: rule.action,
            tier: plan.tier.name,
            policyId: policy.id,
            ruleIndex: i,
            ...(rule.name ? { ruleName: rule.name } : {}),
          };
        }
        break;
      }
      const trace: { -readonly [K in keyof PolicyTrace]: PolicyTrace[K] } = { policyId: policy.id, rules: ruleTraces, result };
      if (policy.order !== undefined) trace.order = policy.order;
      if (view.stagedIds.size > 0 && view.stagedIds.has(policy.id)) trace.staged = true;
      policies.push(trace);
      if (result !== 'no-match') {
        tierResult = result;
        break;
      }
    }
    if (tierResult === undefined) {
      const pass = forcedPass || plan.tier.defaultAction === 'Pass';
      tierResult = pass ? 'end-of-tier-pass' : 'end-of-tier-deny';
      if (!pass) decision = { stage: 'end-of-tier', action: 'Deny', tier: plan.tier.name };
    }
    traces.push({
      tier: plan.tier.name,
      defaultAction: plan.tier.defaultAction,
      declared: plan.tier.declared,
      policies,
      result: tierResult,
    });
    if (decision) return { kind: 'decided', decision };
  }
  return { kind: 'continue' };
}

function ruleTrace(index: number, rule: Rule, reason: string | undefined): RuleTrace {
  const matched = reason === undefined;
  const t: { -readonly [K in keyof RuleTrace]: RuleTrace[K] } = rule.name
    ? { index, action: rule.action, name: rule.name, matched }
    : { index, action: rule.action, matched };
  if (!matched) t.reason = reason;
  return t;
}

function runProfiles(
  index: SnapshotIndex,
  endpoint: Endpoint,
  direction: 'ingress' | 'egress',
  ctx: MatchContext,
  traces: ProfileTrace[],
): Decision {
  if (endpoint.profiles.length === 0) return { stage: 'no-profiles', action: 'Deny' };
  for (const name of endpoint.profiles) {
    const profile: Profile | undefined = index.profiles.get(name);
    if (!profile) {
      traces.push({ profile: name, missing: true, rules: [], result: 'no-match' });
      continue;
    }
    const rules = direction === 'ingress' ? profile.ingress : profile.egress;
    const ruleTraces: RuleTrace[] = [];
    let result: ProfileTrace['result'] = 'no-match';
    let decisive = -1;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const reason = ruleMismatch(index, rule, ctx);
      ruleTraces.push(ruleTrace(i, rule, reason));
      if (reason !== undefined || rule.action === 'Log') continue;
      result = rule.action;
      decisive = i;
      break;
    }
    traces.push({ profile: name, rules: ruleTraces, result });
    if (result === 'Allow' || result === 'Deny') return { stage: 'profile', action: result, profile: name, ruleIndex: decisive };
    // Pass in a profile: on to the next profile (iptables; BPF would deny — avoid Pass in profiles).
  }
  return { stage: 'no-profile-matched', action: 'Deny' };
}

/** One endpoint's verdict in one direction for a flow context (used by `evaluate()` and the analysis). */
export function evaluateDirection(
  index: SnapshotIndex,
  view: PolicyView,
  endpoint: Endpoint | undefined,
  direction: 'ingress' | 'egress',
  ctx: MatchContext,
  options: EvaluateOptions | undefined,
): DirectionTrace {
  if (!endpoint) {
    return { direction, allowed: true, decision: { stage: 'no-policy', action: 'Allow' }, stages: [] };
  }
  const stages: StageTrace[] = [];
  const done = (decision: Decision): DirectionTrace => ({
    direction,
    endpoint: { kind: endpoint.kind, id: endpoint.id },
    allowed: decision.action === 'Allow',
    decision,
    stages,
  });
  const plan = view.plan(endpoint);
  if (endpoint.kind === 'HostEndpoint') {
    const entries =
      direction === 'ingress'
        ? (options?.failsafeInbound ?? DEFAULT_FAILSAFE_INBOUND)
        : (options?.failsafeOutbound ?? DEFAULT_FAILSAFE_OUTBOUND);
    const hit = matchFailsafe(entries, ctx.protocol, ctx.dstPort, direction === 'ingress' ? ctx.src : ctx.dst);
    stages.push(hit ? { stage: 'failsafe', matched: true, entry: formatFailsafe(hit) } : { stage: 'failsafe', matched: false });
    if (hit) return done({ stage: 'failsafe', action: 'Allow', failsafe: formatFailsafe(hit) });
    const untracked = direction === 'ingress' ? plan.untracked.ingress : plan.untracked.egress;
    if (untracked.length > 0) {
      const tiers: TierTrace[] = [];
      stages.push({ stage: 'untracked', tiers });
      const o = runTiers(index, view, untracked, direction, ctx, 'untracked', tiers);
      if (o.kind === 'decided') return done(o.decision);
    }
    if (direction === 'ingress' && plan.preDnat.ingress.length > 0) {
      const tiers: TierTrace[] = [];
      stages.push({ stage: 'pre-dnat', tiers });
      const o = runTiers(index, view, plan.preDnat.ingress, direction, ctx, 'pre-dnat', tiers);
      if (o.kind === 'decided') return done(o.decision);
    }
  }
  const normal = direction === 'ingress' ? plan.normal.ingress : plan.normal.egress;
  if (normal.length > 0) {
    const tiers: TierTrace[] = [];
    stages.push({ stage: 'normal', tiers });
    const o = runTiers(index, view, normal, direction, ctx, 'tier', tiers);
    if (o.kind === 'decided') return done(o.decision);
  }
  const profiles: ProfileTrace[] = [];
  stages.push({ stage: 'profiles', profiles });
  return done(runProfiles(index, endpoint, direction, ctx, profiles));
}

type Check = readonly [Endpoint | undefined, 'ingress' | 'egress'];

function stagedApplies(index: SnapshotIndex, checks: readonly Check[]): boolean {
  const staged = index.staged();
  for (const [endpoint, direction] of checks) {
    if (!endpoint) continue;
    const after = staged.plan(endpoint).applied[direction];
    for (const id of staged.stagedIds) if (after.has(id)) return true;
    const before = index.enforced.plan(endpoint).applied[direction];
    for (const id of staged.removedIds) if (before.has(id)) return true;
  }
  return false;
}

/** Where the flow crosses a node: the node, and host endpoints named for its two interfaces. */
interface Crossing {
  readonly node: string;
  readonly inferred: boolean;
  readonly in?: HostEndpoint;
  readonly out?: HostEndpoint;
}

function hostByName(index: SnapshotIndex, name: string, what: string): HostEndpoint {
  const h = index.hosts.get(name);
  if (!h) throw new GinghamError('INVALID_FLOW', `via.${what}: unknown host endpoint "${name}"`);
  return h;
}

/** `flow.via` resolved, or the node both ends live on (a workload and a workload or its host). */
function crossing(index: SnapshotIndex, flow: Flow, src: Resolved, dst: Resolved): Crossing | undefined {
  const via = flow.via;
  if (via !== undefined) {
    const spec = typeof via === 'string' ? { node: via } : via;
    const hin = spec.in !== undefined ? hostByName(index, spec.in, 'in') : undefined;
    const hout = spec.out !== undefined ? hostByName(index, spec.out, 'out') : undefined;
    const node = spec.node ?? hin?.node ?? hout?.node;
    if (node === undefined || node === '') throw new GinghamError('INVALID_FLOW', 'via: name a node, or the host endpoints the flow crosses');
    if (!index.nodeNames.has(node)) throw new GinghamError('INVALID_FLOW', `via: unknown node "${node}" (no Node resource or endpoint names it)`);
    for (const [h, what] of [[hin, 'in'], [hout, 'out']] as const) {
      if (h && h.node !== node) throw new GinghamError('INVALID_FLOW', `via.${what}: host endpoint "${h.name}" is on node "${h.node}", not "${node}"`);
    }
    return { node, inferred: false, ...(hin ? { in: hin } : {}), ...(hout ? { out: hout } : {}) };
  }
  const s = src.endpoint;
  const d = dst.endpoint;
  const wep = (e: Endpoint | undefined): e is Endpoint => e?.kind === 'WorkloadEndpoint';
  if (wep(s) && d && d.node === s.node) return { node: s.node, inferred: true };
  if (wep(d) && s && s.node === d.node) return { node: d.node, inferred: true };
  if (wep(d) && !s && src.given && index.isNodeAddress(d.node, src.given)) return { node: d.node, inferred: true };
  if (wep(s) && !d && dst.given && index.isNodeAddress(s.node, dst.given)) return { node: s.node, inferred: true };
  return undefined;
}

/** Where a peer is relative to a node: one of its workloads, the node itself, or elsewhere. */
function placeOf(index: SnapshotIndex, r: Resolved, node: string): 'workload' | 'host' | 'remote' {
  const e = r.endpoint;
  if (e) return e.node !== node ? 'remote' : e.kind === 'WorkloadEndpoint' ? 'workload' : 'host';
  return r.given && index.isNodeAddress(node, r.given) ? 'host' : 'remote';
}

/**
 * One host endpoint's policy for a packet the node forwards (or, `forward: false`, a packet from
 * a workload to the host): on arrival (`ingress`) untracked (not for `*` endpoints: Calico
 * ignores it there), pre-DNAT and `applyOnForward` tiers; on departure (`egress`)
 * `applyOnForward` tiers. Untracked and pre-DNAT tiers end in Pass; an Allow there skips the
 * rest of this endpoint's checks. No failsafes (they guard the host itself), no profiles; when
 * nothing decides, the packet is allowed ("forwarded traffic is allowed by default").
 */
function hostSide(
  index: SnapshotIndex,
  view: PolicyView,
  hep: HostEndpoint,
  direction: 'ingress' | 'egress',
  ctx: MatchContext,
  parts: { readonly untracked: boolean; readonly forward: boolean },
): DirectionTrace {
  const plan = view.plan(hep);
  const stages: StageTrace[] = [];
  const done = (decision: Decision): DirectionTrace => ({
    direction,
    endpoint: { kind: 'HostEndpoint', id: hep.id },
    allowed: decision.action === 'Allow',
    decision,
    stages,
  });
  const run = (tiers: readonly TierPlan[], stage: 'untracked' | 'pre-dnat' | 'forward'): Decision | undefined => {
    if (tiers.length === 0) return undefined;
    const traces: TierTrace[] = [];
    stages.push({ stage, tiers: traces });
    const o = runTiers(index, view, tiers, direction, ctx, stage, traces);
    return o.kind === 'decided' ? o.decision : undefined;
  };
  if (direction === 'ingress') {
    const d = (parts.untracked ? run(plan.untracked.ingress, 'untracked') : undefined) ?? run(plan.preDnat.ingress, 'pre-dnat');
    if (d) return done(d);
  }
  if (parts.forward) {
    const d = run(direction === 'ingress' ? plan.forward.ingress : plan.forward.egress, 'forward');
    if (d) return done(d);
  }
  return done({ stage: 'forward-default', action: 'Allow' });
}

function fixed(direction: 'ingress' | 'egress', endpoint: Endpoint | undefined, decision: Decision): DirectionTrace {
  return {
    direction,
    ...(endpoint ? { endpoint: { kind: endpoint.kind, id: endpoint.id } } : {}),
    allowed: decision.action === 'Allow',
    decision,
    stages: [],
  };
}

interface Run {
  readonly egress: DirectionTrace;
  readonly ingress: DirectionTrace;
  readonly via?: ViaTrace;
  /** Every (endpoint, direction) whose policy took part, for the staged-policy relevance check. */
  readonly checks: readonly Check[];
}

/**
 * The checks of a flow that crosses node `c.node`. `src`/`dst` are placed relative to the node:
 *
 *   host → workload          not policed (Calico: host → local workload is always allowed)
 *   workload → host          in: `*` pre-DNAT; workload egress; DefaultEndpointToHostAction
 *   workload|remote → workload|remote (forwarded)
 *                            in: arrival HEP (untracked, pre-DNAT, forward); source egress;
 *                            destination ingress; out: departure HEP (forward)
 *   remote → host            the arrival HEP (`via.in`, else the destination's, else `*`)'s
 *                            normal ingress: failsafes, untracked, pre-DNAT, tiers, profiles
 *   host → remote            the departure HEP (`via.out`, else the source's, else `*`)'s egress
 *
 * The arrival HEP of a local workload's packet is the node's `*` HEP (its veth has no named
 * one), and so is the departure HEP towards a local workload; a host interface's is `via.in` /
 * `via.out`, else `*`. Host ↔ host on one node (loopback) is judged by its endpoints only.
 */
function crossNode(
  index: SnapshotIndex,
  view: PolicyView,
  c: Crossing,
  src: Resolved,
  dst: Resolved,
  ctx: MatchContext,
  options: EvaluateOptions | undefined,
): Run | undefined {
  const from = placeOf(index, src, c.node);
  const to = placeOf(index, dst, c.node);
  const star = index.starHost(c.node);
  const direction = (e: Endpoint | undefined, d: 'ingress' | 'egress'): DirectionTrace => evaluateDirection(index, view, e, d, ctx, options);
  if (from === 'host' && to === 'host') return undefined;
  if (from === 'host' && to === 'workload') {
    const d: Decision = { stage: 'local-host', action: 'Allow' };
    return { egress: fixed('egress', src.endpoint, d), ingress: fixed('ingress', dst.endpoint, d), via: { node: c.node, from, to }, checks: [] };
  }
  if (to === 'host' && from === 'remote') {
    const hep = c.in ?? (dst.endpoint?.kind === 'HostEndpoint' ? dst.endpoint : star);
    return { egress: direction(src.endpoint, 'egress'), ingress: direction(hep, 'ingress'), via: { node: c.node, from, to }, checks: [[src.endpoint, 'egress'], [hep, 'ingress']] };
  }
  if (from === 'host') {
    const hep = c.out ?? (src.endpoint?.kind === 'HostEndpoint' ? src.endpoint : star);
    return { egress: direction(hep, 'egress'), ingress: direction(dst.endpoint, 'ingress'), via: { node: c.node, from, to }, checks: [[hep, 'egress'], [dst.endpoint, 'ingress']] };
  }
  if (to === 'host') {
    // A local workload to its host: `*` pre-DNAT on the veth, the workload's egress, then Felix's DefaultEndpointToHostAction.
    const action = options?.endpointToHostAction ?? 'ACCEPT';
    const hin = star ? hostSide(index, view, star, 'ingress', ctx, { untracked: false, forward: false }) : undefined;
    return {
      egress: direction(src.endpoint, 'egress'),
      ingress: fixed('ingress', dst.endpoint, { stage: 'endpoint-to-host', action: action === 'DROP' ? 'Deny' : 'Allow' }),
      via: { node: c.node, from, to, ...(hin ? { in: hin } : {}) },
      checks: [[star, 'ingress'], [src.endpoint, 'egress']],
    };
  }
  const hepIn = from === 'workload' ? star : (c.in ?? star);
  const hepOut = to === 'workload' ? star : (c.out ?? star);
  const hin = hepIn ? hostSide(index, view, hepIn, 'ingress', ctx, { untracked: from === 'remote', forward: true }) : undefined;
  const hout = hepOut ? hostSide(index, view, hepOut, 'egress', ctx, { untracked: false, forward: true }) : undefined;
  return {
    egress: direction(src.endpoint, 'egress'),
    ingress: direction(dst.endpoint, 'ingress'),
    via: { node: c.node, from, to, ...(hin ? { in: hin } : {}), ...(hout ? { out: hout } : {}) },
    checks: [[hepIn, 'ingress'], [src.endpoint, 'egress'], [dst.endpoint, 'ingress'], [hepOut, 'egress']],
  };
}

function allowedOf(r: Run): boolean {
  return r.egress.allowed && r.ingress.allowed && (r.via?.in?.allowed ?? true) && (r.via?.out?.allowed ?? true);
}

/**
 * Calico's verdict for a flow: the source endpoint's egress, then the destination endpoint's
 * ingress, each through failsafes (host endpoints), untracked / pre-DNAT / normal tiers and
 * profiles; for a flow that crosses a node (`flow.via`, or both ends on one node), also the host
 * endpoint policy where the packet enters and leaves that node. Returns the verdict, a trace of
 * every tier, policy and rule visited, and, when a staged policy applies, what the verdict would
 * be with staged policies enforced.
 * @throws GinghamError `UNKNOWN_PEER`, `AMBIGUOUS_PEER` or `INVALID_FLOW` for a malformed flow.
 */
export function evaluate(snapshot: Snapshot, flow: Flow, options?: EvaluateOptions): EvaluationResult {
  const index = indexSnapshot(snapshot);
  const protocol = protocolNumber(flow.protocol);
  if (protocol === undefined) throw new GinghamError('INVALID_FLOW', `unknown protocol "${String(flow.protocol)}"`);
  const src = resolveWith(index, flow.src);
  const dst = resolveWith(index, flow.dst);
  const family = pickFamily(src, dst);
  const srcAddr = pickAddress(src, family);
  const dstAddr = pickAddress(dst, family);
  const srcPort = checkPort(flow.srcPort, 'source port');
  const dstPort = checkPort(flow.dstPort, 'destination port');
  const icmp = flow.icmp ? (flow.icmp.code === undefined ? { type: flow.icmp.type } : { type: flow.icmp.type, code: flow.icmp.code }) : undefined;
  const cross = crossing(index, flow, src, dst);
  const ctx: MatchContext = {
    family,
    protocol,
    ...(srcAddr ? { src: srcAddr, srcText: formatIp(srcAddr), srcKey: ipKey(srcAddr) } : {}),
    ...(dstAddr ? { dst: dstAddr, dstText: formatIp(dstAddr), dstKey: ipKey(dstAddr) } : {}),
    ...(srcPort !== undefined ? { srcPort } : {}),
    ...(dstPort !== undefined ? { dstPort } : {}),
    ...(icmp ? { icmp } : {}),
  };
  const summary: FlowSummary = {
    src: src.peer,
    dst: dst.peer,
    ...(ctx.srcText ? { srcAddress: ctx.srcText } : {}),
    ...(ctx.dstText ? { dstAddress: ctx.dstText } : {}),
    ipVersion: family,
    protocol,
    protocolName: protocolName(protocol),
    ...(srcPort !== undefined ? { srcPort } : {}),
    ...(dstPort !== undefined ? { dstPort } : {}),
    ...(icmp ? { icmp } : {}),
    ...(cross
      ? { via: { node: cross.node, inferred: cross.inferred, ...(cross.in ? { in: cross.in.name } : {}), ...(cross.out ? { out: cross.out.name } : {}) } }
      : {}),
  };
  const runView = (view: PolicyView): Run =>
    (cross ? crossNode(index, view, cross, src, dst, ctx, options) : undefined) ?? {
      egress: evaluateDirection(index, view, src.endpoint, 'egress', ctx, options),
      ingress: evaluateDirection(index, view, dst.endpoint, 'ingress', ctx, options),
      checks: [[src.endpoint, 'egress'], [dst.endpoint, 'ingress']],
    };
  const result = (r: Run): { allowed: boolean; trace: Trace } => ({
    allowed: allowedOf(r),
    trace: { flow: summary, egress: r.egress, ingress: r.ingress, ...(r.via ? { via: r.via } : {}) },
  });
  const enforcedRun = runView(index.enforced);
  const enforced = result(enforcedRun);
  if (index.hasStaged && stagedApplies(index, enforcedRun.checks)) {
    return { ...enforced, staged: result(runView(index.staged())) };
  }
  return enforced;
}
