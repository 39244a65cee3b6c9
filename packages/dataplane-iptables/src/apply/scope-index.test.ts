import { describe, expect, it } from 'vitest';
import { dispatchChain, type GdWorld, gdRender, groupSet, selectorSet } from '../../test/support/group-dispatch.js';
import type { Rendered } from '../render/rendered.js';
import { pathScopes } from './plan.js';
import { type ScopeLookup, scopeIndex, setInterfaces } from './scope-index.js';

/** The index's view equals a full walk of `r` (a copy: the walk of `r` itself is memoised). */
function expectWalk(view: { sets: ScopeLookup; chains: ScopeLookup }, r: Rendered, also: Rendered[] = []): void {
  const full = pathScopes({ ...r });
  const others = also.map((x) => pathScopes({ ...x }));
  for (const n of new Set([...full.sets.keys(), ...others.flatMap((x) => [...x.sets.keys()])])) expect(view.sets.get(n), `set ${n}`).toEqual(full.sets.get(n));
  for (const n of new Set([...full.chains.keys(), ...others.flatMap((x) => [...x.chains.keys()])])) expect(view.chains.get(n), `chain ${n}`).toEqual(full.chains.get(n));
}

const policies = { pa: ['s:a'], pb: ['s:b'], pc: ['s:c'] };
const selectors = { 's:a': ['10.0.0.1/32'], 's:b': ['10.0.0.2/32'], 's:c': ['10.0.0.3/32'] };
const world = (e1: readonly string[], dir: 'ingress' | 'egress' = 'ingress'): GdWorld => ({
  endpoints: [
    { iface: 'cali1', [dir]: { t: e1 } },
    { iface: 'cali2', [dir]: { t: ['pb', 'pc'] } },
    { iface: 'cali3', [dir]: { t: ['pa'] } },
  ],
  policies,
  selectors,
});
const scope = (ins: string[], outs: string[]) => ({ ins: new Set(ins), outs: new Set(outs), any: false });

describe('path scopes through tier dispatch chains (groupDispatch: ipset)', () => {
  it('reads the interfaces of per-interface sets and of the lists holding them', () => {
    const r = gdRender(world(['pa']));
    const ifs = setInterfaces(r.sets);
    expect(ifs.get(groupSet(4, 'ingress', 't', ['pa']))).toEqual(new Set(['cali1', 'cali3']));
    expect(ifs.get(groupSet(4, 'ingress', 't', ['pb', 'pc']))).toEqual(new Set(['cali2']));
    expect(ifs.has(selectorSet(4, 's:a'))).toBe(false);
  });

  it('follows a group rule only for its members\' out-interfaces (ingress), and names the group on every one', () => {
    const r = gdRender(world(['pa']));
    const s = pathScopes(r);
    expect(s.sets.get(selectorSet(4, 's:a'))).toEqual(scope([], ['cali1', 'cali3']));
    expect(s.sets.get(selectorSet(4, 's:b'))).toEqual(scope([], ['cali2']));
    expect(s.sets.get(groupSet(4, 'ingress', 't', ['pa']))).toEqual(scope([], ['cali1', 'cali2', 'cali3']));
    expect(s.chains.get(`filter:pa`)).toEqual(scope([], ['cali1', 'cali3']));
    expect(s.chains.get(`filter:${dispatchChain('ingress', 't')}`)).toEqual(scope([], ['cali1', 'cali2', 'cali3']));
    expectWalk(scopeIndex(r), r);
  });

  it('follows an egress group rule (src,src) only for its members\' in-interfaces', () => {
    const r = gdRender(world(['pa'], 'egress'));
    const s = pathScopes(r);
    expect(s.sets.get(selectorSet(4, 's:a'))).toEqual(scope(['cali1', 'cali3'], []));
    expect(s.sets.get(selectorSet(4, 's:c'))).toEqual(scope(['cali2'], []));
    expectWalk(scopeIndex(r), r);
  });

  it('moves the counts when only group membership changes (no chain differs), journaling the old ones', () => {
    for (const dir of ['ingress', 'egress'] as const) {
      const r1 = gdRender(world(['pa'], dir));
      const r2 = gdRender(world(['pb', 'pc'], dir));
      // The move rewrites no chain: only the two lists' members differ.
      expect(r2.chains.map((c) => c.rules.map((x) => x.id))).toEqual(r1.chains.map((c) => c.rules.map((x) => x.id)));
      const idx = scopeIndex(r1);
      idx.journal();
      idx.moveTo(r2);
      expectWalk(idx, r2, [r1]);
      expectWalk(idx.journaled(), r1, [r2]);
      idx.settle();
      const moved = dir === 'ingress' ? scope([], ['cali1', 'cali2']) : scope(['cali1', 'cali2'], []);
      expect(idx.sets.get(selectorSet(4, 's:b'))).toEqual(moved);
      // And back, then to a rendering where chains change too (a tier appears).
      idx.moveTo(r1);
      expectWalk(idx, r1);
      const r3 = gdRender({ ...world(['pb'], dir), endpoints: [...world(['pb'], dir).endpoints, { iface: 'cali4', [dir]: { t: ['pa'], u: ['pc'] } }] });
      idx.moveTo(r3);
      expectWalk(idx, r3, [r1]);
      idx.moveTo(r2);
      expectWalk(idx, r2, [r3]);
    }
  });

  it('treats a negated or one-flag match, or a set of no plain interface, as no interface test', () => {
    const r = gdRender(world(['pa']));
    const g = groupSet(4, 'ingress', 't', ['pa']);
    const d = r.chains.find((c) => c.name === dispatchChain('ingress', 't'))!;
    const variants: (readonly string[])[] = [
      ['-m', 'set', '!', '--match-set', g, 'dst,dst', '-g', 'pa'],
      ['-m', 'set', '--match-set', g, 'dst', '-g', 'pa'],
    ];
    for (const args of variants) {
      const r2: Rendered = { ...r, chains: r.chains.map((c) => (c === d ? { ...c, rules: [{ id: 'x', args }] } : c)) };
      // pa reached on every out-interface the dispatch chain is (cali1, cali2, cali3).
      expect(pathScopes(r2).chains.get('filter:pa')).toEqual(scope([], ['cali1', 'cali2', 'cali3']));
      expectWalk(scopeIndex(r2), r2);
    }
    const wild: Rendered = { ...r, sets: r.sets.map((s) => (s.type === 'hash:net,iface' && s.members[0]!.endsWith('cali1') ? { ...s, members: ['0.0.0.0/0,cali+'] } : s)) };
    expect(setInterfaces(wild.sets).has(g)).toBe(false);
    expectWalk(scopeIndex(wild, r), wild);
  });
});
