import { describe, expect, it } from 'vitest';
import type { Profile } from '../model/types.js';
import { LabelInheritanceResolver, shapeHash } from './label-inheritance-resolver.js';

const nsProfile = (env: string): Profile => ({ name: 'kns.shop', labelsToApply: { 'pcns.env': env }, ingress: [], egress: [] });

describe('LabelInheritanceResolver', () => {
  it('entities with equal labels in any key order and equal profiles share one shape', () => {
    const r = new LabelInheritanceResolver<string>(() => undefined);
    const a = r.acquire({ app: 'web', tier: 'front' }, ['kns.shop'], 'a');
    const b = r.acquire({ tier: 'front', app: 'web' }, ['kns.shop'], 'b');
    const c = r.acquire({ app: 'web', tier: 'front' }, ['kns.other'], 'c');
    expect(a.created).toBe(true);
    expect(b).toEqual({ shape: a.shape, created: false });
    expect(c.shape).not.toBe(a.shape);
    expect([...a.shape.members]).toEqual(['a', 'b']);
    expect(r.size).toBe(2);
  });

  it('label maps with equal hashes stay distinct shapes', () => {
    // Same key lengths with swapped values: the hash collides by construction, the compare must not.
    expect(shapeHash({ a: 'x', b: 'y' }, [])).toBe(shapeHash({ a: 'y', b: 'x' }, []));
    const r = new LabelInheritanceResolver<string>(() => undefined);
    const one = r.acquire({ a: 'x', b: 'y' }, [], '1').shape;
    const two = r.acquire({ a: 'y', b: 'x' }, [], '2').shape;
    expect(two).not.toBe(one);
    expect(r.acquire({ b: 'x', a: 'y' }, [], '3').shape).toBe(two);
    expect(r.release(one, '1')).toBe(true);
    expect(r.acquire({ a: 'y', b: 'x' }, [], '4').shape).toBe(two);
    expect(r.release(two, '2') || r.release(two, '3')).toBe(false);
    expect(r.release(two, '4')).toBe(true);
    expect(r.size).toBe(0);
  });

  it('a shape lives until its last member leaves, however many members it had', () => {
    const r = new LabelInheritanceResolver<number>(() => undefined);
    const { shape } = r.acquire({ app: 'web' }, [], 0);
    for (let i = 1; i < 100; i++) expect(r.acquire({ app: 'web' }, [], i).shape).toBe(shape);
    expect([...shape.members].sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    for (let i = 99; i > 0; i--) expect(r.release(shape, i)).toBe(false);
    expect([...shape.members]).toEqual([0]);
    expect(r.acquire({ app: 'web' }, [], 7).shape).toBe(shape);
    expect(r.release(shape, 0)).toBe(false);
    expect(r.release(shape, 7)).toBe(true);
    expect(r.byId.has(shape.id)).toBe(false);
    expect(r.acquire({ app: 'web' }, [], 1).created).toBe(true);
  });

  it('effective labels add profile labels the entity lacks, without touching its own labels', () => {
    let profile: Profile | undefined = nsProfile('prod');
    const r = new LabelInheritanceResolver<string>((name) => (name === 'kns.shop' ? profile : undefined));
    const own = { app: 'web', 'pcns.env': 'mine' };
    const { shape } = r.acquire({ app: 'web' }, ['kns.shop'], 'a');
    const mine = r.acquire(own, ['kns.shop'], 'b').shape;
    expect(shape.labels).toEqual({ app: 'web', 'pcns.env': 'prod' });
    expect(shape.own).toEqual({ app: 'web' });
    expect(mine.labels).toBe(own);
    profile = nsProfile('dev');
    expect([...r.shapesUsing('kns.shop')]).toEqual([shape, mine]);
    expect(r.refresh(shape)).toBe(true);
    expect(r.refresh(mine)).toBe(false);
    expect(shape.labels).toEqual({ app: 'web', 'pcns.env': 'dev' });
  });
});
