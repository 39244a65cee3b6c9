/**
 * Neutron port → WorkloadEndpoint, as networking-calico's `endpoints.py` writes it
 * (`endpoint_name`, `endpoint_spec`, `endpoint_labels`, `endpoint_annotations`,
 * `_port_is_endpoint_port`). Only bound VM (and Kuryr container) ports become endpoints. The
 * endpoint has no profiles: security groups act through labels and the `ossg.default.*`
 * policies. Pure; the caller validates the result.
 *
 *   WorkloadEndpoint field                  Neutron source
 *   ──────────────────────────────────────  ────────────────────────────────────────────────────
 *   metadata.name                           <binding:host_id>-openstack-<device_id>-<id>, dashes doubled
 *   metadata.namespace                      openstack, or openstack-region-<region>
 *   spec.orchestrator / workload / node     "openstack" / device_id / binding:host_id
 *   spec.endpoint / interfaceName / mac     id / tap + id[:11] / mac_address
 *   spec.ipNetworks                         fixed_ips then allowed_address_pairs, as /32 or /128
 *   spec.allowedIps                         allowed_address_pairs only, as /32 or /128
 *   spec.ipv4Gateway / ipv6Gateway          gateway_ip of each fixed IP's subnet (the last one wins)
 *   spec.ipNATs                             floating IPs whose port_id is this port
 *   spec.qosControls                        the port's (or network's) QoS policy, see qos.ts
 *   label sg.projectcalico.org/openstack-<sg>       the group's sanitized name (or "")
 *   label sg-name.projectcalico.org/openstack-<name> the group id, when the name is not empty
 *   label projectcalico.org/namespace / orchestrator the namespace / "openstack"
 *   label projectcalico.org/openstack-project-id     project_id (tenant_id on old APIs)
 *   label …-project-name / …-project-parent-id       Keystone's project name (sanitized) and parent_id
 *   label projectcalico.org/openstack-network-name   the network's sanitized name
 *   annotation openstack.projectcalico.org/network-id network_id
 *   annotation openstack.projectcalico.org/fqdn      dns_assignment[0].fqdn
 */
import type { Resource } from '@gingham/core';
import type { KeystoneProject, NeutronFloatingIp, NeutronNetwork, NeutronPort, NeutronQosPolicy, NeutronSubnet } from '../neutron-types.js';
import {
  endpointName,
  FQDN_ANNOTATION,
  NAMESPACE_LABEL,
  NETWORK_ID_ANNOTATION,
  NETWORK_NAME_LABEL,
  ORCHESTRATOR,
  ORCHESTRATOR_LABEL,
  PROJECT_ID_LABEL,
  PROJECT_NAME_LABEL,
  PROJECT_PARENT_ID_LABEL,
  SANITIZE_LABEL_MAX_LENGTH,
  sanitizeLabelNameValue,
  SG_LABEL_PREFIX,
  SG_NAME_LABEL_PREFIX,
  SG_NAME_MAX_LENGTH,
  tapInterfaceName,
} from './names.js';
import { qosControls, type QosControls, type QosSettings } from './qos.js';

/** What a port's endpoint needs from the rest of the cloud, indexed by id. */
export interface PortContext {
  readonly namespace: string;
  /** Undefined when subnets are not known at all: no gateways, no warnings. */
  readonly subnets?: ReadonlyMap<string, NeutronSubnet>;
  /** Undefined when networks are not known: no network-name label. */
  readonly networks?: ReadonlyMap<string, NeutronNetwork>;
  /** Security group id → raw name. */
  readonly securityGroupNames: ReadonlyMap<string, string>;
  /** Port id → its floating IPs. */
  readonly floatingIps: ReadonlyMap<string, readonly NeutronFloatingIp[]>;
  readonly qosPolicies: ReadonlyMap<string, NeutronQosPolicy>;
  /** Undefined when projects are not known: no project name or parent labels. */
  readonly projects?: ReadonlyMap<string, KeystoneProject>;
  readonly qos: QosSettings;
}

export interface WorkloadEndpointSpec {
  orchestrator: string;
  workload: string;
  node: string;
  endpoint: string;
  interfaceName: string;
  mac: string;
  ipv4Gateway?: string;
  ipv6Gateway?: string;
  ipNetworks: string[];
  allowedIps: string[];
  ipNATs?: { internalIP: string; externalIP: string }[];
  qosControls?: QosControls;
}

export type WorkloadEndpointResource = Resource<'WorkloadEndpoint', WorkloadEndpointSpec> & { readonly spec: WorkloadEndpointSpec };

/** A VM port (device_owner `compute:*`) or a Kuryr container port. */
export function isEndpointPort(port: NeutronPort): boolean {
  const owner = port.device_owner ?? '';
  return owner.startsWith('compute:') || owner.startsWith('kuryr:container');
}

/** Bound to a host (`binding:vif_type` is not `unbound`): only then is there an interface to secure. */
export function isBound(port: NeutronPort): boolean {
  return port['binding:vif_type'] !== 'unbound';
}

/** The host a live migration is moving the port to, when one is in progress. */
export function migratingTo(port: NeutronPort): string | undefined {
  const target = port['binding:profile']?.migrating_to;
  return typeof target === 'string' && target !== '' ? target : undefined;
}

