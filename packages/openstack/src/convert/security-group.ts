/**
 * Security group → NetworkPolicy, rule by rule, as networking-calico's `policy.py` maps them
 * (`policy_spec`, `_neutron_rule_to_etcd_rule`). Every rule is an Allow: a security group only
 * ever opens traffic, and an endpoint in no group with a matching rule is denied by Calico's
 * end-of-tier default. Pure; never validates (the caller runs core's validation on the result).
 *
 *   Neutron rule field         Calico rule field
 *   ─────────────────────────  ─────────────────────────────────────────────────────────────────
 *   direction ingress|egress   goes to spec.ingress | spec.egress (anything but ingress → egress)
 *   ethertype IPv4|IPv6        ipVersion 4|6
 *   protocol null/-1/0/any     (omitted: any protocol)
 *   protocol icmp              ICMP (IPv4) or ICMPv6 (IPv6); ipv6-icmp → ICMPv6
 *   protocol <name>            the IANA number from neutron-lib's IP_PROTOCOL_MAP (tcp → 6)
 *   protocol <number>          the number; any other string → upper-cased string
 *   port_range_min/max (ICMP)  icmp.type / icmp.code, each left out when null or -1
 *   port_range_min/max         ports: [n] when min == max, ["min:max"] otherwise, none when min is -1/null
 *   remote_group_id            source (ingress) / destination (egress) selector has(sg…-<id>)
 *   remote_ip_prefix           source (ingress) / destination (egress) nets: [prefix]
 *   ports                      destination.ports (ingress) / inside the destination entity (egress)
 */
import type { Resource } from '@gingham/core';
import type { NeutronSecurityGroup, NeutronSecurityGroupRule } from '../neutron-types.js';
import { SG_LABEL_PREFIX, securityGroupPolicyName, securityGroupSelector } from './names.js';

/** neutron-lib's `IP_PROTOCOL_MAP`: protocol names the Neutron API accepts, to IANA numbers. */
export const IP_PROTOCOL_MAP: Readonly<Record<string, number>> = {
  ah: 51,
  dccp: 33,
  egp: 8,
  esp: 50,
  gre: 47,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ip: 0,
  ipip: 4,
  'ipv6-encap': 41,
  'ipv6-frag': 44,
  'ipv6-icmp': 58,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  'ipv6-route': 43,
  ospf: 89,
  pgm: 113,
  rsvp: 46,
  sctp: 132,
  tcp: 6,
  udp: 17,
  udplite: 136,
  vrrp: 112,
};

/** The Calico rule shape this module writes (a subset of `projectcalico.org/v3` Rule). */
export interface CalicoRule {
  action: 'Allow';
  ipVersion?: number;
  protocol?: string | number;
  icmp?: { type?: number; code?: number };
  source?: CalicoEntityRule;
  destination?: CalicoEntityRule;
}

export interface CalicoEntityRule {
  selector?: string;
  nets?: string[];
  ports?: (number | string)[];
}

export interface NetworkPolicySpec {
  ingress: CalicoRule[];
  egress: CalicoRule[];
  selector: string;
}

const ETHERTYPE_VERSION: Readonly<Record<string, number>> = { IPv4: 4, IPv6: 6 };

const isAny = (p: NeutronSecurityGroupRule['protocol']): boolean => p === null || p === undefined || p === -1 || p === 0 || p === 'any';
const present = (v: number | null | undefined): v is number => v !== null && v !== undefined && v !== -1;

/**
 * One Neutron rule as a Calico rule. Returns a string describing the problem when the rule
 * cannot be mapped at all (an ethertype other than IPv4/IPv6, a direction-less rule), where the
 * driver itself would fail.
 */
