import { describe, expect, it } from 'vitest';
import type { Labels } from '../model/types.js';
import { interpretSelector } from './interpret.js';
import { parseSelector } from './selector.js';

type Case = readonly [selector: string, matches: readonly Labels[], nonMatches: readonly Labels[]];

/** Checks the compiled matcher, the interpreter and the re-parsed canonical form agree. */
function check(selector: string, labels: Labels, expected: boolean): void {
  const sel = parseSelector(selector);
  expect(sel.matches(labels), `compiled ${selector} on ${JSON.stringify(labels)}`).toBe(expected);
  expect(interpretSelector(sel.ast, labels), `interpreted ${selector} on ${JSON.stringify(labels)}`).toBe(expected);
  expect(parseSelector(sel.toString()).matches(labels), `canonical ${sel} on ${JSON.stringify(labels)}`).toBe(expected);
}

function table(cases: readonly Case[]): void {
  it.each(cases.map(([s, m, n]) => [s, m, n] as const))('%j', (selector, matches, nonMatches) => {
    for (const labels of matches) check(selector, labels, true);
    for (const labels of nonMatches) check(selector, labels, false);
  });
}

describe('evaluation: every operator', () => {
  describe('== matches only a present label with exactly that value', () => {
    table([
      ['a == "b"', [{ a: 'b' }, { a: 'b', c: 'd' }], [{}, { a: 'c' }, { c: 'd' }, { a: 'B' }, { a: 'b ' }, { a: '' }]],
      ['a == ""', [{ a: '' }], [{}, { a: ' ' }]],
    ]);
  });

  describe('!= matches when the label is absent or has another value', () => {
    table([
      ['a != "b"', [{}, { a: 'a' }, { a: '' }, { c: 'b' }], [{ a: 'b' }]],
      ['a != ""', [{}, { a: 'x' }], [{ a: '' }]],
    ]);
  });

  describe('contains is a case-sensitive substring test on a present label', () => {
    table([
      ['a contains "a"', [{ a: 'a' }, { a: 'bab' }, { a: 'aaa', b: 'c' }], [{}, { a: 'b' }, { b: 'aaa' }, { a: 'A' }]],
      ['a contains ""', [{ a: '' }, { a: 'x' }], [{}, { b: '' }]],
    ]);
  });

  describe('starts with / ends with test a prefix / suffix of a present label', () => {
    table([
      ['a starts with "a"', [{ a: 'a' }, { a: 'abb' }], [{}, { a: 'b' }, { a: 'baa' }, { b: 'aaa' }]],
      ['a ends with "a"', [{ a: 'a' }, { a: 'bba' }], [{}, { a: 'b' }, { a: 'aab' }, { b: 'aaa' }]],
      ['a starts with ""', [{ a: '' }], [{}]],
      ['a ends with ""', [{ a: 'x' }], [{}]],
    ]);
  });

  describe('in matches a present label whose value is in the set', () => {
    table([
      [`a in {"'", '"', "c"}`, [{ a: 'c' }, { a: '"' }, { a: "'" }], [{}, { a: 'e' }]],
      ['a in {"a"}', [{ a: 'a' }], [{ a: 'b' }, {}]],
      ['a in {"a", "b"}', [{ a: 'a' }, { a: 'b' }], [{ a: 'c' }, {}]],
      ['a in {"a", "b", "c", "d"}', [{ a: 'a' }, { a: 'd' }], [{ a: 'e' }, {}]],
      ['a in {}', [], [{}, { a: '' }, { a: 'x' }]],
    ]);
  });

  describe('not in matches when the label is absent or its value is not in the set', () => {
    table([
      [`a not in {"'", '"', "c"}`, [{}, { a: 'e' }], [{ a: 'c' }, { a: '"' }, { a: "'" }]],
      ['a not in {"d", "e"}', [{ a: 'a' }, {}], [{ a: 'd' }]],
      ['a not in {"a"}', [{}, { a: 'b' }], [{ a: 'a' }]],
      ['a not in {"a", "b", "c"}', [{}, { a: 'd' }], [{ a: 'c' }]],
      ['a not in {}', [{}, { a: 'x' }], []],
    ]);
  });

  describe('has() is true for a present label, even with an empty value', () => {
    table([
      ['has(a)', [{ a: 'b' }, { a: '' }], [{}, { b: 'a' }]],
      ['!has(a)', [{}, { b: 'b' }], [{ a: 'b' }, { a: '' }]],
    ]);
  });

  describe('all() and global() match everything', () => {
    table([
      ['', [{}, { a: 'b' }], []],
      [' ', [{}], []],
      ['all()', [{}, { a: 'b' }], []],
      ['global()', [{}, { a: 'b' }], []],
      ['!all()', [], [{}, { a: 'b' }]],
    ]);
  });

  describe('any run of ! collapses: an odd count negates', () => {
    table([
      ['!!has(b)', [{ b: 'x' }], [{ a: 'b' }]],
      ['! has(a)', [{}], [{ a: 'b' }]],
      ['!!! has(a)', [{}], [{ a: 'b' }]],
      ['!! ! has(a)', [{}], [{ a: 'b' }]],
      ['! !!has(a)', [{}], [{ a: 'b' }]],
      ['!(!has(a))', [{ a: 'x' }], [{}]],
    ]);
  });

  describe('! applies to a whole comparison', () => {
    table([
      ['!a == "x"', [{}, { a: 'y' }], [{ a: 'x' }]],
      ['!a in {"a"}', [{ a: 'b' }, {}], [{ a: 'a' }]],
      ['!a != "x"', [{ a: 'x' }], [{}, { a: 'y' }]],
      ['!a not in {"x"}', [{ a: 'x' }], [{}, { a: 'y' }]],
      ['!a contains "x"', [{}, { a: 'y' }], [{ a: 'axb' }]],
    ]);
  });

  describe('boolean combinations (libcalico-go parser_test cases)', () => {
    table([
      ['a == "b" && c == "d"', [{ a: 'b', c: 'd' }], [{}, { a: 'b', c: 'e' }, { a: 'c', c: 'd' }, { c: 'd' }, { a: 'b' }]],
      ['a == "b" || c == "d"', [{ a: 'b', c: 'd' }, { a: 'b' }, { c: 'd' }], [{}, { a: 'e', c: 'e' }, { c: 'e' }, { a: 'e' }]],
      ["a == 'a1' && b == 'b1'", [{ a: 'a1', b: 'b1' }], []],
      ["a == 'a1' && b != 'b1'", [], [{ a: 'a1', b: 'b1' }]],
      ["a != 'a1' && b == 'b1'", [], [{ a: 'a1', b: 'b1' }]],
      ["a != 'a1' && b != 'b1'", [], [{ a: 'a1', b: 'b1' }]],
      ["a != 'a1' && !b == 'b1'", [], [{ a: 'a1', b: 'b1' }]],
      ["!a == 'a1' && b == 'b1'", [], [{ a: 'a1', b: 'b1' }]],
      ['has(a) && !has(b)', [{ a: 'a' }], []],
      ['!has(b) && has(a)', [{ a: 'a' }], []],
      ['!(!has(a) || has(b))', [{ a: 'a' }], []],
      ['!(has(b) || !has(a))', [{ a: 'a' }], []],
      ["a == 'a1' || b == 'b1'", [{ a: 'a1', b: 'b1' }], []],
      ["a == 'a1' || b != 'b1'", [{ a: 'a1', b: 'b1' }], []],
      ["a != 'a1' || b == 'b1'", [{ a: 'a1', b: 'b1' }], []],
      ["a != 'a1' || b != 'b1'", [], [{ a: 'a1', b: 'b1' }]],
      ["! a == 'a1' || ! b == 'b1'", [], [{ a: 'a1', b: 'b1' }]],
      ['has(a) || has(b) && has(c)', [{ a: '' }, { b: '', c: '' }], [{ b: '' }, { c: '' }]],
      ['(has(a) || has(b)) && has(c)', [{ a: '', c: '' }, { b: '', c: '' }], [{ a: '' }, { c: '' }]],
      ['has(a) && has(b) && has(c) && has(d)', [{ a: '', b: '', c: '', d: '' }], [{ a: '', b: '', c: '' }]],
      ['has(a) || has(b) || has(c) || has(d)', [{ d: '' }], [{}]],
    ]);
  });

  describe('matching is exact and byte-wise: no trimming, no case folding, Unicode as is', () => {
    table([
      ['a == "Web"', [{ a: 'Web' }], [{ a: 'web' }, { a: 'Web ' }, { a: ' Web' }]],
      ['a == "é"', [{ a: 'é' }], [{ a: 'e\u0301' }]],
      ['a contains "😀"', [{ a: 'x😀y' }], [{ a: 'x' }]],
      ['A == "x"', [{ A: 'x' }], [{ a: 'x' }]],
    ]);
  });
});

describe('evaluation: label maps are plain data', () => {
  it('Object.prototype members are never labels', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      check(`has(${name})`, {}, false);
      check(`${name} != "x"`, {}, true);
      check(`${name} not in {"x", "y", "z"}`, {}, true);
      check(`${name} contains ""`, {}, false);
    }
  });

  it('own labels named like Object.prototype members are labels', () => {
    const labels: Labels = Object.fromEntries([
      ['constructor', 'c'],
      ['__proto__', 'p'],
    ]);
    check('has(constructor) && constructor == "c"', labels, true);
    check('__proto__ == "p" && __proto__ in {"p", "q", "r"}', labels, true);
    check('__proto__ starts with "p"', labels, true);
  });

  it('null-prototype label maps work', () => {
    const labels = Object.assign(Object.create(null) as Record<string, string>, { app: 'web' });
    check('app == "web" && !has(toString)', labels, true);
  });

  it('the matcher is a plain function that can be passed around detached', () => {
    const { matches } = parseSelector('app == "web"');
    expect([{ app: 'web' }, { app: 'db' }].filter(matches)).toEqual([{ app: 'web' }]);
  });
});
