import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { propRuns } from '@gingham/testkit';
import { LayeredMap } from './layered-map.js';

type Op = { kind: 'set'; k: number; v: number } | { kind: 'delete'; k: number } | { kind: 'layer' } | { kind: 'fork'; k: number; v: number } | { kind: 'peek'; back: number; k: number } | { kind: 'clear' };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('set' as const), k: fc.nat(700), v: fc.integer() }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('delete' as const), k: fc.nat(700) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'layer' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fork' as const), k: fc.nat(700), v: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('peek' as const), back: fc.nat(20), k: fc.nat(700) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

describe('LayeredMap', () => {
  test.prop([fc.array(arbOp, { maxLength: 1500 })], { numRuns: propRuns(60) })(
    'behaves as a Map through any chain and tree of versions read in any order, and no version changes the map it was derived from',
    (ops) => {
      let m = LayeredMap.over(new Map<number, number>());
      let model = new Map<number, number>();
      const frozen: [LayeredMap<number, number>, Map<number, number>][] = [];
      for (const o of ops) {
        if (o.kind === 'set') {
          m.set(o.k, o.v);
          model.set(o.k, o.v);
        } else if (o.kind === 'delete') expect(m.delete(o.k)).toBe(model.delete(o.k));
        else if (o.kind === 'clear') {
          m.clear();
          model.clear();
        } else if (o.kind === 'fork') {
          // A sibling derived from the same map, edited after the main line moved on.
          const side = LayeredMap.over(m);
          const sideModel = new Map(model);
          frozen.push([m, new Map(model)]);
          m = LayeredMap.over(m);
          model = new Map(model);
          side.set(o.k, o.v);
          sideModel.set(o.k, o.v);
          frozen.push([side, sideModel]);
        } else if (o.kind === 'peek') {
          // Reading an older version between edits of the newest.
          const at = frozen[frozen.length - 1 - (o.back % Math.max(1, frozen.length))];
          if (at) expect(at[0].get(o.k)).toBe(at[1].get(o.k));
        } else {
          frozen.push([m, new Map(model)]);
          m = LayeredMap.over(m);
          model = new Map(model);
        }
      }
      for (const [x, want] of [...frozen, [m, model] as const]) {
        expect(x.size).toBe(want.size);
        expect(new Map(x)).toEqual(want);
        expect([...x.keys()].sort()).toEqual([...want.keys()].sort());
        for (let k = 0; k <= 700; k += 7) {
          expect(x.has(k)).toBe(want.has(k));
          expect(x.get(k)).toBe(want.get(k));
        }
      }
    },
  );

  it('refuses to change a map another was derived from (it would change the other)', () => {
    const a = LayeredMap.over(new Map([[1, 1]]));
    const b = LayeredMap.over(a);
    expect(() => a.set(2, 2)).toThrow(/derived/);
    expect(() => a.delete(1)).toThrow(/derived/);
    b.set(2, 2);
    expect([...a]).toEqual([[1, 1]]);
    expect(new Map(b)).toEqual(new Map([[1, 1], [2, 2]]));
  });

  it('keeps a long chain of versions exact without copying, leaving the older maps as they were', () => {
    const base = new Map(Array.from({ length: 100 }, (_, i) => [i, i] as const));
    let m = LayeredMap.over(base);
    for (let i = 100; i < 1000; i++) {
      m = LayeredMap.over(m);
      m.set(i, i);
      m.delete(i - 100);
    }
    expect(base.size).toBe(100);
    expect(m.size).toBe(100);
    expect([...m.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => 900 + i));
  });
});
