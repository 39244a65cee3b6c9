import { describe, expect, it } from 'vitest';
import { applyMessage, emptyDataplaneState, type CompiledPolicy, type CompiledRule, type DataplaneMessage, type HostEndpointState, type TierRef, type WorkloadEndpointState } from '@gingham/core';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { labelChange, labelChangeState } from '../label-change.bench.js';
import type { RenderOptions } from './options.js';
import { createRenderCache, forgetSetMembers } from './render-cache.js';
import { renderState } from './render.js';

const wep = (i: number, policyIds: string[]): WorkloadEndpointState => ({
  id: `a/w${i}`,
  name: `w${i}`,
  node: 'n1',
  interfaceName: `cali${i}`,
  addresses: [`10.65.0.${i}/32`],
  ingressTiers: policyIds.length > 0 ? [{ name: 'default', defaultAction: 'Deny', policyIds }] : [],
  egressTiers: [{ name: 'a-tier-with-a-name-longer-than-any-nflog-prefix-holds', defaultAction: 'Pass', policyIds: ['gnp/out'] }],
  profileIds: ['kns.a'],
  stagedPolicyIds: [],
});

const longId = 'gnp/a-policy-whose-id-is-too-long-for-an-nflog-prefix-and-a-chain-name';
const pol = (id: string, port: number, over: Partial<CompiledPolicy> = {}): CompiledPolicy => ({
  id,
  tier: 'default',
  staged: false,
  ingress: [
    { action: 'Allow', protocol: 6, source: { ipSetId: 's:db' }, destination: { ports: [{ min: port, max: port }] } },
    { action: 'Deny', source: { nets: ['192.168.0.0/24', '192.168.9.0/24'] }, destination: {} },
  ],
  egress: [{ action: 'Allow', source: {}, destination: { notNets: ['10.9.0.0/16', '10.8.0.0/16'] } }],
  ...over,
});

const hep: HostEndpointState = {
  id: 'n1/eth0',
  node: 'n1',
  binding: { kind: 'interface', interfaceName: 'eth0' },
  expectedIPs: [],
  ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/p1'] }],
  egressTiers: [],
  forwardIngressTiers: [],
  forwardEgressTiers: [],
  preDnatIngressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/p2'] }],
  untrackedIngressTiers: [],
  untrackedEgressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/p1'] }],
  profileIds: [],
  stagedPolicyIds: [],
  failsafeInbound: [{ protocol: 'tcp', port: 22 }],
  failsafeOutbound: [],
};

/** Both group dispatch layouts, with and without flow logs. */
const MODES: RenderOptions[] = [{}, { flowLogs: true }, { groupDispatch: 'ipset' }, { groupDispatch: 'ipset', flowLogs: true }];

