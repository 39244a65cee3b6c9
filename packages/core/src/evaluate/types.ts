/**
 * Public shapes of `evaluate()`: the flow asked about, the verdict, and the trace that explains
 * it. All plain data (JSON-serialisable), so a CLI can print it and a test can compare it.
 */
import type { Direction, RuleAction, TierDefaultAction } from '../model/types.js';

/**
 * One side of a flow: an IP address (`10.0.0.1`, `fd00::1`), a workload endpoint id
 * (`namespace/pod`), or a WorkloadEndpoint / HostEndpoint name.
 */
export type FlowPeer = string;

export interface Flow {
  readonly src: FlowPeer;
  readonly dst: FlowPeer;
  /** Protocol number, or a name (`TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite`, case-insensitive) or numeric string. */
  readonly protocol: number | 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'SCTP' | (string & {});
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmp?: { readonly type: number; readonly code?: number };
  /**
   * The node the packet crosses (a node name), or the host endpoints it enters and leaves that
   * node through. With it, the node's host endpoint policy on the way in and out is evaluated
   * too (untracked, pre-DNAT and `applyOnForward` tiers, see docs/evaluation.md). Without it,
   * a flow between a node's own workloads, or between a node and its own workload, is taken to
   * cross that node; any other flow is judged by its two endpoints' policies only.
   */
  readonly via?: string | FlowVia;
}

/** Where a forwarded flow crosses a node. */
export interface FlowVia {
  /** The node; defaults to the node of `in` / `out`. */
  readonly node?: string;
  /**
   * HostEndpoint (name) of the interface the packet arrives on, when its source is not on the
   * node. Default: the node's all-interfaces (`*`) host endpoint, if it has one.
   */
  readonly in?: string;
  /** HostEndpoint (name) of the interface the packet leaves by, when its destination is not on the node. Default: the `*` one. */
  readonly out?: string;
}

/** Felix `DefaultEndpointToHostAction`: what happens to workload → own host traffic its egress policy allowed. */
export type EndpointToHostAction = 'ACCEPT' | 'DROP' | 'RETURN';

/** Felix failsafe entry: `protocol` tcp/udp, destination port, optional CIDR (source net inbound, destination net outbound). */
export interface FailsafePort {
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
  readonly net?: string;
}

export interface EvaluateOptions {
  /** Felix `FailsafeInboundHostPorts`; defaults to Calico's list. Empty array disables. */
  readonly failsafeInbound?: readonly FailsafePort[];
  /** Felix `FailsafeOutboundHostPorts`; defaults to Calico's list. Empty array disables. */
  readonly failsafeOutbound?: readonly FailsafePort[];
  /**
   * Felix `DefaultEndpointToHostAction` (default `ACCEPT`, as Gingham's dataplanes and
   * Kubernetes installs of Calico; Felix itself defaults to `DROP`). `RETURN` hands the packet
   * to the host's own firewall rules, which Gingham does not model: it counts as allowed.
   */
  readonly endpointToHostAction?: EndpointToHostAction;
}

/** What a flow peer reference resolved to. */
export interface ResolvedPeer {
  /** The reference as given. */
  readonly ref: string;
  readonly kind: 'workload' | 'host' | 'address';
  /** Workload endpoint id (`ns/name`) or host endpoint name. */
  readonly endpointId?: string;
  /** The endpoint's addresses (canonical IPs), or the single address for `address` peers. */
  readonly addresses: readonly string[];
  /** The address the reference named, when it was an IP. */
  readonly address?: string;
}

/** Where a direction's verdict came from. */
export type DecisionStage =
  /** The peer is not an endpoint (an outside IP): it has no policy in this direction. */
  | 'no-policy'
  /** A host endpoint failsafe port. */
  | 'failsafe'
  /** A rule in an untracked (doNotTrack) tier. */
  | 'untracked'
  /** A rule in a pre-DNAT tier. */
  | 'pre-dnat'
  /** A rule in an `applyOnForward` tier of a host endpoint the flow is forwarded through. */
  | 'forward'
  /** Forwarded through a host endpoint and no `applyOnForward` policy decided: allowed. */
  | 'forward-default'
  /** Between a node and its own workload, host → workload: Calico never polices it. */
  | 'local-host'
  /** Workload → its own host after the workload's egress: `DefaultEndpointToHostAction`. */
  | 'endpoint-to-host'
  /** A rule in a normal tier. */
  | 'tier'
  /** The default action (Deny) at the end of a tier that applied. */
  | 'end-of-tier'
  /** A profile rule. */
  | 'profile'
  /** Profiles were consulted and none allowed or denied. */
  | 'no-profile-matched'
  /** No tier decided and the endpoint has no profiles. */
  | 'no-profiles';

