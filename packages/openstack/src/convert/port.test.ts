// Neutron port → WorkloadEndpoint, pinned on networking-calico's fixtures: lib.py's port1 and
// port3 in, test_plugin_etcd.py's ep_deadbeef_value_v3 and ep_hello_value_v3 out (without
// metadata.uid and creationTimestamp, which the driver's etcd layer adds and its tests strip).
import { describe, expect, it } from 'vitest';
import type { NeutronPort } from '../neutron-types.js';
import { endpointName, escapeDashes, namespaceForRegion, regionProblem, sanitizeLabelNameValue, SG_NAME_MAX_LENGTH, tapInterfaceName } from './names.js';
import { isBound, isEndpointPort, portEndpoint, type PortContext, type PortWarning } from './port.js';
import { DEFAULT_QOS_SETTINGS, qosControls } from './qos.js';

const port1: NeutronPort = {
  'binding:vif_type': 'tap',
  'binding:host_id': 'felix-host-1',
  id: 'DEADBEEF-1234-5678',
  tenant_id: 'jane3',
  network_id: 'calico-network-id',
  device_id: 'instance-1',
  device_owner: 'compute:nova',
  fixed_ips: [{ subnet_id: 'subnet-id-10.65.0--24', ip_address: '10.65.0.2' }],
  mac_address: '00:11:22:33:44:55',
  security_groups: ['SGID-default'],
  status: 'ACTIVE',
  allowed_address_pairs: [{ ip_address: '23.23.23.2', mac_address: 'fa:16:3e:c4:cd:3f' }],
};
const port3: NeutronPort = {
  'binding:vif_type': 'tap',
  'binding:host_id': 'felix-host-2',
  id: 'HELLO-1234-5678',
  tenant_id: 'jane3',
  network_id: 'calico-network-id',
  device_id: 'instance-3',
  device_owner: 'compute:nova',
  fixed_ips: [{ subnet_id: 'subnet-id-2001:db8:a41:2--64', ip_address: '2001:db8:a41:2::12' }],
  mac_address: '00:11:22:33:44:66',
  security_groups: ['SGID-default'],
  status: 'ACTIVE',
  allowed_address_pairs: [],
};

const ctx = (over: Partial<PortContext> = {}): PortContext => ({
  namespace: 'openstack',
  subnets: new Map([
    ['subnet-id-10.65.0--24', { id: 'subnet-id-10.65.0--24', gateway_ip: '10.65.0.1' }],
    ['subnet-id-2001:db8:a41:2--64', { id: 'subnet-id-2001:db8:a41:2--64', gateway_ip: '2001:db8:a41:2::1' }],
  ]),
  networks: new Map([['calico-network-id', { id: 'calico-network-id', name: 'calico-network-name' }]]),
  securityGroupNames: new Map([['SGID-default', 'My default SG']]),
  floatingIps: new Map([['DEADBEEF-1234-5678', [{ id: 'f1', port_id: 'DEADBEEF-1234-5678', fixed_ip_address: '10.65.0.2', floating_ip_address: '192.168.0.1' }]]]),
  qosPolicies: new Map(),
  projects: new Map([['jane3', { id: 'jane3', name: 'pname+jane3', parent_id: 'gibson' }]]),
  qos: DEFAULT_QOS_SETTINGS,
  ...over,
});

const labels = (namespace: string) => ({
  'sg.projectcalico.org/openstack-SGID-default': 'My_default_SG',
  'sg-name.projectcalico.org/openstack-My_default_SG': 'SGID-default',
  'projectcalico.org/namespace': namespace,
  'projectcalico.org/openstack-project-id': 'jane3',
  'projectcalico.org/openstack-project-name': 'pname_jane3',
  'projectcalico.org/openstack-project-parent-id': 'gibson',
  'projectcalico.org/orchestrator': 'openstack',
  'projectcalico.org/openstack-network-name': 'calico-network-name',
});

