import { applyMessage, emptyDataplaneState, type DataplaneMessage, type HostEndpointState } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { emptyKernelState, parseIptablesSave } from '../apply/kernel-state.js';
import { planConverge } from '../apply/plan.js';
import { decodeGeneration, freshGeneration, generationOfRule, generationValue, withGeneration } from './generation.js';
import { formatIptablesRestore } from './format.js';
import { resolveRenderOptions } from './options.js';
import { renderState } from './render.js';

const hep: HostEndpointState = {
  id: 'h', node: 'n1', binding: { kind: 'interface', interfaceName: 'eth0' }, expectedIPs: [],
  ingressTiers: [], egressTiers: [], untrackedIngressTiers: [], untrackedEgressTiers: [], preDnatIngressTiers: [],
  forwardIngressTiers: [], forwardEgressTiers: [], profileIds: [], stagedPolicyIds: [], failsafeInbound: [], failsafeOutbound: [],
};

function withHep(extra: DataplaneMessage[] = []) {
  const s = emptyDataplaneState();
  for (const m of [{ kind: 'host-endpoint-upsert', endpoint: hep } as DataplaneMessage, ...extra]) expect(applyMessage(s, m)).toEqual([]);
  return s;
}

/** The kernel after a full restore of `text` (what iptables-save would print back). */
function readBack(text: string) {
  const o = resolveRenderOptions();
  const k = emptyKernelState();
  for (const t of ['raw', 'mangle', 'filter']) {
    const section = text.split(/^COMMIT$/m).find((x) => x.includes(`*${t}`)) ?? '';
    parseIptablesSave(t, section.replace(/^-A (\S+) -m comment --comment "([^"]+)"/gm, '-A $1 -m comment --comment $2'), 'gh-', 'gh:', k, o);
  }
  return k;
}

