// Security group rules → Calico rules, pinned on networking-calico's own fixtures
// (test_plugin_etcd.py `sg_default_value_v3`, the SG-1 port-range rules) and on each row of the
// mapping table in security-group.ts.
import { describe, expect, it } from 'vitest';
import type { NeutronSecurityGroupRule } from '../neutron-types.js';
import { sgRule } from '../testing/fixtures.js';
import { neutronRuleToCalico, securityGroupPolicy } from './security-group.js';

// The default group of networking-calico's test lib.py, rules exactly as its mocked DB returns them.
const SGID_DEFAULT_RULES = [
  { remote_group_id: 'SGID-default', remote_ip_prefix: null, protocol: -1, direction: 'ingress', ethertype: 'IPv4', security_group_id: 'SGID-default', port_range_min: -1 },
  { remote_group_id: 'SGID-default', remote_ip_prefix: null, protocol: -1, direction: 'ingress', ethertype: 'IPv6', security_group_id: 'SGID-default', port_range_min: -1 },
  { remote_group_id: null, remote_ip_prefix: null, protocol: -1, direction: 'egress', ethertype: 'IPv4', security_group_id: 'SGID-default', port_range_min: -1 },
  { remote_group_id: null, remote_ip_prefix: null, protocol: -1, direction: 'egress', security_group_id: 'SGID-default', ethertype: 'IPv6', port_range_min: -1 },
] satisfies NeutronSecurityGroupRule[];

const rule = sgRule;

describe('security group → ossg.default NetworkPolicy (networking-calico fixtures)', () => {
  it('writes the default group exactly as sg_default_value_v3', () => {
    const { resource, problems } = securityGroupPolicy({ id: 'SGID-default', name: 'My default SG' }, SGID_DEFAULT_RULES, 'openstack');
    expect(problems).toEqual([]);
    expect(resource).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'NetworkPolicy',
      metadata: { namespace: 'openstack', name: 'ossg.default.SGID-default' },
      spec: {
        egress: [
          { action: 'Allow', ipVersion: 4 },
          { action: 'Allow', ipVersion: 6 },
        ],
        ingress: [
          { action: 'Allow', ipVersion: 4, source: { selector: 'has(sg.projectcalico.org/openstack-SGID-default)' } },
          { action: 'Allow', ipVersion: 6, source: { selector: 'has(sg.projectcalico.org/openstack-SGID-default)' } },
        ],
        selector: 'has(sg.projectcalico.org/openstack-SGID-default)',
      },
    });
  });

  it('writes SG-1: a port range from the default group, then a single port', () => {
    const range = { remote_group_id: 'SGID-default', remote_ip_prefix: null, protocol: -1, direction: 'ingress', ethertype: 'IPv4', security_group_id: 'SG-1', port_range_min: 5060, port_range_max: 5061 };
    expect(securityGroupPolicy({ id: 'SG-1', name: 'My first SG' }, [range], 'openstack').resource.spec).toEqual({
      egress: [],
      ingress: [{ action: 'Allow', destination: { ports: ['5060:5061'] }, ipVersion: 4, source: { selector: 'has(sg.projectcalico.org/openstack-SGID-default)' } }],
      selector: 'has(sg.projectcalico.org/openstack-SG-1)',
    });
    expect(securityGroupPolicy({ id: 'SG-1' }, [{ ...range, port_range_max: 5060 }], 'openstack').resource.spec.ingress[0]!.destination).toEqual({ ports: [5060] });
  });

  it('keeps Neutron order within each direction and sends everything but ingress to egress', () => {
    const spec = securityGroupPolicy({ id: 'g' }, [rule({ direction: 'egress', remote_ip_prefix: '10.0.0.0/8' }), rule({ protocol: 'tcp' }), rule({ direction: 'EGRESS', protocol: 'udp' })], 'openstack').resource.spec;
    expect(spec.ingress).toEqual([{ action: 'Allow', ipVersion: 4, protocol: 6 }]);
    expect(spec.egress).toEqual([
      { action: 'Allow', ipVersion: 4, destination: { nets: ['10.0.0.0/8'] } },
      { action: 'Allow', ipVersion: 4, protocol: 17 },
    ]);
  });
});

