import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairHash, TupleTable } from './tuple-table.js';

type Op =
  | { readonly op: 'insert'; readonly s: number; readonly d: number; readonly w0: number; readonly w1: number }
  | { readonly op: 'delete'; readonly pick: number }
  | { readonly op: 'clear' };

const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.0.10', 'fd00::1', '198.51.100.7'];
const key = (src: string, dst: string, w0: number, w1: number): string => `${src}|${dst}|${w0}|${w1}`;

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('insert' as const), s: fc.nat(4), d: fc.nat(4), w0: fc.constantFrom(6, 17, 0x106), w1: fc.integer({ min: -3, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

describe('TupleTable', () => {
  it('answers as a Map of its tuples through inserts, deletes (backward shift), growth, the cap and clears, with payload kept per entry', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 400 }), fc.integer({ min: 1, max: 300 }), (ops, cap) => {
        // A tiny initial size makes the table grow, and probe runs long, within a few operations.
        const t = new TupleTable(cap, 1, 1, 2);
        const model = new Map<string, { idx: number; value: number }>();
        let next = 0;
        for (const o of ops) {
          if (o.op === 'insert') {
            // Fresh strings each time: equality must be by content, not by object.
            const src = `${ADDRS[o.s]!}`.slice(0);
            const dst = [ADDRS[o.d]!].join('');
            const k = key(src, dst, o.w0, o.w1);
            const found = t.find(pairHash(src, dst), src, dst, o.w0, o.w1);
            expect(found).toBe(model.get(k)?.idx ?? -1);
            if (found >= 0) continue;
            const idx = t.insert(pairHash(src, dst), src, dst, o.w0, o.w1);
            if (model.size >= cap) {
              expect(idx).toBe(-1);
              continue;
            }
            expect(idx).toBeGreaterThanOrEqual(0);
            expect(t.int(idx, 0)).toBe(0);
            t.setInt(idx, 0, ++next);
            t.setFloat(idx, 0, next * 1.5);
            model.set(k, { idx, value: next });
          } else if (o.op === 'delete') {
            if (model.size === 0) continue;
            const k = [...model.keys()][o.pick % model.size]!;
            t.delete(model.get(k)!.idx);
            model.delete(k);
          } else {
            t.clear();
            model.clear();
          }
          expect(t.size).toBe(model.size);
        }
        for (const [k, { idx, value }] of model) {
          const [src, dst, w0, w1] = k.split('|') as [string, string, string, string];
          expect(t.find(pairHash(src, dst), src, dst, Number(w0), Number(w1))).toBe(idx);
          expect(t.live(idx)).toBe(true);
          expect(t.int(idx, 0)).toBe(value);
          expect(t.float(idx, 0)).toBe(value * 1.5);
        }
        let live = 0;
        for (let i = 0; i < t.end; i++) if (t.live(i)) live++;
        expect(live).toBe(model.size);
      }),
      { numRuns: propRuns(200) },
    );
  });

  it('reuses the index of a deleted entry and finds nothing of it afterwards', () => {
    const t = new TupleTable(4, 0, 0);
    const p = pairHash('10.0.0.1', '10.0.0.2');
    const a = t.insert(p, '10.0.0.1', '10.0.0.2', 6, 1);
    t.insert(p, '10.0.0.1', '10.0.0.2', 6, 2);
    t.delete(a);
    expect(t.find(p, '10.0.0.1', '10.0.0.2', 6, 1)).toBe(-1);
    expect(t.find(p, '10.0.0.1', '10.0.0.2', 6, 2)).toBe(1);
    expect(t.insert(pairHash('10.0.0.2', '10.0.0.1'), '10.0.0.2', '10.0.0.1', 6, 1)).toBe(a);
    expect(t.find(p, '10.0.0.1', '10.0.0.2', 6, 1)).toBe(-1);
  });
});
