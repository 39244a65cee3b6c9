import { describe, expect, it } from 'vitest';
import { validateResource } from './validate-resource.js';

type Expected = readonly (readonly [path: string, message: string])[];

function policy(kind: 'NetworkPolicy' | 'GlobalNetworkPolicy', spec: object): object {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind,
    metadata: kind === 'NetworkPolicy' ? { name: 'p', namespace: 'ns' } : { name: 'p' },
    spec,
  };
}

function errorsOf(resource: object): [string, string][] {
  return validateResource(resource)
    .filter((i) => i.severity === 'error')
    .map((i) => [i.path, i.message]);
}

function expectErrors(resource: object, expected: Expected): void {
  const got = errorsOf(resource);
  expect(got.length, JSON.stringify(got, null, 1)).toBe(expected.length);
  expected.forEach(([path, message], i) => {
    expect(got[i]?.[0]).toBe(path);
    expect(got[i]?.[1]).toContain(message);
  });
}

const ingress = (rule: object): object => policy('NetworkPolicy', { ingress: [rule] });
const egress = (rule: object): object => policy('NetworkPolicy', { egress: [rule] });
const R = 'spec.ingress[0]';
const E = 'spec.egress[0]';

describe('rule action and ipVersion', () => {
  it.each<[string, object, Expected]>([
    ['Allow, Deny, Log and Pass are the actions', { action: 'Pass' }, []],
    ['actions are case-sensitive', { action: 'allow' }, [[`${R}.action`, 'did you mean Allow?']]],
    ['a rule needs an action', { protocol: 'TCP' }, [[`${R}.action`, 'required field is missing']]],
    ['ipVersion is 4 or 6', { action: 'Allow', ipVersion: 5 }, [[`${R}.ipVersion`, 'ipVersion must be 4 or 6']]],
  ])('%s', (_name, rule, expected) => expectErrors(ingress(rule), expected));
});

describe('protocol and notProtocol', () => {
  it.each<[string, object, Expected]>([
    ['names are accepted', { action: 'Allow', protocol: 'UDPLite', notProtocol: 'ICMPv6' }, []],
    ['numbers 1-255 are accepted', { action: 'Allow', protocol: 255, notProtocol: 1 }, []],
    ['protocol 0 is rejected', { action: 'Allow', protocol: 0 }, [[`${R}.protocol`, 'protocol number invalid']]],
    ['names are case-sensitive in v3 rules', { action: 'Allow', notProtocol: 'udp' }, [[`${R}.notProtocol`, 'did you mean UDP?']]],
    ['unknown names are rejected', { action: 'Allow', protocol: 'GRE' }, [[`${R}.protocol`, 'protocol name invalid']]],
  ])('%s', (_name, rule, expected) => expectErrors(ingress(rule), expected));
});

