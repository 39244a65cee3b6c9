/**
 * Builders of realistic Neutron objects for tests and benchmarks: deterministic UUIDs, VM ports
 * as Nova and ML2 leave them (bound, `compute:nova`, a fixed IP on a subnet), security groups
 * with rules as the API returns them, and a synthetic cloud of any size.
 */
import { createHash } from 'node:crypto';
import type { KeystoneProject, NeutronInputs, NeutronNetwork, NeutronPort, NeutronSecurityGroup, NeutronSecurityGroupRule, NeutronSubnet } from '../neutron-types.js';

/** A UUID (version 4 layout) derived from `seed`: the same seed, the same id. */
export function testUuid(seed: string): string {
  const h = createHash('sha1').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A MAC in OpenStack's default `fa:16:3e` range, derived from `seed`. */
export function testMac(seed: string): string {
  const h = createHash('sha1').update(`mac:${seed}`).digest('hex');
  return `fa:16:3e:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

export interface VmPortOptions {
  readonly id: string;
  readonly host: string;
  readonly ip: string;
  readonly securityGroups: readonly string[];
  readonly deviceId?: string;
  readonly networkId?: string;
  readonly subnetId?: string;
  readonly projectId?: string;
  readonly mac?: string;
  readonly allowedAddressPairs?: readonly string[];
  readonly fqdn?: string;
  readonly qosPolicyId?: string;
}

/** A bound VM port as `GET /v2.0/ports` shows it. */
export function vmPort(o: VmPortOptions): NeutronPort {
  return {
    id: o.id,
    name: '',
    network_id: o.networkId ?? testUuid('network:0'),
    project_id: o.projectId ?? testUuid('project:0').replaceAll('-', ''),
    tenant_id: o.projectId ?? testUuid('project:0').replaceAll('-', ''),
    mac_address: o.mac ?? testMac(o.id),
    device_id: o.deviceId ?? testUuid(`vm:${o.id}`),
    device_owner: 'compute:nova',
    fixed_ips: [{ subnet_id: o.subnetId ?? testUuid('subnet:0'), ip_address: o.ip }],
    allowed_address_pairs: (o.allowedAddressPairs ?? []).map((ip) => ({ ip_address: ip, mac_address: o.mac ?? testMac(o.id) })),
    security_groups: [...o.securityGroups],
    status: 'ACTIVE',
    'binding:host_id': o.host,
    'binding:vif_type': 'tap',
    'binding:vnic_type': 'normal',
    'binding:profile': {},
    dns_assignment: o.fqdn ? [{ hostname: o.fqdn.split('.')[0]!, ip_address: o.ip, fqdn: o.fqdn }] : [],
    qos_policy_id: o.qosPolicyId ?? null,
    qos_network_policy_id: null,
  } as NeutronPort;
}

/** A rule with the API's defaults: any protocol, no ports, no remote, IPv4 ingress. */
export function sgRule(r: Partial<NeutronSecurityGroupRule>): NeutronSecurityGroupRule {
  return {
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_group_id: null,
    remote_ip_prefix: null,
    ...r,
  };
}

/** A security group with its rules embedded, as `GET /v2.0/security-groups` shows it. */
export function securityGroup(id: string, name: string, rules: readonly Partial<NeutronSecurityGroupRule>[], projectId?: string): NeutronSecurityGroup {
  return {
    id,
    name,
    project_id: projectId ?? testUuid('project:0').replaceAll('-', ''),
    security_group_rules: rules.map((r, i) => sgRule({ id: testUuid(`rule:${id}:${i}`), security_group_id: id, ...r })),
  };
}

export interface SyntheticCloudOptions {
  readonly ports: number;
  readonly securityGroups: number;
  readonly hosts?: number;
  readonly projects?: number;
  readonly networks?: number;
  /** Security groups per port (default 2). */
  readonly groupsPerPort?: number;
}

/**
 * A cloud shaped like a real one: projects with their networks and subnets, groups with a mix
 * of rules (remote group, CIDR, port ranges, ICMP, IPv6), ports spread over hosts.
 */
export function syntheticCloud(o: SyntheticCloudOptions): Required<Pick<NeutronInputs, 'ports' | 'securityGroups' | 'networks' | 'subnets' | 'projects'>> {
  const hosts = o.hosts ?? Math.max(1, Math.ceil(o.ports / 40));
  const nProjects = o.projects ?? Math.max(1, Math.ceil(o.securityGroups / 10));
  const nNetworks = o.networks ?? nProjects;
  const perPort = o.groupsPerPort ?? 2;
  const projects: KeystoneProject[] = Array.from({ length: nProjects }, (_, i) => ({ id: testUuid(`project:${i}`).replaceAll('-', ''), name: `project ${i}`, parent_id: 'default', domain_id: 'default' }));
  const networks: NeutronNetwork[] = Array.from({ length: nNetworks }, (_, i) => ({ id: testUuid(`network:${i}`), name: `net-${i}` }));
  const subnets: NeutronSubnet[] = networks.map((n, i) => ({ id: testUuid(`subnet:${i}`), network_id: n.id, cidr: `10.${64 + (i >> 8)}.${i & 255}.0/24`, gateway_ip: `10.${64 + (i >> 8)}.${i & 255}.1` }));
  const sgIds = Array.from({ length: o.securityGroups }, (_, i) => testUuid(`sg:${i}`));
  const securityGroups: NeutronSecurityGroup[] = sgIds.map((id, i) =>
    securityGroup(
      id,
      `group ${i}`,
      [
        { direction: 'egress', ethertype: 'IPv4' },
        { direction: 'egress', ethertype: 'IPv6' },
        { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: id },
        { protocol: 'tcp', port_range_min: 8000 + (i % 100), port_range_max: 8080 + (i % 100), remote_group_id: sgIds[(i + 1) % sgIds.length]! },
        { protocol: 'icmp', port_range_min: 8, port_range_max: 0, remote_ip_prefix: '0.0.0.0/0' },
        { protocol: 'udp', port_range_min: 53, port_range_max: 53, remote_ip_prefix: `10.${i & 255}.0.0/16` },
        { ethertype: 'IPv6', protocol: 'ipv6-icmp', remote_ip_prefix: '::/0' },
      ],
      projects[i % nProjects]!.id,
    ),
  );
  const ports: NeutronPort[] = Array.from({ length: o.ports }, (_, i) => {
    const net = i % nNetworks;
    const host = `compute-${String(i % hosts).padStart(4, '0')}`;
    const groups = Array.from({ length: Math.min(perPort, sgIds.length) }, (_, k) => sgIds[(i + k * 7) % sgIds.length]!);
    const within = Math.floor(i / nNetworks) + 2;
    return vmPort({
      id: testUuid(`port:${i}`),
      host,
      ip: `10.${64 + (net >> 8)}.${net & 255}.${within % 254 || 254}`,
      securityGroups: groups,
      networkId: networks[net]!.id,
      subnetId: subnets[net]!.id,
      projectId: projects[net % nProjects]!.id,
      fqdn: `vm-${i}.example.org.`,
    });
  });
  return { ports, securityGroups, networks, subnets, projects };
}
