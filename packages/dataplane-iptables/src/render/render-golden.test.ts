/**
 * Golden rendering: a few rich states (workloads with every rule action, host endpoints with
 * every policy kind, forward tiers, failsafes, expected-IP bindings, IPv6, flow logs, non-default
 * options) rendered for both families and compared with `test/fixtures/render.golden.txt`. The
 * file was written by the renderer before it was split into modules; any change to it is a change
 * of what the kernel gets, so update it (`vitest -u`) only on purpose and say why in the commit.
 */
import { describe, expect, it } from 'vitest';
import { applyMessage, emptyDataplaneState, type CompiledPolicy, type DataplaneMessage, type DataplaneState, type HostEndpointState, type WorkloadEndpointState } from '@gingham/core';
import { formatIpsetRestore, formatIptablesRestore } from './format.js';
import type { RenderOptions } from './options.js';
import { renderState } from './render.js';
import type { HostFacts } from './rendered.js';

const wep = (id: string, interfaceName: string, over: Partial<WorkloadEndpointState> = {}): WorkloadEndpointState => ({
  id,
  name: id.split('/')[1]!,
  node: 'n1',
  interfaceName,
  addresses: ['10.65.0.11/32', 'fd00:65::11/128'],
  ingressTiers: [],
  egressTiers: [],
  profileIds: [],
  stagedPolicyIds: [],
  ...over,
});

const hep = (id: string, binding: HostEndpointState['binding'], over: Partial<HostEndpointState> = {}): HostEndpointState => ({
  id,
  node: 'n1',
  binding,
  expectedIPs: [],
  ingressTiers: [],
  egressTiers: [],
  untrackedIngressTiers: [],
  untrackedEgressTiers: [],
  preDnatIngressTiers: [],
  forwardIngressTiers: [],
  forwardEgressTiers: [],
  profileIds: [],
  stagedPolicyIds: [],
  failsafeInbound: [],
  failsafeOutbound: [],
  ...over,
});

const pol = (id: string, over: Partial<CompiledPolicy>): CompiledPolicy => ({ id, tier: 'default', ingress: [], egress: [], staged: false, ...over });

const LONG = `np/prod/${'very-long-policy-name-'.repeat(3)}`;

const policies: CompiledPolicy[] = [
  pol('gnp/security.block', {
    tier: 'security',
    ingress: [
      { action: 'Log', source: { nets: ['198.51.100.0/24', '2001:db8:bad::/48'] }, destination: {} },
      { action: 'Deny', source: { nets: ['198.51.100.0/24', '2001:db8:bad::/48'] }, destination: {} },
      { action: 'Pass', source: { ipSetId: 's:trusted' }, destination: {} },
    ],
    egress: [{ action: 'Deny', protocol: 17, source: {}, destination: { notNets: ['10.0.0.0/8', 'fd00::/8'], ports: [{ min: 53, max: 53 }] } }],
  }),
  pol('np/a/web-in', {
    ingress: [
      { action: 'Allow', protocol: 6, source: { ipSetId: 's:frontend' }, destination: { ports: [{ min: 80, max: 80 }, { min: 8000, max: 8100 }] } },
      { action: 'Allow', protocol: 6, source: {}, destination: { namedPortIpSetIds: ['n:http'] } },
      { action: 'Allow', protocol: 1, icmp: { type: 8 }, ipVersion: 4, source: {}, destination: {} },
      { action: 'Allow', protocol: 58, icmp: { type: 128 }, ipVersion: 6, source: {}, destination: {} },
      { action: 'Deny', source: { notIpSetId: 's:frontend' }, destination: { notPorts: [{ min: 22, max: 22 }] }, protocol: 6 },
    ],
    egress: [{ action: 'Allow', source: {}, destination: { nets: ['0.0.0.0/0', '::/0'] } }],
  }),
  pol(LONG, { ingress: [{ action: 'Deny', protocol: 6, source: {}, destination: { ports: [{ min: 23, max: 23 }] } }] }),
  pol('sgnp/staged', { staged: true, ingress: [{ action: 'Deny', source: {}, destination: {} }] }),
  pol('gnp/host.ssh', {
    ingress: [{ action: 'Allow', protocol: 6, source: { nets: ['192.0.2.0/24', '2001:db8:1::/64'] }, destination: { ports: [{ min: 22, max: 22 }] } }],
    egress: [{ action: 'Allow', source: {}, destination: {} }],
  }),
  pol('gnp/host.untracked', {
    ingress: [{ action: 'Allow', protocol: 17, source: {}, destination: { ports: [{ min: 4789, max: 4789 }] } }],
    egress: [{ action: 'Allow', protocol: 17, source: {}, destination: { ports: [{ min: 4789, max: 4789 }] } }],
  }),
  pol('gnp/host.prednat', { ingress: [{ action: 'Deny', protocol: 6, source: { nets: ['203.0.113.0/24'] }, destination: { ports: [{ min: 30000, max: 32767 }] } }] }),
  pol('gnp/host.forward', {
    ingress: [{ action: 'Allow', protocol: 6, source: {}, destination: { ports: [{ min: 443, max: 443 }] } }, { action: 'Pass', source: { ipSetId: 's:trusted' }, destination: {} }],
    egress: [{ action: 'Deny', source: {}, destination: { nets: ['169.254.169.254/32'] } }],
  }),
];