describe('generation stamp', () => {
  it('spreads generations 1-7 over the stamp bits and reads them back', () => {
    const bits = [0x40000, 0x80000, 0x100000];
    for (let g = 0; g <= 7; g++) expect(decodeGeneration(bits, generationValue(bits, g))).toBe(g);
    // Bits need not be contiguous (a custom mask).
    expect(generationValue([0x10, 0x100, 0x1000], 5)).toBe(0x1010);
    expect(generationOfRule(bits, 0x30000, '-m comment --comment gh:x -j MARK --set-xmark 0xc0000/0x1f0000')).toBe(3);
    expect(generationOfRule(bits, 0x30000, '-m conntrack ! --ctstate RELATED,ESTABLISHED -m mark ! --mark 0x100000/0x1c0000 -j DROP')).toBe(4);
    // Clearing accept and pass is not a stamp.
    expect(generationOfRule(bits, 0x30000, '-j MARK --set-xmark 0x0/0x30000')).toBeUndefined();
  });

  it('picks the lowest generation no table carries', () => {
    expect(freshGeneration([])).toBe(1);
    expect(freshGeneration([1, 1, 1])).toBe(2);
    expect(freshGeneration([2, 1, 3])).toBe(4);
  });

  it('moves a rendering to another generation: only the stamp and check rules and their chains ids change', () => {
    const r = renderState(withHep(), 4);
    const r3 = withGeneration(r, 3);
    expect(r3.stamp?.generation).toBe(3);
    const changed = r3.chains.filter((c, i) => c !== r.chains[i]).map((c) => `${c.table}:${c.name}`);
    expect(changed.sort()).toEqual(['filter:gh-FORWARD', 'filter:gh-INPUT', 'filter:gh-OUTPUT', 'mangle:gh-PREROUTING', 'raw:gh-OUTPUT', 'raw:gh-PREROUTING']);
    expect(r3.chains.find((c) => c.name === 'gh-PREROUTING' && c.table === 'raw')!.rules[0]!.args.join(' ')).toBe('-j MARK --set-xmark 0xc0000/0x1f0000');
    // Back to 1: the very rendering (ids included).
    expect(formatIptablesRestore(withGeneration(r3, 1))).toBe(formatIptablesRestore(r));
  });

  it('stamps and checks IPv6 the same way (each family is planned on its own)', () => {
    const r6 = renderState(withHep(), 6);
    expect(r6.stamp?.generation).toBe(1);
    const first = (table: string, name: string): string => r6.chains.find((c) => c.table === table && c.name === name)!.rules[0]!.args.join(' ');
    expect(first('raw', 'gh-PREROUTING')).toBe('-j MARK --set-xmark 0x40000/0x1f0000');
    expect(first('filter', 'gh-INPUT')).toBe('-m conntrack ! --ctstate RELATED,ESTABLISHED -m mark ! --mark 0x40000/0x1c0000 -j DROP');
  });

  it('refuses host endpoints when the mark mask has no room for the stamp', () => {
    expect(() => renderState(withHep(), 4, { markMask: 0x0f00 })).toThrow(expect.objectContaining({ code: 'IPTABLES_INVALID_ARGUMENT' }));
    expect(renderState(emptyDataplaneState(), 4, { markMask: 0x0f00 }).stamp).toBeUndefined();
  });

  it('the planner keeps the generation for one table, moves it for several, and reads each table back', () => {
    const o = { setPrefix: 'gh', commentTag: 'gh:' };
    const first = planConverge(emptyKernelState(), renderState(withHep(), 4), o);
    expect(first.rendered.stamp?.generation).toBe(1);
    const k1 = readBack(formatIptablesRestore(first.rendered));
    expect([...k1.generations]).toEqual([['raw', 1], ['mangle', 1], ['filter', 1]]);
    expect([...k1.chains.keys()].sort()).toEqual([...first.next.chains.keys()].sort());
    for (const [key, list] of first.next.hooks) k1.hooks.set(key, list); // hook rules live in the built-in chains
    // Normal policy only (filter): one commit, generation kept.
    const profile: DataplaneMessage = { kind: 'profile-upsert', profile: { id: 'p', ingress: [], egress: [] } };
    const filterOnly = planConverge(k1, renderState(withHep([profile, { kind: 'host-endpoint-upsert', endpoint: { ...hep, profileIds: ['p'] } }]), 4), o);
    expect(filterOnly.rendered.stamp?.generation).toBe(1);
    expect(filterOnly.steps.flatMap((s) => (s.kind === 'restore' ? s.sections.map((x) => x.table) : []))).toEqual(['filter']);
    // Untracked and normal policy together: every table moves to generation 2.
    const pol: DataplaneMessage = { kind: 'policy-upsert', policy: { id: 'u', tier: 'default', staged: false, ingress: [{ action: 'Deny', source: {}, destination: {} }], egress: [] } };
    const tiers = [{ name: 'default', defaultAction: 'Pass' as const, policyIds: ['u'] }];
    const both = planConverge(k1, renderState(withHep([profile, pol, { kind: 'host-endpoint-upsert', endpoint: { ...hep, profileIds: ['p'], untrackedIngressTiers: tiers } }]), 4), o);
    expect(both.rendered.stamp?.generation).toBe(2);
    expect(both.steps.flatMap((s) => (s.kind === 'restore' ? s.sections.map((x) => x.table) : []))).toEqual(['raw', 'mangle', 'filter']);
    // A kill after the raw commit leaves raw at 2, mangle and filter at 1: a restart moves all to 3.
    const k2 = readBack(formatIptablesRestore(both.rendered));
    for (const [key, list] of both.next.hooks) k2.hooks.set(key, list);
    k2.generations.set('mangle', 1);
    k2.generations.set('filter', 1);
    expect(planConverge(k2, renderState(withHep([profile, pol, { kind: 'host-endpoint-upsert', endpoint: { ...hep, profileIds: ['p'], untrackedIngressTiers: tiers } }]), 4), o).rendered.stamp?.generation).toBe(3);
  });
});
