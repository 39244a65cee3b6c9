import { describe, expect, it } from 'vitest';
import {
  labelRestrictionsSatisfiable,
  labelsSatisfyRestrictions,
  type LabelRestrictions,
} from './label-restrictions.js';
import { parseSelector } from './selector.js';

/** Restrictions as plain data: `{label: {present?, absent?, oneOf?}}` with sorted value lists. */
type Plain = Record<string, { present?: true; absent?: true; oneOf?: string[] }>;

function plain(restrictions: LabelRestrictions): Plain {
  const out: Plain = {};
  for (const [label, r] of restrictions) {
    out[label] = {
      ...(r.mustBePresent ? { present: true as const } : {}),
      ...(r.mustBeAbsent ? { absent: true as const } : {}),
      ...(r.mustHaveOneOf ? { oneOf: [...r.mustHaveOneOf].sort() } : {}),
    };
  }
  return out;
}

// libcalico-go label_restriction_test.go, case for case.
const calicoCases: ReadonlyArray<readonly [string, Plain]> = [
  ['', {}],
  ['all()', {}],
  ['global()', {}],
  ["a == 'value'", { a: { present: true, oneOf: ['value'] } }],
  ['has(a)', { a: { present: true } }],
  ["a in {'v1','v2'}", { a: { present: true, oneOf: ['v1', 'v2'] } }],
  ["a not in {'v1','v2'}", {}],
  ["a contains 'foo'", { a: { present: true } }],
  ["a ends with 'foo'", { a: { present: true } }],
  ["a starts with 'foo'", { a: { present: true } }],
  ["a != 'value'", {}],
  ["a == 'v1' && a == 'v1'", { a: { present: true, oneOf: ['v1'] } }],
  ["a == 'v1' && a == 'v2'", { a: { present: true, oneOf: [] } }],
  ["a == 'v1' && has(a)", { a: { present: true, oneOf: ['v1'] } }],
  ["a in {'v1','v2'} && a in {'v2','v3'} ", { a: { present: true, oneOf: ['v2'] } }],
  ["a in {'v1','v2', 'v3'} && a in {'v2','v3'} ", { a: { present: true, oneOf: ['v2', 'v3'] } }],
  ["has(a) && a == 'v1'", { a: { present: true, oneOf: ['v1'] } }],
  ['has(a) && !has(a)', { a: { present: true, absent: true } }],
  ["a == 'v1' && b == 'v2'", { a: { present: true, oneOf: ['v1'] }, b: { present: true, oneOf: ['v2'] } }],
  ["a == 'v1' && all()", { a: { present: true, oneOf: ['v1'] } }],
  ["all() && a == 'v1'", { a: { present: true, oneOf: ['v1'] } }],
  ["a == 'v1' || a == 'v2'", { a: { present: true, oneOf: ['v1', 'v2'] } }],
  ["has(a) || a == 'v2'", { a: { present: true } }],
  ["a=='v2' || has(a)", { a: { present: true } }],
  ["a=='v2' || has(b)", {}],
  ["a=='v2' || (has(b) && has(a))", { a: { present: true } }],
  ["a == 'v1' || b == 'v2'", {}],
  ["a == 'v1' || all()", {}],
  ["all() || b == 'v2'", {}],
  ["!(a == 'value')", {}],
  ['!has(a)', { a: { absent: true } }],
  ['!!has(a)', { a: { present: true } }],
];

describe('label restrictions (libcalico-go cases)', () => {
  it.each(calicoCases)('%j', (selector, expected) => {
    expect(plain(parseSelector(selector).labelRestrictions())).toEqual(expected);
  });

  it.each(calicoCases.filter(([s]) => s !== ''))('all() && (%j) has the same restrictions', (selector, expected) => {
    expect(plain(parseSelector(`all() && (${selector})`).labelRestrictions())).toEqual(expected);
  });
});

describe('label restrictions: more cases', () => {
  it.each<readonly [string, Plain]>([
    ['a in {}', { a: { present: true, oneOf: [] } }],
    ['!has(a) || !has(a)', { a: { absent: true } }],
    ['!has(a) || has(a)', {}],
    ['!has(a) && a == "x"', { a: { present: true, absent: true, oneOf: ['x'] } }],
    ['a in {"x", "y"} || a in {"y", "z"} || a == "w"', { a: { present: true, oneOf: ['w', 'x', 'y', 'z'] } }],
    ['a in {"x", "y"} || a in {"y", "z"} || has(a)', { a: { present: true } }],
    ['(a == "x" && b == "y") || (a == "z" && c == "w")', { a: { present: true, oneOf: ['x', 'z'] } }],
    ['!(!has(a))', {}],
    ['!a in {"x"}', {}],
    ['!(has(a) && has(b))', {}],
    ['a == "x" && (has(b) || has(c))', { a: { present: true, oneOf: ['x'] } }],
    ['a starts with "x" && a == "y"', { a: { present: true, oneOf: ['y'] } }],
    ['global() && has(a)', { a: { present: true } }],
  ])('%j', (selector, expected) => {
    expect(plain(parseSelector(selector).labelRestrictions())).toEqual(expected);
  });

  it('flags a restriction that cannot be met, as Calico\'s PossibleToSatisfy does', () => {
    const unsat = (s: string): boolean => !labelRestrictionsSatisfiable(parseSelector(s).labelRestrictions());
    expect(unsat('a == "x" && a == "y"')).toBe(true);
    expect(unsat('has(a) && !has(a)')).toBe(true);
    expect(unsat('a in {}')).toBe(true);
    expect(unsat('a in {"x"} && a in {"y"} && has(b)')).toBe(true);
    expect(unsat('a == "x"')).toBe(false);
    expect(unsat('a == "x" || a == "y"')).toBe(false);
    expect(unsat('all()')).toBe(false);
    expect(parseSelector('a == "x" && a == "y" && has(b)').labelRestrictions().get('b')?.unsatisfiable).toBe(false);
    expect(parseSelector('a == "x" && a == "y"').labelRestrictions().get('a')?.unsatisfiable).toBe(true);
  });

  it('labelsSatisfyRestrictions checks presence, absence and values', () => {
    const r = parseSelector('a in {"x", "y"} && has(b) && !has(c)').labelRestrictions();
    expect(labelsSatisfyRestrictions(r, { a: 'x', b: '' })).toBe(true);
    expect(labelsSatisfyRestrictions(r, { a: 'z', b: '' })).toBe(false);
    expect(labelsSatisfyRestrictions(r, { a: 'x' })).toBe(false);
    expect(labelsSatisfyRestrictions(r, { a: 'x', b: '', c: '' })).toBe(false);
    expect(labelsSatisfyRestrictions(r, { b: '' })).toBe(false);
  });

  it('is computed once per selector and is stable', () => {
    const sel = parseSelector('a == "x" && has(b)');
    expect(sel.labelRestrictions()).toBe(sel.labelRestrictions());
  });
});
