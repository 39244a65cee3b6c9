/**
 * What Calico derives from a Kubernetes Node in the Kubernetes datastore: the Calico Node view
 * (libcalico-go `K8sNodeToCalico`: BGP and tunnel addresses and the WireGuard keys kept in
 * `projectcalico.org/*` annotations, the node's addresses, an orchestrator reference) and
 * kube-controllers' automatic host endpoint (`<node>-auto-hep`, `interfaceName: "*"`, the
 * node's labels plus `projectcalico.org/created-by`, profile `projectcalico-default-allow`,
 * expected IPs in kube-controllers' order). Pure.
 */
import type { Resource } from '@gingham/core';

export const ANNOTATION_IPV4_ADDRESS = 'projectcalico.org/IPv4Address';
export const ANNOTATION_IPV6_ADDRESS = 'projectcalico.org/IPv6Address';
export const ANNOTATION_IPIP_TUNNEL_ADDR = 'projectcalico.org/IPv4IPIPTunnelAddr';
export const ANNOTATION_VXLAN_TUNNEL_ADDR = 'projectcalico.org/IPv4VXLANTunnelAddr';
export const ANNOTATION_WIREGUARD_IPV4_ADDR = 'projectcalico.org/IPv4WireguardInterfaceAddr';
export const ANNOTATION_WIREGUARD_IPV6_ADDR = 'projectcalico.org/IPv6WireguardInterfaceAddr';
/** Where Calico keeps a node's WireGuard public key in the Kubernetes datastore. */
export const ANNOTATION_WIREGUARD_PUBLIC_KEY = 'projectcalico.org/WireguardPublicKey';
export const ANNOTATION_WIREGUARD_PUBLIC_KEY_V6 = 'projectcalico.org/WireguardPublicKeyV6';

/** The annotations of a Node that the Calico view reads (everything else is dropped when caching). */
export const CALICO_NODE_ANNOTATIONS: readonly string[] = [
  ANNOTATION_IPV4_ADDRESS,
  ANNOTATION_IPV6_ADDRESS,
  ANNOTATION_IPIP_TUNNEL_ADDR,
  ANNOTATION_VXLAN_TUNNEL_ADDR,
  ANNOTATION_WIREGUARD_IPV4_ADDR,
  ANNOTATION_WIREGUARD_IPV6_ADDR,
  ANNOTATION_WIREGUARD_PUBLIC_KEY,
  ANNOTATION_WIREGUARD_PUBLIC_KEY_V6,
];

export const AUTO_HEP_SUFFIX = '-auto-hep';
export const CREATED_BY_LABEL = 'projectcalico.org/created-by';
export const CREATED_BY_KUBE_CONTROLLERS = 'calico-kube-controllers';
export const DEFAULT_ALLOW_PROFILE_NAME = 'projectcalico-default-allow';

/** The parts of a Kubernetes Node the derivations read. */
export interface NodeFacts {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly addresses?: readonly { readonly type: string; readonly address: string }[];
  readonly podCIDRs?: readonly string[];
}