describe('port → WorkloadEndpoint (networking-calico fixtures)', () => {
  it('writes port1 exactly as ep_deadbeef_value_v3', () => {
    expect(portEndpoint(port1, ctx())).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: {
        annotations: { 'openstack.projectcalico.org/network-id': 'calico-network-id' },
        name: 'felix--host--1-openstack-instance--1-DEADBEEF--1234--5678',
        namespace: 'openstack',
        labels: labels('openstack'),
      },
      spec: {
        endpoint: 'DEADBEEF-1234-5678',
        interfaceName: 'tapDEADBEEF-12',
        ipNATs: [{ externalIP: '192.168.0.1', internalIP: '10.65.0.2' }],
        ipNetworks: ['10.65.0.2/32', '23.23.23.2/32'],
        allowedIps: ['23.23.23.2/32'],
        ipv4Gateway: '10.65.0.1',
        mac: '00:11:22:33:44:55',
        node: 'felix-host-1',
        orchestrator: 'openstack',
        workload: 'instance-1',
      },
    });
  });

  it('writes the IPv6 port3 exactly as ep_hello_value_v3', () => {
    const wep = portEndpoint(port3, ctx());
    expect(wep.metadata.name).toBe('felix--host--2-openstack-instance--3-HELLO--1234--5678');
    expect(wep.spec).toEqual({
      endpoint: 'HELLO-1234-5678',
      interfaceName: 'tapHELLO-1234-',
      ipNetworks: ['2001:db8:a41:2::12/128'],
      allowedIps: [],
      ipv6Gateway: '2001:db8:a41:2::1',
      mac: '00:11:22:33:44:66',
      node: 'felix-host-2',
      orchestrator: 'openstack',
      workload: 'instance-3',
    });
  });

  it('puts a region in the namespace and the namespace label', () => {
    const wep = portEndpoint(port1, ctx({ namespace: namespaceForRegion('europe') }));
    expect(wep.metadata.namespace).toBe('openstack-region-europe');
    expect(wep.metadata.labels).toEqual(labels('openstack-region-europe'));
  });

  it('changes security group labels when the port changes groups (SG-1 in test_start_two_ports)', () => {
    const wep = portEndpoint({ ...port3, security_groups: ['SG-1'] }, ctx({ securityGroupNames: new Map([['SG-1', 'My first SG']]) }));
    expect(wep.metadata.labels).toMatchObject({ 'sg.projectcalico.org/openstack-SG-1': 'My_first_SG', 'sg-name.projectcalico.org/openstack-My_first_SG': 'SG-1' });
    expect(Object.keys(wep.metadata.labels ?? {}).filter((k) => k.includes('SGID-default'))).toEqual([]);
  });

  it('annotates the FQDN of the first DNS assignment', () => {
    const wep = portEndpoint({ ...port1, dns_assignment: [{ fqdn: 'vm1.example.org.', hostname: 'vm1', ip_address: '10.65.0.2' }] }, ctx());
    expect(wep.metadata.annotations).toEqual({ 'openstack.projectcalico.org/network-id': 'calico-network-id', 'openstack.projectcalico.org/fqdn': 'vm1.example.org.' });
  });

  it('without the extra lookups: no gateway, no project name, no network name; an unknown group gets an empty value', () => {
    const warnings: PortWarning[] = [];
    const wep = portEndpoint(port1, { namespace: 'openstack', securityGroupNames: new Map(), floatingIps: new Map(), qosPolicies: new Map(), qos: DEFAULT_QOS_SETTINGS }, undefined, warnings);
    expect(wep.metadata.labels).toEqual({
      'sg.projectcalico.org/openstack-SGID-default': '',
      'projectcalico.org/namespace': 'openstack',
      'projectcalico.org/orchestrator': 'openstack',
      'projectcalico.org/openstack-project-id': 'jane3',
    });
    expect(wep.spec?.ipv4Gateway).toBeUndefined();
    expect(wep.spec?.ipNATs).toBeUndefined();
    expect(warnings).toEqual([{ path: ['security_groups', 0], message: 'security group "SGID-default" is unknown: its label has an empty value and it has no policy' }]);
  });

  it('takes the gateway of the last fixed IP of each family that has one', () => {
    const subnets = new Map([
      ['a', { id: 'a', gateway_ip: '10.0.0.1' }],
      ['b', { id: 'b', gateway_ip: '10.0.1.1' }],
      ['c', { id: 'c', gateway_ip: null }],
    ]);
    const p = { ...port1, fixed_ips: [{ subnet_id: 'a', ip_address: '10.0.0.5' }, { subnet_id: 'b', ip_address: '10.0.1.5' }, { subnet_id: 'c', ip_address: '10.0.2.5' }] };
    expect(portEndpoint(p, ctx({ subnets })).spec?.ipv4Gateway).toBe('10.0.1.1');
  });
});

