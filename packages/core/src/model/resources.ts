/**
 * The resource formats Gingham reads, as they appear in manifests: Calico `projectcalico.org/v3`,
 * Kubernetes v1, `networking.k8s.io/v1`, `policy.networking.k8s.io/v1alpha1` and `v1alpha2`.
 * These are the *external* shapes (after validation, before conversion into `./types.ts`).
 * Field names follow the upstream APIs exactly; nothing here is Gingham-specific.
 */

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly uid?: string;
}

/** Any resource Gingham understands, discriminated by `kind`. */
export interface Resource<K extends string = string, S = unknown> {
  readonly apiVersion: string;
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec?: S;
  readonly status?: unknown;
}

// ---------------------------------------------------------------------------------------------
// projectcalico.org/v3
// ---------------------------------------------------------------------------------------------

/** A rule port: number, `"min:max"` range string, or a named port. */
export type V3Port = number | string;

export interface V3ProtocolFields {
  readonly protocol?: string | number;
  readonly notProtocol?: string | number;
}

export interface V3Icmp {
  readonly type?: number;
  readonly code?: number;
}

export interface V3ServiceAccountMatch {
  readonly names?: readonly string[];
  readonly selector?: string;
}

export interface V3ServiceMatch {
  readonly name?: string;
  readonly namespace?: string;
}

export interface V3EntityRule {
  readonly nets?: readonly string[];
  readonly notNets?: readonly string[];
  readonly selector?: string;
  readonly notSelector?: string;
  readonly namespaceSelector?: string;
  readonly ports?: readonly V3Port[];
  readonly notPorts?: readonly V3Port[];
  readonly serviceAccounts?: V3ServiceAccountMatch;
  readonly services?: V3ServiceMatch;
  /** Egress destination domains (Calico Enterprise field; accepted and carried). */
  readonly domains?: readonly string[];
}

export interface V3Rule extends V3ProtocolFields {
  readonly action: 'Allow' | 'Deny' | 'Log' | 'Pass';
  readonly ipVersion?: 4 | 6;
  readonly icmp?: V3Icmp;
  readonly notICMP?: V3Icmp;
  readonly source?: V3EntityRule;
  readonly destination?: V3EntityRule;
  readonly http?: { readonly methods?: readonly string[]; readonly paths?: readonly unknown[] };
  readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> };
}

export interface V3PolicySpec {
  readonly tier?: string;
  readonly order?: number;
  readonly selector?: string;
  readonly serviceAccountSelector?: string;
  readonly namespaceSelector?: string; // GlobalNetworkPolicy only
  readonly types?: readonly ('Ingress' | 'Egress')[];
  readonly ingress?: readonly V3Rule[];
  readonly egress?: readonly V3Rule[];
  readonly doNotTrack?: boolean; // GlobalNetworkPolicy only
  readonly preDNAT?: boolean; // GlobalNetworkPolicy only
  readonly applyOnForward?: boolean; // GlobalNetworkPolicy only
  readonly performanceHints?: readonly string[];
  readonly stagedAction?: 'Set' | 'Delete' | 'Learn' | 'Ignore'; // staged kinds only
}

export interface V3TierSpec {
  readonly order?: number;
  readonly defaultAction?: 'Deny' | 'Pass';
}

export interface V3ProfileSpec {
  readonly ingress?: readonly V3Rule[];
  readonly egress?: readonly V3Rule[];
  readonly labelsToApply?: Readonly<Record<string, string>>;
}

export interface V3NetworkSetSpec {
  readonly nets?: readonly string[];
  readonly allowedEgressDomains?: readonly string[];
}

export interface V3EndpointPort {
  readonly name: string;
  readonly protocol: string | number;
  readonly port: number;
}

export interface V3HostEndpointSpec {
  readonly node: string;
  readonly interfaceName?: string;
  readonly expectedIPs?: readonly string[];
  readonly profiles?: readonly string[];
  readonly ports?: readonly V3EndpointPort[];
}

export interface V3WorkloadEndpointSpec {
  readonly orchestrator?: string;
  readonly workload?: string;
  readonly node?: string;
  readonly containerID?: string;
  readonly pod?: string;
  readonly endpoint?: string;
  readonly serviceAccountName?: string;
  readonly ipNetworks?: readonly string[];
  readonly profiles?: readonly string[];
  readonly interfaceName?: string;
  readonly mac?: string;
  readonly ports?: readonly V3EndpointPort[];
}

export interface V3NodeSpec {
  readonly addresses?: readonly { readonly address: string; readonly type?: string }[];
  readonly bgp?: {
    readonly ipv4Address?: string;
    readonly ipv6Address?: string;
    readonly ipv4IPIPTunnelAddr?: string;
  };
  readonly wireguard?: {
    readonly interfaceIPv4Address?: string;
    readonly interfaceIPv6Address?: string;
  };
  readonly ipv4VXLANTunnelAddr?: string;
  readonly orchRefs?: readonly { readonly nodeName?: string; readonly orchestrator?: string }[];
}

