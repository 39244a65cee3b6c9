import { describe, expect, it } from 'vitest';
import type { CompiledRule, DataplaneMessage, TierRef } from './index.js';
import { modelVerdict, RecordingDataplane } from './index.js';

const allow: CompiledRule = { action: 'Allow', source: {}, destination: {} };
const pass: CompiledRule = { action: 'Pass', source: {}, destination: {} };

function state(ingressTiers: TierRef[], extra: DataplaneMessage[] = [], profileIds: string[] = []) {
  const dp = new RecordingDataplane();
  dp.apply([
    { kind: 'ipset-replace', id: 's:web', type: 'nets', members: ['10.0.0.2/32'] },
    { kind: 'ipset-replace', id: 'n:http', type: 'net-port-proto', members: ['10.0.0.1/32,tcp:8080'] },
    { kind: 'policy-upsert', policy: { id: 'p-pass', tier: 't1', ingress: [pass], egress: [], staged: false } },
    { kind: 'policy-upsert', policy: { id: 'p-web', tier: 't2', ingress: [{ action: 'Allow', source: { ipSetId: 's:web' }, destination: { namedPortIpSetIds: ['n:http'] } }], egress: [], staged: false } },
    { kind: 'policy-upsert', policy: { id: 'p-staged-deny', tier: 't2', ingress: [{ action: 'Deny', source: {}, destination: {} }], egress: [], staged: true } },
    { kind: 'profile-upsert', profile: { id: 'allow-all', ingress: [allow], egress: [allow] } },
    ...extra,
    {
      kind: 'workload-endpoint-upsert',
      endpoint: { id: 'ns/a', name: 'a', node: 'n', interfaceName: 'cali1', addresses: ['10.0.0.1/32'], ingressTiers, egressTiers: [], profileIds, stagedPolicyIds: [] },
    },
  ]);
  expect(dp.violations).toEqual([]);
  return dp.state;
}

const flow = (src: string, dstPort = 8080) => ({ src, dst: 'ns/a', protocol: 'TCP', dstPort });

describe('modelVerdict', () => {
  it('Pass skips the rest of the tier; the next tier decides by IP set and named-port set membership', () => {
    const s = state([
      { name: 't1', defaultAction: 'Deny', policyIds: ['p-pass'] },
      { name: 't2', defaultAction: 'Deny', policyIds: ['p-web'] },
    ]);
    expect(modelVerdict(s, flow('10.0.0.2')).allowed).toBe(true);
    expect(modelVerdict(s, flow('10.0.0.3')).ingress).toMatchObject({ allowed: false, stage: 'tier' });
    expect(modelVerdict(s, flow('10.0.0.2', 9090)).allowed).toBe(false);
  });

  it('a tier whose default action is Pass falls through to the profiles', () => {
    const s = state([{ name: 't2', defaultAction: 'Pass', policyIds: ['p-web'] }], [], ['allow-all']);
    expect(modelVerdict(s, flow('10.0.0.3'))).toMatchObject({ allowed: true, ingress: { stage: 'profile' } });
  });

  it('no tiers and no profiles deny; staged policies are never enforced', () => {
    expect(modelVerdict(state([]), flow('10.0.0.2')).allowed).toBe(false);
    const s = state([{ name: 't2', defaultAction: 'Pass', policyIds: ['p-staged-deny'] }], [], ['allow-all']);
    expect(modelVerdict(s, flow('10.0.0.2')).allowed).toBe(true);
  });

  it('outside addresses have no policy; unknown peers throw', () => {
    const s = state([]);
    expect(modelVerdict(s, { src: 'ns/a', dst: '8.8.8.8', protocol: 'UDP', dstPort: 53 }).egress).toMatchObject({ allowed: false, endpointId: 'ns/a' });
    expect(modelVerdict(s, { src: '8.8.8.8', dst: '1.1.1.1', protocol: 'UDP', dstPort: 53 }).allowed).toBe(true);
    expect(() => modelVerdict(s, { src: 'ns/nope', dst: 'ns/a', protocol: 'TCP' })).toThrow(/unknown flow peer/);
  });

  it('host endpoint failsafe ports are allowed before any tier', () => {
    const dp = new RecordingDataplane();
    dp.apply([
      {
        kind: 'host-endpoint-upsert',
        endpoint: {
          id: 'h', node: 'n', binding: { kind: 'all-interfaces' }, expectedIPs: ['10.0.9.1/32'],
          ingressTiers: [], egressTiers: [], untrackedIngressTiers: [], untrackedEgressTiers: [], preDnatIngressTiers: [],
          forwardIngressTiers: [], forwardEgressTiers: [], profileIds: [], stagedPolicyIds: [],
          failsafeInbound: [{ protocol: 'tcp', port: 22 }], failsafeOutbound: [],
        },
      },
    ]);
    expect(modelVerdict(dp.state, { src: '1.2.3.4', dst: 'h', protocol: 'TCP', dstPort: 22 })).toMatchObject({ allowed: true, ingress: { stage: 'failsafe' } });
    expect(modelVerdict(dp.state, { src: '1.2.3.4', dst: '10.0.9.1', protocol: 'TCP', dstPort: 23 }).allowed).toBe(false);
  });
});
