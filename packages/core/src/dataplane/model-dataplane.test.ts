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

  describe('a flow that crosses a node', () => {
    const deny: CompiledRule = { action: 'Deny', source: {}, destination: {} };
    /** ns/a (10.0.0.1) on node n with a `*` host endpoint whose forward ingress tier denies, and a named eth1 one without forward policy. */
    function forwarding() {
      const dp = new RecordingDataplane();
      const hep = (id: string, binding: { kind: 'all-interfaces' } | { kind: 'interface'; interfaceName: string }, forwardIngressTiers: TierRef[]) =>
        ({
          kind: 'host-endpoint-upsert',
          endpoint: {
            id, node: 'n', binding, expectedIPs: [],
            ingressTiers: [], egressTiers: [], untrackedIngressTiers: [], untrackedEgressTiers: [], preDnatIngressTiers: [],
            forwardIngressTiers, forwardEgressTiers: [], profileIds: [], stagedPolicyIds: [], failsafeInbound: [], failsafeOutbound: [],
          },
        }) as const;
      dp.apply([
        { kind: 'policy-upsert', policy: { id: 'p-deny', tier: 't1', ingress: [deny], egress: [], staged: false } },
        { kind: 'profile-upsert', profile: { id: 'allow-all', ingress: [allow], egress: [allow] } },
        hep('star', { kind: 'all-interfaces' }, [{ name: 't1', defaultAction: 'Deny', policyIds: ['p-deny'] }]),
        hep('eth1', { kind: 'interface', interfaceName: 'eth1' }, []),
        { kind: 'host-metadata-upsert', host: { node: 'n', addresses: ['192.168.0.1'], podCIDRs: [] } },
        {
          kind: 'workload-endpoint-upsert',
          endpoint: { id: 'ns/a', name: 'a', node: 'n', interfaceName: 'cali1', addresses: ['10.0.0.1/32'], ingressTiers: [{ name: 't1', defaultAction: 'Deny', policyIds: ['p-deny'] }], egressTiers: [], profileIds: ['allow-all'], stagedPolicyIds: [] },
        },
      ]);
      expect(dp.violations).toEqual([]);
      return dp.state;
    }

    it("the arrival interface's host endpoint forward tiers apply: the `*` one by default, a named one when given", () => {
      const s = forwarding();
      expect(modelVerdict(s, { src: '8.8.8.8', dst: '9.9.9.9', protocol: 'UDP', dstPort: 53, via: 'n' })).toMatchObject({
        allowed: false,
        via: { node: 'n', in: { allowed: false, stage: 'forward', endpointId: 'star' }, out: { allowed: true, stage: 'forward-default' } },
      });
      expect(modelVerdict(s, { src: '8.8.8.8', dst: '9.9.9.9', protocol: 'UDP', dstPort: 53, via: { in: 'eth1', out: 'eth1' } })).toMatchObject({
        allowed: true,
        via: { in: { stage: 'forward-default', endpointId: 'eth1' } },
      });
    });

    it('host → own workload is allowed; workload → own host follows the endpoint-to-host action', () => {
      const s = forwarding();
      expect(modelVerdict(s, { src: '192.168.0.1', dst: 'ns/a', protocol: 'TCP', dstPort: 80 })).toMatchObject({ allowed: true, ingress: { stage: 'local-host' } });
      expect(modelVerdict(s, { src: 'ns/a', dst: '192.168.0.1', protocol: 'TCP', dstPort: 80 })).toMatchObject({ allowed: true, ingress: { stage: 'endpoint-to-host' } });
      expect(modelVerdict(s, { src: 'ns/a', dst: '192.168.0.1', protocol: 'TCP', dstPort: 80 }, { endpointToHostAction: 'DROP' }).allowed).toBe(false);
      expect(() => modelVerdict(s, { src: 'ns/a', dst: '8.8.8.8', protocol: 'TCP', via: 'elsewhere' })).toThrow(/unknown node/);
    });
  });
});
