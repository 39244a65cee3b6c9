/**
 * Public shapes of the analysis (`diffSnapshots`, `reachability`). Plain, JSON-serialisable data.
 */
import type { Decision, EvaluateOptions, Flow } from '../evaluate/types.js';

/** An inclusive range of ports, ICMP types or ICMP codes. */
export interface NumberRange {
  readonly from: number;
  readonly to: number;
}

/**
 * A set of peers: endpoints (workload ids `namespace/name`, host endpoint names, or an endpoint's
 * address when it has several of the family) and outside addresses (every address in these CIDRs
 * that is not an endpoint's address).
 */
export interface PeerSet {
  readonly endpoints: readonly string[];
  readonly outside: readonly string[];
}

export interface ProtocolRef {
  readonly number: number;
  /** `TCP`, `UDP`, … or `other` for the class of every protocol no rule names. */
  readonly name: string;
  /** For `other`: the protocols it excludes (it stands for every protocol but these). */
  readonly otherThan?: readonly number[];
}

/** A verdict with the deciding step of each direction (from `evaluate()`'s trace). */
export interface VerdictSummary {
  readonly allowed: boolean;
  readonly egress: Decision;
  readonly ingress: Decision;
}

/**
 * The layer-4 part of a set of flows. Port protocols carry both port lists (every source port in
 * `srcPorts` × every destination port in `dstPorts`), ICMP carries types × codes, and any other
 * protocol carries neither.
 */
export interface L4Spec {
  readonly protocol: ProtocolRef;
  readonly srcPorts?: readonly NumberRange[];
  readonly dstPorts?: readonly NumberRange[];
  readonly icmpTypes?: readonly NumberRange[];
  readonly icmpCodes?: readonly NumberRange[];
}

/**
 * Every flow from a peer of `from` to a peer of `to` (an endpoint never to itself) with the
 * layer-4 part in `l4`: one verdict before, another after, each decided by the same steps for all
 * of them.
 */
export interface FlowChange extends L4Spec {
  readonly change: 'opened' | 'closed';
  readonly ipVersion: 4 | 6;
  readonly from: PeerSet;
  readonly to: PeerSet;
  /** Number of (source peer, destination peer) pairs; an outside CIDR set counts as one peer. */
  readonly pairs: number;
  readonly before: VerdictSummary;
  readonly after: VerdictSummary;
  /** One concrete flow of the set, ready for `evaluate()` (IP addresses pin the family). */
  readonly witness: Flow;
}

/** Changes grouped for people: by (source, destination) namespace/workload prefix, protocol and ports. */
export interface ChangeGroup {
  readonly change: 'opened' | 'closed';
  /** `namespace/workload` prefix, `host <name>`, or `outside` / a network set name. */
  readonly from: string;
  readonly to: string;
  readonly protocol: string;
  /** Ports (`5432`, `8000-9000, 9090`), ICMP types, or empty for port-less protocols. */
  readonly ports: string;
  readonly ipVersions: readonly (4 | 6)[];
  /** Number of (source peer, destination peer) pairs. */
  readonly pairs: number;
  /** The deciding steps after the change (distinct, e.g. `knp/shop/db rule 0`). */
  readonly decidedBy: readonly string[];
  /** Indices into `DiffResult.changes`. */
  readonly changes: readonly number[];
}

export interface DiffOptions {
  /** Failsafe ports and other `evaluate()` options, applied to both sides. */
  readonly evaluate?: EvaluateOptions;
  /** Compare the after snapshot as if its staged policies were enforced. */
  readonly afterStaged?: boolean;
}

export interface DiffStats {
  readonly classes: number;
  readonly programs: number;
  readonly directionEvaluations: number;
  readonly directionMaps: number;
  readonly signatures: number;
  /** Classes whose egress / ingress could differ (what the change touches). */
  readonly dirtyEgress: number;
  readonly dirtyIngress: number;
  /** Whether the after side reused the before side's index (only policies differed). */
  readonly sharedIndex: boolean;
}

export interface DiffResult {
  /** True when no flow changes and no endpoint was added, removed or readdressed. */
  readonly empty: boolean;
  readonly opened: number;
  readonly closed: number;
  /** Every changed flow, exactly (complete; sorted: opened first). */
  readonly changes: readonly FlowChange[];
  readonly groups: readonly ChangeGroup[];
  /** Endpoints present in only one snapshot, or with other addresses: not compared. */
  readonly endpoints: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly readdressed: readonly string[] };
  readonly stats: DiffStats;
}

/**
 * Who a reachability question is about. Parts are OR-ed: endpoints matching `selector` (over their
 * effective labels) and `namespace` (both, when both are given), the `endpoints` listed, and
 * outside addresses in `outside` CIDRs (`true`: every outside address).
 */
export interface PeerQuery {
  readonly selector?: string;
  readonly namespace?: string | readonly string[];
  readonly endpoints?: readonly string[];
  readonly outside?: boolean | readonly string[];
}

/** Ports a reachability question is limited to (absent: every protocol and port). */
export interface PortQuery {
  readonly protocol: string | number;
  /** A port or the first of a range (absent: every port of the protocol). */
  readonly port?: number;
  readonly endPort?: number;
}

export interface ReachabilityOptions {
  readonly from: string | PeerQuery;
  readonly to: string | PeerQuery;
  readonly ports?: readonly PortQuery[];
  readonly evaluate?: EvaluateOptions;
}

/** Allowed flows from a set of peers to another, with one witness each. */
export interface ReachablePath extends L4Spec {
  readonly ipVersion: 4 | 6;
  readonly from: PeerSet;
  readonly to: PeerSet;
  readonly pairs: number;
  readonly verdict: VerdictSummary;
  readonly witness: Flow;
}

export interface ReachabilityResult {
  /** True when some flow from `from` to `to` (within `ports`) is allowed. */
  readonly reachable: boolean;
  /** Every allowed flow, exactly. */
  readonly paths: readonly ReachablePath[];
  /** What the query matched. */
  readonly matched: { readonly from: number; readonly to: number };
  readonly stats: Omit<DiffStats, 'dirtyEgress' | 'dirtyIngress' | 'sharedIndex'>;
}
