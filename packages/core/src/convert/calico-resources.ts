/**
 * Calico v3 non-policy resources → model: WorkloadEndpoint, HostEndpoint, NetworkSet,
 * GlobalNetworkSet, Profile, Tier and Node. Follows the syncer's update processors (labels added
 * or stripped, network sets parented to their namespace profile).
 */
import type { EndpointPort, HostEndpoint, NetworkSet, NodeInfo, Profile, Tier, WorkloadEndpoint } from '../model/types.js';
import type {
  Resource,
  V3EndpointPort,
  V3HostEndpointSpec,
  V3NetworkSetSpec,
  V3NodeSpec,
  V3NodeStatus,
  V3ProfileSpec,
  V3TierSpec,
  V3WorkloadEndpointSpec,
} from '../model/resources.js';
import { convertV3Rules } from './calico-rules.js';
import { canonicalCidr, canonicalHostCidr, canonicalIp, parseCidr } from '../net/cidr.js';
import { namespaceProfileName, withoutInheritedPrefixes, MAX_SERVICE_ACCOUNT_LABEL_LENGTH } from './kubernetes-identity.js';
import { protocolNumber } from './protocol.js';
import { type ConvertOptions, type Converted, Reporter } from './report.js';
import { LABEL_NAMESPACE, LABEL_ORCHESTRATOR, LABEL_SERVICE_ACCOUNT } from './selectors.js';
import { compareBytewise, sortedLabels } from './strings.js';

function endpointPorts(ports: readonly V3EndpointPort[] | undefined, reporter: Reporter): EndpointPort[] {
  const out: EndpointPort[] = [];
  (ports ?? []).forEach((p, i) => {
    if (!p.name) return;
    const protocol = protocolNumber(p.protocol);
    if (protocol === undefined) {
      reporter.warn('invalid-port', `spec.ports[${i}].protocol`, `unknown protocol "${p.protocol}"; port ignored`);
      return;
    }
    out.push({ name: p.name, protocol, port: p.port });
  });
  return out;
}

/** Converts a Calico WorkloadEndpoint (non-Kubernetes workloads, or WEPs written by hand). */
export function convertWorkloadEndpoint(
  resource: Resource<string, V3WorkloadEndpointSpec>,
  options?: ConvertOptions,
): Converted<WorkloadEndpoint> {
  const reporter = new Reporter(resource, options);
  const spec = resource.spec ?? {};
  const namespace = resource.metadata.namespace || 'default';
  const labels = withoutInheritedPrefixes(resource.metadata.labels ?? {});
  labels[LABEL_NAMESPACE] = namespace;
  if (spec.orchestrator) labels[LABEL_ORCHESTRATOR] = spec.orchestrator;
  if (spec.serviceAccountName && spec.serviceAccountName.length < MAX_SERVICE_ACCOUNT_LABEL_LENGTH) {
    labels[LABEL_SERVICE_ACCOUNT] = spec.serviceAccountName;
  }
  const addresses: string[] = [];
  (spec.ipNetworks ?? []).forEach((n, i) => {
    const c = canonicalCidr(n);
    if (!c) reporter.warn('invalid-cidr', `spec.ipNetworks[${i}]`, `invalid address "${n}" ignored`);
    else if (!addresses.includes(c)) addresses.push(c);
  });
  const wep: { -readonly [K in keyof WorkloadEndpoint]: WorkloadEndpoint[K] } = {
    kind: 'WorkloadEndpoint',
    id: `${namespace}/${resource.metadata.name}`,
    name: resource.metadata.name,
    namespace,
    node: spec.node ?? '',
    interfaceName: spec.interfaceName ?? '',
    addresses,
    labels: sortedLabels(labels),
    profiles: [...(spec.profiles ?? [])],
    ports: endpointPorts(spec.ports, reporter),
  };
  if (spec.workload || spec.pod) wep.workload = `${namespace}/${spec.pod || spec.workload}`;
  if (spec.serviceAccountName) wep.serviceAccount = spec.serviceAccountName;
  return reporter.done(wep);
}

