import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressTable } from './address-table.js';
import { TupleTable } from './tuple-table.js';

type Op =
  | { readonly op: 'upsert'; readonly s: number; readonly d: number; readonly w0: number; readonly w1: number }
  | { readonly op: 'delete'; readonly pick: number }
  | { readonly op: 'clear' };

const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.0.10', 'fd00::1', '198.51.100.7'];
const key = (src: string, dst: string, w0: number, w1: number): string => `${src}|${dst}|${w0}|${w1}`;

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('upsert' as const), s: fc.nat(4), d: fc.nat(4), w0: fc.constantFrom(6, 17, 0x106), w1: fc.integer({ min: -3, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

describe('TupleTable', () => {
  it('answers as a Map of its tuples through upserts, deletes (backward shift), growth, the cap and clears, with payload kept per entry and each address held exactly while an entry uses it', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 400 }), fc.integer({ min: 1, max: 300 }), fc.boolean(), fc.boolean(), (ops, cap, small, prefault) => {
        // A tiny initial size makes the table grow, and probe runs long, within a few operations;
        // sized for its cap, it never grows. Prefaulted or not, it answers the same.
        const addresses = new AddressTable();
        const t = new TupleTable(cap, 2, 2, { addresses, prefault, ...(small ? { initial: 2 } : {}) });
        const model = new Map<string, { idx: number; value: number }>();
        let next = 0;
        for (const o of ops) {
          if (o.op === 'upsert') {
            // Fresh strings each time: interning is by content, not by object.
            const src = `${ADDRS[o.s]!}`.slice(0);
            const dst = [ADDRS[o.d]!].join('');
            const k = key(src, dst, o.w0, o.w1);
            const a = addresses.intern(src);
            addresses.ref(a);
            const b = addresses.intern(dst);
            addresses.ref(b);
            expect(t.find(a, b, o.w0, o.w1)).toBe(model.get(k)?.idx ?? -1);
            const idx = t.upsert(a, b, o.w0, o.w1);
            addresses.unref(a);
            addresses.unref(b);
            const had = model.get(k);
            if (had) {
              expect([idx, t.created]).toEqual([had.idx, false]);
              continue;
            }
            if (model.size >= cap) {
              expect([idx, t.created]).toEqual([-1, false]);
              continue;
            }
            expect(idx).toBeGreaterThanOrEqual(0);
            expect(t.created).toBe(true);
            expect([t.a(idx), t.b(idx), t.w0(idx), t.w1(idx)]).toEqual([a, b, o.w0, o.w1]);
            // Zero payload whether the entry is fresh storage, a deleted entry's or a cleared one's.
            expect([t.int(idx, 0), t.int(idx, 1), t.float(idx, 0), t.float(idx, 1)]).toEqual([0, 0, 0, 0]);
            t.setInt(idx, 0, ++next);
            t.setInt(idx, 1, -next);
            t.setFloat(idx, 0, next * 1.5);
            t.setFloat(idx, 1, next * 2.5);
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
          // An address is held once per entry that names it, and known only while held.
          for (const text of ADDRS) {
            const uses = [...model.keys()].reduce((n, k) => n + k.split('|').slice(0, 2).filter((x) => x === text).length, 0);
            const id = addresses.find(text);
            if (uses === 0) expect(id).toBe(-1);
            else expect(addresses.refs(id)).toBe(uses);
          }
        }
        for (const [k, { idx, value }] of model) {
          const [src, dst, w0, w1] = k.split('|') as [string, string, string, string];
          expect(t.find(addresses.find(src), addresses.find(dst), Number(w0), Number(w1))).toBe(idx);
          expect(t.live(idx)).toBe(true);
          expect([t.int(idx, 0), t.int(idx, 1), t.float(idx, 0), t.float(idx, 1)]).toEqual([value, -value, value * 1.5, value * 2.5]);
        }
        let live = 0;
        for (let i = 0; i < t.end; i++) if (t.live(i)) live++;
        expect(live).toBe(model.size);
      }),
      { numRuns: propRuns(200) },
    );
  });

  it('is sized for its cap up front (no growth in use), and grows by doubling beyond what it sizes up front', () => {
    const t = new TupleTable(5000, 3, 2);
    expect(t.bytes).toBe(0);
    t.upsert(1, 2, 6, -1);
    t.clear();
    const bytes = t.bytes - (4 * 4 + 3 * 4 + 2 * 8 + 5);
    for (let i = 0; i < 5000; i++) {
      const idx = t.upsert(1, 2, 6, i);
      t.setInt(idx, 2, i);
      t.setFloat(idx, 1, i / 2);
    }
    expect(t.upsert(1, 2, 6, 5000)).toBe(-1);
    for (let i = 0; i < 5000; i += 499) {
      const idx = t.find(1, 2, 6, i);
      expect([t.int(idx, 2), t.float(idx, 1)]).toEqual([i, i / 2]);
    }
    // The slots were there from the first entry on; the entry columns count as they fill.
    expect(t.bytes - bytes).toBe(5000 * (4 * 4 + 3 * 4 + 2 * 8 + 5));
    // A cap no one sizes up front (2^40 entries): storage from `initial`, doubled on demand.
    const huge = new TupleTable(2 ** 40, 1, 1, { initial: 2 });
    for (let i = 0; i < 100; i++) huge.setInt(huge.upsert(1, 2, 6, i), 0, i + 1);
    expect(huge.int(huge.find(1, 2, 6, 57), 0)).toBe(58);
  });

  it('prefaulted, it holds (and counts) all of its storage from creation on, growing or not', () => {
    const perEntry = 4 * 4 + 3 * 4 + 2 * 8 + 5;
    const t = new TupleTable(5000, 3, 2, { prefault: true });
    // 5,000 entries and 16,384 slots of two words.
    expect(t.bytes).toBe(5000 * perEntry + 16_384 * 8);
    for (let i = 0; i < 5000; i++) t.setInt(t.upsert(1, 2, 6, i), 2, i);
    expect(t.bytes).toBe(5000 * perEntry + 16_384 * 8);
    expect(t.int(t.find(1, 2, 6, 4321), 2)).toBe(4321);
    const grows = new TupleTable(100, 3, 2, { prefault: true, initial: 4 });
    expect(grows.bytes).toBe(4 * perEntry + 8 * 8);
    for (let i = 0; i < 100; i++) grows.setInt(grows.upsert(1, 2, 6, i), 0, i + 1);
    expect(grows.bytes).toBe(100 * perEntry + 256 * 8);
    expect(grows.int(grows.find(1, 2, 6, 99), 0)).toBe(100);
  });

  it('reuses the index of a deleted entry and finds nothing of it afterwards', () => {
    const t = new TupleTable(4, 0, 0);
    const a = t.upsert(1, 2, 6, 1);
    t.upsert(1, 2, 6, 2);
    t.delete(a);
    expect(t.find(1, 2, 6, 1)).toBe(-1);
    expect(t.find(1, 2, 6, 2)).toBe(1);
    expect(t.upsert(2, 1, 6, 1)).toBe(a);
    expect(t.find(1, 2, 6, 1)).toBe(-1);
  });
});

