import { describe, expect, it } from 'vitest';
import { makeUniqueId } from '../hash/index.js';
import { makeAndOr, makeComparison, makeHas, makeNot, makeSet } from './ast.js';
import { parseSelectorAst } from './parser.js';
import { printSelector, quoteLiteral } from './print.js';
import { parseSelector } from './selector.js';

const canonical = (input: string): string => printSelector(parseSelectorAst(input));

describe('canonical form (Selector.String() in libcalico-go)', () => {
  it.each([
    // libcalico-go parser_test canonicalisationTests
    ['', 'all()'],
    [' all() ', 'all()'],
    [' (all() )', 'all()'],
    ['! (has( b)||! has(a ))', '!(has(b) || !has(a))'],
    ['! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'],
    [`a == "'"`, `a == "'"`],
    [`a == '"'`, `a == '"'`],
    [`a contains '"'`, `a contains '"'`],
    [`a contains "'"`, `a contains "'"`],
    [`a startswith '"'`, `a starts with '"'`],
    [`a endswith "'"`, `a ends with "'"`],
    [`a!='"'`, `a != '"'`],
    ['a in {"d"}', 'a in {"d"}'],
    ['a in {"a", "b"}', 'a in {"a", "b"}'],
    ['a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'],
    ['a in {"z", "x", "y", "a"}', 'a in {"a", "x", "y", "z"}'],
    ['a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'],
    // the digest's and our own
    [`a == 'x' && b == 'y'`, '(a == "x" && b == "y")'],
    [`!(k == 'v')`, '!k == "v"'],
    [`!(has(a) || b == 'x')`, '!(has(a) || b == "x")'],
    ['global( )', 'global()'],
    ['has(  a  )', 'has(a)'],
    ['a  starts \t with "x"', 'a starts with "x"'],
    ['a   ends   with "x"', 'a ends with "x"'],
    ['a notin {"x"}', 'a not in {"x"}'],
    ['a not in {}', 'a not in {}'],
    ['a in { }', 'a in {}'],
    ["a in {'x',}", 'a in {"x"}'],
    [`a in {'"', "'", 'c'}`, `a in {'"', "'", "c"}`],
    ['a == ""', 'a == ""'],
    ['a == "  spaced  "', 'a == "  spaced  "'],
    ['a == "back\\slash"', 'a == "back\\slash"'],
    ['!!has(a)', 'has(a)'],
    ['!!!has(a)', '!has(a)'],
    ['!(!has(a))', '!!has(a)'],
    ['((has(a)))', 'has(a)'],
    ['has(a) && has(b) && has(c)', '(has(a) && has(b) && has(c))'],
    ['(has(a) && has(b)) && has(c)', '((has(a) && has(b)) && has(c))'],
    ['has(a) && (has(b) && has(c))', '(has(a) && (has(b) && has(c)))'],
    ['has(a) || has(b) && has(c)', '(has(a) || (has(b) && has(c)))'],
    ['(has(a) || has(b)) && has(c)', '((has(a) || has(b)) && has(c))'],
    ['!has(a) || !(has(b) && !has(c))', '(!has(a) || !(has(b) && !has(c)))'],
    ['all() && global()', '(all() && global())'],
    ['contains contains "contains"', 'contains contains "contains"'],
    [
      "projectcalico.org/orchestrator == 'k8s' && app in { 'web', 'api' } && ! has(legacy)",
      '(projectcalico.org/orchestrator == "k8s" && app in {"api", "web"} && !has(legacy))',
    ],
  ])('%j prints as %j', (input, expected) => {
    expect(canonical(input)).toBe(expected);
  });

  it('canonical text re-parses to the same canonical text (except the !(!x) quirk)', () => {
    for (const input of ['! (a == "b"&&! c != "d")', 'a in {"z", "x"}', '(has(a) || has(b)) && !has(c)', 'a == \'"\'']) {
      const once = canonical(input);
      expect(canonical(once)).toBe(once);
    }
  });

  it('!(!x) prints as !!x, which re-parses as x: canonical text is not always a fixed point (as in Calico)', () => {
    expect(canonical('!(!has(a))')).toBe('!!has(a)');
    expect(canonical('!!has(a)')).toBe('has(a)');
    expect(parseSelector('!(!has(a))').uniqueId).not.toBe(parseSelector('has(a)').uniqueId);
  });

  it('a value containing both quote characters prints unparseably, as in Calico', () => {
    const text = printSelector(makeComparison('eq', 'a', `it's "x"`));
    expect(text).toBe(`a == 'it's "x"'`);
    expect(() => parseSelectorAst(text)).toThrow();
  });

  it('quoteLiteral uses " unless the value contains "', () => {
    expect(quoteLiteral('x')).toBe('"x"');
    expect(quoteLiteral("it's")).toBe(`"it's"`);
    expect(quoteLiteral('say "hi"')).toBe(`'say "hi"'`);
    expect(quoteLiteral('')).toBe('""');
  });

  it('prints hand-built trees with the same rules', () => {
    const tree = makeAndOr('or', [
      makeNot(makeHas('a')),
      makeAndOr('and', [makeSet('notIn', 'b', ['y', 'x', 'y']), makeComparison('endsWith', 'c', 'z')]),
    ]);
    expect(printSelector(tree)).toBe('(!has(a) || (b not in {"x", "y"} && c ends with "z"))');
  });
});

describe('unique id (UniqueID() in libcalico-go)', () => {
  it.each([
    ['', 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug'],
    [' all() ', 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug'],
    [' (all() )', 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug'],
    ['! (has( b)||! has(a ))', 's:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q'],
    ['! (a == "b"&&! c != "d")', 's:lh3haoY1ikTRkd4UZu0nWSaIBknYLPJLX16d-w'],
  ])('%j has Calico\'s id %s', (input, id) => {
    expect(parseSelector(input).uniqueId).toBe(id);
  });

  it('is makeUniqueId("s", canonical) and equal for equivalent spellings', () => {
    const a = parseSelector("a == 'x' && b in {'2','1'}");
    const b = parseSelector('(a=="x")&&b in {"1","2","1",}');
    expect(a.toString()).toBe(b.toString());
    expect(a.uniqueId).toBe(b.uniqueId);
    expect(a.uniqueId).toBe(makeUniqueId('s', '(a == "x" && b in {"1", "2"})'));
    expect(a.uniqueId).toMatch(/^s:[A-Za-z0-9_-]{38}$/);
  });

  it('differs when only the grouping differs', () => {
    expect(parseSelector('(has(a) && has(b)) && has(c)').uniqueId).not.toBe(parseSelector('has(a) && has(b) && has(c)').uniqueId);
  });
});
