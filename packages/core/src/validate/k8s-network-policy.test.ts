import { describe, expect, it } from 'vitest';
import { validateResource } from './validate-resource.js';

type Expected = readonly (readonly [path: string, message: string])[];

const np = (spec: object): object => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'np', namespace: 'shop' },
  spec: { podSelector: {}, ...spec },
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

const I = 'spec.ingress[0]';

describe('Kubernetes NetworkPolicy', () => {
  it.each<[string, object, Expected]>([
    ['default deny', { policyTypes: ['Ingress', 'Egress'] }, []],
    ['a full rule', { ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'a' } }, podSelector: {} }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 80 }, { protocol: 'UDP', port: 'dns' }, { port: 8000, endPort: 9000 }] }] }, []],
    ['ipBlock alone', { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.1/8' } }] }] }, []],
    ['policyTypes are Ingress or Egress', { policyTypes: ['Both'] }, [['spec.policyTypes[0]', 'must be one of Ingress, Egress']]],
    ['at most two policyTypes', { policyTypes: ['Ingress', 'Egress', 'Ingress'] }, [['spec.policyTypes', 'may not specify more than two policyTypes']]],
    ['protocols are TCP, UDP or SCTP', { ingress: [{ ports: [{ protocol: 'ICMP' }] }] }, [[`${I}.ports[0].protocol`, 'must be one of TCP, UDP, SCTP']]],
    ['ports are 1-65535', { ingress: [{ ports: [{ port: 70000 }] }] }, [[`${I}.ports[0].port`, 'between 1 and 65535']]],
    ['named ports are IANA names', { ingress: [{ ports: [{ port: 'HTTP' }] }] }, [[`${I}.ports[0].port`, 'invalid named port "HTTP"']]],
    ['endPort needs a port', { ingress: [{ ports: [{ endPort: 90 }] }] }, [[`${I}.ports[0].endPort`, 'endPort may not be specified when port is not specified']]],
    ['endPort needs a numeric port', { ingress: [{ ports: [{ port: 'web', endPort: 90 }] }] }, [[`${I}.ports[0].endPort`, 'when port is a named port']]],
    ['endPort >= port', { ingress: [{ ports: [{ port: 100, endPort: 99 }] }] }, [[`${I}.ports[0].endPort`, 'endPort must be greater than or equal to port']]],
    ['a peer needs a field', { ingress: [{ from: [{}] }] }, [[`${I}.from[0]`, 'must specify a peer']]],
    ['ipBlock stands alone', { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }, [[`${I}.from[0].ipBlock`, 'may not specify both ipBlock and another peer']]],
    ['ipBlock cidr is a CIDR', { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.1' } }] }] }, [[`${I}.from[0].ipBlock.cidr`, 'must be a valid CIDR value']]],
    ['ipBlock needs a cidr', { ingress: [{ from: [{ ipBlock: { except: [] } }] }] }, [[`${I}.from[0].ipBlock.cidr`, 'required field is missing']]],
    ['except lies inside cidr', { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }] }, [[`${I}.from[0].ipBlock.except[0]`, 'must be a strict subset of cidr']]],
    ['except is strictly smaller', { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.0/16'] } }] }] }, [[`${I}.from[0].ipBlock.except[0]`, 'strict subset']]],
    ['In needs values', { podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } }, [['spec.podSelector.matchExpressions[0].values', 'values must be non-empty when operator is In']]],
    ['Exists takes no values', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } }, [['spec.podSelector.matchExpressions[0].values', 'values must be empty when operator is Exists']]],
    ['operators are an enum', { podSelector: { matchExpressions: [{ key: 'a', operator: 'in', values: ['x'] }] } }, [['spec.podSelector.matchExpressions[0].operator', 'did you mean In?']]],
    ['label keys and values are checked', { podSelector: { matchLabels: { 'a b': 'ok', c: 'not ok' } } }, [['spec.podSelector.matchLabels["a b"]', 'invalid label key'], ['spec.podSelector.matchLabels.c', 'invalid label value']]],
  ])('%s', (_name, spec, expected) => expectErrors(np(spec), expected));

  it('podSelector is required, but an empty value selects all pods', () => {
    expectErrors({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np' }, spec: { policyTypes: ['Ingress'] } }, [
      ['spec.podSelector', 'required field is missing'],
    ]);
    expectErrors({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np' }, spec: { podSelector: null } }, []);
  });
});