describe('which ports become endpoints', () => {
  it.each([
    ['compute:nova', 'tap', true],
    ['compute:az-2', 'ovs', true],
    ['kuryr:container', 'tap', true],
    ['network:dhcp', 'tap', false],
    ['network:router_interface', 'tap', false],
    ['', 'tap', false],
    ['compute:nova', 'unbound', false],
  ] as const)('device_owner %j, vif_type %j → %s', (owner, vif, want) => {
    const p = { ...port1, device_owner: owner, 'binding:vif_type': vif };
    expect(isEndpointPort(p) && isBound(p)).toBe(want);
  });
});

describe('names', () => {
  it('doubles dashes in each part of the endpoint name', () => {
    expect(escapeDashes('a-b--c')).toBe('a--b----c');
    expect(endpointName('felix-host-1', 'instance-1', 'DEADBEEF-1234-5678')).toBe('felix--host--1-openstack-instance--1-DEADBEEF--1234--5678');
  });

  it('names the tap interface after the first 11 characters of the port id', () => {
    expect(tapInterfaceName('1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b')).toBe('tap1f2e3d4c-5b');
    expect(tapInterfaceName('1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b')).toHaveLength(14);
  });

  it.each([
    ['My default SG', 63, 'My_default_SG'],
    ['pname+jane3', 63, 'pname_jane3'],
    ['--web servers!--', 63, 'web_servers'],
    ['___', 63, ''],
    ['', 63, ''],
    ['a'.repeat(70), 63, 'a'.repeat(63)],
    ['abcdefghijklmnopqrstuvwxyz-0123456789', SG_NAME_MAX_LENGTH, 'abcdefghijklmnopqrstuvwxyz'],
    ['Ünïcødé group', 63, 'n_c_d__group'],
  ])('sanitizes %j (max %d) to %j', (input, max, want) => {
    expect(sanitizeLabelNameValue(input, max)).toBe(want);
  });

  it('validates regions as the driver does', () => {
    expect(regionProblem('europe-1')).toBeUndefined();
    expect(regionProblem('Europe')).toMatch(/DNS label/);
    expect(regionProblem('x'.repeat(47))).toMatch(/46 characters or fewer/);
    expect(namespaceForRegion(undefined)).toBe('openstack');
  });
});

describe('QoS', () => {
  it('maps bandwidth and packet-rate rules and adds the configured bursts (networking-calico add_port_qos)', () => {
    const policy = {
      id: 'q',
      rules: [
        { type: 'bandwidth_limit', direction: 'ingress', max_kbps: 1, max_burst_kbps: 2 },
        { type: 'bandwidth_limit', direction: 'egress', max_kbps: 3, max_burst_kbps: 0 },
        { type: 'packet_rate_limit', direction: 'ingress', max_kpps: 5, max_burst_kpps: 9 },
        { type: 'packet_rate_limit', direction: 'egress', max_kpps: 6 },
        { type: 'dscp_marking', dscp_mark: 26 },
      ],
    };
    expect(qosControls(policy, { ...DEFAULT_QOS_SETTINGS, maxIngressConnectionsPerPort: 10, maxEgressConnectionsPerPort: 20, ingressMinburstBytes: 3000 })).toEqual({
      ingressBandwidth: 1000,
      ingressPeakrate: 2000,
      egressBandwidth: 3000,
      ingressPacketRate: 5000,
      egressPacketRate: 6000,
      ingressMaxConnections: 10,
      egressMaxConnections: 20,
      ingressBurst: 4294967296,
      ingressMinburst: 3000,
      egressBurst: 4294967296,
      ingressPacketBurst: 5,
      egressPacketBurst: 5,
    });
  });

  it('clamps to the WorkloadEndpoint API ranges and defaults the direction to egress', () => {
    expect(qosControls({ id: 'q', rules: [{ type: 'bandwidth_limit', max_kbps: 10 ** 13 }, { type: 'packet_rate_limit', max_kpps: 50 }] }, DEFAULT_QOS_SETTINGS)).toEqual({
      egressBandwidth: 10 ** 15,
      egressPacketRate: 10_000,
      egressBurst: 4294967296,
      egressPacketBurst: 5,
    });
    expect(qosControls(undefined, DEFAULT_QOS_SETTINGS)).toEqual({});
  });

  it('uses the network policy when the port has none', () => {
    const wep = portEndpoint({ ...port1, qos_network_policy_id: 'net-q' }, ctx({ qosPolicies: new Map([['net-q', { id: 'net-q', rules: [{ type: 'bandwidth_limit', max_kbps: 10_000, direction: 'egress' }] }]]) }));
    expect(wep.spec?.qosControls).toEqual({ egressBandwidth: 10_000_000, egressBurst: 4294967296 });
  });
});
