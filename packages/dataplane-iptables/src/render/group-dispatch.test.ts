/**
 * Group dispatch by IP set (`groupDispatch: 'ipset'`, policy-groups.ts): the layout (golden
 * `test/fixtures/render-ipset.golden.txt`, both families, flow logs on), and what makes it worth
 * having: a move between existing groups changes set members and no chain.
 */
import { describe, expect, it } from 'vitest';
import { applyMessage, emptyDataplaneState, type CompiledPolicy, type DataplaneMessage, type DataplaneState, type TierRef, type WorkloadEndpointState } from '@gingham/core';
import { formatIpsetRestore, formatIptablesRestore } from './format.js';
import type { RenderOptions } from './options.js';
import { createRenderCache, forgetSetMembers } from './render-cache.js';
import { renderState } from './render.js';
import type { Rendered, RenderedChain } from './rendered.js';

const IPSET: RenderOptions = { groupDispatch: 'ipset' };

const pol = (id: string, tier: string, port: number, over: Partial<CompiledPolicy> = {}): CompiledPolicy => ({
  id,
  tier,
  staged: false,
  ingress: [{ action: 'Allow', protocol: 6, source: { ipSetId: 's:fe' }, destination: { ports: [{ min: port, max: port }] } }],
  egress: [{ action: 'Deny', source: {}, destination: { nets: ['169.254.169.254/32'] } }],
  ...over,
});

const sec = (ids: string[]): TierRef => ({ name: 'security', defaultAction: 'Pass', policyIds: ids });
const dflt = (ids: string[]): TierRef => ({ name: 'default', defaultAction: 'Deny', policyIds: ids });

const wep = (n: number, ingressTiers: TierRef[], egressTiers: TierRef[] = [], over: Partial<WorkloadEndpointState> = {}): WorkloadEndpointState => ({
  id: `a/w${n}`,
  name: `w${n}`,
  node: 'n1',
  interfaceName: `cali${n}`,
  addresses: [`10.65.0.${n}/32`, `fd00:65::${n}/128`],
  ingressTiers,
  egressTiers,
  profileIds: ['kns.a'],
  stagedPolicyIds: [],
  ...over,
});

