import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import {
  allowed,
  calicoPolicy,
  check,
  globalNetworkSet,
  globalPolicy,
  hostEndpoint,
  namespace,
  networkSet,
  pod,
  serviceAccount,
  snap,
} from './test-fixtures.js';
import type { Flow } from './types.js';

/**
 * Every case: a cluster of pods, one policy selecting `ns/server` for ingress whose only rule is
 * `rule` with action Allow; the default tier then denies anything the rule does not match. So
 * "allowed" ⇔ "the rule matched the flow".
 */
const cluster: Resource[] = [
  namespace('ns', { team: 'a' }),
  namespace('other', { team: 'b' }),
  serviceAccount('ns', 'builder', { role: 'ci' }),
  pod('ns', 'client', '10.0.0.1', { app: 'client', tier: 'web' }, { serviceAccount: 'builder' }),
  pod('ns', 'plain', '10.0.0.3', {}),
  pod('ns', 'server', '10.0.0.2', { app: 'server' }, {
    ports: [
      { name: 'http', containerPort: 8080 },
      { name: 'dns', containerPort: 53, protocol: 'UDP' },
    ],
    ips: ['10.0.0.2', 'fd00::2'],
  }),
  pod('ns', 'client6', '', { app: 'client' }, { ips: ['fd00::1'] }),
  pod('other', 'client', '10.0.1.1', { app: 'client' }),
  hostEndpoint('node-1-eth0', ['192.168.0.10'], { role: 'node' }, { profiles: ['projectcalico-default-allow'] }),
  networkSet('ns', 'partners', ['203.0.113.0/24'], { kind: 'partner' }),
  globalNetworkSet('internet', ['198.51.100.0/24'], { kind: 'internet' }),
];

function ruleAllows(rule: Record<string, unknown>, flow: Partial<Flow> & { src: string; dst?: string }, policyNamespace?: string): boolean {
  const policy = policyNamespace
    ? calicoPolicy(policyNamespace, 'p', { selector: "app == 'server'", types: ['Ingress'], ingress: [{ action: 'Allow', ...rule }] })
    : globalPolicy('p', { selector: "app == 'server'", types: ['Ingress'], ingress: [{ action: 'Allow', ...rule }] });
  const s = snap(...cluster, policy);
  const { src, dst = 'ns/server', protocol = 'TCP', ...rest } = flow;
  return allowed(s, src, dst, undefined, protocol, rest);
}

type Case = [string, Record<string, unknown>, Partial<Flow> & { src: string; dst?: string }, boolean, string?];

