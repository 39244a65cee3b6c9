/**
 * The JSON shapes the Neutron (networking v2.0) and Keystone (identity v3) APIs return, limited
 * to the fields Calico's OpenStack driver reads. Field names are the APIs' own, including
 * `binding:host_id` and friends. Everything optional that the API may omit or send as null is
 * typed so; the converter decides what a missing value means, as the driver does.
 */

/** One entry of a port's `fixed_ips`. */
export interface NeutronFixedIp {
  readonly subnet_id?: string;
  readonly ip_address: string;
}

/** One entry of a port's `allowed_address_pairs` (`ip_address` may be a CIDR). */
export interface NeutronAddressPair {
  readonly ip_address: string;
  readonly mac_address?: string;
}

/** One entry of a port's `dns_assignment` (one per fixed IP, all with the same FQDN). */
export interface NeutronDnsAssignment {
  readonly hostname?: string;
  readonly ip_address?: string;
  readonly fqdn: string;
}

/** `GET /v2.0/ports` → `{"ports": [NeutronPort…]}`. */
export interface NeutronPort {
  readonly id: string;
  readonly name?: string;
  readonly network_id?: string;
  readonly project_id?: string;
  readonly tenant_id?: string;
  readonly device_id?: string;
  /** `compute:<zone>` for VM ports (`compute:nova`), `network:dhcp`, `network:router_interface`, … */
  readonly device_owner?: string;
  readonly mac_address?: string;
  readonly fixed_ips?: readonly NeutronFixedIp[];
  readonly allowed_address_pairs?: readonly NeutronAddressPair[];
  readonly security_groups?: readonly string[];
  readonly 'binding:host_id'?: string;
  /** `unbound` until Nova binds the port to a host. */
  readonly 'binding:vif_type'?: string;
  /** `{migrating_to: <host>}` while Nova live-migrates the VM. */
  readonly 'binding:profile'?: Readonly<Record<string, unknown>> | null;
  readonly dns_assignment?: readonly NeutronDnsAssignment[] | null;
  readonly qos_policy_id?: string | null;
  readonly qos_network_policy_id?: string | null;
  readonly status?: string;
  readonly revision_number?: number;
  /** `YYYY-MM-DDTHH:MM:SSZ` (the standard-attr-timestamp extension). */
  readonly updated_at?: string;
  readonly created_at?: string;
}

/** One security group rule, inside a group's `security_group_rules` or from `GET /v2.0/security-group-rules`. */
export interface NeutronSecurityGroupRule {
  readonly id?: string;
  readonly security_group_id?: string;
  /** `ingress` or `egress`. */
  readonly direction: string;
  /** `IPv4` or `IPv6`. */
  readonly ethertype: string;
  /** A name (`tcp`, `icmp`, `ipv6-icmp`…), a number as a string or number, `any`, or null for any. */
  readonly protocol?: string | number | null;
  /** The first port, or the ICMP type. */
  readonly port_range_min?: number | null;
  /** The last port, or the ICMP code. */
  readonly port_range_max?: number | null;
  readonly remote_group_id?: string | null;
  readonly remote_ip_prefix?: string | null;
  readonly remote_address_group_id?: string | null;
  readonly revision_number?: number;
  readonly updated_at?: string;
}

/** `GET /v2.0/security-groups` → `{"security_groups": [NeutronSecurityGroup…]}`. */
export interface NeutronSecurityGroup {
  readonly id: string;
  readonly name?: string;
  readonly project_id?: string;
  readonly tenant_id?: string;
  readonly security_group_rules?: readonly NeutronSecurityGroupRule[];
  readonly revision_number?: number;
  readonly updated_at?: string;
}

/** `GET /v2.0/networks` → `{"networks": […]}`. */
export interface NeutronNetwork {
  readonly id: string;
  readonly name?: string;
  readonly updated_at?: string;
}

/** `GET /v2.0/subnets` → `{"subnets": […]}`. */
export interface NeutronSubnet {
  readonly id: string;
  readonly network_id?: string;
  readonly cidr?: string;
  readonly gateway_ip?: string | null;
  readonly updated_at?: string;
}

/** `GET /v2.0/floatingips` → `{"floatingips": […]}`; `port_id` is null when not associated. */
export interface NeutronFloatingIp {
  readonly id: string;
  readonly port_id?: string | null;
  readonly fixed_ip_address?: string | null;
  readonly floating_ip_address: string;
  readonly updated_at?: string;
}

/** A rule of a QoS policy, as `GET /v2.0/qos/policies` embeds them. */
export interface NeutronQosRule {
  readonly id?: string;
  /** `bandwidth_limit`, `packet_rate_limit`, `dscp_marking`, `minimum_bandwidth`, `minimum_packet_rate`. */
  readonly type: string;
  readonly direction?: string;
  readonly max_kbps?: number;
  readonly max_burst_kbps?: number;
  readonly max_kpps?: number;
  readonly max_burst_kpps?: number;
}

/** `GET /v2.0/qos/policies` → `{"policies": […]}`. */
export interface NeutronQosPolicy {
  readonly id: string;
  readonly name?: string;
  readonly rules?: readonly NeutronQosRule[];
  readonly updated_at?: string;
}

/** Keystone `GET /v3/projects` → `{"projects": […]}`. */
export interface KeystoneProject {
  readonly id: string;
  readonly name: string;
  readonly parent_id?: string | null;
  readonly domain_id?: string;
}

/** Everything the conversion reads, as lists. Only ports and security groups are required. */
export interface NeutronInputs {
  readonly ports: readonly NeutronPort[];
  readonly securityGroups: readonly NeutronSecurityGroup[];
  /** Standalone rules (`GET /v2.0/security-group-rules`), merged into their groups by `security_group_id`. */
  readonly securityGroupRules?: readonly NeutronSecurityGroupRule[];
  readonly networks?: readonly NeutronNetwork[];
  readonly subnets?: readonly NeutronSubnet[];
  readonly floatingIps?: readonly NeutronFloatingIp[];
  readonly qosPolicies?: readonly NeutronQosPolicy[];
  readonly projects?: readonly KeystoneProject[];
}
