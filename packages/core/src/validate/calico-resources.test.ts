import { describe, expect, it } from 'vitest';
import { validateResource } from './validate-resource.js';

type Expected = readonly (readonly [path: string, message: string])[];

const v3 = (kind: string, name: string, spec: object | undefined, extra: object = {}): object => ({
  apiVersion: 'projectcalico.org/v3',
  kind,
  metadata: { name, ...extra },
  ...(spec ? { spec } : {}),
});

function expectErrors(resource: object, expected: Expected): void {
  const got = validateResource(resource)
    .filter((i) => i.severity === 'error')
    .map((i) => [i.path, i.message] as const);
  expect(got.length, JSON.stringify(got, null, 1)).toBe(expected.length);
  expected.forEach(([path, message], i) => {
    expect(got[i]?.[0]).toBe(path);
    expect(got[i]?.[1]).toContain(message);
  });
}

describe('policy names and types', () => {
  it.each<[string, object, Expected]>([
    ['a tiered NetworkPolicy name', v3('NetworkPolicy', 'security.allow-dns', {}, { namespace: 'x' }), []],
    ['three labels are too many for a NetworkPolicy', v3('NetworkPolicy', 't.h.i.ng', {}, { namespace: 'x' }), [['metadata.name', "with at most one '.'"]]],
    ['knp.default. names are NetworkPolicy-only', v3('GlobalNetworkPolicy', 'knp.default.thing', {}), [['metadata.name', "with at most one '.'"]]],
    ['upper case is rejected', v3('GlobalNetworkPolicy', 'tHiNg', {}), [['metadata.name', 'lower case']]],
    ['too long', v3('GlobalNetworkPolicy', 'a'.repeat(254), {}), [['metadata.name', 'name is too long by 1 bytes']]],
    ['duplicate types', v3('GlobalNetworkPolicy', 'p', { types: ['Ingress', 'Egress', 'Ingress'] }), [['spec.types[2]', "'Ingress' type specified more than once"]]],
    ['unknown type', v3('GlobalNetworkPolicy', 'p', { types: ['ingress'] }), [['spec.types[0]', 'did you mean Ingress?']]],
    ['the tier must be a tier name', v3('GlobalNetworkPolicy', 'p', { tier: 'Sec.urity' }), [['spec.tier', 'invalid tier "Sec.urity"']]],
    ['order is a number', v3('GlobalNetworkPolicy', 'p', { order: '100' }), [['spec.order', 'must be a number, not the string "100"']]],
    ['at most 1024 rules per direction', v3('GlobalNetworkPolicy', 'p', { ingress: Array(1025).fill({ action: 'Allow' }) }), [['spec.ingress', 'at most 1024']]],
  ])('%s', (_name, resource, expected) => expectErrors(resource, expected));
});

describe('GlobalNetworkPolicy host-policy flags', () => {
  it.each<[string, object, Expected]>([
    ['preDNAT with applyOnForward', { preDNAT: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }, []],
    ['doNotTrack with applyOnForward', { doNotTrack: true, applyOnForward: true, egress: [{ action: 'Allow' }] }, []],
    [
      'preDNAT and doNotTrack exclude each other',
      { preDNAT: true, doNotTrack: true, applyOnForward: true },
      [['spec.preDNAT', 'preDNAT and doNotTrack cannot both be true']],
    ],
    ['preDNAT has no egress rules', { preDNAT: true, applyOnForward: true, egress: [{ action: 'Allow' }] }, [['spec.egress', 'preDNAT policy cannot have any egress rules']]],
    ['preDNAT has no Egress type', { preDNAT: true, applyOnForward: true, types: ['Egress'] }, [['spec.types', "preDNAT policy cannot have 'Egress' type"]]],
    ['preDNAT needs applyOnForward', { preDNAT: true }, [['spec.applyOnForward', 'applyOnForward must be true if either preDNAT or doNotTrack is true']]],
    ['doNotTrack needs applyOnForward', { doNotTrack: true, applyOnForward: false }, [['spec.applyOnForward', 'applyOnForward must be true']]],
  ])('%s', (_name, spec, expected) => expectErrors(v3('GlobalNetworkPolicy', 'host', spec), expected));

  it('a namespaced NetworkPolicy has no such fields (warned as unknown)', () => {
    const issues = validateResource(v3('NetworkPolicy', 'p', { doNotTrack: true }, { namespace: 'x' }));
    expect(issues).toMatchObject([{ severity: 'warning', code: 'unknown-field', path: 'spec.doNotTrack' }]);
  });
});