const cases: Case[] = [
  // protocol / notProtocol
  ['protocol TCP matches a TCP flow', { protocol: 'TCP' }, { src: 'ns/client', dstPort: 80 }, true],
  ['protocol TCP does not match a UDP flow', { protocol: 'TCP' }, { src: 'ns/client', protocol: 'UDP', dstPort: 53 }, false],
  ['protocol as a number (17) matches UDP', { protocol: 17 }, { src: 'ns/client', protocol: 'UDP', dstPort: 53 }, true],
  ['protocol UDPLite (136) matches protocol number 136', { protocol: 'UDPLite' }, { src: 'ns/client', protocol: 136 }, true],
  ['notProtocol TCP excludes TCP', { notProtocol: 'TCP' }, { src: 'ns/client', dstPort: 80 }, false],
  ['notProtocol TCP admits UDP', { notProtocol: 'TCP' }, { src: 'ns/client', protocol: 'UDP', dstPort: 53 }, true],
  ['no protocol matches any protocol', {}, { src: 'ns/client', protocol: 'SCTP', dstPort: 9 }, true],
  // ipVersion
  ['ipVersion 6 is skipped for an IPv4 flow', { ipVersion: 6 }, { src: 'ns/client', dstPort: 80 }, false],
  ['ipVersion 6 matches an IPv6 flow', { ipVersion: 6 }, { src: 'ns/client6', dstPort: 80 }, true],
  ['ipVersion 4 is skipped for an IPv6 flow', { ipVersion: 4 }, { src: 'fd00::99', dst: 'fd00::2', dstPort: 80 }, false],
  ['protocol ICMP implies IPv4', { protocol: 'ICMP' }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 8 } }, true],
  ['protocol ICMPv6 implies IPv6: skipped for IPv4 flows', { protocol: 'ICMPv6' }, { src: 'ns/client', protocol: 58 }, false],
  ['protocol ICMPv6 matches an IPv6 ICMPv6 flow', { protocol: 'ICMPv6' }, { src: 'ns/client6', protocol: 'ICMPv6', icmp: { type: 128 } }, true],
  // icmp / notICMP
  ['icmp type matches', { protocol: 'ICMP', icmp: { type: 8 } }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 8, code: 0 } }, true],
  ['icmp type mismatch', { protocol: 'ICMP', icmp: { type: 8 } }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 0 } }, false],
  ['icmp type+code must both match', { protocol: 'ICMP', icmp: { type: 3, code: 4 } }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 3, code: 1 } }, false],
  ['icmp type+code match', { protocol: 'ICMP', icmp: { type: 3, code: 4 } }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 3, code: 4 } }, true],
  ['icmp rule does not match a flow without an ICMP type', { protocol: 'ICMP', icmp: { type: 8 } }, { src: 'ns/client', protocol: 'ICMP' }, false],
  ['notICMP excludes that type', { protocol: 'ICMP', notICMP: { type: 8 } }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 8 } }, false],
  ['notICMP admits other types', { protocol: 'ICMP', notICMP: { type: 8 } }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 0 } }, true],
  ['notICMP with code excludes only that code', { protocol: 'ICMP', notICMP: { type: 3, code: 4 } }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 3, code: 1 } }, true],
  // nets / notNets
  ['source.nets containing the source matches', { source: { nets: ['10.0.0.0/24'] } }, { src: 'ns/client', dstPort: 80 }, true],
  ['source.nets not containing the source does not match', { source: { nets: ['10.1.0.0/16'] } }, { src: 'ns/client', dstPort: 80 }, false],
  ['nets are OR-ed', { source: { nets: ['10.9.0.0/16', '10.0.0.1'] } }, { src: 'ns/client', dstPort: 80 }, true],
  ['a bare IP in nets means /32', { source: { nets: ['10.0.0.1'] } }, { src: 'ns/client', dstPort: 80 }, true],
  ['source.notNets containing the source does not match', { source: { notNets: ['10.0.0.0/24'] } }, { src: 'ns/client', dstPort: 80 }, false],
  ['source.notNets not containing the source matches', { source: { notNets: ['10.1.0.0/16'] } }, { src: 'ns/client', dstPort: 80 }, true],
  ['nets and notNets both hold', { source: { nets: ['10.0.0.0/8'], notNets: ['10.0.0.1/32'] } }, { src: 'ns/client', dstPort: 80 }, false],
  ['destination.nets matches the destination address', { destination: { nets: ['10.0.0.2/32'] } }, { src: 'ns/client', dstPort: 80 }, true],
  ['destination.nets elsewhere does not match', { destination: { nets: ['10.0.0.3/32'] } }, { src: 'ns/client', dstPort: 80 }, false],
  ['IPv6 nets match an IPv6 flow', { source: { nets: ['fd00::/64'] } }, { src: 'ns/client6', dstPort: 80 }, true],
  ['a rule with only IPv6 nets is dropped for IPv4 flows', { source: { nets: ['fd00::/64'] } }, { src: 'ns/client', dstPort: 80 }, false],
  ['a rule with only IPv6 notNets is dropped for IPv4 flows (Felix family filtering)', { source: { notNets: ['fd00::/64'] } }, { src: 'ns/client', dstPort: 80 }, false],
  ['nets match external addresses too', { source: { nets: ['192.0.2.0/24'] } }, { src: '192.0.2.7', dstPort: 80 }, true],
  // selector / notSelector (IP-set semantics)
  ['source.selector matches a workload by its labels', { source: { selector: "app == 'client'" } }, { src: 'ns/client', dstPort: 80 }, true],
  ['source.selector does not match a workload without the label', { source: { selector: "app == 'client'" } }, { src: 'ns/plain', dstPort: 80 }, false],
  ['a GNP selector matches workloads in every namespace', { source: { selector: "app == 'client'" } }, { src: 'other/client', dstPort: 80 }, true],
  ['source.selector matches an address inside a network set it selects', { source: { selector: "kind == 'partner'" } }, { src: '203.0.113.9', dstPort: 80 }, true],
  ['source.selector matches a global network set', { source: { selector: "kind == 'internet'" } }, { src: '198.51.100.1', dstPort: 80 }, true],
  ['source.selector matches a host endpoint by its expectedIPs', { source: { selector: "role == 'node'" } }, { src: '192.168.0.10', dstPort: 80 }, true],
  ['source.selector never matches an address outside every endpoint and set', { source: { selector: 'all()' } }, { src: '192.0.2.1', dstPort: 80 }, false],
  ['source.selector all() matches any known endpoint', { source: { selector: 'all()' } }, { src: 'ns/plain', dstPort: 80 }, true],
  ["selector !has(app) matches only Calico-known things lacking app", { source: { selector: '!has(app)' } }, { src: '192.0.2.1', dstPort: 80 }, false],
  ['notSelector has(app) matches outside addresses in a global policy', { source: { notSelector: 'has(app)' } }, { src: '192.0.2.1', dstPort: 80 }, true],
  ['notSelector excludes endpoints it selects', { source: { notSelector: "app == 'client'" } }, { src: 'ns/client', dstPort: 80 }, false],
  ['selector and notSelector both hold', { source: { selector: "tier == 'web'", notSelector: "app == 'client'" } }, { src: 'ns/client', dstPort: 80 }, false],
  ['destination.selector matches the destination endpoint', { destination: { selector: "app == 'server'" } }, { src: 'ns/client', dstPort: 80 }, true],
  // namespaceSelector
  ['namespaceSelector matches inherited namespace labels', { source: { namespaceSelector: "team == 'a'" } }, { src: 'ns/client', dstPort: 80 }, true],
  ['namespaceSelector excludes other namespaces', { source: { namespaceSelector: "team == 'a'" } }, { src: 'other/client', dstPort: 80 }, false],
  ['namespaceSelector with selector: both must hold', { source: { namespaceSelector: "team == 'b'", selector: "app == 'client'" } }, { src: 'ns/client', dstPort: 80 }, false],
  ['namespaceSelector all() matches any namespaced endpoint', { source: { namespaceSelector: 'all()' } }, { src: 'other/client', dstPort: 80 }, true],
  ['namespaceSelector all() does not match host endpoints', { source: { namespaceSelector: 'all()' } }, { src: '192.168.0.10', dstPort: 80 }, false],
  ['namespaceSelector global() matches global network sets', { source: { namespaceSelector: 'global()' } }, { src: '198.51.100.1', dstPort: 80 }, true],
  ['namespaceSelector global() matches host endpoints', { source: { namespaceSelector: 'global()', selector: "role == 'node'" } }, { src: '192.168.0.10', dstPort: 80 }, true],
  ['namespaceSelector global() does not match workloads', { source: { namespaceSelector: 'global()' } }, { src: 'ns/client', dstPort: 80 }, false],
  ['namespaceSelector by kubernetes.io/metadata.name', { source: { namespaceSelector: "kubernetes.io/metadata.name == 'other'" } }, { src: 'other/client', dstPort: 80 }, true],
  // serviceAccounts
  ['serviceAccounts.names matches the pod service account', { source: { serviceAccounts: { names: ['builder', 'x'] } } }, { src: 'ns/client', dstPort: 80 }, true],
  ['serviceAccounts.names excludes other accounts', { source: { serviceAccounts: { names: ['x'] } } }, { src: 'ns/plain', dstPort: 80 }, false],
  ['serviceAccounts.selector matches service account labels', { source: { serviceAccounts: { selector: "role == 'ci'" } } }, { src: 'ns/client', dstPort: 80 }, true],
  ['serviceAccounts names and selector are ANDed', { source: { serviceAccounts: { names: ['default'], selector: "role == 'ci'" } } }, { src: 'ns/client', dstPort: 80 }, false],
  // ports
  ['destination.ports single port', { protocol: 'TCP', destination: { ports: [80] } }, { src: 'ns/client', dstPort: 80 }, true],
  ['destination.ports other port', { protocol: 'TCP', destination: { ports: [80] } }, { src: 'ns/client', dstPort: 81 }, false],
  ['destination.ports range is inclusive', { protocol: 'TCP', destination: { ports: ['8000:8080'] } }, { src: 'ns/client', dstPort: 8080 }, true],
  ['destination.ports range excludes beyond', { protocol: 'TCP', destination: { ports: ['8000:8080'] } }, { src: 'ns/client', dstPort: 8081 }, false],
  ['destination.ports are OR-ed', { protocol: 'TCP', destination: { ports: [22, '80:81'] } }, { src: 'ns/client', dstPort: 22 }, true],
  ['destination.notPorts excludes', { protocol: 'TCP', destination: { notPorts: [80] } }, { src: 'ns/client', dstPort: 80 }, false],
  ['destination.notPorts admits others', { protocol: 'TCP', destination: { notPorts: [80] } }, { src: 'ns/client', dstPort: 443 }, true],
  ['source.ports match the source port', { protocol: 'TCP', source: { ports: ['1024:65535'] } }, { src: 'ns/client', dstPort: 80, srcPort: 40000 }, true],
  ['source.ports do not match a low source port', { protocol: 'TCP', source: { ports: ['1024:65535'] } }, { src: 'ns/client', dstPort: 80, srcPort: 80 }, false],
  ['a rule with ports does not match a flow without that port', { protocol: 'TCP', destination: { ports: [80] } }, { src: 'ns/client' }, false],
  ['a rule with ports does not match an ICMP flow', { destination: { ports: ['http'] } }, { src: 'ns/client', protocol: 'ICMP', icmp: { type: 8 } }, false],
  // named ports
  ['named port resolves against destination container port', { protocol: 'TCP', destination: { ports: ['http'] } }, { src: 'ns/client', dstPort: 8080 }, true],
  ['named port does not match another port number', { protocol: 'TCP', destination: { ports: ['http'] } }, { src: 'ns/client', dstPort: 80 }, false],
  ['named port requires the declared protocol', { protocol: 'TCP', destination: { ports: ['dns'] } }, { src: 'ns/client', dstPort: 53 }, false],
  ['named port without rule protocol uses the port protocol', { destination: { ports: ['dns'] } }, { src: 'ns/client', protocol: 'UDP', dstPort: 53 }, true],
  ['a named port the destination does not declare matches nothing', { protocol: 'TCP', destination: { ports: ['metrics'] } }, { src: 'ns/client', dstPort: 8080 }, false],
  ['named port is filtered by the destination selector', { protocol: 'TCP', destination: { selector: "app == 'nope'", ports: ['http'] } }, { src: 'ns/client', dstPort: 8080 }, false],
  ['named and numeric ports are OR-ed', { protocol: 'TCP', destination: { ports: [9999, 'http'] } }, { src: 'ns/client', dstPort: 8080 }, true],
  ['named notPorts excludes the named port', { protocol: 'TCP', destination: { notPorts: ['http'] } }, { src: 'ns/client', dstPort: 8080 }, false],
  ['named port works over IPv6 addresses', { protocol: 'TCP', destination: { ports: ['http'] } }, { src: 'ns/client6', dstPort: 8080 }, true],
  // domains are never matched offline
  ['a rule with destination domains never matches offline', { destination: { domains: ['example.com'] } }, { src: 'ns/client', dstPort: 80 }, false],
];

