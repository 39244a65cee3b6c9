import { describe, expect, it } from 'vitest';
import { validateResource } from './validate-resource.js';

type Expected = readonly (readonly [path: string, message: string])[];

const anp = (spec: object, name = 'anp'): object => ({
  apiVersion: 'policy.networking.k8s.io/v1alpha1',
  kind: 'AdminNetworkPolicy',
  metadata: { name },
  spec: { priority: 10, subject: { namespaces: {} }, ...spec },
});
const banp = (spec: object, name = 'default'): object => ({
  apiVersion: 'policy.networking.k8s.io/v1alpha1',
  kind: 'BaselineAdminNetworkPolicy',
  metadata: { name },
  spec: { subject: { namespaces: {} }, ...spec },
});
const cnp = (spec: object): object => ({
  apiVersion: 'policy.networking.k8s.io/v1alpha2',
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'cnp' },
  spec: { tier: 'Admin', priority: 5, subject: { namespaces: {} }, ...spec },
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

const pods = { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } };

describe('AdminNetworkPolicy', () => {
  it.each<[string, object, Expected]>([
    [
      'a full policy',
      {
        ingress: [{ name: 'scrape', action: 'Allow', from: [{ namespaces: { matchLabels: { team: 'mon' } } }], ports: [{ portNumber: { protocol: 'TCP', port: 9090 } }, { portRange: { start: 1, end: 2 } }, { namedPort: 'web' }] }],
        egress: [{ action: 'Deny', to: [{ networks: ['0.0.0.0/0', '::/0'] }, { pods }] }],
      },
      [],
    ],
    ['priority 0..1000', { priority: 1001 }, [['spec.priority', 'priority must be between 0 and 1000']]],
    ['priority is required', { priority: undefined }, [['spec.priority', 'required field is missing']]],
    ['subject is exactly one of namespaces or pods', { subject: { namespaces: {}, pods } }, [['spec.subject', 'subject must set exactly one of namespaces, pods (namespaces and pods are set)']]],
    ['an empty subject selects nothing and is rejected', { subject: {} }, [['spec.subject', 'none is set']]],
    ['pods need both selectors', { subject: { pods: { podSelector: {} } } }, [['spec.subject.pods.namespaceSelector', 'required field is missing']]],
    ['actions are Allow, Deny or Pass', { ingress: [{ action: 'Accept', from: [{ namespaces: {} }] }] }, [['spec.ingress[0].action', 'must be one of Allow, Deny, Pass']]],
    ['at most 100 rules', { egress: Array(101).fill({ action: 'Deny', to: [{ namespaces: {} }] }) }, [['spec.egress', 'at most 100']]],
    ['rules need peers', { ingress: [{ action: 'Deny', from: [] }] }, [['spec.ingress[0].from', 'must have at least 1 item']]],
    ['a peer sets exactly one field', { egress: [{ action: 'Deny', to: [{ namespaces: {}, networks: ['10.0.0.0/8'] }] }] }, [['spec.egress[0].to[0]', 'a peer must set exactly one of namespaces, pods, nodes, networks, domainNames']]],
    ['ingress peers have no networks', { ingress: [{ action: 'Deny', from: [{ networks: ['10.0.0.0/8'] }] }] }, [['spec.ingress[0].from[0]', 'none is set']]],
    ['networks are CIDRs', { egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.1'] }] }] }, [['spec.egress[0].to[0].networks[0]', 'Invalid CIDR format provided']]],
    ['port ranges run upwards', { ingress: [{ action: 'Deny', from: [{ namespaces: {} }], ports: [{ portRange: { start: 90, end: 90 } }] }] }, [['spec.ingress[0].ports[0].portRange', 'Start port must be less than End port']]],
    ['a port sets exactly one field', { ingress: [{ action: 'Deny', from: [{ namespaces: {} }], ports: [{ namedPort: 'a', portNumber: { port: 1 } }] }] }, [['spec.ingress[0].ports[0]', 'a port must set exactly one of portNumber, namedPort, portRange']]],
    [
      'named ports do not go with network peers',
      { egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.0/8'] }], ports: [{ namedPort: 'web' }] }] },
      [['spec.egress[0]', 'networks/nodes/domainNames peer cannot be set with namedPorts']],
    ],
    ['domainNames only in Allow rules', { egress: [{ action: 'Deny', to: [{ domainNames: ['example.com'] }] }] }, [['spec.egress[0].to[0].domainNames', 'only supported in Allow rules']]],
  ])('%s', (_name, spec, expected) => expectErrors(anp(spec), expected));
});

describe('BaselineAdminNetworkPolicy', () => {
  it('is named default', () => {
    expectErrors(banp({}), []);
    expectErrors(banp({}, 'baseline'), [['metadata.name', 'named "default"']]);
  });

  it('allows or denies, never passes', () => {
    expectErrors(banp({ ingress: [{ action: 'Pass', from: [{ namespaces: {} }] }] }), [['spec.ingress[0].action', 'must be one of Allow, Deny']]);
  });

  it('has no priority', () => {
    expect(validateResource(banp({ priority: 3 }))).toMatchObject([{ severity: 'warning', code: 'unknown-field', path: 'spec.priority' }]);
  });
});

describe('ClusterNetworkPolicy', () => {
  it.each<[string, object, Expected]>([
    [
      'an admin policy with protocols',
      { ingress: [{ action: 'Accept', from: [{ pods }], protocols: [{ tcp: { destinationPort: { number: 80 } } }, { udp: { destinationPort: { range: { start: 1, end: 9 } } } }, { destinationNamedPort: 'dns' }] }] },
      [],
    ],
    ['tier is Admin or Baseline', { tier: 'admin' }, [['spec.tier', 'did you mean Admin?']]],
    ['tier is required', { tier: undefined }, [['spec.tier', 'required field is missing']]],
    ['actions are Accept, Deny or Pass', { ingress: [{ action: 'Allow', from: [{ namespaces: {} }] }] }, [['spec.ingress[0].action', 'must be one of Accept, Deny, Pass']]],
    ['Pass only in the Admin tier', { tier: 'Baseline', egress: [{ action: 'Pass', to: [{ namespaces: {} }] }] }, [['spec.egress[0].action', 'Pass is only valid in the Admin tier']]],
    ['at most 25 rules', { ingress: Array(26).fill({ action: 'Deny', from: [{ namespaces: {} }] }) }, [['spec.ingress', 'at most 25']]],
    ['a protocol sets one field', { egress: [{ action: 'Deny', to: [{ namespaces: {} }], protocols: [{ tcp: {}, udp: {} }] }] }, [['spec.egress[0].protocols[0]', 'a protocol must set exactly one of tcp, udp, sctp, destinationNamedPort']]],
    ['port ranges run upwards', { egress: [{ action: 'Deny', to: [{ namespaces: {} }], protocols: [{ sctp: { destinationPort: { range: { start: 5, end: 1 } } } }] }] }, [['spec.egress[0].protocols[0].sctp.destinationPort.range', 'Start port must be less than End port']]],
    [
      'named ports do not go with nodes peers',
      { egress: [{ action: 'Deny', to: [{ nodes: {} }], protocols: [{ destinationNamedPort: 'x' }] }] },
      [['spec.egress[0]', 'networks/nodes/domainNames peer cannot be set with namedPorts']],
    ],
  ])('%s', (_name, spec, expected) => expectErrors(cnp(spec), expected));
});