const base: DataplaneMessage[] = [
  { kind: 'ipset-replace', id: 's:fe', type: 'nets', members: ['10.65.0.9/32', 'fd00:65::9/128'] },
  { kind: 'profile-upsert', profile: { id: 'kns.a', ingress: [{ action: 'Allow', source: { ipSetId: 's:fe' }, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } },
  { kind: 'policy-upsert', policy: pol('gnp/sec.a', 'security', 22, { ingress: [{ action: 'Pass', source: { ipSetId: 's:fe' }, destination: {} }] }) },
  { kind: 'policy-upsert', policy: pol('gnp/sec.b', 'security', 23) },
  { kind: 'policy-upsert', policy: pol('np/a/web', 'default', 80) },
  { kind: 'policy-upsert', policy: pol('np/a/db', 'default', 5432) },
  { kind: 'policy-upsert', policy: pol('np/a/extra', 'default', 9090) },
  { kind: 'policy-upsert', policy: pol('sgnp/staged', 'default', 1, { staged: true }) },
];

/** Two endpoints sharing every group (a multi-policy run and a one-policy run), one alone, one with only a staged policy. */
const golden: DataplaneMessage[] = [
  ...base,
  ...[1, 2].map((n): DataplaneMessage => ({ kind: 'workload-endpoint-upsert', endpoint: wep(n, [sec(['gnp/sec.a', 'gnp/sec.b']), dflt(['np/a/web', 'sgnp/staged'])], [dflt(['np/a/web'])], { stagedPolicyIds: ['sgnp/staged'] }) })),
  { kind: 'workload-endpoint-upsert', endpoint: wep(3, [sec(['gnp/sec.a']), dflt(['np/a/db', 'np/a/extra'])], [dflt(['np/a/db'])]) },
  { kind: 'workload-endpoint-upsert', endpoint: wep(4, [dflt(['sgnp/staged'])], [], { stagedPolicyIds: ['sgnp/staged'] }) },
];

function stateOf(ms: readonly DataplaneMessage[]): DataplaneState {
  const s = emptyDataplaneState();
  for (const m of ms) applyMessage(s, m);
  return s;
}

const chain = (r: Rendered, name: string): RenderedChain | undefined => r.chains.find((c) => c.table === 'filter' && c.name === name);
const args = (c: RenderedChain | undefined): string[] => (c?.rules ?? []).map((r) => r.args.join(' '));
/** The chains the render cache keeps (not the top-level ones, rebuilt every rendering). */
const CACHED = /^gh-(tw|fw|tdi|tdo|gi|go|pi|po|pri|pro)[-_]/;
const set = (r: Rendered, name: string) => r.sets.find((s) => s.name === name);

describe('group dispatch by IP set: layout', () => {
  it('is byte-identical to the golden file (two tiers, one- and multi-policy runs, shared and lone groups, a staged policy, flow logs)', async () => {
    const out: string[] = [];
    for (const family of [4, 6] as const) {
      const r = renderState(stateOf(golden), family, { ...IPSET, flowLogs: true });
      out.push(`### IPv${family}`, '## iptables-restore', formatIptablesRestore(r).trimEnd(), '## ipset restore', formatIpsetRestore(r).trimEnd());
      out.push('## nflog names', ...[...r.nflogNames].map(([k, v]) => `${k} = ${v}`), '');
    }
    await expect(out.join('\n')).toMatchFileSnapshot('../../test/fixtures/render-ipset.golden.txt');
  });

  it('an endpoint chain jumps to the tier dispatch chain, which picks the group by the interface set in its list', () => {
    const r = renderState(stateOf(golden), 4, IPSET);
    expect(args(chain(r, 'gh-tw-cali1'))).toContain('-m mark --mark 0x0/0x20000 -j gh-tdi-security');
    expect(args(chain(r, 'gh-tw-cali1'))).toContain('-m mark --mark 0x0/0x20000 -j gh-tdi-default');
    expect(args(chain(r, 'gh-fw-cali1'))).toContain('-m mark --mark 0x0/0x20000 -j gh-tdo-default');
    // No endpoint chain names a group or policy chain.
    for (const c of r.chains) if (/^gh-[tf]w-/.test(c.name)) expect(args(c).join('\n')).not.toMatch(/gh-(gi|go|pi|po)-/);
    const tdi = args(chain(r, 'gh-tdi-default'));
    expect(tdi).toHaveLength(2);
    for (const rule of tdi) expect(rule).toMatch(/^-m set --match-set gh40gi:\S+ dst,dst -g gh-(gi-\S+|pi-np\/a\/web)$/);
    for (const rule of args(chain(r, 'gh-tdo-default'))) expect(rule).toMatch(/ src,src -g gh-po-np\/a\/(web|db)$/);
    const web = tdi.find((x) => x.endsWith('-g gh-pi-np/a/web'))!.split(' ')[3]!;
    expect(set(r, web)).toEqual({ name: web, type: 'list:set', family: 4, members: ['gh40if:cali1', 'gh40if:cali2'] });
    expect(set(r, 'gh40if:cali1')).toEqual({ name: 'gh40if:cali1', type: 'hash:net,iface', family: 4, members: ['0.0.0.0/0,cali1'] });
  });

  it('IPv6 interface sets hold ::/0 on the interface', () => {
    const r = renderState(stateOf(golden), 6, IPSET);
    for (const n of [1, 2, 3, 4]) expect(set(r, `gh60if:cali${n}`)).toEqual({ name: `gh60if:cali${n}`, type: 'hash:net,iface', family: 6, members: [`::/0,cali${n}`] });
    expect(r.sets.filter((s) => s.type === 'list:set').every((s) => s.members.every((m) => m.startsWith('gh60if:')))).toBe(true);
  });

  it('an endpoint with no enforced policy in a tier is in no group of it, and its chain skips the tier', () => {
    const r = renderState(stateOf(golden), 4, IPSET);
    expect(args(chain(r, 'gh-tw-cali4')).join('\n')).not.toContain('gh-td');
    expect(r.sets.filter((s) => s.members.includes('gh40if:cali4'))).toEqual([]);
    expect(set(r, 'gh40if:cali4')?.members).toEqual(['0.0.0.0/0,cali4']);
  });

  it('the default (chain) layout has no dispatch chains and no interface or group sets', () => {
    const r = renderState(stateOf(golden), 4);
    expect(r.chains.some((c) => c.name.startsWith('gh-td'))).toBe(false);
    expect(r.sets.some((s) => s.type === 'list:set' || s.type === 'hash:net,iface')).toBe(false);
  });
});

describe('group dispatch by IP set: changes', () => {
  // cali1 and cali3 share the default tier's group {web, extra}, cali2 is alone in {db, extra}.
  const start: DataplaneMessage[] = [
    ...base,
    { kind: 'workload-endpoint-upsert', endpoint: wep(1, [sec(['gnp/sec.a']), dflt(['np/a/web', 'np/a/extra'])]) },
    { kind: 'workload-endpoint-upsert', endpoint: wep(2, [sec(['gnp/sec.b']), dflt(['np/a/db', 'np/a/extra'])]) },
    { kind: 'workload-endpoint-upsert', endpoint: wep(3, [sec(['gnp/sec.a']), dflt(['np/a/web', 'np/a/extra'])]) },
  ];

  it('a move between existing groups changes no chain, only the members of the two group sets', () => {
    for (const family of [4, 6] as const) {
      const state = stateOf(start);
      const cache = createRenderCache();
      const before = renderState(state, family, IPSET, {}, cache);
      // cali1 moves to cali2's groups in both tiers (a label change): every group stays in use.
      applyMessage(state, { kind: 'workload-endpoint-upsert', endpoint: wep(1, [sec(['gnp/sec.b']), dflt(['np/a/db', 'np/a/extra'])]) });
      const after = renderState(state, family, IPSET, {}, cache);
      expect(after).toEqual(renderState(state, family, IPSET));
      expect(after.chains).toHaveLength(before.chains.length);
      expect(after.chains).toEqual(before.chains);
      // Every endpoint, dispatch, group, policy and profile chain is the cached one (the top-level chains are rebuilt, equal).
      after.chains.forEach((c, i) => {
        if (CACHED.test(c.name)) expect(c, `${c.name} is the cached chain`).toBe(before.chains[i]);
      });
      const changed = after.sets.filter((s, i) => JSON.stringify(s) !== JSON.stringify(before.sets[i]));
      expect(after.sets.map((s) => s.name)).toEqual(before.sets.map((s) => s.name));
      expect(changed.map((s) => s.type)).toEqual(['list:set', 'list:set', 'list:set', 'list:set']);
      const ifs = `gh${family}0if:`;
      const byMembers = changed.map((s) => s.members.join(' ')).sort();
      expect(byMembers).toEqual([`${ifs}cali1 ${ifs}cali2`, `${ifs}cali1 ${ifs}cali2`, `${ifs}cali3`, `${ifs}cali3`]);
      // The unchanged dispatch sets keep their members arrays (the planner skips them by array).
      after.sets.forEach((x, i) => {
        if (!changed.includes(x) && /^gh\d0(if|gi|go):/.test(x.name)) expect(x.members, x.name).toBe(before.sets[i]!.members);
      });
    }
  });

  it('a tier appearing for an endpoint changes its chain (and only its chain)', () => {
    const state = stateOf(start);
    const cache = createRenderCache();
    const before = renderState(state, 4, IPSET, {}, cache);
    // cali3 gets an egress tier: its fw chain gains the jump, the default tier's egress dispatch chain appears.
    applyMessage(state, { kind: 'workload-endpoint-upsert', endpoint: wep(3, [sec(['gnp/sec.a']), dflt(['np/a/web', 'np/a/extra'])], [dflt(['np/a/web'])]) });
    const after = renderState(state, 4, IPSET, {}, cache);
    expect(after).toEqual(renderState(state, 4, IPSET));
    const old = new Set(before.chains);
    expect(after.chains.filter((c) => CACHED.test(c.name) && !old.has(c)).map((c) => c.name).sort()).toEqual(['gh-fw-cali3', 'gh-po-np/a/web', 'gh-tdo-default']);
    expect(args(chain(after, 'gh-fw-cali3'))).toContain('-m mark --mark 0x0/0x20000 -j gh-tdo-default');
    expect(args(chain(after, 'gh-tdo-default'))).toEqual([`-m set --match-set ${after.sets.find((s) => s.name.startsWith('gh40go:'))!.name} src,src -g gh-po-np/a/web`]);
  });

  it('a group left empty goes with its rule; a new group brings its set, its rule and its chain', () => {
    const state = stateOf(start);
    const cache = createRenderCache();
    renderState(state, 4, IPSET, {}, cache);
    // cali2 (alone in {db, extra}) moves to a new run {db}: the old group's set and chain go.
    applyMessage(state, { kind: 'workload-endpoint-upsert', endpoint: wep(2, [sec(['gnp/sec.b']), dflt(['np/a/db'])]) });
    const after = renderState(state, 4, IPSET, {}, cache);
    expect(after).toEqual(renderState(state, 4, IPSET));
    const tdi = args(chain(after, 'gh-tdi-default'));
    expect(tdi).toHaveLength(2);
    expect(tdi.some((x) => x.endsWith('-g gh-pi-np/a/db'))).toBe(true);
    expect(after.chains.filter((c) => /^gh-gi-/.test(c.name))).toHaveLength(1);
    expect(after.sets.filter((s) => s.type === 'list:set').map((s) => s.members.length).sort()).toEqual([1, 1, 2, 2]);
  });
});