describe('rule fields (global policy)', () => {
  it.each(cases)('%s', (_name, rule, flow, expected) => {
    expect(ruleAllows(rule, flow)).toBe(expected);
  });
});

describe('rule fields in a namespaced policy', () => {
  const nsCases: Case[] = [
    ['a selector in a namespaced policy matches only endpoints of its namespace', { source: { selector: "app == 'client'" } }, { src: 'other/client', dstPort: 80 }, false],
    ['a selector in a namespaced policy matches its own namespace', { source: { selector: "app == 'client'" } }, { src: 'ns/client', dstPort: 80 }, true],
    ['a selector in a namespaced policy matches network sets of its namespace', { source: { selector: "kind == 'partner'" } }, { src: '203.0.113.9', dstPort: 80 }, true],
    ['a selector in a namespaced policy does not match global network sets', { source: { selector: "kind == 'internet'" } }, { src: '198.51.100.1', dstPort: 80 }, false],
    ['namespaceSelector global() reaches global network sets from a namespaced policy', { source: { namespaceSelector: 'global()', selector: "kind == 'internet'" } }, { src: '198.51.100.1', dstPort: 80 }, true],
    ['notSelector in a namespaced policy matches only endpoints of its namespace lacking the label', { source: { notSelector: "app == 'client'" } }, { src: 'ns/plain', dstPort: 80 }, true],
    ['notSelector in a namespaced policy excludes endpoints of other namespaces', { source: { notSelector: "app == 'client'" } }, { src: 'other/client', dstPort: 80 }, false],
    ['notSelector in a namespaced policy does not match outside addresses', { source: { notSelector: "app == 'client'" } }, { src: '192.0.2.1', dstPort: 80 }, false],
    ['nets alone in a namespaced policy match any address', { source: { nets: ['0.0.0.0/0'] } }, { src: '192.0.2.1', dstPort: 80 }, true],
    ['nets alone in a namespaced policy match pods of other namespaces', { source: { nets: ['10.0.0.0/8'] } }, { src: 'other/client', dstPort: 80 }, true],
    ['no selector fields: any source, even outside', {}, { src: '192.0.2.1', dstPort: 80 }, true],
    ['namespaceSelector overrides the own-namespace scope', { source: { namespaceSelector: "team == 'b'" } }, { src: 'other/client', dstPort: 80 }, true],
  ];
  it.each(nsCases)('%s', (_name, rule, flow, expected) => {
    expect(ruleAllows(rule, flow, 'ns')).toBe(expected);
  });
});

