import { describe, expect, it } from 'vitest';
import { andSelectors, orSelectors, prefixSelectorLabels } from './combine.js';
import { SelectorParseError } from './parse-error.js';
import { parseSelector, selectorAll } from './selector.js';

describe('prefixSelectorLabels (Calico PrefixVisitor)', () => {
  it.each([
    // libcalico-go parser_test Visitor cases, prefix "visited/"
    ["k == 'v'", 'visited/k == "v"'],
    ["k != 'v'", 'visited/k != "v"'],
    ["k contains 'v'", 'visited/k contains "v"'],
    ["k starts with 'v'", 'visited/k starts with "v"'],
    ["k ends with 'v'", 'visited/k ends with "v"'],
    ["k == 'v' && x == 'y'", '(visited/k == "v" && visited/x == "y")'],
    ["k == 'v' || has(x)", '(visited/k == "v" || has(visited/x))'],
    ["!(k == 'v')", '!visited/k == "v"'],
    ["k in {'v'}", 'visited/k in {"v"}'],
    ["k not in {'v'}", 'visited/k not in {"v"}'],
    [
      "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
      '!(!((visited/k == "v" && has(visited/t)) || all()) && visited/a in {"b", "c"})',
    ],
    ['all()', 'all()'],
    ['global()', 'global()'],
  ])('%j becomes %j', (input, expected) => {
    expect(prefixSelectorLabels(parseSelector(input), 'visited/').toString()).toBe(expected);
  });

  it('rewrites namespace selectors with pcns. and leaves the original untouched', () => {
    const original = parseSelector("role == 'db' && !has(team)");
    const prefixed = prefixSelectorLabels(original, 'pcns.');
    expect(prefixed.toString()).toBe('(pcns.role == "db" && !has(pcns.team))');
    expect(prefixed.matches({ 'pcns.role': 'db' })).toBe(true);
    expect(prefixed.matches({ role: 'db' })).toBe(false);
    expect(original.toString()).toBe('(role == "db" && !has(team))');
    expect(prefixed.uniqueId).toBe(parseSelector('(pcns.role == "db" && !has(pcns.team))').uniqueId);
  });

  it('accepts text and rejects invalid text', () => {
    expect(prefixSelectorLabels("a == 'x'", 'pcsa.').toString()).toBe('pcsa.a == "x"');
    expect(() => prefixSelectorLabels('a ==', 'pcsa.')).toThrow(SelectorParseError);
  });
});

describe('andSelectors / orSelectors', () => {
  it('AND of two selectors is what parsing "(a) && (b)" gives', () => {
    const a = "app == 'web' && tier == 'fe'";
    const b = "projectcalico.org/namespace == 'prod'";
    const combined = andSelectors(a, b);
    expect(combined.toString()).toBe(parseSelector(`(${a}) && (${b})`).toString());
    expect(combined.toString()).toBe('((app == "web" && tier == "fe") && projectcalico.org/namespace == "prod")');
  });

  it('each part stays one operand; more than two parts make one flat group', () => {
    expect(andSelectors('has(a)', 'has(b)', 'has(c) || has(d)').toString()).toBe('(has(a) && has(b) && (has(c) || has(d)))');
    expect(orSelectors('has(a)', 'has(b) && has(c)').toString()).toBe('(has(a) || (has(b) && has(c)))');
  });

  it('a single part is returned as is (same object for text, thanks to the cache)', () => {
    const sel = parseSelector('has(a)');
    expect(andSelectors(sel)).toBe(sel);
    expect(orSelectors('has(a)')).toBe(sel);
  });

  it('empty text is all(), not skipped', () => {
    expect(andSelectors('', 'has(a)').toString()).toBe('(all() && has(a))');
  });

  it('accepts parsed selectors and mixes them with text', () => {
    const combined = andSelectors(parseSelector('has(a)'), '!has(b)');
    expect(combined.toString()).toBe('(has(a) && !has(b))');
    expect(combined.matches({ a: '' })).toBe(true);
    expect(combined.matches({ a: '', b: '' })).toBe(false);
  });

  it('selectorAll() is the shared all() selector', () => {
    expect(selectorAll().toString()).toBe('all()');
    expect(selectorAll().uniqueId).toBe('s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
    expect(parseSelector('')).toBe(selectorAll());
    expect(parseSelector(' all( ) ')).toBe(selectorAll());
    expect(selectorAll().matches({})).toBe(true);
  });
});
