import { describe, expect, it } from 'vitest';
import { GinghamError } from '../errors.js';
import { SelectorParseError } from './parse-error.js';
import {
  clearSelectorCache,
  parseSelector,
  SELECTOR_CACHE_LIMIT,
  selectorCacheSize,
  selectorFromAst,
  validateSelector,
} from './selector.js';
import { makeHas, makeNot } from './ast.js';

describe('parseSelector', () => {
  it('returns the same object for the same text', () => {
    const text = "app == 'cached' && has(x)";
    expect(parseSelector(text)).toBe(parseSelector(text));
  });

  it('different spellings are different cache entries with equal canonical text and id', () => {
    const a = parseSelector("app == 'x'");
    const b = parseSelector('app=="x"');
    expect(a).not.toBe(b);
    expect(String(a)).toBe(String(b));
    expect(a.uniqueId).toBe(b.uniqueId);
  });

  it('throws SelectorParseError (a GinghamError, code SELECTOR_PARSE) with position, selector and reason', () => {
    let caught: unknown;
    try {
      parseSelector('app == web');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SelectorParseError);
    expect(caught).toBeInstanceOf(GinghamError);
    const error = caught as SelectorParseError;
    expect(error.code).toBe('SELECTOR_PARSE');
    expect(error.position).toBe(7);
    expect(error.selector).toBe('app == web');
    expect(error.reason).toMatch(/^expected a string literal after "=="/);
    expect(error.message).toMatch(/^gingham: invalid selector at position 7: expected a string literal after "=="/);
  });

  it('does not cache failures', () => {
    clearSelectorCache();
    expect(() => parseSelector('bad ==')).toThrow(SelectorParseError);
    expect(selectorCacheSize()).toBe(0);
  });

  it(`evicts the oldest entry once ${SELECTOR_CACHE_LIMIT} texts are cached`, () => {
    clearSelectorCache();
    const first = parseSelector('has(k0)');
    for (let i = 1; i < SELECTOR_CACHE_LIMIT; i++) parseSelector(`has(k${i})`);
    expect(selectorCacheSize()).toBe(SELECTOR_CACHE_LIMIT);
    expect(parseSelector('has(k0)')).toBe(first);
    parseSelector('has(overflow)');
    expect(selectorCacheSize()).toBe(SELECTOR_CACHE_LIMIT);
    expect(parseSelector('has(k0)')).not.toBe(first);
    clearSelectorCache();
  });

  it('Selector objects are frozen, expose the tree and serialise to canonical text', () => {
    const sel = parseSelector("a == 'x' && b == 'y'");
    expect(Object.isFrozen(sel)).toBe(true);
    expect(sel.ast.kind).toBe('and');
    expect(JSON.stringify({ selector: sel })).toBe('{"selector":"(a == \\"x\\" && b == \\"y\\")"}');
    expect(`${sel}`).toBe('(a == "x" && b == "y")');
  });

  it('selectorFromAst compiles a hand-built tree', () => {
    const sel = selectorFromAst(makeNot(makeHas('a')));
    expect(sel.toString()).toBe('!has(a)');
    expect(sel.matches({})).toBe(true);
    expect(sel.uniqueId).toBe(parseSelector('!has(a)').uniqueId);
  });
});

describe('validateSelector', () => {
  it('accepts exactly what parseSelector accepts', () => {
    for (const ok of ['', 'all()', "a in {'x',}", 'contains contains "contains"']) expect(validateSelector(ok)).toEqual({ ok: true });
  });

  it('reports the position and a one-line message without throwing', () => {
    expect(validateSelector('has (a)')).toEqual({
      ok: false,
      position: 4,
      message:
        'invalid selector at position 4: expected an operator after label "has" (==, !=, in, not in, contains, starts with, ends with), ' +
        'found "(" (write "has(" with no space before the parenthesis)',
    });
    const result = validateSelector('a == "x"\n');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.position).toBe(8);
      expect(result.message).not.toContain('\n');
    }
  });
});
