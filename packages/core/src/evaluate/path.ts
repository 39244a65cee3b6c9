/**
 * The checks a flow meets on its way, as data: whose policy runs in which direction, and which
 * host endpoint of a node it crosses polices it where. `evaluate()` runs these checks on one
 * flow; the analysis (`diffSnapshots`, `reachability`) runs the very same plan on the
 * representatives of peer classes, so there is one statement of the path semantics.
 *
 * Pure and view-independent: a plan depends on the endpoints, their nodes and the nodes'
 * addresses, never on which policies are in force. Must never evaluate a rule itself.
 */
import type { Direction, Endpoint, HostEndpoint } from '../model/types.js';
import { GinghamError } from '../errors.js';
import type { IpAddr } from '../net/cidr.js';
import type { SnapshotIndex } from './snapshot-index.js';
import type { Decision, EvaluateOptions, Flow } from './types.js';

/** A peer as the path sees it: an endpoint, or an address that is not one (`given`). */
export interface PathPeer {
  readonly endpoint?: Endpoint;
  readonly given?: IpAddr;
}

/** Where the flow crosses a node: the node, and host endpoints named for its two interfaces. */
export interface Crossing {
  readonly node: string;
  readonly inferred: boolean;
  readonly in?: HostEndpoint;
  readonly out?: HostEndpoint;
}

/** Where a peer is relative to a node: one of its workloads, the node itself, or elsewhere. */
export type Place = 'workload' | 'host' | 'remote';

/**
 * One check of a path. `policy`: the endpoint's own policy in a direction (failsafes, untracked,
 * pre-DNAT, tiers, profiles; an absent endpoint has none and allows). `host-side`: a host
 * endpoint policing a packet that passes through the node (`untracked`/`forward`: which of its
 * tiers take part). `fixed`: a decision no policy makes (Calico never polices it, or Felix's
 * DefaultEndpointToHostAction).
 */
export type PathCheck =
  | { readonly kind: 'policy'; readonly endpoint: Endpoint | undefined; readonly direction: Direction }
  | { readonly kind: 'host-side'; readonly endpoint: HostEndpoint; readonly direction: Direction; readonly untracked: boolean; readonly forward: boolean }
  | { readonly kind: 'fixed'; readonly endpoint: Endpoint | undefined; readonly direction: Direction; readonly decision: Decision };

/** Every check of a flow; the flow is allowed when each of them allows it. */
export interface FlowPath {
  /** The source side: its egress policy, or a fixed decision. */
  readonly egress: PathCheck;
  /** The destination side: its ingress policy, or a fixed decision. */
  readonly ingress: PathCheck;
  /** Host endpoint where the packet arrives at the node it crosses. */
  readonly in?: PathCheck;
  /** Host endpoint where the packet leaves that node. */
  readonly out?: PathCheck;
  readonly via?: { readonly node: string; readonly from: Place; readonly to: Place };
  /** Every (endpoint, direction) whose policy takes part, for the staged-policy relevance check. */
  readonly checks: readonly (readonly [Endpoint | undefined, Direction])[];
}

function hostByName(index: SnapshotIndex, name: string, what: string): HostEndpoint {
  const h = index.hosts.get(name);
  if (!h) throw new GinghamError('INVALID_FLOW', `via.${what}: unknown host endpoint "${name}"`);
  return h;
}

function isWorkload(e: Endpoint | undefined): e is Endpoint {
  return e?.kind === 'WorkloadEndpoint';
}

/**
 * The node a flow without `via` crosses: both ends on one node with at least one of them a
 * workload (two workloads, or a workload and its host endpoint or Node address).
 */
export function inferCrossing(index: SnapshotIndex, src: PathPeer, dst: PathPeer): Crossing | undefined {
  const s = src.endpoint;
  const d = dst.endpoint;
  if (isWorkload(s) && d && d.node === s.node) return { node: s.node, inferred: true };
  if (isWorkload(d) && s && s.node === d.node) return { node: d.node, inferred: true };
  if (isWorkload(d) && !s && src.given && index.isNodeAddress(d.node, src.given)) return { node: d.node, inferred: true };
  if (isWorkload(s) && !d && dst.given && index.isNodeAddress(s.node, dst.given)) return { node: s.node, inferred: true };
  return undefined;
}