describe('rule traces', () => {
  it('say why a rule did not match', () => {
    const s = snap(...cluster, globalPolicy('p', { selector: "app == 'server'", ingress: [{ action: 'Allow', protocol: 'UDP' }] }));
    const r = check(s, 'ns/client', 'ns/server', 80);
    const normal = r.trace.ingress.stages.find((st) => st.stage === 'normal');
    const rule = normal && 'tiers' in normal ? normal.tiers[0]!.policies[0]!.rules[0] : undefined;
    expect(rule).toEqual({ index: 0, action: 'Allow', matched: false, reason: 'protocol TCP is not UDP' });
  });

  it('services matches are dropped at conversion with a warning', async () => {
    const { buildSnapshot } = await import('../convert/index.js');
    const { snapshot, issues } = buildSnapshot([
      ...cluster,
      globalPolicy('p', { selector: "app == 'server'", ingress: [{ action: 'Allow', source: { services: { name: 'svc', namespace: 'ns' } } }] }),
    ]);
    expect(issues.some((i) => i.code === 'rule-dropped' && i.path === 'spec.ingress[0].source.services')).toBe(true);
    expect(snapshot.policies[0]!.ingress).toEqual([]);
  });

  it('the IPv4 address of a dual-stack pod is used when the peer is IPv4', () => {
    const s = snap(...cluster);
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.trace.flow).toMatchObject({ srcAddress: '10.0.0.1', dstAddress: '10.0.0.2', ipVersion: 4 });
    expect(check(s, 'ns/client6', 'ns/server', 80).trace.flow).toMatchObject({ dstAddress: 'fd00::2', ipVersion: 6 });
  });
});