describe('AddressTable', () => {
  it('frees an id with its last reference and gives it to the next new address', () => {
    const addresses = new AddressTable();
    const a = addresses.intern('10.0.0.1');
    const b = addresses.intern('10.0.0.2');
    expect(addresses.intern('10.0.0.1')).toBe(a);
    addresses.ref(a);
    addresses.ref(a);
    addresses.ref(b);
    addresses.unref(a);
    expect(addresses.find('10.0.0.1')).toBe(a);
    addresses.unref(a);
    expect([addresses.find('10.0.0.1'), addresses.text[a], addresses.size]).toEqual([-1, '', 1]);
    expect(addresses.intern('fd00::1')).toBe(a);
    expect(addresses.text[a]).toBe('fd00::1');
    // internAt: the hint when it still holds the text, else a lookup (a freed hint's text is '').
    expect(addresses.internAt(a, 'fd00::1')).toBe(a);
    expect(addresses.internAt(b, 'fd00::1')).toBe(a);
    addresses.ref(a);
    addresses.unref(a);
    expect(addresses.text[a]).toBe('');
    expect(addresses.internAt(a, '10.0.0.9')).toBe(addresses.find('10.0.0.9'));
    expect(addresses.internAt(b, '')).not.toBe(b);
    // Ids beyond the first reference column's length.
    for (let i = 0; i < 200; i++) addresses.ref(addresses.intern(`10.1.0.${i}`));
    expect(addresses.refs(addresses.find('10.1.0.199'))).toBe(1);
  });
});