const security = { name: 'security', defaultAction: 'Pass' as const, policyIds: ['gnp/security.block'] };
const dflt = (ids: string[]) => ({ name: 'default', defaultAction: 'Deny' as const, policyIds: ids });

const messages: DataplaneMessage[] = [
  { kind: 'ipset-replace', id: 's:frontend', type: 'nets', members: ['10.65.0.12/32', '10.65.0.13/32', 'fd00:65::12/128'] },
  { kind: 'ipset-replace', id: 's:trusted', type: 'nets', members: ['0.0.0.0/0', '::/0'] },
  { kind: 'ipset-replace', id: 'n:http', type: 'net-port-proto', members: ['10.65.0.11/32,tcp:8080', 'fd00:65::11/128,tcp:8080', '10.65.0.11/32,icmp:0'] },
  { kind: 'ipset-replace', id: 's:unused', type: 'nets', members: ['10.9.9.9/32'] },
  { kind: 'profile-upsert', profile: { id: 'kns.a', ingress: [{ action: 'Allow', source: { ipSetId: 's:frontend' }, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } },
  { kind: 'profile-upsert', profile: { id: 'ksa.a.web', ingress: [{ action: 'Deny', source: {}, destination: {} }], egress: [] } },
  ...policies.map((policy): DataplaneMessage => ({ kind: 'policy-upsert', policy })),
  {
    kind: 'workload-endpoint-upsert',
    endpoint: wep('a/web', 'cali0123456789a', {
      ingressTiers: [security, dflt(['np/a/web-in', LONG, 'sgnp/staged'])],
      egressTiers: [security, dflt(['np/a/web-in'])],
      profileIds: ['kns.a', 'ksa.a.web', 'kns.missing'],
      stagedPolicyIds: ['sgnp/staged'],
    }),
  },
  { kind: 'workload-endpoint-upsert', endpoint: wep('a/db', 'cali1111111111b', { addresses: ['10.65.0.12/32'], profileIds: ['kns.a'] }) },
  { kind: 'workload-endpoint-upsert', endpoint: wep('b/tap', 'tap0', { egressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['np/a/web-in'] }] }) },
  {
    kind: 'host-endpoint-upsert',
    endpoint: hep('n1-eth0', { kind: 'interface', interfaceName: 'eth0' }, {
      expectedIPs: ['192.168.1.10'],
      ingressTiers: [security, dflt(['gnp/host.ssh'])],
      egressTiers: [dflt(['gnp/host.ssh'])],
      untrackedIngressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['gnp/host.untracked'] }],
      untrackedEgressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['gnp/host.untracked'] }],
      preDnatIngressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['gnp/host.prednat'] }],
      forwardIngressTiers: [dflt(['gnp/host.forward'])],
      forwardEgressTiers: [dflt(['gnp/host.forward'])],
      profileIds: ['kns.a'],
      failsafeInbound: [
        { protocol: 'tcp', port: 22 },
        { protocol: 'udp', port: 68 },
        { protocol: 'tcp', port: 6443, net: '10.0.0.0/8' },
        { protocol: 'tcp', port: 179, net: 'fd00::/8' },
      ],
      failsafeOutbound: [{ protocol: 'udp', port: 53 }, { protocol: 'tcp', port: 2379, net: '10.0.0.0/8' }],
    }),
  },
  {
    kind: 'host-endpoint-upsert',
    endpoint: hep('n1-by-ip', { kind: 'expected-ips' }, {
      expectedIPs: ['192.168.2.10', '2001:db8:2::10'],
      ingressTiers: [dflt(['gnp/host.ssh'])],
      failsafeInbound: [{ protocol: 'tcp', port: 22 }],
    }),
  },
  {
    kind: 'host-endpoint-upsert',
    endpoint: hep('n1-all', { kind: 'all-interfaces' }, {
      ingressTiers: [dflt(['gnp/host.ssh'])],
      preDnatIngressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['gnp/host.prednat'] }],
      forwardIngressTiers: [security, dflt(['gnp/host.forward'])],
      forwardEgressTiers: [dflt(['gnp/host.forward'])],
      failsafeInbound: [{ protocol: 'tcp', port: 22 }],
      failsafeOutbound: [{ protocol: 'udp', port: 53 }],
    }),
  },
];