/** The fields an endpoint port must have, with the JSON type each must be (the driver fails without them). */
export const REQUIRED_PORT_FIELDS = ['id', 'device_id', 'binding:host_id', 'mac_address', 'network_id'] as const;

const hostNet = (ip: string): string => (ip.includes(':') ? `${ip}/128` : `${ip}/32`);

/** Issues a port's conversion can raise without failing (missing lookups). */
export interface PortWarning {
  /** Inside the port: `["fixed_ips", 0, "subnet_id"]`. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** The WorkloadEndpoint of `port` on `host` (its own `binding:host_id`, or a migration target). */
export function portEndpoint(port: NeutronPort, ctx: PortContext, host: string = port['binding:host_id'] ?? '', warnings: PortWarning[] = []): WorkloadEndpointResource {
  // Field order follows the driver's dict: gateways land where the loop first sets them.
  const spec = {
    orchestrator: ORCHESTRATOR,
    workload: port.device_id ?? '',
    node: host,
    endpoint: port.id,
    interfaceName: tapInterfaceName(port.id),
    mac: port.mac_address ?? '',
  } as WorkloadEndpointSpec;
  const ipNetworks: string[] = [];
  (port.fixed_ips ?? []).forEach((ip, i) => {
    ipNetworks.push(hostNet(ip.ip_address));
    if (!ctx.subnets) return;
    const subnet = ip.subnet_id === undefined ? undefined : ctx.subnets.get(ip.subnet_id);
    if (!subnet) {
      warnings.push({ path: ['fixed_ips', i, 'subnet_id'], message: `subnet ${JSON.stringify(ip.subnet_id ?? null)} is unknown: no gateway for ${ip.ip_address}` });
      return;
    }
    const gateway = subnet.gateway_ip;
    if (gateway === null || gateway === undefined) return;
    if (ip.ip_address.includes(':')) spec.ipv6Gateway = gateway;
    else spec.ipv4Gateway = gateway;
  });
  const allowedIps: string[] = [];
  for (const pair of port.allowed_address_pairs ?? []) {
    const net = hostNet(String(pair.ip_address));
    ipNetworks.push(net);
    allowedIps.push(net);
  }
  spec.ipNetworks = ipNetworks;
  spec.allowedIps = allowedIps;
  const fips = ctx.floatingIps.get(port.id) ?? [];
  if (fips.length > 0) spec.ipNATs = fips.map((f) => ({ internalIP: f.fixed_ip_address ?? '', externalIP: f.floating_ip_address }));
  const qosPolicyId = port.qos_policy_id || port.qos_network_policy_id;
  const qos = qosControls(qosPolicyId ? ctx.qosPolicies.get(qosPolicyId) : undefined, ctx.qos);
  if (Object.keys(qos).length > 0) spec.qosControls = qos;

  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: {
      name: endpointName(host, port.device_id ?? '', port.id),
      namespace: ctx.namespace,
      labels: portLabels(port, ctx, warnings),
      annotations: portAnnotations(port),
    },
    spec,
  };
}

function portLabels(port: NeutronPort, ctx: PortContext, warnings: PortWarning[]): Record<string, string> {
  const labels: Record<string, string> = {};
  (port.security_groups ?? []).forEach((sgId, i) => {
    const raw = ctx.securityGroupNames.get(sgId);
    if (raw === undefined) warnings.push({ path: ['security_groups', i], message: `security group ${JSON.stringify(sgId)} is unknown: its label has an empty value and it has no policy` });
    const name = raw === undefined ? '' : sanitizeLabelNameValue(raw, SG_NAME_MAX_LENGTH);
    labels[`${SG_LABEL_PREFIX}${sgId}`] = name;
    if (name) labels[`${SG_NAME_LABEL_PREFIX}${name}`] = sgId;
  });
  labels[NAMESPACE_LABEL] = ctx.namespace;
  labels[ORCHESTRATOR_LABEL] = ORCHESTRATOR;
  const projectId = port.project_id ?? port.tenant_id;
  if (projectId !== undefined && projectId !== null) {
    labels[PROJECT_ID_LABEL] = projectId;
    const project = ctx.projects?.get(projectId);
    if (project) {
      labels[PROJECT_NAME_LABEL] = sanitizeLabelNameValue(project.name, SANITIZE_LABEL_MAX_LENGTH);
      // The driver writes parent_id as it is; Keystone sends null only for domains, which own no ports.
      if (project.parent_id !== null && project.parent_id !== undefined) labels[PROJECT_PARENT_ID_LABEL] = project.parent_id;
    } else if (ctx.projects) {
      warnings.push({ path: [port.project_id !== undefined ? 'project_id' : 'tenant_id'], message: `project ${JSON.stringify(projectId)} is unknown to Keystone: no project name label` });
    }
  }
  const network = port.network_id === undefined ? undefined : ctx.networks?.get(port.network_id);
  if (network) labels[NETWORK_NAME_LABEL] = sanitizeLabelNameValue(network.name ?? '', SANITIZE_LABEL_MAX_LENGTH);
  return labels;
}

function portAnnotations(port: NeutronPort): Record<string, string> {
  const annotations: Record<string, string> = { [NETWORK_ID_ANNOTATION]: port.network_id ?? '' };
  const fqdn = port.dns_assignment?.[0]?.fqdn;
  if (fqdn !== undefined) annotations[FQDN_ANNOTATION] = fqdn;
  return annotations;
}