export function convertHostEndpoint(resource: Resource<string, V3HostEndpointSpec>, options?: ConvertOptions): Converted<HostEndpoint> {
  const reporter = new Reporter(resource, options);
  const spec = resource.spec ?? ({ node: '' } as V3HostEndpointSpec);
  const expectedIPs: string[] = [];
  (spec.expectedIPs ?? []).forEach((ip, i) => {
    const c = canonicalHostCidr(ip);
    if (!c) reporter.warn('invalid-ip', `spec.expectedIPs[${i}]`, `invalid IP "${ip}" ignored`);
    else if (!expectedIPs.includes(c)) expectedIPs.push(c);
  });
  const hep: { -readonly [K in keyof HostEndpoint]: HostEndpoint[K] } = {
    kind: 'HostEndpoint',
    id: resource.metadata.name,
    name: resource.metadata.name,
    node: spec.node ?? '',
    expectedIPs,
    labels: sortedLabels(resource.metadata.labels ?? {}),
    profiles: [...(spec.profiles ?? [])],
    ports: endpointPorts(spec.ports, reporter),
  };
  if (spec.interfaceName) hep.interfaceName = spec.interfaceName;
  return reporter.done(hep);
}

function convertNets(nets: readonly string[] | undefined, reporter: Reporter): string[] {
  const out: string[] = [];
  (nets ?? []).forEach((n, i) => {
    // Network sets accept non-strictly-masked CIDRs; the set member is the network.
    const c = parseCidr(n) ? canonicalCidr(n) : undefined;
    if (!c) reporter.warn('invalid-cidr', `spec.nets[${i}]`, `invalid CIDR "${n}" ignored`);
    else if (!out.includes(c)) out.push(c);
  });
  return out.sort(compareBytewise);
}

/** A NetworkSet is in its namespace: label `projectcalico.org/namespace`, parent profile `kns.<ns>`. */
export function convertNetworkSet(resource: Resource<string, V3NetworkSetSpec>, options?: ConvertOptions): Converted<NetworkSet> {
  const reporter = new Reporter(resource, options);
  const namespace = resource.metadata.namespace || 'default';
  const labels: Record<string, string> = { ...(resource.metadata.labels ?? {}) };
  if (labels[LABEL_NAMESPACE] !== undefined && labels[LABEL_NAMESPACE] !== namespace) {
    reporter.warn('reserved-label', `metadata.labels.${LABEL_NAMESPACE}`, `${LABEL_NAMESPACE} is reserved; overridden`);
  }
  labels[LABEL_NAMESPACE] = namespace;
  if (resource.spec?.allowedEgressDomains?.length) {
    reporter.warn('unsupported-field', 'spec.allowedEgressDomains', 'allowedEgressDomains is a Calico Enterprise field; ignored');
  }
  return reporter.done({
    kind: 'NetworkSet',
    id: `${namespace}/${resource.metadata.name}`,
    name: resource.metadata.name,
    namespace,
    labels: sortedLabels(labels),
    profiles: [namespaceProfileName(namespace)],
    nets: convertNets(resource.spec?.nets, reporter),
  });
}

export function convertGlobalNetworkSet(resource: Resource<string, V3NetworkSetSpec>, options?: ConvertOptions): Converted<NetworkSet> {
  const reporter = new Reporter(resource, options);
  const labels: Record<string, string> = { ...(resource.metadata.labels ?? {}) };
  if (labels[LABEL_NAMESPACE] !== undefined) {
    reporter.warn('reserved-label', `metadata.labels.${LABEL_NAMESPACE}`, `${LABEL_NAMESPACE} is reserved; removed`);
    delete labels[LABEL_NAMESPACE];
  }
  if (resource.spec?.allowedEgressDomains?.length) {
    reporter.warn('unsupported-field', 'spec.allowedEgressDomains', 'allowedEgressDomains is a Calico Enterprise field; ignored');
  }
  return reporter.done({
    kind: 'GlobalNetworkSet',
    id: resource.metadata.name,
    name: resource.metadata.name,
    namespace: '',
    labels: sortedLabels(labels),
    profiles: [],
    nets: convertNets(resource.spec?.nets, reporter),
  });
}

/** Profile rules are global (no namespace scoping), as for GlobalNetworkPolicy. */
export function convertProfile(resource: Resource<string, V3ProfileSpec>, options?: ConvertOptions): Converted<Profile> {
  const reporter = new Reporter(resource, options);
  const spec = resource.spec ?? {};
  return reporter.done({
    name: resource.metadata.name,
    labelsToApply: sortedLabels(spec.labelsToApply ?? {}),
    ingress: convertV3Rules(spec.ingress, '', 'spec.ingress', reporter),
    egress: convertV3Rules(spec.egress, '', 'spec.egress', reporter),
  });
}