/** `flow.via` resolved, or the inferred crossing. @throws GinghamError `INVALID_FLOW`. */
export function crossingOf(index: SnapshotIndex, flow: Flow, src: PathPeer, dst: PathPeer): Crossing | undefined {
  const via = flow.via;
  if (via === undefined) return inferCrossing(index, src, dst);
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

export function placeOf(index: SnapshotIndex, p: PathPeer, node: string): Place {
  const e = p.endpoint;
  if (e) return e.node !== node ? 'remote' : e.kind === 'WorkloadEndpoint' ? 'workload' : 'host';
  return p.given && index.isNodeAddress(node, p.given) ? 'host' : 'remote';
}

/** The two ends' own policies and nothing else (a flow that crosses no node). */
export function plainPath(src: PathPeer, dst: PathPeer): FlowPath {
  return {
    egress: { kind: 'policy', endpoint: src.endpoint, direction: 'egress' },
    ingress: { kind: 'policy', endpoint: dst.endpoint, direction: 'ingress' },
    checks: [[src.endpoint, 'egress'], [dst.endpoint, 'ingress']],
  };
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
export function crossPath(index: SnapshotIndex, c: Crossing, src: PathPeer, dst: PathPeer, options: EvaluateOptions | undefined): FlowPath {
  const from = placeOf(index, src, c.node);
  const to = placeOf(index, dst, c.node);
  const star = index.starHost(c.node);
  const via = { node: c.node, from, to };
  const policy = (endpoint: Endpoint | undefined, direction: Direction): PathCheck => ({ kind: 'policy', endpoint, direction });
  if (from === 'host' && to === 'host') return plainPath(src, dst);
  if (from === 'host' && to === 'workload') {
    const decision: Decision = { stage: 'local-host', action: 'Allow' };
    return {
      egress: { kind: 'fixed', endpoint: src.endpoint, direction: 'egress', decision },
      ingress: { kind: 'fixed', endpoint: dst.endpoint, direction: 'ingress', decision },
      via,
      checks: [],
    };
  }
  if (to === 'host' && from === 'remote') {
    const hep = c.in ?? (dst.endpoint?.kind === 'HostEndpoint' ? dst.endpoint : star);
    return { egress: policy(src.endpoint, 'egress'), ingress: policy(hep, 'ingress'), via, checks: [[src.endpoint, 'egress'], [hep, 'ingress']] };
  }
  if (from === 'host') {
    const hep = c.out ?? (src.endpoint?.kind === 'HostEndpoint' ? src.endpoint : star);
    return { egress: policy(hep, 'egress'), ingress: policy(dst.endpoint, 'ingress'), via, checks: [[hep, 'egress'], [dst.endpoint, 'ingress']] };
  }
  if (to === 'host') {
    // A local workload to its host: `*` pre-DNAT on the veth, the workload's egress, then Felix's DefaultEndpointToHostAction.
    const action = options?.endpointToHostAction ?? 'ACCEPT';
    return {
      egress: policy(src.endpoint, 'egress'),
      ingress: { kind: 'fixed', endpoint: dst.endpoint, direction: 'ingress', decision: { stage: 'endpoint-to-host', action: action === 'DROP' ? 'Deny' : 'Allow' } },
      ...(star ? { in: { kind: 'host-side', endpoint: star, direction: 'ingress', untracked: false, forward: false } as const } : {}),
      via,
      checks: [[star, 'ingress'], [src.endpoint, 'egress']],
    };
  }
  const hepIn = from === 'workload' ? star : (c.in ?? star);
  const hepOut = to === 'workload' ? star : (c.out ?? star);
  return {
    egress: policy(src.endpoint, 'egress'),
    ingress: policy(dst.endpoint, 'ingress'),
    ...(hepIn ? { in: { kind: 'host-side', endpoint: hepIn, direction: 'ingress', untracked: from === 'remote', forward: true } as const } : {}),
    ...(hepOut ? { out: { kind: 'host-side', endpoint: hepOut, direction: 'egress', untracked: false, forward: true } as const } : {}),
    via,
    checks: [[hepIn, 'ingress'], [src.endpoint, 'egress'], [dst.endpoint, 'ingress'], [hepOut, 'egress']],
  };
}

/** The checks of a flow: across its node when it crosses one, else its two ends' policies. */
export function flowPath(index: SnapshotIndex, c: Crossing | undefined, src: PathPeer, dst: PathPeer, options: EvaluateOptions | undefined): FlowPath {
  return c ? crossPath(index, c, src, dst, options) : plainPath(src, dst);
}