export interface V3NodeStatus {
  readonly wireguardPublicKey?: string;
  readonly wireguardPublicKeyV6?: string;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export interface K8sNetworkPolicyPort {
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  readonly port?: number | string;
  readonly endPort?: number;
}

export interface K8sNetworkPolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
}

export interface K8sNetworkPolicySpec {
  readonly podSelector?: LabelSelector;
  readonly policyTypes?: readonly ('Ingress' | 'Egress')[];
  readonly ingress?: readonly { readonly from?: readonly K8sNetworkPolicyPeer[]; readonly ports?: readonly K8sNetworkPolicyPort[] }[];
  readonly egress?: readonly { readonly to?: readonly K8sNetworkPolicyPeer[]; readonly ports?: readonly K8sNetworkPolicyPort[] }[];
}

/** Calico StagedKubernetesNetworkPolicy: a Kubernetes NetworkPolicy spec plus `stagedAction`. */
export interface StagedKubernetesNetworkPolicySpec extends K8sNetworkPolicySpec {
  readonly stagedAction?: 'Set' | 'Delete' | 'Learn' | 'Ignore';
}

export interface K8sContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface K8sPodSpec {
  readonly nodeName?: string;
  readonly serviceAccountName?: string;
  readonly serviceAccount?: string;
  readonly hostNetwork?: boolean;
  readonly containers?: readonly { readonly name?: string; readonly ports?: readonly K8sContainerPort[] }[];
  readonly initContainers?: readonly { readonly name?: string; readonly ports?: readonly K8sContainerPort[]; readonly restartPolicy?: string }[];
}

export interface K8sPodStatus {
  readonly podIP?: string;
  readonly podIPs?: readonly { readonly ip: string }[];
  readonly phase?: string;
}

export interface K8sNodeSpec {
  readonly podCIDR?: string;
  readonly podCIDRs?: readonly string[];
}

export interface K8sNodeStatus {
  readonly addresses?: readonly { readonly type: string; readonly address: string }[];
}

// AdminNetworkPolicy / BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy (v1alpha2)

export interface AnpPodsPeer {
  readonly namespaceSelector: LabelSelector;
  readonly podSelector: LabelSelector;
}

export interface AnpSubject {
  readonly namespaces?: LabelSelector;
  readonly pods?: AnpPodsPeer;
}

export interface AnpPort {
  readonly portNumber?: { readonly protocol?: 'TCP' | 'UDP' | 'SCTP'; readonly port: number };
  readonly namedPort?: string;
  readonly portRange?: { readonly protocol?: 'TCP' | 'UDP' | 'SCTP'; readonly start: number; readonly end: number };
}

export interface AnpPeer {
  readonly namespaces?: LabelSelector;
  readonly pods?: AnpPodsPeer;
  readonly nodes?: LabelSelector;
  readonly networks?: readonly string[];
  readonly domainNames?: readonly string[];
}

export interface AnpRule {
  readonly name?: string;
  readonly action: string;
  readonly from?: readonly AnpPeer[];
  readonly to?: readonly AnpPeer[];
  readonly ports?: readonly AnpPort[];
}

export interface AnpSpec {
  readonly priority?: number;
  readonly subject: AnpSubject;
  readonly ingress?: readonly AnpRule[];
  readonly egress?: readonly AnpRule[];
}

/** v1alpha2 `protocols[].{tcp,udp,sctp}.destinationPort`: exactly one of `number` / `range`. */
export interface CnpPort {
  readonly number?: number;
  readonly range?: { readonly start: number; readonly end: number };
}

/** v1alpha2 `protocols` entry: exactly one field is set. */
export interface CnpProtocol {
  readonly tcp?: { readonly destinationPort?: CnpPort };
  readonly udp?: { readonly destinationPort?: CnpPort };
  readonly sctp?: { readonly destinationPort?: CnpPort };
  readonly destinationNamedPort?: string;
}

/** A ClusterNetworkPolicy rule: current upstream uses `protocols`; earlier drafts used v1alpha1 `ports`. */
export interface ClusterNetworkPolicyRule extends AnpRule {
  readonly protocols?: readonly CnpProtocol[];
}

/** v1alpha2 ClusterNetworkPolicy: `tier: Admin | Baseline`, actions `Accept | Deny | Pass`. */
export interface ClusterNetworkPolicySpec extends AnpSpec {
  readonly tier: 'Admin' | 'Baseline';
  readonly ingress?: readonly ClusterNetworkPolicyRule[];
  readonly egress?: readonly ClusterNetworkPolicyRule[];
}
