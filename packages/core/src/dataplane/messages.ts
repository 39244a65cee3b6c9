/**
 * The dataplane contract: the messages the Engine sends and every dataplane consumes. Plain
 * data, discriminated by `kind`, each idempotent (applying a message twice equals applying it
 * once). A batch passed to `Dataplane.apply` is one atomic step. Ordering guarantees inside and
 * across batches are in docs/dataplane-contract.md; this module must never import engine code.
 */
import type { IcmpMatch, IpVersion, RuleAction, TierDefaultAction } from '../model/types.js';

/** `nets`: members are canonical CIDRs. `net-port-proto`: members are `<cidr>,<proto>:<port>` (proto `tcp`/`udp`/`sctp` or a number). */
export type IpSetType = 'nets' | 'net-port-proto';

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** One side of a compiled rule: every field ANDed; absent = no constraint. */
export interface CompiledSide {
  readonly nets?: readonly string[];
  readonly notNets?: readonly string[];
  /** The peer address must be in this `nets` IP set (the rule's `selector`). */
  readonly ipSetId?: string;
  /** The peer address must not be in this `nets` IP set (the rule's `notSelector`). */
  readonly notIpSetId?: string;
  /** Numeric port ranges, OR-ed with `namedPortIpSetIds` (absent both = any port). */
  readonly ports?: readonly PortRange[];
  /** `net-port-proto` sets: (peer address, flow protocol, port) must be in one of them. */
  readonly namedPortIpSetIds?: readonly string[];
  readonly notPorts?: readonly PortRange[];
  readonly notNamedPortIpSetIds?: readonly string[];
  /** Egress domains (carried; a dataplane without DNS policy never matches such a rule). */
  readonly domains?: readonly string[];
}

export interface CompiledRule {
  readonly action: RuleAction;
  readonly ipVersion?: IpVersion;
  readonly protocol?: number;
  readonly notProtocol?: number;
  readonly icmp?: IcmpMatch;
  readonly notICMP?: IcmpMatch;
  readonly source: CompiledSide;
  readonly destination: CompiledSide;
  readonly name?: string;
}

/** A policy with selectors resolved to IP set ids. */
export interface CompiledPolicy {
  readonly id: string;
  readonly tier: string;
  readonly ingress: readonly CompiledRule[];
  readonly egress: readonly CompiledRule[];
  /** Staged policies are carried for "would-be" reporting and must never be enforced. */
  readonly staged: boolean;
}

export interface CompiledProfile {
  readonly id: string;
  readonly ingress: readonly CompiledRule[];
  readonly egress: readonly CompiledRule[];
}

/** One applicable tier for one endpoint and direction: policies in evaluation order. */
export interface TierRef {
  readonly name: string;
  /** What happens when no policy of this tier decides (Pass = on to the next tier). */
  readonly defaultAction: TierDefaultAction;
  readonly policyIds: readonly string[];
}

export interface WorkloadEndpointState {
  /** `<namespace>/<name>`. */
  readonly id: string;
  readonly name: string;
  readonly node: string;
  readonly interfaceName: string;
  /** Canonical host CIDRs. */
  readonly addresses: readonly string[];
  readonly ingressTiers: readonly TierRef[];
  readonly egressTiers: readonly TierRef[];
  /** Existing profiles, in order (consulted after the tiers). */
  readonly profileIds: readonly string[];
  /** Staged policies that would select this endpoint (never enforced). */
  readonly stagedPolicyIds: readonly string[];
}

/** How a host endpoint is bound to host interfaces. */
export type HostEndpointBinding =
  | { readonly kind: 'interface'; readonly interfaceName: string }
  | { readonly kind: 'all-interfaces' }
  /** Bound to whichever host interfaces carry one of `expectedIPs` (resolved by the host). */
  | { readonly kind: 'expected-ips' };

export interface FailsafeEntry {
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
  readonly net?: string;
}

export interface HostEndpointState {
  readonly id: string;
  readonly node: string;
  readonly binding: HostEndpointBinding;
  readonly expectedIPs: readonly string[];
  readonly ingressTiers: readonly TierRef[];
  readonly egressTiers: readonly TierRef[];
  /** doNotTrack policies; their tiers always end in Pass (fall through to normal processing). */
  readonly untrackedIngressTiers: readonly TierRef[];
  readonly untrackedEgressTiers: readonly TierRef[];
  /** preDNAT policies (ingress only); tiers end in Pass. */
  readonly preDnatIngressTiers: readonly TierRef[];
  /** applyOnForward policies, for traffic forwarded through the host. */
  readonly forwardIngressTiers: readonly TierRef[];
  readonly forwardEgressTiers: readonly TierRef[];
  readonly profileIds: readonly string[];
  readonly stagedPolicyIds: readonly string[];
  /** Always allowed before any policy (Felix failsafe ports). */
  readonly failsafeInbound: readonly FailsafeEntry[];
  readonly failsafeOutbound: readonly FailsafeEntry[];
}

export interface HostMetadataState {
  readonly node: string;
  readonly addresses: readonly string[];
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
  readonly wireguardPublicKey?: string;
  readonly wireguardPublicKeyV6?: string;
  readonly wireguardInterfaceIPv4Address?: string;
  readonly wireguardInterfaceIPv6Address?: string;
  readonly podCIDRs: readonly string[];
}

export type DataplaneMessage =
  | { readonly kind: 'ipset-replace'; readonly id: string; readonly type: IpSetType; readonly members: readonly string[] }
  | { readonly kind: 'ipset-add-members'; readonly id: string; readonly members: readonly string[] }
  | { readonly kind: 'ipset-remove-members'; readonly id: string; readonly members: readonly string[] }
  | { readonly kind: 'ipset-delete'; readonly id: string }
  | { readonly kind: 'policy-upsert'; readonly policy: CompiledPolicy }
  | { readonly kind: 'policy-remove'; readonly id: string }
  | { readonly kind: 'profile-upsert'; readonly profile: CompiledProfile }
  | { readonly kind: 'profile-remove'; readonly id: string }
  | { readonly kind: 'workload-endpoint-upsert'; readonly endpoint: WorkloadEndpointState }
  | { readonly kind: 'workload-endpoint-remove'; readonly id: string }
  | { readonly kind: 'host-endpoint-upsert'; readonly endpoint: HostEndpointState }
  | { readonly kind: 'host-endpoint-remove'; readonly id: string }
  | { readonly kind: 'host-metadata-upsert'; readonly host: HostMetadataState }
  | { readonly kind: 'host-metadata-remove'; readonly node: string }
  | { readonly kind: 'in-sync' };

export type DataplaneMessageKind = DataplaneMessage['kind'];

/** Anything that enforces the Engine's output. One `apply` call is one atomic step. */
export interface Dataplane {
  apply(messages: readonly DataplaneMessage[]): void | Promise<void>;
}