describe('ports', () => {
  it.each<[string, object, Expected]>([
    ['numbers, ranges and names with TCP', { action: 'Allow', protocol: 'TCP', destination: { ports: [80, '8000:9000', 'http'] } }, []],
    ['named ports need no protocol', { action: 'Allow', destination: { ports: ['http'], notPorts: ['metrics'] } }, []],
    [
      'numeric ports need a protocol',
      { action: 'Allow', source: { ports: ['http', 53] } },
      [[`${R}.source.ports[1]`, 'rules with numeric port or port range must set protocol to TCP or UDP or SCTP']],
    ],
    [
      'ports need a port protocol',
      { action: 'Allow', protocol: 'ICMP', destination: { notPorts: ['http'] } },
      [[`${R}.destination.notPorts`, 'rules that specify ports must set protocol to TCP or UDP or SCTP']],
    ],
    ['notProtocol does not count', { action: 'Allow', notProtocol: 'TCP', destination: { ports: [80] } }, [[`${R}.destination.ports[0]`, 'must set protocol']]],
    ['port 0 is out of range', { action: 'Allow', protocol: 'UDP', destination: { ports: [0] } }, [[`${R}.destination.ports[0]`, 'between 1 and 65535']]],
    ['port 65536 is out of range', { action: 'Allow', protocol: 'UDP', destination: { ports: ['65536'] } }, [[`${R}.destination.ports[0]`, 'invalid port format (65536)']]],
    [
      'ranges need min <= max',
      { action: 'Allow', protocol: 'SCTP', destination: { ports: ['9000:8000'] } },
      [[`${R}.destination.ports[0]`, 'minimum port number (9000) is greater than maximum port number (8000) in port range']],
    ],
    ['named ports follow the regex', { action: 'Allow', protocol: 'TCP', destination: { ports: ['no/slash'] } }, [[`${R}.destination.ports[0]`, 'invalid name for named port (no/slash)']]],
    [
      'at most 50 ports',
      { action: 'Allow', protocol: 'TCP', destination: { ports: Array.from({ length: 51 }, (_, i) => i + 1) } },
      [[`${R}.destination.ports`, 'too many ports (51); at most 50']],
    ],
  ])('%s', (_name, rule, expected) => expectErrors(ingress(rule), expected));
});

describe('ICMP matches', () => {
  it.each<[string, object, Expected]>([
    ['type and code with ICMP', { action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 } }, []],
    ['notICMP with ICMPv6', { action: 'Allow', protocol: 'ICMPv6', notICMP: { type: 128 } }, []],
    ['type 254 is the maximum', { action: 'Allow', protocol: 1, icmp: { type: 255 } }, [[`${R}.icmp.type`, 'ICMP type must be between 0 and 254']]],
    ['code 255 is the maximum', { action: 'Allow', protocol: 1, icmp: { type: 3, code: 256 } }, [[`${R}.icmp.code`, 'ICMP code must be between 0 and 255']]],
    ['code needs a type', { action: 'Allow', protocol: 'ICMP', icmp: { code: 1 } }, [[`${R}.icmp.code`, 'ICMP code specified without an ICMP type']]],
    ['ICMP fields need an ICMP protocol', { action: 'Allow', protocol: 'TCP', icmp: { type: 8 } }, [[`${R}.icmp`, 'ICMP fields require protocol to be ICMP or ICMPv6']]],
    ['ICMP fields need a protocol at all', { action: 'Allow', notICMP: { type: 8 } }, [[`${R}.notICMP`, 'ICMP fields require protocol to be ICMP or ICMPv6']]],
    ['ICMP means IPv4', { action: 'Allow', protocol: 'ICMP', ipVersion: 6 }, [[`${R}.ipVersion`, 'protocol ICMP requires ipVersion 4']]],
    ['ICMPv6 means IPv6', { action: 'Allow', notProtocol: 'ICMPv6', ipVersion: 4 }, [[`${R}.ipVersion`, 'protocol ICMPv6 requires ipVersion 6']]],
  ])('%s', (_name, rule, expected) => expectErrors(ingress(rule), expected));
});