describe('one Neutron rule → one Calico rule', () => {
  it.each([
    ['null protocol is any protocol', { protocol: null }, { action: 'Allow', ipVersion: 4 }],
    ['"any" is any protocol', { protocol: 'any' }, { action: 'Allow', ipVersion: 4 }],
    ['0 is any protocol', { protocol: 0 }, { action: 'Allow', ipVersion: 4 }],
    ['-1 is any protocol (legacy)', { protocol: -1 }, { action: 'Allow', ipVersion: 4 }],
    ['IPv6 ethertype is ipVersion 6', { ethertype: 'IPv6' }, { action: 'Allow', ipVersion: 6 }],
    ['tcp is its IANA number (neutron-lib IP_PROTOCOL_MAP)', { protocol: 'tcp' }, { action: 'Allow', ipVersion: 4, protocol: 6 }],
    ['udp is 17', { protocol: 'udp' }, { action: 'Allow', ipVersion: 4, protocol: 17 }],
    ['sctp is 132', { protocol: 'sctp' }, { action: 'Allow', ipVersion: 4, protocol: 132 }],
    ['esp is 50', { protocol: 'esp' }, { action: 'Allow', ipVersion: 4, protocol: 50 }],
    ['a number stays a number', { protocol: 47 }, { action: 'Allow', ipVersion: 4, protocol: 47 }],
    ['a number in a string stays a string (upper-cased as is)', { protocol: '132' }, { action: 'Allow', ipVersion: 4, protocol: '132' }],
    ['an unknown name is upper-cased', { protocol: 'foo' }, { action: 'Allow', ipVersion: 4, protocol: 'FOO' }],
    ['icmp on IPv4 is ICMP', { protocol: 'icmp' }, { action: 'Allow', ipVersion: 4, protocol: 'ICMP' }],
    ['icmp on IPv6 is ICMPv6', { protocol: 'icmp', ethertype: 'IPv6' }, { action: 'Allow', ipVersion: 6, protocol: 'ICMPv6' }],
    ['ipv6-icmp is ICMPv6', { protocol: 'ipv6-icmp', ethertype: 'IPv6' }, { action: 'Allow', ipVersion: 6, protocol: 'ICMPv6' }],
    ['ICMP type and code come from the port range', { protocol: 'icmp', port_range_min: 8, port_range_max: 0 }, { action: 'Allow', ipVersion: 4, protocol: 'ICMP', icmp: { type: 8, code: 0 } }],
    ['an ICMP type alone', { protocol: 'icmp', port_range_min: 3, port_range_max: null }, { action: 'Allow', ipVersion: 4, protocol: 'ICMP', icmp: { type: 3 } }],
    ['-1 ICMP values are left out', { protocol: 'ipv6-icmp', ethertype: 'IPv6', port_range_min: -1, port_range_max: -1 }, { action: 'Allow', ipVersion: 6, protocol: 'ICMPv6' }],
    ['one port on ingress goes to destination.ports', { protocol: 'tcp', port_range_min: 22, port_range_max: 22 }, { action: 'Allow', ipVersion: 4, protocol: 6, destination: { ports: [22] } }],
    ['a range is "min:max"', { protocol: 'udp', port_range_min: 1000, port_range_max: 2000 }, { action: 'Allow', ipVersion: 4, protocol: 17, destination: { ports: ['1000:2000'] } }],
    ['remote group is the source selector on ingress', { remote_group_id: 'abc' }, { action: 'Allow', ipVersion: 4, source: { selector: 'has(sg.projectcalico.org/openstack-abc)' } }],
    ['remote prefix is the source nets on ingress', { remote_ip_prefix: '192.0.2.0/24' }, { action: 'Allow', ipVersion: 4, source: { nets: ['192.0.2.0/24'] } }],
    [
      'on egress, remote and ports share the destination',
      { direction: 'egress', protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_ip_prefix: '0.0.0.0/0', remote_group_id: 'g2' },
      { action: 'Allow', ipVersion: 4, protocol: 6, destination: { selector: 'has(sg.projectcalico.org/openstack-g2)', nets: ['0.0.0.0/0'], ports: [443] } },
    ],
    ['egress ports without a remote are the destination', { direction: 'egress', protocol: 'udp', port_range_min: 53, port_range_max: 53 }, { action: 'Allow', ipVersion: 4, protocol: 17, destination: { ports: [53] } }],
    [
      'on ingress, the remote is the source and the ports the destination',
      { protocol: 'tcp', port_range_min: 80, port_range_max: 81, remote_ip_prefix: '10.1.0.0/16' },
      { action: 'Allow', ipVersion: 4, protocol: 6, source: { nets: ['10.1.0.0/16'] }, destination: { ports: ['80:81'] } },
    ],
  ] as const)('%s', (_name, r, want) => {
    expect(neutronRuleToCalico(rule(r as Partial<NeutronSecurityGroupRule>))).toEqual(want);
  });

  it('reports an ethertype that is neither IPv4 nor IPv6 (where the driver fails)', () => {
    expect(neutronRuleToCalico(rule({ ethertype: 'IPX' }))).toBe('ethertype "IPX" is neither IPv4 nor IPv6');
    const { problems } = securityGroupPolicy({ id: 'g' }, [rule({}), rule({ id: 'r2', ethertype: 'ipv4' })], 'openstack');
    expect(problems).toEqual([{ index: 1, ruleId: 'r2', message: 'ethertype "ipv4" is neither IPv4 nor IPv6' }]);
  });
});