describe('render cache', () => {
  it('renders exactly what an uncached rendering gives, through policy, endpoint, set and profile changes', () => {
    for (const options of MODES) {
      const state = emptyDataplaneState();
      const cache = createRenderCache();
      const steps: DataplaneMessage[][] = [
        [
          { kind: 'ipset-replace', id: 's:db', type: 'nets', members: ['10.65.0.2/32'] },
          { kind: 'profile-upsert', profile: { id: 'kns.a', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [] } },
          { kind: 'policy-upsert', policy: pol('gnp/p1', 80) },
          { kind: 'policy-upsert', policy: pol('gnp/p2', 81) },
          { kind: 'policy-upsert', policy: pol('gnp/out', 82) },
          { kind: 'policy-upsert', policy: pol(longId, 83) },
          { kind: 'workload-endpoint-upsert', endpoint: wep(1, ['gnp/p1', longId]) },
          { kind: 'workload-endpoint-upsert', endpoint: wep(2, ['gnp/p2']) },
        ],
        // An endpoint moves to other policies (the label change), with its address between sets.
        [{ kind: 'workload-endpoint-upsert', endpoint: wep(1, ['gnp/p2']) }, { kind: 'ipset-add-members', id: 's:db', members: ['10.65.0.1/32'] }],
        // A policy's rules change; another becomes staged (its chain goes, the tier empties).
        [{ kind: 'policy-upsert', policy: pol('gnp/p2', 443) }, { kind: 'policy-upsert', policy: pol(longId, 83, { staged: true }) }],
        [{ kind: 'workload-endpoint-upsert', endpoint: wep(1, [longId, 'gnp/p1']) }],
        // The profile changes; a host endpoint arrives (raw and mangle chains, generation stamp).
        [{ kind: 'profile-upsert', profile: { id: 'kns.a', ingress: [], egress: [{ action: 'Deny', source: {}, destination: {} }] } }, { kind: 'host-endpoint-upsert', endpoint: hep }],
        [{ kind: 'policy-upsert', policy: pol(longId, 84) }, { kind: 'ipset-remove-members', id: 's:db', members: ['10.65.0.2/32'] }],
        [{ kind: 'policy-remove', id: 'gnp/out' }, { kind: 'workload-endpoint-remove', id: 'a/w2' }, { kind: 'host-endpoint-remove', id: 'n1/eth0' }],
        // A set replaced with other members and type, one emptied, one made and dropped.
        [{ kind: 'ipset-replace', id: 's:db', type: 'net-port-proto', members: ['10.65.0.9/32,tcp:80', 'fd00::9/128,udp:53'] }, { kind: 'ipset-replace', id: 's:new', type: 'nets', members: ['10.1.0.0/16'] }],
        [{ kind: 'ipset-remove-members', id: 's:db', members: ['10.65.0.9/32,tcp:80'] }, { kind: 'ipset-delete', id: 's:new' }],
        [],
      ];
      for (const [i, batch] of steps.entries()) {
        for (const m of batch) applyMessage(state, m);
        forgetSetMembers(cache, batch.flatMap((m) => ('id' in m && m.kind.startsWith('ipset-') ? [m.id] : [])));
        for (const family of [4, 6] as const) {
          const cached = renderState(state, family, options, {}, cache);
          expect(cached, `step ${i}, IPv${family}, ${JSON.stringify(options)}`).toEqual(renderState(state, family, options));
        }
      }
    }
  });
});

describe('render cache: the order of a small change', () => {
  it('a move between existing groups keeps every other chain object at its place and equals an uncached rendering', () => {
    for (const options of [{}, { groupDispatch: 'ipset' }] as RenderOptions[]) {
      const ipset = options.groupDispatch === 'ipset';
      const state = emptyDataplaneState();
      for (const m of labelChangeState(500, 100)) applyMessage(state, m);
      const cache = createRenderCache();
      let last = renderState(state, 4, options, {}, cache);
      for (const [i, from, to] of [[3, 3, 10], [3, 10, 17], [40, 40, 41]] as const) {
        for (const m of labelChange(i, from, to, 100)) applyMessage(state, m);
        forgetSetMembers(cache, [`s:app${from}`, `s:app${to}`]);
        const r = renderState(state, 4, options, {}, cache);
        expect(r).toEqual(renderState(state, 4, options));
        expect(r.chains.length).toBe(last.chains.length);
        const moved = r.chains.filter((c, k) => c !== last.chains[k]).map((c) => c.name);
        expect(moved.every((n) => n.endsWith(`cali${i.toString(16).padStart(11, '0')}`) || !n.startsWith('gh-tw-'))).toBe(true);
        // With group dispatch the endpoint's chain stays: only group set members change.
        if (ipset) expect(moved.filter((n) => /^gh-(tw|fw|td[io]|g[io]|p[io])-/.test(n))).toEqual([]);
        else expect(moved).toContain(`gh-tw-cali${i.toString(16).padStart(11, '0')}`);
        last = r;
      }
    }
  });
});

// Random change sequences over two tiers (so endpoints share, leave and make groups, and tiers
// appear and go), rendered through one cache per layout and compared with uncached renderings.
const POLICIES = ['gnp/p0', 'gnp/p1', 'gnp/p2', 'gnp/p3', 'gnp/missing'];
const SETS = ['s:a', 's:b'];
const ENDPOINTS = 5;
const addr = (i: number): string => `10.65.0.${i + 1}/32`;