function stateOf(ms: readonly DataplaneMessage[]): DataplaneState {
  const s = emptyDataplaneState();
  for (const m of ms) applyMessage(s, m);
  return s;
}

const host: HostFacts = {
  interfaceAddresses: new Map([
    ['eth0', ['192.168.1.10']],
    ['eth1', ['192.168.2.10']],
    ['eth2', ['2001:db8:2::10']],
    ['cali0123456789a', ['192.168.2.10']],
    ['lo', ['127.0.0.1', '::1']],
  ]),
};

interface Case {
  readonly name: string;
  readonly messages: readonly DataplaneMessage[];
  readonly options: RenderOptions;
  readonly host?: HostFacts;
}

const cases: Case[] = [
  { name: 'workloads only, default options', messages: messages.filter((m) => m.kind !== 'host-endpoint-upsert'), options: {} },
  { name: 'workloads and host endpoints, flow logs on', messages, options: { flowLogs: true, workloadInterfacePrefixes: ['cali', 'tap'] }, host },
  {
    name: 'workloads and host endpoints, every option set',
    messages,
    options: {
      chainPrefix: 'gx-',
      setPrefix: 'gx',
      workloadInterfacePrefixes: ['cali', 'tap'],
      markMask: 0x00ff0000,
      denyAction: 'REJECT',
      logPrefix: 'golden',
      nflogGroup: 5,
      endpointToHostAction: 'DROP',
      flowLogs: { ingressGroup: 11, egressGroup: 12 },
    },
    host,
  },
  { name: 'host endpoints without host facts, all-interfaces only', messages: messages.filter((m) => m.kind !== 'host-endpoint-upsert' || m.endpoint.id !== 'n1-eth0'), options: { denyAction: 'REJECT' } },
];

function golden(): string {
  const out: string[] = [];
  for (const c of cases) {
    for (const family of [4, 6] as const) {
      const r = renderState(stateOf(c.messages), family, c.options, c.host);
      out.push(`### ${c.name}, IPv${family}`);
      out.push('## iptables-restore', formatIptablesRestore(r).trimEnd());
      out.push('## ipset restore', formatIpsetRestore(r).trimEnd());
      out.push('## hooks', ...r.hooks.map((h) => `${h.table} ${h.chain} -> ${h.target}: ${h.args.join(' ')}`));
      out.push('## nflog names', ...[...r.nflogNames].map(([k, v]) => `${k} = ${v}`));
      out.push('## stamp', r.stamp ? JSON.stringify(r.stamp) : 'none');
      out.push(`## prefixes ${r.chainPrefix} ${r.setPrefix} ${r.commentTag}`, '');
    }
  }
  return out.join('\n');
}

describe('rendering', () => {
  it('is byte-identical to the golden file for rich states in both families', async () => {
    await expect(golden()).toMatchFileSnapshot('../../test/fixtures/render.golden.txt');
  });
});
