import { describe, expect, it } from 'vitest';
import { applyMessage, emptyDataplaneState, type DataplaneMessage, type WorkloadEndpointState } from '@gingham/core';
import { createRenderCache } from '../render/render-cache.js';
import { renderState } from '../render/render.js';
import { cloneKernelState, emptyKernelState } from './kernel-state.js';
import { pathScopes, planConverge } from './plan.js';

const o = { setPrefix: 'gh', commentTag: 'gh:' };
const ep = (i: number, group: number): WorkloadEndpointState => ({
  id: `a/w${i}`,
  name: `w${i}`,
  node: 'n1',
  interfaceName: `cali${i}`,
  addresses: [`10.65.0.${i}/32`],
  ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: [`gnp/p${group}`] }],
  egressTiers: [],
  profileIds: [],
  stagedPolicyIds: [],
});
describe('planConverge reusing what the plan in force computed', () => {
  it('plans exactly as from a fresh copy of the kernel model, consuming it or not (endpoint moves with their addresses between sets)', () => {
    const st = emptyDataplaneState();
    const setup: DataplaneMessage[] = [];
    for (let g = 0; g < 3; g++) {
      setup.push({ kind: 'ipset-replace', id: `s:g${g}`, type: 'nets', members: [`10.66.${g}.1/32`] });
      setup.push({ kind: 'policy-upsert', policy: { id: `gnp/p${g}`, tier: 'default', staged: false, ingress: [{ action: 'Allow', source: { ipSetId: `s:g${(g + 1) % 3}` }, destination: {} }], egress: [] } });
    }
    for (let i = 1; i <= 6; i++) setup.push({ kind: 'workload-endpoint-upsert', endpoint: ep(i, i % 3) });
    for (const m of setup) applyMessage(st, m);
    const cache = createRenderCache();
    let plan = planConverge(emptyKernelState(), renderState(st, 4, {}, {}, cache), o);
    for (let n = 0; n < 8; n++) {
      const i = 1 + (n % 6);
      const to = (i + n + 1) % 3;
      applyMessage(st, { kind: 'workload-endpoint-upsert', endpoint: ep(i, to) });
      applyMessage(st, { kind: 'ipset-add-members', id: `s:g${to}`, members: [`10.65.0.${i}/32`] });
      const r = renderState(st, 4, {}, {}, cache);
      const fresh = planConverge(cloneKernelState(plan.next), r, o, plan.rendered);
      const kept = planConverge(plan.next, r, o, plan.rendered);
      // `consume`: the model's chain map moves into the next one; the plan is the same.
      const reused = planConverge(plan.next, r, { ...o, consume: true }, plan.rendered);
      expect(reused.steps, `move ${n}`).toEqual(kept.steps);
      expect(cloneKernelState(reused.next)).toEqual(cloneKernelState(kept.next));
      expect(reused.steps, `move ${n}`).toEqual(fresh.steps);
      expect(reused.stats).toEqual(fresh.stats);
      expect(cloneKernelState(reused.next)).toEqual(cloneKernelState(fresh.next));
      expect(pathScopes(reused.rendered)).toEqual(pathScopes({ ...reused.rendered }));
      plan = reused;
    }
  });
});
