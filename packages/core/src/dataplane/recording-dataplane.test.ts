import { describe, expect, it } from 'vitest';
import type { CompiledPolicy, DataplaneMessage, WorkloadEndpointState } from './index.js';
import { applyMessage, canonicalDataplaneState, emptyDataplaneState, NoopDataplane, RecordingDataplane } from './index.js';

const policy = (id: string, set?: string): CompiledPolicy => ({
  id,
  tier: 'default',
  ingress: [{ action: 'Allow', source: set ? { ipSetId: set } : {}, destination: {} }],
  egress: [],
  staged: false,
});

const wep = (policyIds: string[], profileIds: string[] = []): WorkloadEndpointState => ({
  id: 'ns/a',
  name: 'a',
  node: 'n',
  interfaceName: 'cali0',
  addresses: ['10.0.0.1/32'],
  ingressTiers: policyIds.length ? [{ name: 'default', defaultAction: 'Deny', policyIds }] : [],
  egressTiers: [],
  profileIds,
  stagedPolicyIds: [],
});

describe('RecordingDataplane', () => {
  it('accepts a stream that adds before referencing and unreferences before deleting', () => {
    const dp = new RecordingDataplane();
    dp.apply([
      { kind: 'ipset-replace', id: 's:1', type: 'nets', members: ['10.0.0.2/32'] },
      { kind: 'policy-upsert', policy: policy('gnp/p', 's:1') },
      { kind: 'profile-upsert', profile: { id: 'kns.ns', ingress: [], egress: [] } },
      { kind: 'workload-endpoint-upsert', endpoint: wep(['gnp/p'], ['kns.ns']) },
      { kind: 'in-sync' },
    ]);
    dp.apply([
      { kind: 'workload-endpoint-remove', id: 'ns/a' },
      { kind: 'policy-remove', id: 'gnp/p' },
      { kind: 'profile-remove', id: 'kns.ns' },
      { kind: 'ipset-delete', id: 's:1' },
    ]);
    expect(dp.violations).toEqual([]);
    expect(dp.state.inSync).toBe(true);
    expect(dp.batches).toHaveLength(2);
  });

  it('reports a policy naming a missing IP set and an endpoint naming a missing policy or profile', () => {
    const dp = new RecordingDataplane();
    dp.apply([{ kind: 'policy-upsert', policy: policy('gnp/p', 's:missing') }]);
    dp.apply([{ kind: 'workload-endpoint-upsert', endpoint: wep(['gnp/q'], ['kns.x']) }]);
    expect(dp.violations).toEqual([
      'gnp/p references missing IP set s:missing',
      'endpoint ns/a references missing policy gnp/q',
      'endpoint ns/a references missing profile kns.x',
    ]);
  });

  it('reports deleting an IP set, policy or profile that is still referenced', () => {
    const dp = new RecordingDataplane();
    dp.apply([
      { kind: 'ipset-replace', id: 's:1', type: 'nets', members: [] },
      { kind: 'policy-upsert', policy: policy('gnp/p', 's:1') },
      { kind: 'profile-upsert', profile: { id: 'kns.ns', ingress: [], egress: [] } },
      { kind: 'workload-endpoint-upsert', endpoint: wep(['gnp/p'], ['kns.ns']) },
      { kind: 'ipset-delete', id: 's:1' },
      { kind: 'policy-remove', id: 'gnp/p' },
      { kind: 'profile-remove', id: 'kns.ns' },
      { kind: 'ipset-add-members', id: 's:gone', members: ['10.0.0.1/32'] },
    ]);
    expect(dp.violations).toEqual([
      'IP set s:1 deleted while gnp/p references it',
      'policy gnp/p removed while endpoint ns/a references it',
      'profile kns.ns removed while endpoint ns/a references it',
      'ipset-add-members on missing IP set s:gone',
    ]);
  });

  it('messages are idempotent: applying a stream twice gives the state of applying it once', () => {
    const stream: DataplaneMessage[] = [
      { kind: 'ipset-replace', id: 's:1', type: 'nets', members: ['10.0.0.2/32'] },
      { kind: 'ipset-add-members', id: 's:1', members: ['10.0.0.3/32'] },
      { kind: 'ipset-remove-members', id: 's:1', members: ['10.0.0.2/32'] },
      { kind: 'host-metadata-upsert', host: { node: 'n', addresses: ['172.16.0.1'], podCIDRs: [] } },
    ];
    const once = emptyDataplaneState();
    for (const m of stream) applyMessage(once, m);
    const twice = emptyDataplaneState();
    for (const m of [...stream, ...stream]) applyMessage(twice, m);
    expect(canonicalDataplaneState(twice)).toEqual(canonicalDataplaneState(once));
    expect([...once.ipSets.get('s:1')!.members]).toEqual(['10.0.0.3/32']);
  });

  it('NoopDataplane accepts anything', () => {
    expect(() => new NoopDataplane().apply([{ kind: 'ipset-delete', id: 'x' }])).not.toThrow();
  });
});