const rule: fc.Arbitrary<CompiledRule> = fc.record({ action: fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const), set: fc.constantFrom(...SETS), port: fc.integer({ min: 80, max: 81 }) }).map(({ action, set, port }) => ({ action, protocol: 6, source: { ipSetId: set }, destination: { ports: [{ min: port, max: port }] } }));
const policy = (id: string): fc.Arbitrary<CompiledPolicy> =>
  fc.record({ ingress: fc.array(rule, { maxLength: 2 }), egress: fc.array(rule, { maxLength: 1 }), staged: fc.integer({ min: 0, max: 5 }).map((n) => n === 0) }).map((p) => ({ id, tier: 'default', ...p }));
const tierList: fc.Arbitrary<TierRef[]> = fc
  .record({ sec: fc.subarray(POLICIES, { maxLength: 2 }), dflt: fc.subarray(POLICIES, { maxLength: 3 }) })
  .map(({ sec, dflt }) => [...(sec.length > 0 ? [{ name: 'security', defaultAction: 'Pass' as const, policyIds: sec }] : []), ...(dflt.length > 0 ? [{ name: 'default', defaultAction: 'Deny' as const, policyIds: dflt }] : [])]);
const randomEndpoint = (n: number): fc.Arbitrary<WorkloadEndpointState> =>
  fc.record({ ingress: tierList, egress: tierList, profile: fc.boolean() }).map(({ ingress, egress, profile }) => ({
    id: `a/w${n}`,
    name: `w${n}`,
    node: 'n1',
    interfaceName: `cali${n}`,
    addresses: [addr(n)],
    ingressTiers: ingress,
    egressTiers: egress,
    profileIds: profile ? ['kns.a'] : [],
    stagedPolicyIds: [],
  }));
const n = fc.integer({ min: 0, max: ENDPOINTS - 1 });
const message: fc.Arbitrary<DataplaneMessage> = fc.oneof(
  { weight: 4, arbitrary: n.chain(randomEndpoint).map((endpoint): DataplaneMessage => ({ kind: 'workload-endpoint-upsert', endpoint })) },
  { weight: 1, arbitrary: n.map((k): DataplaneMessage => ({ kind: 'workload-endpoint-remove', id: `a/w${k}` })) },
  { weight: 2, arbitrary: fc.constantFrom(...POLICIES.slice(0, 4)).chain(policy).map((p): DataplaneMessage => ({ kind: 'policy-upsert', policy: p })) },
  { weight: 1, arbitrary: fc.constantFrom(...POLICIES.slice(0, 4)).map((id): DataplaneMessage => ({ kind: 'policy-remove', id })) },
  { weight: 2, arbitrary: fc.record({ id: fc.constantFrom(...SETS), k: n, add: fc.boolean() }).map(({ id, k, add }): DataplaneMessage => ({ kind: add ? 'ipset-add-members' : 'ipset-remove-members', id, members: [addr(k)] })) },
  { weight: 1, arbitrary: fc.array(rule, { maxLength: 1 }).map((ingress): DataplaneMessage => ({ kind: 'profile-upsert', profile: { id: 'kns.a', ingress, egress: [] } })) },
  { weight: 1, arbitrary: fc.constantFrom<DataplaneMessage>({ kind: 'host-endpoint-upsert', endpoint: hep }, { kind: 'host-endpoint-remove', id: 'n1/eth0' }) },
);

describe('render cache: random change sequences', () => {
  it('renders exactly what an uncached rendering gives in both group dispatch layouts', () => {
    fc.assert(
      fc.property(fc.array(fc.array(message, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 10 }), (batches) => {
        for (const options of MODES) {
          const state = emptyDataplaneState();
          const cache = createRenderCache();
          for (const [step, batch] of batches.entries()) {
            for (const m of batch) applyMessage(state, m);
            forgetSetMembers(cache, batch.flatMap((m) => ('id' in m && m.kind.startsWith('ipset-') ? [m.id] : [])));
            for (const family of [4, 6] as const) expect(renderState(state, family, options, {}, cache), `step ${step}, IPv${family}, ${JSON.stringify(options)}`).toEqual(renderState(state, family, options));
          }
        }
      }),
      { numRuns: propRuns(100) },
    );
  });
});
