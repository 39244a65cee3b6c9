/**
 * The one internal model. Every input format (Calico v3, Kubernetes NetworkPolicy,
 * AdminNetworkPolicy, ClusterNetworkPolicy, Pods, Namespaces) is converted into these shapes,
 * which mirror what Felix sees after libcalico-go's update processors: namespaces and service
 * accounts are already folded into plain label selectors over synthetic labels.
 *
 * Everything here is plain data (JSON-serialisable, no classes) so that snapshots can be
 * compared, hashed, recorded and sent across process boundaries.
 */

export type Labels = Readonly<Record<string, string>>;

/** A rule verdict action. `Pass` is Felix's "next-tier". */
export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass';
export type Direction = 'ingress' | 'egress';
export type PolicyType = 'Ingress' | 'Egress';
export type IpVersion = 4 | 6;

/**
 * A protocol in a rule or a flow, always numeric (TCP 6, UDP 17, ICMP 1, ICMPv6 58, SCTP 132,
 * UDPLite 136). Names are resolved at conversion time; the original spelling is kept for display.
 */
export interface ProtocolMatch {
  readonly number: number;
  /** The name as written (`TCP`, `icmpv6`) or the number as a string. */
  readonly text: string;
}

/** One element of a `ports` / `notPorts` list: an inclusive numeric range or a named port. */
export type PortMatch =
  | { readonly kind: 'range'; readonly min: number; readonly max: number }
  | { readonly kind: 'named'; readonly name: string };

export interface IcmpMatch {
  readonly type: number;
  readonly code?: number;
}

/**
 * One side (source or destination) of a rule, after Calico's selector rewriting
 * (`GetEntityRuleSelector`): `selector` already combines the namespace part, the service-account
 * part and the user's selector; `notSelector` is passed through unmodified.
 * Absent fields mean "no constraint".
 */
export interface EntityMatch {
  /** Canonical CIDR strings (`10.0.0.0/8`, `10.1.2.3/32`, `fd00::/64`). OR-ed. */
  readonly nets?: readonly string[];
  /** Matches when the address is in none of these. */
  readonly notNets?: readonly string[];
  /** Canonical selector text; the peer's address must belong to an endpoint/network set it selects. */
  readonly selector?: string;
  /** Canonical selector text; the peer's address must not belong to anything it selects. */
  readonly notSelector?: string;
  readonly ports?: readonly PortMatch[];
  readonly notPorts?: readonly PortMatch[];
  /** Egress destination domains (accepted and carried, never matched offline). */
  readonly domains?: readonly string[];
}

export interface Rule {
  readonly action: RuleAction;
  /** Explicit or implied (ICMP → 4, ICMPv6 → 6) IP version; absent = both. */
  readonly ipVersion?: IpVersion;
  readonly protocol?: ProtocolMatch;
  readonly notProtocol?: ProtocolMatch;
  readonly icmp?: IcmpMatch;
  readonly notICMP?: IcmpMatch;
  readonly source: EntityMatch;
  readonly destination: EntityMatch;
  /** Optional rule name (ANP rule names, Calico rule metadata annotations). */
  readonly name?: string;
}

/** Short kind names used in policy ids, as in Felix (`felix/types/policy_id.go`). */
export type PolicyKind =
  | 'NetworkPolicy'
  | 'GlobalNetworkPolicy'
  | 'StagedNetworkPolicy'
  | 'StagedGlobalNetworkPolicy'
  | 'StagedKubernetesNetworkPolicy'
  | 'KubernetesNetworkPolicy'
  | 'AdminNetworkPolicy'
  | 'BaselineAdminNetworkPolicy'
  | 'ClusterNetworkPolicy';

export type StagedAction = 'Set' | 'Delete' | 'Learn' | 'Ignore';

export interface Policy {
  /**
   * Stable id: `<short>/<namespace>/<name>` for namespaced kinds, `<short>/<name>` for cluster
   * kinds (`np`, `gnp`, `snp`, `sgnp`, `sknp`, `knp`, `kanp`, `kbanp`, `kcnp`).
   */
  readonly id: string;
  readonly kind: PolicyKind;
  readonly name: string;
  /** Empty string for cluster-scoped policies. */
  readonly namespace: string;
  readonly tier: string;
  /** `undefined` means "no order" (sorts after every ordered policy, as +Inf). */
  readonly order?: number;
  /** Canonical combined endpoint selector (namespace and service-account clauses folded in). */
  readonly selector: string;
  /** Effective types after defaulting. */
  readonly types: readonly PolicyType[];
  readonly ingress: readonly Rule[];
  readonly egress: readonly Rule[];
  readonly doNotTrack: boolean;
  readonly preDNAT: boolean;
  readonly applyOnForward: boolean;
  /** Present only on staged kinds; staged policies are never enforced. */
  readonly staged?: { readonly action: StagedAction };
}