describe('staged policies', () => {
  it('a staged Delete carries nothing but the tier', () => {
    expectErrors(v3('StagedGlobalNetworkPolicy', 'p', { stagedAction: 'Delete', tier: 'security' }), []);
    expectErrors(v3('StagedNetworkPolicy', 'p', { stagedAction: 'Delete', selector: 'all()' }, { namespace: 'x' }), [
      ['spec.selector', 'Spec fields, except Tier, should all be zero-value if stagedAction is Delete'],
    ]);
  });

  it('a staged Kubernetes Delete carries nothing at all', () => {
    expectErrors(v3('StagedKubernetesNetworkPolicy', 'p', { stagedAction: 'Delete', podSelector: {} }, { namespace: 'x' }), []);
    expectErrors(v3('StagedKubernetesNetworkPolicy', 'p', { stagedAction: 'Delete', policyTypes: ['Ingress'] }, { namespace: 'x' }), [
      ['spec.policyTypes', 'Spec fields should all be zero-value if stagedAction is Delete'],
    ]);
  });

  it('other staged actions are validated like the enforced kind', () => {
    expectErrors(v3('StagedNetworkPolicy', 'p', { stagedAction: 'Set', ingress: [{ action: 'Allow', protocol: 'tcp' }] }, { namespace: 'x' }), [
      ['spec.ingress[0].protocol', 'did you mean TCP?'],
    ]);
    expectErrors(v3('StagedNetworkPolicy', 'p', { stagedAction: 'Remove' }, { namespace: 'x' }), [['spec.stagedAction', 'must be one of Set, Delete, Learn, Ignore']]);
  });
});

describe('tiers', () => {
  it.each<[string, object, Expected]>([
    ['a custom tier', v3('Tier', 'security', { order: 100, defaultAction: 'Pass' }), []],
    ['tier names are single labels', v3('Tier', 'sec.urity', { order: 1 }), [['metadata.name', "lower case alphanumeric characters or '-'"]]],
    ['tier names are at most 63 characters', v3('Tier', 'a'.repeat(64), {}), [['metadata.name', 'too long by 1 bytes']]],
    ['default tier', v3('Tier', 'default', { order: 1_000_000 }), []],
    ['default tier order is fixed', v3('Tier', 'default', { order: 100 }), [['spec.order', 'default tier order must be 1000000']]],
    ['default tier order is required', v3('Tier', 'default', undefined), [['spec.order', 'default tier order must be 1000000']]],
    ['default tier denies', v3('Tier', 'default', { order: 1_000_000, defaultAction: 'Pass' }), [['spec.defaultAction', "The 'default' tier must have default action 'Deny'"]]],
    ['kube-admin tier', v3('Tier', 'kube-admin', { order: 1000, defaultAction: 'Pass' }), []],
    ['kube-admin passes', v3('Tier', 'kube-admin', { order: 1000 }), [['spec.defaultAction', "The 'kube-admin' tier must have default action 'Pass'"]]],
    ['kube-baseline order', v3('Tier', 'kube-baseline', { order: 1000, defaultAction: 'Pass' }), [['spec.order', 'kube-baseline tier order must be 10000000']]],
    ['default actions are Deny or Pass', v3('Tier', 't', { defaultAction: 'Allow' }), [['spec.defaultAction', 'must be one of Deny, Pass']]],
  ])('%s', (_name, resource, expected) => expectErrors(resource, expected));
});