export interface Decision {
  readonly stage: DecisionStage;
  readonly action: 'Allow' | 'Deny';
  readonly tier?: string;
  readonly policyId?: string;
  /** Index of the decisive rule in the policy's (or profile's) rule list for this direction. */
  readonly ruleIndex?: number;
  readonly ruleName?: string;
  readonly profile?: string;
  /** Failsafe entry that matched (`tcp:22`). */
  readonly failsafe?: string;
}

export interface RuleTrace {
  readonly index: number;
  readonly action: RuleAction;
  readonly name?: string;
  readonly matched: boolean;
  /** Why the rule did not match (first failing criterion). */
  readonly reason?: string;
}

export interface PolicyTrace {
  readonly policyId: string;
  readonly order?: number;
  readonly rules: readonly RuleTrace[];
  /** The verdict this policy produced, or `no-match` (falls through to the next policy). */
  readonly result: 'Allow' | 'Deny' | 'Pass' | 'no-match';
  /** Set in staged previews when the policy is a staged one. */
  readonly staged?: boolean;
}

export interface TierTrace {
  readonly tier: string;
  readonly defaultAction: TierDefaultAction;
  /** False for tiers only referenced by policies (sorted last, Deny). */
  readonly declared: boolean;
  readonly policies: readonly PolicyTrace[];
  /** How the tier ended: a rule's verdict, Pass, or the end-of-tier default. */
  readonly result: 'Allow' | 'Deny' | 'Pass' | 'end-of-tier-pass' | 'end-of-tier-deny';
}

export interface ProfileTrace {
  readonly profile: string;
  /** The endpoint names a profile that the snapshot does not contain (skipped). */
  readonly missing?: boolean;
  readonly rules: readonly RuleTrace[];
  readonly result: 'Allow' | 'Deny' | 'Pass' | 'no-match';
}

export type StageTrace =
  | { readonly stage: 'failsafe'; readonly matched: boolean; readonly entry?: string }
  | { readonly stage: 'untracked' | 'pre-dnat' | 'normal' | 'forward'; readonly tiers: readonly TierTrace[] }
  | { readonly stage: 'profiles'; readonly profiles: readonly ProfileTrace[] };

export interface DirectionTrace {
  readonly direction: Direction;
  /** The endpoint whose policy ran (`egress`: the source, `ingress`: the destination); absent for outside IPs. */
  readonly endpoint?: { readonly kind: 'WorkloadEndpoint' | 'HostEndpoint'; readonly id: string };
  readonly allowed: boolean;
  readonly decision: Decision;
  readonly stages: readonly StageTrace[];
}

export interface FlowSummary {
  readonly src: ResolvedPeer;
  readonly dst: ResolvedPeer;
  /** The addresses used for matching (undefined when an endpoint has none of the flow's family). */
  readonly srcAddress?: string;
  readonly dstAddress?: string;
  readonly ipVersion: 4 | 6;
  readonly protocol: number;
  readonly protocolName: string;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmp?: { readonly type: number; readonly code?: number };
  /** The node the flow crosses (given as `via`, or inferred for a flow that stays on one node). */
  readonly via?: {
    readonly node: string;
    /** True when `via` was not given: both ends are on this node. */
    readonly inferred: boolean;
    /** Host endpoint named as `via.in` / `via.out`. */
    readonly in?: string;
    readonly out?: string;
  };
}

/**
 * Host endpoint policy of the node a flow crosses: `in` on the interface the packet arrives on
 * (direction `ingress`: untracked, pre-DNAT and forward tiers), `out` on the one it leaves by
 * (direction `egress`: forward tiers). Absent when that interface has no host endpoint, or the
 * packet starts or ends on the host itself.
 */
export interface ViaTrace {
  readonly node: string;
  /** Where the source and the destination are: one of the node's workloads, the node itself, or elsewhere. */
  readonly from: 'workload' | 'host' | 'remote';
  readonly to: 'workload' | 'host' | 'remote';
  readonly in?: DirectionTrace;
  readonly out?: DirectionTrace;
}

export interface Trace {
  readonly flow: FlowSummary;
  /** The source endpoint's egress policy. */
  readonly egress: DirectionTrace;
  /** The destination endpoint's ingress policy. */
  readonly ingress: DirectionTrace;
  /** Present when the flow crosses a node (see `Flow.via`). */
  readonly via?: ViaTrace;
}

export interface EvaluationResult {
  /** True when the source's egress, the destination's ingress and, via a node, its host endpoint checks all allow the flow. */
  readonly allowed: boolean;
  readonly trace: Trace;
  /**
   * Present only when some staged policy applies to either endpoint: the verdict if staged
   * policies were enforced (a staged `Set` replaces or adds the same-named policy, a staged
   * `Delete` removes it).
   */
  readonly staged?: { readonly allowed: boolean; readonly trace: Trace };
}

export interface MatrixCell {
  readonly from: string;
  readonly to: string;
  readonly port: number | null;
  readonly protocol: string;
  readonly allowed: boolean;
}