export type TierDefaultAction = 'Deny' | 'Pass';

export interface Tier {
  readonly name: string;
  /** `undefined` = no order (sorts last). */
  readonly order?: number;
  readonly defaultAction: TierDefaultAction;
  /**
   * False for tiers that only exist because a policy names them (Calico still enforces such
   * policies; the tier sorts after every real tier and behaves as Deny).
   */
  readonly declared: boolean;
}

export interface Profile {
  /** e.g. `kns.default`, `ksa.default.builder`, `projectcalico-default-allow`. */
  readonly name: string;
  readonly labelsToApply: Labels;
  readonly ingress: readonly Rule[];
  readonly egress: readonly Rule[];
}

/** A named port declared by an endpoint (container port, WEP/HEP `ports`). */
export interface EndpointPort {
  readonly name: string;
  /** Protocol number (6, 17, 132). */
  readonly protocol: number;
  readonly port: number;
}

export interface WorkloadEndpoint {
  readonly kind: 'WorkloadEndpoint';
  /** `<namespace>/<name>` for Kubernetes pods (name = pod name), `<namespace>/<wep-name>` otherwise. */
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  /** Host-side interface name, e.g. `cali` + 11 hex digits of SHA-1 of `<ns>.<pod>`. */
  readonly interfaceName: string;
  /** Addresses as canonical host CIDRs (`/32`, `/128`). */
  readonly addresses: readonly string[];
  /** The endpoint's own labels, including the synthetic `projectcalico.org/*` ones. */
  readonly labels: Labels;
  /** Ordered profile names; effective labels inherit from them (first profile wins per key). */
  readonly profiles: readonly string[];
  readonly ports: readonly EndpointPort[];
  /** Pod or workload name shown to people (`namespace/pod`). */
  readonly workload?: string;
  readonly serviceAccount?: string;
}

export interface HostEndpoint {
  readonly kind: 'HostEndpoint';
  readonly id: string;
  readonly name: string;
  readonly node: string;
  /** `*` for all-interfaces host endpoints; absent when bound by `expectedIPs` only. */
  readonly interfaceName?: string;
  /** Canonical host CIDRs; the only addresses of a HEP that rule selectors can match. */
  readonly expectedIPs: readonly string[];
  readonly labels: Labels;
  readonly profiles: readonly string[];
  readonly ports: readonly EndpointPort[];
}

export type Endpoint = WorkloadEndpoint | HostEndpoint;

export interface NetworkSet {
  readonly kind: 'NetworkSet' | 'GlobalNetworkSet';
  /** `<namespace>/<name>` or `<name>`. */
  readonly id: string;
  readonly name: string;
  /** Empty for GlobalNetworkSets. */
  readonly namespace: string;
  /** Own labels plus `projectcalico.org/namespace` for namespaced sets. */
  readonly labels: Labels;
  /** `kns.<namespace>` for namespaced sets (inherits `pcns.*`), empty for global ones. */
  readonly profiles: readonly string[];
  readonly nets: readonly string[];
}

/** A cluster node (Calico `Node`, optionally enriched from a Kubernetes `Node`). */
export interface NodeInfo {
  readonly name: string;
  /** Node addresses as plain IPs (no prefix length). */
  readonly addresses: readonly string[];
  readonly bgpIPv4Address?: string;
  readonly bgpIPv6Address?: string;
  readonly wireguardInterfaceIPv4Address?: string;
  readonly wireguardInterfaceIPv6Address?: string;
  readonly wireguardPublicKey?: string;
  readonly wireguardPublicKeyV6?: string;
  readonly podCIDRs: readonly string[];
  readonly labels: Labels;
}

/**
 * Everything `evaluate()` needs, after conversion. Arrays are in no meaningful order: every
 * consumer sorts as Calico does, so input order never changes a verdict.
 */
export interface Snapshot {
  readonly tiers: readonly Tier[];
  readonly policies: readonly Policy[];
  readonly profiles: readonly Profile[];
  readonly workloadEndpoints: readonly WorkloadEndpoint[];
  readonly hostEndpoints: readonly HostEndpoint[];
  readonly networkSets: readonly NetworkSet[];
  readonly nodes: readonly NodeInfo[];
}
