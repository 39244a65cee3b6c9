/**
 * Flow records in the shape of Calico's (Goldmane's `Flow` / `FlowKey`, as Whisker serves them
 * as JSON), so that users' tooling and habits carry over: the field names are the wire names.
 * Plain data; one record is one JSON line in a flow log file.
 */

/** `wep` workload endpoint, `hep` host endpoint, `ns` network set, `net` a network (`pub`/`pvt`). */
export type FlowEndpointType = 'wep' | 'hep' | 'ns' | 'net';

/** Which side's policy decided: `src` (egress of the source), `dst` (ingress of the destination). */
export type FlowReporter = 'src' | 'dst';

export type FlowAction = 'allow' | 'deny';

/** Goldmane's `PolicyKind` names. */
export type PolicyHitKind =
  | 'CalicoNetworkPolicy'
  | 'GlobalNetworkPolicy'
  | 'StagedNetworkPolicy'
  | 'StagedGlobalNetworkPolicy'
  | 'StagedKubernetesNetworkPolicy'
  | 'NetworkPolicy'
  | 'AdminNetworkPolicy'
  | 'BaselineAdminNetworkPolicy'
  | 'ClusterNetworkPolicy'
  | 'Profile'
  | 'EndOfTier';

/** One policy (or profile, or end of tier) a flow's verdict went through. */
export interface PolicyHit {
  readonly kind: PolicyHitKind;
  /** The policy's own name (Kubernetes policies without Calico's `knp.default.` prefix); '' for an end of tier. */
  readonly name: string;
  /** '' for cluster-scoped policies and profiles. */
  readonly namespace: string;
  /** '' for profiles. */
  readonly tier: string;
  readonly action: 'allow' | 'deny' | 'pass';
  /** 0-based position among the hits of this trace. */
  readonly policy_index: number;
  /** ≥ 0: the rule; -1: no rule matched (tier default / no profile matched); -2: unknown. */
  readonly rule_index: number;
  /** End of tier only: the first policy in that tier that selected the endpoint. */
  readonly trigger?: PolicyHitTrigger;
}

/** The policy that made a tier's end apply (its first policy selecting the endpoint). */
export interface PolicyHitTrigger {
  readonly kind: Exclude<PolicyHitKind, 'EndOfTier'>;
  readonly name: string;
  readonly namespace: string;
  readonly tier: string;
}

export interface PolicyTraceHits {
  /** What the dataplane enforced. */
  readonly enforced: readonly PolicyHit[];
  /** What the verdict would be with staged policies enforced (equal to `enforced` when none applies). */
  readonly pending: readonly PolicyHit[];
}

/** The identity of an aggregated flow (also its aggregation key). */
export interface FlowKey {
  readonly source_name: string;
  /** `-` when not namespaced. */
  readonly source_namespace: string;
  readonly source_type: FlowEndpointType;
  readonly dest_name: string;
  readonly dest_namespace: string;
  readonly dest_type: FlowEndpointType;
  /** 0 when aggregated away or not a port protocol. */
  readonly dest_port: number;
  /** `tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, or the number. */
  readonly proto: string;
  readonly reporter: FlowReporter;
  readonly action: FlowAction;
  readonly policies: PolicyTraceHits;
}

/** An aggregated flow over a time window. */
export interface FlowRecord extends FlowKey {
  /** Unix seconds. */
  readonly start_time: number;
  readonly end_time: number;
  /** `k=v`, the intersection over aggregated members. */
  readonly source_labels: readonly string[];
  readonly dest_labels: readonly string[];
  readonly packets_in: number;
  readonly packets_out: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly num_connections_started: number;
  readonly num_connections_completed: number;
  readonly num_connections_live: number;
  /**
   * Present only below aggregation level 2 (Calico Enterprise's fields; absent = aggregated
   * away): the endpoints' addresses (levels 0 and 1) and the source port (level 0).
   */
  readonly source_ip?: string;
  readonly dest_ip?: string;
  readonly source_port?: number;
}