describe('host endpoints', () => {
  it.each<[string, object, Expected]>([
    ['an interface', { node: 'n1', interfaceName: 'eth0' }, []],
    ['all interfaces', { node: 'n1', interfaceName: '*', profiles: ['projectcalico-default-allow'] }, []],
    ['expected IPs only', { node: 'n1', expectedIPs: ['10.0.0.1', 'fd00::1'] }, []],
    ['a node is required', { interfaceName: 'eth0' }, [['spec.node', 'no node has been specified']]],
    ['an interface or IPs are required', { node: 'n1' }, [['spec.interfaceName', 'no interface or expected IPs have been specified']]],
    ['interface names are at most 15 characters', { node: 'n1', interfaceName: 'a-very-long-iface0' }, [['spec.interfaceName', 'invalid interface name']]],
    ['expected IPs are addresses', { node: 'n1', expectedIPs: ['10.0.0.0/24'] }, [['spec.expectedIPs[0]', 'invalid IP address "10.0.0.0/24"']]],
    ['profiles are names', { node: 'n1', interfaceName: 'eth0', profiles: ['Bad_Name'] }, [['spec.profiles[0]', 'invalid profile name']]],
    ['port names are IANA names', { node: 'n1', interfaceName: 'eth0', ports: [{ name: 'Web', protocol: 'TCP', port: 80 }] }, [['spec.ports[0].name', 'invalid port name "Web"']]],
    ['port protocols carry ports', { node: 'n1', interfaceName: 'eth0', ports: [{ name: 'ping', protocol: 'ICMP', port: 1 }] }, [['spec.ports[0].protocol', 'must be TCP, UDP or SCTP']]],
    ['ports are above zero', { node: 'n1', interfaceName: 'eth0', ports: [{ name: 'web', protocol: 'UDP', port: 0 }] }, [['spec.ports[0].port', 'port must be between 1 and 65535']]],
  ])('%s', (_name, spec, expected) => expectErrors(v3('HostEndpoint', 'hep', spec), expected));
});

describe('network sets', () => {
  it('take CIDRs, bare IPs and even loosely masked CIDRs', () => {
    expectErrors(v3('GlobalNetworkSet', 'ns', { nets: ['10.0.0.0/8', '10.1.2.3', '10.0.0.1/24', 'fd00::/64'] }), []);
  });

  it('reject garbage', () => {
    expectErrors(v3('NetworkSet', 'ns', { nets: ['10.0.0.256/24'] }, { namespace: 'x' }), [['spec.nets[0]', 'invalid CIDR "10.0.0.256/24"']]);
  });

  it('may not set projectcalico.org/namespace', () => {
    expectErrors(v3('NetworkSet', 'ns', {}, { namespace: 'x', labels: { 'projectcalico.org/namespace': 'y' } }), [
      ['metadata.labels["projectcalico.org/namespace"]', 'projectcalico.org/namespace is not a valid label name'],
    ]);
  });
});

describe('workload endpoints, profiles and nodes', () => {
  it('workload networks are single addresses', () => {
    expectErrors(v3('WorkloadEndpoint', 'wep', { ipNetworks: ['10.0.0.1/32', '10.0.0.0/24'], interfaceName: 'cali0123456789a' }, { namespace: 'x' }), [
      ['spec.ipNetworks[1]', 'IP network contains multiple addresses'],
    ]);
  });

  it('workload ports need a name unless they have a hostPort', () => {
    expectErrors(v3('WorkloadEndpoint', 'wep', { ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 81, hostPort: 8081 }] }, { namespace: 'x' }), [
      ['spec.ports[0].name', 'port name must not be empty if no hostPort is specified'],
    ]);
  });

  it('profile rules are validated, and labelsToApply are labels', () => {
    expectErrors(v3('Profile', 'kns.x', { ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['1:0'] } }], labelsToApply: { 'a/b/c': 'x' } }), [
      ['spec.ingress[0].destination.ports[0]', 'minimum port number (1) is greater than maximum port number (0)'],
      ['spec.labelsToApply["a/b/c"]', 'invalid label key'],
    ]);
  });

  it('Calico nodes have valid addresses', () => {
    expectErrors(v3('Node', 'n1', { bgp: { ipv4Address: '10.0.0.1/24' }, wireguard: { interfaceIPv4Address: 'nope' } }), [
      ['spec.wireguard.interfaceIPv4Address', 'invalid IP address "nope"'],
    ]);
  });
});