/** The facts of a raw or reduced Kubernetes Node object. */
export function nodeFacts(node: Record<string, unknown>): NodeFacts {
  const meta = (node['metadata'] ?? {}) as { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  const spec = (node['spec'] ?? {}) as { podCIDR?: string; podCIDRs?: string[] };
  const status = (node['status'] ?? {}) as { addresses?: { type: string; address: string }[] };
  return {
    name: meta.name ?? '',
    ...(meta.labels ? { labels: meta.labels } : {}),
    ...(meta.annotations ? { annotations: meta.annotations } : {}),
    ...(status.addresses ? { addresses: status.addresses } : {}),
    podCIDRs: spec.podCIDRs?.length ? spec.podCIDRs : spec.podCIDR ? [spec.podCIDR] : [],
  };
}

const hostPart = (cidrOrIp: string): string => cidrOrIp.split('/')[0]!;

/** The `projectcalico.org/v3` Node Calico presents for a Kubernetes Node. */
export function calicoNodeFromKubernetesNode(node: NodeFacts): Resource {
  const a = node.annotations ?? {};
  const spec: Record<string, unknown> = {};
  const bgp: Record<string, string> = {};
  if (a[ANNOTATION_IPV4_ADDRESS]) bgp['ipv4Address'] = a[ANNOTATION_IPV4_ADDRESS];
  if (a[ANNOTATION_IPV6_ADDRESS]) bgp['ipv6Address'] = a[ANNOTATION_IPV6_ADDRESS];
  if (a[ANNOTATION_IPIP_TUNNEL_ADDR]) bgp['ipv4IPIPTunnelAddr'] = a[ANNOTATION_IPIP_TUNNEL_ADDR];
  if (Object.keys(bgp).length > 0) spec['bgp'] = bgp;
  const wireguard: Record<string, string> = {};
  if (a[ANNOTATION_WIREGUARD_IPV4_ADDR]) wireguard['interfaceIPv4Address'] = a[ANNOTATION_WIREGUARD_IPV4_ADDR];
  if (a[ANNOTATION_WIREGUARD_IPV6_ADDR]) wireguard['interfaceIPv6Address'] = a[ANNOTATION_WIREGUARD_IPV6_ADDR];
  if (Object.keys(wireguard).length > 0) spec['wireguard'] = wireguard;
  if (a[ANNOTATION_VXLAN_TUNNEL_ADDR]) spec['ipv4VXLANTunnelAddr'] = a[ANNOTATION_VXLAN_TUNNEL_ADDR];
  spec['orchRefs'] = [{ nodeName: node.name, orchestrator: 'k8s' }];
  const addresses: { address: string; type: string }[] = [];
  if (bgp['ipv4Address']) addresses.push({ address: bgp['ipv4Address'], type: 'CalicoNodeIP' });
  if (bgp['ipv6Address']) addresses.push({ address: bgp['ipv6Address'], type: 'CalicoNodeIP' });
  for (const k of node.addresses ?? []) if (k.type === 'InternalIP' || k.type === 'ExternalIP') addresses.push({ address: k.address, type: k.type });
  if (addresses.length > 0) spec['addresses'] = addresses;
  const status: Record<string, unknown> = {};
  if (a[ANNOTATION_WIREGUARD_PUBLIC_KEY]) status['wireguardPublicKey'] = a[ANNOTATION_WIREGUARD_PUBLIC_KEY];
  if (a[ANNOTATION_WIREGUARD_PUBLIC_KEY_V6]) status['wireguardPublicKeyV6'] = a[ANNOTATION_WIREGUARD_PUBLIC_KEY_V6];
  if (node.podCIDRs && node.podCIDRs.length > 0) status['podCIDRs'] = [...node.podCIDRs];
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Node',
    metadata: { name: node.name, ...(node.labels && Object.keys(node.labels).length > 0 ? { labels: { ...node.labels } } : {}) },
    spec,
    ...(Object.keys(status).length > 0 ? { status } : {}),
  };
}

/** kube-controllers' expected IPs: BGP addresses, IPIP/VXLAN/WireGuard tunnel addresses, then InternalIPs, without duplicates. */
export function autoHostEndpointIps(calicoNode: Resource): string[] {
  const spec = (calicoNode.spec ?? {}) as {
    bgp?: { ipv4Address?: string; ipv6Address?: string; ipv4IPIPTunnelAddr?: string };
    ipv4VXLANTunnelAddr?: string;
    wireguard?: { interfaceIPv4Address?: string };
    addresses?: { address: string; type?: string }[];
  };
  const out: string[] = [];
  const add = (ip: string | undefined): void => {
    if (ip && !out.includes(ip)) out.push(ip);
  };
  if (spec.bgp?.ipv4Address) add(hostPart(spec.bgp.ipv4Address));
  if (spec.bgp?.ipv6Address) add(hostPart(spec.bgp.ipv6Address));
  add(spec.bgp?.ipv4IPIPTunnelAddr);
  add(spec.ipv4VXLANTunnelAddr);
  add(spec.wireguard?.interfaceIPv4Address);
  for (const a of spec.addresses ?? []) if (a.type === 'InternalIP') add(a.address);
  return out;
}

/** The automatic host endpoint kube-controllers creates for a node (`autoCreate: Enabled`). */
export function autoHostEndpoint(calicoNode: Resource): Resource {
  const name = calicoNode.metadata.name;
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: `${name}${AUTO_HEP_SUFFIX}`, labels: { ...(calicoNode.metadata.labels ?? {}), [CREATED_BY_LABEL]: CREATED_BY_KUBE_CONTROLLERS } },
    spec: { node: name, interfaceName: '*', expectedIPs: autoHostEndpointIps(calicoNode), profiles: [DEFAULT_ALLOW_PROFILE_NAME] },
  };
}
