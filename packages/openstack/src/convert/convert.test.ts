// The whole conversion on realistic Neutron objects (lowercase UUIDs, as Neutron makes them):
// every resource validates and loads, the verdicts are what the security groups say, and every
// object that cannot be converted is named with the field at fault.
import { buildSnapshot, evaluate, validateResource } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { securityGroup, syntheticCloud, testUuid, vmPort } from '../testing/fixtures.js';
import type { NeutronPort } from '../neutron-types.js';
import { convertNeutron } from './convert.js';

const SSH = testUuid('sg:ssh');
const WEB = testUuid('sg:web');
const sshGroup = securityGroup(SSH, 'ssh from own group', [
  { direction: 'egress', ethertype: 'IPv4' },
  { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SSH },
]);
const webGroup = securityGroup(WEB, 'web', [
  { direction: 'egress', ethertype: 'IPv4' },
  { protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '0.0.0.0/0' },
]);
const a = vmPort({ id: testUuid('port:a'), host: 'compute-1', ip: '10.0.0.11', securityGroups: [SSH] });
const b = vmPort({ id: testUuid('port:b'), host: 'compute-1', ip: '10.0.0.12', securityGroups: [SSH, WEB] });
const c = vmPort({ id: testUuid('port:c'), host: 'compute-2', ip: '10.0.0.13', securityGroups: [WEB] });

const wepName = (p: NeutronPort): string => `openstack/${p['binding:host_id']!.replaceAll('-', '--')}-openstack-${p.device_id!.replaceAll('-', '--')}-${p.id.replaceAll('-', '--')}`;