describe('nets and notNets', () => {
  it.each<[string, object, Expected]>([
    ['strictly masked CIDRs and bare IPs', { action: 'Allow', source: { nets: ['10.0.0.0/8', '10.1.2.3'], notNets: ['10.1.0.0/16'] } }, []],
    ['host bits are rejected', { action: 'Allow', source: { nets: ['10.0.0.1/24'] } }, [[`${R}.source.nets[0]`, 'did you mean 10.0.0.0/24?']]],
    ['garbage is rejected', { action: 'Allow', destination: { notNets: ['10.0.0.0/33'] } }, [[`${R}.destination.notNets[0]`, 'invalid CIDR "10.0.0.0/33"']]],
    [
      'IPv4 and IPv6 may not be mixed in one field',
      { action: 'Allow', source: { nets: ['10.0.0.0/8', 'fd00::/8'] } },
      [[`${R}.source.nets`, 'rule contains both IPv4 and IPv6 CIDRs']],
    ],
    [
      'nor across fields',
      { action: 'Allow', source: { nets: ['10.0.0.0/8'] }, destination: { notNets: ['fd00::/8'] } },
      [[`${R}.destination.notNets`, 'rule contains both IPv4 and IPv6 CIDRs']],
    ],
    [
      'CIDRs must agree with ipVersion',
      { action: 'Allow', ipVersion: 6, destination: { nets: ['10.0.0.0/8'] } },
      [[`${R}.destination.nets`, "rule IP version doesn't match CIDR version"]],
    ],
    [
      'a catch-all notNets matches nothing',
      { action: 'Allow', source: { notNets: ['0.0.0.0/0'] } },
      [[`${R}.source.notNets[0]`, 'catch-all CIDR in negation creates logical contradiction (matches no traffic)']],
    ],
    ['::/0 too', { action: 'Allow', source: { notNets: ['::/0'] } }, [[`${R}.source.notNets[0]`, 'catch-all CIDR in negation']]],
    [
      'at most 256 nets',
      { action: 'Allow', source: { nets: Array.from({ length: 257 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) } },
      [[`${R}.source.nets`, 'too many CIDRs (257); at most 256']],
    ],
  ])('%s', (_name, rule, expected) => expectErrors(ingress(rule), expected));
});

describe('selectors', () => {
  it.each<[string, object, Expected]>([
    ['valid selectors', { action: 'Allow', source: { selector: "app == 'a'", notSelector: 'has(x)', namespaceSelector: 'all()' } }, []],
    ['global() as the whole namespaceSelector', { action: 'Allow', source: { namespaceSelector: ' global( ) ' } }, []],
    ['syntax errors carry the position', { action: 'Allow', source: { selector: 'a == ' } }, [[`${R}.source.selector`, 'invalid selector at position 5']]],
    [
      'global() cannot be combined',
      { action: 'Allow', source: { namespaceSelector: "global() || a == 'b'" } },
      [[`${R}.source.namespaceSelector`, 'global() cannot be combined with other selectors']],
    ],
    [
      'global() only in a namespaceSelector',
      { action: 'Allow', destination: { selector: 'global()' } },
      [[`${R}.destination.selector`, 'global() can only be used in an EntityRule namespaceSelector']],
    ],
    [
      'selectors are at most 1024 characters',
      { action: 'Allow', source: { selector: `a == '${'x'.repeat(1020)}'` } },
      [[`${R}.source.selector`, 'selector is too long (1027 characters); at most 1024']],
    ],
    ['service account selectors parse too', { action: 'Allow', source: { serviceAccounts: { selector: '!!' } } }, [[`${R}.source.serviceAccounts.selector`, 'invalid selector']]],
  ])('%s', (_name, rule, expected) => expectErrors(ingress(rule), expected));

  it('policy selectors may not use global()', () => {
    expectErrors(policy('NetworkPolicy', { selector: 'global()' }), [['spec.selector', 'global() can only be used in an EntityRule namespaceSelector']]);
    expectErrors(policy('GlobalNetworkPolicy', { namespaceSelector: 'global()' }), [['spec.namespaceSelector', 'global() can only be used']]);
  });
});

describe('services', () => {
  it.each<[string, object, object, Expected]>([
    ['egress to a service', 'egress' as never, { action: 'Allow', destination: { services: { name: 'db' } } }, []],
    ['ingress from a service with ports', 'ingress' as never, { action: 'Allow', protocol: 'TCP', source: { services: { name: 'fe' } }, destination: { ports: [80] } }, []],
    ['a name is required', 'egress' as never, { action: 'Allow', destination: { services: { namespace: 'x' } } }, [[`${E}.destination.services`, 'must specify a service name']]],
    [
      'not with selectors',
      'egress' as never,
      { action: 'Allow', destination: { services: { name: 'db' }, selector: 'a == "b"' } },
      [[`${E}.destination.services`, 'cannot specify Selector/NotSelector and Services on the same rule']],
    ],
    [
      'not with nets',
      'egress' as never,
      { action: 'Allow', destination: { services: { name: 'db' }, notNets: ['10.0.0.0/8'] } },
      [[`${E}.destination.services`, 'cannot specify Nets/NotNets and Services on the same rule']],
    ],
    [
      'not with a namespaceSelector',
      'egress' as never,
      { action: 'Allow', destination: { services: { name: 'db' }, namespaceSelector: 'all()' } },
      [[`${E}.destination.services`, 'cannot specify NamespaceSelector and Services on the same rule']],
    ],
    [
      'not with service accounts',
      'egress' as never,
      { action: 'Allow', destination: { services: { name: 'db' }, serviceAccounts: { names: ['x'] } } },
      [[`${E}.destination.services`, 'cannot specify ServiceAccounts and Services on the same rule']],
    ],
    [
      'destination services take no ports',
      'egress' as never,
      { action: 'Allow', protocol: 'TCP', destination: { services: { name: 'db' }, ports: [80] } },
      [[`${E}.destination.ports`, 'ports and notPorts cannot be specified with services']],
    ],
    ['not in an egress source', 'egress' as never, { action: 'Allow', source: { services: { name: 'db' } } }, [[`${E}.source.services`, 'not allowed in an egress rule source']]],
    ['not in an ingress destination', 'ingress' as never, { action: 'Allow', destination: { services: { name: 'db' } } }, [[`${R}.destination.services`, 'not allowed in an ingress rule destination']]],
  ])('%s', (_name, direction, rule, expected) => {
    expectErrors(direction === ('egress' as never) ? egress(rule) : ingress(rule), expected);
  });

  it('a GlobalNetworkPolicy must name the service namespace', () => {
    expectErrors(policy('GlobalNetworkPolicy', { egress: [{ action: 'Allow', destination: { services: { name: 'db' } } }] }), [
      [`${E}.destination.services.namespace`, 'must specify a namespace'],
    ]);
  });
});

describe('HTTP matches', () => {
  it.each<[string, object, Expected]>([
    ['on an Allow rule with TCP', { action: 'Allow', protocol: 'TCP', http: { methods: ['GET'], paths: [{ prefix: '/api' }] } }, []],
    ['only on Allow rules', { action: 'Deny', http: { methods: ['GET'] } }, [[`${R}.http`, 'HTTP match is only valid on Allow rules']]],
    ['only with TCP', { action: 'Allow', protocol: 17, http: { methods: ['GET'] } }, [[`${R}.protocol`, 'rules with HTTP match must have protocol TCP or unset']]],
    ['no duplicate methods', { action: 'Allow', http: { methods: ['GET', 'GET'] } }, [[`${R}.http.methods`, 'duplicates']]],
    ['exact or prefix, not both', { action: 'Allow', http: { paths: [{ exact: '/a', prefix: '/b' }] } }, [[`${R}.http.paths[0]`, "both 'exact' and 'prefix' are set"]]],
    ['paths start with a slash', { action: 'Allow', http: { paths: [{ exact: 'a?b' }] } }, [[`${R}.http.paths[0]`, 'must start with "/"']]],
  ])('%s', (_name, rule, expected) => expectErrors(ingress(rule), expected));

  it('is not allowed on egress rules', () => {
    expectErrors(egress({ action: 'Allow', http: { methods: ['GET'] } }), [[`${E}.http`, 'HTTP match is not allowed in egress rules']]);
  });
});

describe('rule metadata', () => {
  it('annotation keys must be qualified names', () => {
    expectErrors(ingress({ action: 'Allow', metadata: { annotations: { 'bad key': 'x' } } }), [[`${R}.metadata.annotations["bad key"]`, 'invalid annotation key']]);
  });
});