/** The built-in tiers; their order and default action are fixed by Calico's API validation. */
export const BUILTIN_TIERS: readonly Tier[] = [
  { name: 'kube-admin', order: 1000, defaultAction: 'Pass', declared: true },
  { name: 'default', order: 1_000_000, defaultAction: 'Deny', declared: true },
  { name: 'kube-baseline', order: 10_000_000, defaultAction: 'Pass', declared: true },
];

/** The built-in allow-all profile (`libcalico-go/lib/resources/static.go`). */
export const DEFAULT_ALLOW_PROFILE: Profile = {
  name: 'projectcalico-default-allow',
  labelsToApply: {},
  ingress: [{ action: 'Allow', source: {}, destination: {} }],
  egress: [{ action: 'Allow', source: {}, destination: {} }],
};

export function convertTier(resource: Resource<string, V3TierSpec>, options?: ConvertOptions): Converted<Tier> {
  const reporter = new Reporter(resource, options);
  const spec = resource.spec ?? {};
  const builtin = BUILTIN_TIERS.find((t) => t.name === resource.metadata.name);
  if (builtin) {
    const order = spec.order ?? builtin.order;
    const action = spec.defaultAction ?? (builtin.name === 'default' ? 'Deny' : 'Pass');
    if (order !== builtin.order || action !== builtin.defaultAction) {
      reporter.warn(
        'builtin-tier',
        'spec',
        `tier ${builtin.name} is built in with order ${builtin.order} and default action ${builtin.defaultAction}; the given values are ignored`,
      );
    }
    return reporter.done(builtin);
  }
  const tier: { -readonly [K in keyof Tier]: Tier[K] } = {
    name: resource.metadata.name,
    defaultAction: spec.defaultAction === 'Pass' ? 'Pass' : 'Deny',
    declared: true,
  };
  if (typeof spec.order === 'number' && Number.isFinite(spec.order)) tier.order = spec.order;
  return reporter.done(tier);
}

function plainIp(text: string | undefined): string | undefined {
  return text ? canonicalIp(text) : undefined;
}

/** Converts a Calico Node (addresses, BGP and WireGuard fields, public keys). */
export function convertCalicoNode(resource: Resource<string, V3NodeSpec>, options?: ConvertOptions): Converted<NodeInfo> {
  const reporter = new Reporter(resource, options);
  const spec = resource.spec ?? {};
  const status = (resource.status ?? {}) as V3NodeStatus;
  const addresses = new Set<string>();
  for (const a of spec.addresses ?? []) {
    const ip = plainIp(a.address);
    if (ip) addresses.add(ip);
  }
  const bgp4 = plainIp(spec.bgp?.ipv4Address);
  const bgp6 = plainIp(spec.bgp?.ipv6Address);
  if (bgp4) addresses.add(bgp4);
  if (bgp6) addresses.add(bgp6);
  const node: { -readonly [K in keyof NodeInfo]: NodeInfo[K] } = {
    name: resource.metadata.name,
    addresses: [...addresses].sort(compareBytewise),
    podCIDRs: [],
    labels: sortedLabels(resource.metadata.labels ?? {}),
  };
  if (bgp4) node.bgpIPv4Address = bgp4;
  if (bgp6) node.bgpIPv6Address = bgp6;
  const wg4 = plainIp(spec.wireguard?.interfaceIPv4Address);
  const wg6 = plainIp(spec.wireguard?.interfaceIPv6Address);
  if (wg4) node.wireguardInterfaceIPv4Address = wg4;
  if (wg6) node.wireguardInterfaceIPv6Address = wg6;
  if (status.wireguardPublicKey) node.wireguardPublicKey = status.wireguardPublicKey;
  if (status.wireguardPublicKeyV6) node.wireguardPublicKeyV6 = status.wireguardPublicKeyV6;
  return reporter.done(node);
}

/** Merges node information about the same node from a Calico Node and a Kubernetes Node. */
export function mergeNodeInfo(a: NodeInfo, b: NodeInfo): NodeInfo {
  const merged: { -readonly [K in keyof NodeInfo]: NodeInfo[K] } = {
    ...a,
    ...b,
    addresses: [...new Set([...a.addresses, ...b.addresses])].sort(compareBytewise),
    podCIDRs: [...new Set([...a.podCIDRs, ...b.podCIDRs])].sort(compareBytewise),
    labels: sortedLabels({ ...a.labels, ...b.labels }),
  };
  return merged;
}