describe('convertNeutron', () => {
  it('writes one policy per group and one endpoint per VM port, all valid, and they load', () => {
    const { resources, problems, namespace } = convertNeutron({ ports: [a, b, c], securityGroups: [sshGroup, webGroup] });
    expect(problems).toEqual([]);
    expect(namespace).toBe('openstack');
    expect(resources.map((r) => `${r.resource.kind} ${r.resource.metadata.name}`)).toEqual([
      `NetworkPolicy ossg.default.${SSH}`,
      `NetworkPolicy ossg.default.${WEB}`,
      `WorkloadEndpoint ${wepName(a).slice('openstack/'.length)}`,
      `WorkloadEndpoint ${wepName(b).slice('openstack/'.length)}`,
      `WorkloadEndpoint ${wepName(c).slice('openstack/'.length)}`,
    ]);
    for (const r of resources) expect(validateResource(r.resource).filter((i) => i.severity === 'error')).toEqual([]);
    const built = buildSnapshot(resources.map((r) => r.resource));
    expect(built.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(built.snapshot.workloadEndpoints).toHaveLength(3);
  });

  it('lets exactly the traffic the groups allow through, by evaluate()', () => {
    const { snapshot } = buildSnapshot(convertNeutron({ ports: [a, b, c], securityGroups: [sshGroup, webGroup] }).resources.map((r) => r.resource));
    const allowed = (from: NeutronPort, to: NeutronPort, port: number): boolean => evaluate(snapshot, { src: wepName(from), dst: wepName(to), protocol: 'TCP', dstPort: port }).allowed;
    expect(allowed(a, b, 22)).toBe(true); // same group, ssh from own group
    expect(allowed(b, a, 22)).toBe(true);
    expect(allowed(c, a, 22)).toBe(false); // c is not in the ssh group
    expect(allowed(c, b, 80)).toBe(true); // web from anywhere
    expect(allowed(a, c, 80)).toBe(true);
    expect(allowed(b, c, 22)).toBe(false); // c has no ssh rule
    expect(allowed(a, b, 8080)).toBe(false);
    // As in Neutron, a port whose groups have no egress rule sends nothing.
    const mute = securityGroup(testUuid('sg:mute'), 'no egress', [{ protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '0.0.0.0/0' }]);
    const m = vmPort({ id: testUuid('port:m'), host: 'compute-1', ip: '10.0.0.14', securityGroups: [mute.id] });
    const s2 = buildSnapshot(convertNeutron({ ports: [a, m], securityGroups: [sshGroup, mute] }).resources.map((r) => r.resource)).snapshot;
    expect(evaluate(s2, { src: wepName(a), dst: wepName(m), protocol: 'TCP', dstPort: 22 }).allowed).toBe(true);
    expect(evaluate(s2, { src: wepName(m), dst: wepName(a), protocol: 'TCP', dstPort: 22 }).allowed).toBe(false);
  });

  it('skips ports that are not bound VM ports, silently', () => {
    const dhcp = { ...vmPort({ id: testUuid('port:dhcp'), host: 'net-1', ip: '10.0.0.2', securityGroups: [] }), device_owner: 'network:dhcp' };
    const unbound = { ...vmPort({ id: testUuid('port:new'), host: '', ip: '10.0.0.3', securityGroups: [SSH] }), 'binding:vif_type': 'unbound' };
    const { resources, problems } = convertNeutron({ ports: [dhcp, unbound, a], securityGroups: [sshGroup] });
    expect(problems).toEqual([]);
    expect(resources.filter((r) => r.resource.kind === 'WorkloadEndpoint').map((r) => r.id)).toEqual([a.id]);
  });

  it('writes a second endpoint on the target host during a live migration', () => {
    const moving = { ...a, 'binding:profile': { migrating_to: 'compute-9' } };
    const weps = convertNeutron({ ports: [moving], securityGroups: [sshGroup] }).resources.filter((r) => r.resource.kind === 'WorkloadEndpoint');
    expect(weps.map((w) => (w.resource.spec as { node: string }).node)).toEqual(['compute-1', 'compute-9']);
  });

  it('derives gateways, network and project labels, NAT, QoS and the FQDN from the other collections', () => {
    const p = vmPort({ id: testUuid('port:full'), host: 'compute-1', ip: '10.0.0.20', securityGroups: [SSH], networkId: 'n1', subnetId: 's1', projectId: 'p1', fqdn: 'db-0.example.org.', qosPolicyId: 'q1' });
    const { resources, problems } = convertNeutron(
      {
        ports: [p],
        securityGroups: [sshGroup],
        networks: [{ id: 'n1', name: 'tenant net' }],
        subnets: [{ id: 's1', network_id: 'n1', cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1' }],
        floatingIps: [
          { id: 'f1', port_id: p.id, fixed_ip_address: '10.0.0.20', floating_ip_address: '203.0.113.20' },
          { id: 'f2', port_id: null, floating_ip_address: '203.0.113.21' },
        ],
        qosPolicies: [{ id: 'q1', rules: [{ type: 'bandwidth_limit', direction: 'egress', max_kbps: 5000, max_burst_kbps: 0 }] }],
        projects: [{ id: 'p1', name: 'Team A', parent_id: 'default' }],
      },
      { qos: { maxIngressConnectionsPerPort: 100 } },
    );
    expect(problems).toEqual([]);
    const wep = resources.find((r) => r.resource.kind === 'WorkloadEndpoint')!.resource;
    expect(wep.metadata.labels).toMatchObject({
      'projectcalico.org/openstack-project-id': 'p1',
      'projectcalico.org/openstack-project-name': 'Team_A',
      'projectcalico.org/openstack-project-parent-id': 'default',
      'projectcalico.org/openstack-network-name': 'tenant_net',
    });
    expect(wep.metadata.annotations).toEqual({ 'openstack.projectcalico.org/network-id': 'n1', 'openstack.projectcalico.org/fqdn': 'db-0.example.org.' });
    expect(wep.spec).toMatchObject({
      ipv4Gateway: '10.0.0.1',
      ipNATs: [{ internalIP: '10.0.0.20', externalIP: '203.0.113.20' }],
      qosControls: { egressBandwidth: 5_000_000, ingressMaxConnections: 100, egressBurst: 4294967296 },
    });
  });

  it('names the field at fault and leaves out only that object', () => {
    const broken = { ...b, fixed_ips: [{ subnet_id: 's', ip_address: 7 }], 'binding:host_id': '' } as unknown as NeutronPort;
    const { resources, problems } = convertNeutron({ ports: [a, broken], securityGroups: [sshGroup, { id: WEB, name: 'web', security_group_rules: [{ direction: 'ingress', ethertype: 'IPX' }] }] });
    expect(problems.map((p) => ({ path: p.path, object: p.object, message: p.message }))).toEqual([
      { path: ['security_groups', 1, 'security_group_rules', 0], object: `security group ${WEB}`, message: 'ethertype "IPX" is neither IPv4 nor IPv6' },
      { path: ['ports', 1, 'binding:host_id'], object: `port ${b.id}`, message: 'binding:host_id must not be empty' },
      { path: ['ports', 1, 'fixed_ips', 0, 'ip_address'], object: `port ${b.id}`, message: 'ip_address must be a string, not a number' },
    ]);
    expect(resources.map((r) => r.id)).toEqual([SSH, a.id]);
  });

  it('leaves out a resource that core rejects and says why (a host name Calico cannot use)', () => {
    const upper = vmPort({ id: testUuid('port:upper'), host: 'Compute_1', ip: '10.0.0.30', securityGroups: [SSH] });
    const { resources, problems } = convertNeutron({ ports: [upper], securityGroups: [sshGroup] });
    expect(resources.map((r) => r.resource.kind)).toEqual(['NetworkPolicy']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ severity: 'error', path: ['ports', 0], object: `port ${upper.id}` });
    expect(problems[0]!.message).toMatch(/WorkloadEndpoint openstack\/Compute_1-openstack-.* is invalid and was left out: metadata\.name: /);
  });

  it('warns about references it cannot resolve, and converts anyway', () => {
    const p = vmPort({ id: testUuid('port:lost'), host: 'compute-1', ip: '10.0.0.40', securityGroups: [testUuid('sg:missing')], subnetId: 'gone' });
    const { resources, problems } = convertNeutron({ ports: [p], securityGroups: [], subnets: [], projects: [] });
    expect(resources).toHaveLength(1);
    expect(problems.map((x) => [x.severity, x.path.join('.'), x.message.split(':')[0]])).toEqual([
      ['warning', 'ports.0.fixed_ips.0.subnet_id', 'subnet "gone" is unknown'],
      ['warning', 'ports.0.security_groups.0', `security group "${testUuid('sg:missing')}" is unknown`],
      ['warning', 'ports.0.project_id', `project "${p.project_id}" is unknown to Keystone`],
    ]);
  });

  it('puts everything in the region namespace, and refuses a region that is not a DNS label', () => {
    const r = convertNeutron({ ports: [a], securityGroups: [sshGroup] }, { region: 'eu-west' });
    expect(r.namespace).toBe('openstack-region-eu-west');
    expect(r.resources.every((x) => x.resource.metadata.namespace === 'openstack-region-eu-west')).toBe(true);
    const bad = convertNeutron({ ports: [a], securityGroups: [sshGroup] }, { region: 'EU_West' });
    expect(bad.resources).toEqual([]);
    expect(bad.problems[0]).toMatchObject({ collection: 'options', path: ['region'] });
  });

  it('merges rules listed separately into their group', () => {
    const bare = { id: SSH, name: 'ssh', security_group_rules: [] };
    const { resources } = convertNeutron({
      ports: [],
      securityGroups: [bare],
      securityGroupRules: [{ id: 'r1', security_group_id: SSH, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SSH }],
    });
    expect((resources[0]!.resource.spec as { ingress: unknown[] }).ingress).toEqual([{ action: 'Allow', ipVersion: 4, protocol: 6, destination: { ports: [22] }, source: { selector: `has(sg.projectcalico.org/openstack-${SSH})` } }]);
    const bad = convertNeutron({ ports: [], securityGroups: [bare], securityGroupRules: [{ id: 'r2', security_group_id: SSH, direction: 'ingress', ethertype: 'IPv5' }] });
    expect(bad.problems.map((p) => [p.path, p.message])).toEqual([[['security_group_rules', 0], 'ethertype "IPv5" is neither IPv4 nor IPv6']]);
  });

  it('converts a synthetic cloud of every rule shape without a problem', () => {
    const cloud = syntheticCloud({ ports: 400, securityGroups: 40 });
    const { resources, problems } = convertNeutron(cloud);
    expect(problems).toEqual([]);
    expect(resources).toHaveLength(440);
    expect(buildSnapshot(resources.map((r) => r.resource)).issues.filter((i) => i.severity === 'error')).toEqual([]);
  });
});