export function neutronRuleToCalico(rule: NeutronSecurityGroupRule): CalicoRule | string {
  const ipVersion = ETHERTYPE_VERSION[rule.ethertype];
  if (ipVersion === undefined) return `ethertype ${JSON.stringify(rule.ethertype)} is neither IPv4 nor IPv6`;
  const out: CalicoRule = { action: 'Allow', ipVersion };
  const p = rule.protocol;
  if (isAny(p)) {
    // Any protocol: Calico leaves the field out.
  } else if (p === 'ipv6-icmp') {
    out.protocol = 'ICMPv6';
  } else if (p === 'icmp') {
    out.protocol = ipVersion === 4 ? 'ICMP' : 'ICMPv6';
  } else if (typeof p === 'number') {
    out.protocol = p;
  } else if (typeof p === 'string' && Object.hasOwn(IP_PROTOCOL_MAP, p)) {
    out.protocol = IP_PROTOCOL_MAP[p]!;
  } else if (typeof p === 'string') {
    out.protocol = p.toUpperCase();
  }

  let ports: (number | string)[] | undefined;
  const min = rule.port_range_min;
  const max = rule.port_range_max;
  if (p === 'icmp' || p === 'ipv6-icmp') {
    // Neutron keeps the ICMP type and code in the port range fields.
    const icmp: { type?: number; code?: number } = {};
    if (present(min)) icmp.type = min;
    if (present(max)) icmp.code = max;
    if (icmp.type !== undefined || icmp.code !== undefined) out.icmp = icmp;
  } else if (min === -1) {
    ports = undefined;
  } else if ((min ?? null) === (max ?? null)) {
    if (min !== null && min !== undefined) ports = [min];
  } else {
    ports = [`${min ?? 'None'}:${max ?? 'None'}`];
  }

  const entity: CalicoEntityRule = {};
  if (rule.remote_group_id !== null && rule.remote_group_id !== undefined) entity.selector = `has(${SG_LABEL_PREFIX}${rule.remote_group_id})`;
  if (rule.remote_ip_prefix !== null && rule.remote_ip_prefix !== undefined) entity.nets = [rule.remote_ip_prefix];
  const ingress = rule.direction === 'ingress';
  if (ports !== undefined) {
    if (ingress) out.destination = { ports };
    else entity.ports = ports;
  }
  if (entity.selector !== undefined || entity.nets !== undefined || entity.ports !== undefined) {
    if (ingress) out.source = entity;
    else out.destination = entity;
  }
  return out;
}

/** Problems found while mapping a group's rules (each names the rule by index and id). */
export interface RuleProblem {
  readonly index: number;
  readonly ruleId?: string;
  readonly message: string;
}

/** The NetworkPolicy spec of a group: rules split by direction, in the order Neutron lists them. */
export function securityGroupPolicySpec(sgId: string, rules: readonly NeutronSecurityGroupRule[]): { spec: NetworkPolicySpec; problems: RuleProblem[] } {
  const ingress: CalicoRule[] = [];
  const egress: CalicoRule[] = [];
  const problems: RuleProblem[] = [];
  rules.forEach((rule, index) => {
    const r = neutronRuleToCalico(rule);
    if (typeof r === 'string') {
      problems.push({ index, ...(rule.id ? { ruleId: rule.id } : {}), message: r });
      return;
    }
    (rule.direction === 'ingress' ? ingress : egress).push(r);
  });
  return { spec: { ingress, egress, selector: securityGroupSelector(sgId) }, problems };
}

/** The `ossg.default.<sgid>` NetworkPolicy of a security group, in `namespace`. */
export function securityGroupPolicy(
  sg: NeutronSecurityGroup,
  rules: readonly NeutronSecurityGroupRule[],
  namespace: string,
): { resource: Resource<'NetworkPolicy', NetworkPolicySpec> & { readonly spec: NetworkPolicySpec }; problems: RuleProblem[] } {
  const { spec, problems } = securityGroupPolicySpec(sg.id, rules);
  return {
    resource: { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: securityGroupPolicyName(sg.id), namespace }, spec },
    problems,
  };
}
