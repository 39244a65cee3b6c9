import { describe, expect, it } from 'vitest';
import { GinghamError } from '../errors.js';
import type { SelectorNode } from './ast.js';
import { SelectorParseError } from './parse-error.js';
import { MAX_SELECTOR_NESTING, parseSelectorAst } from './parser.js';

function parseError(input: string): SelectorParseError {
  try {
    parseSelectorAst(input);
  } catch (error) {
    expect(error).toBeInstanceOf(SelectorParseError);
    return error as SelectorParseError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

const eq = (label: string, value: string): SelectorNode => ({ kind: 'eq', label, value });
const has = (label: string): SelectorNode => ({ kind: 'has', label });

describe('parser: tree shapes', () => {
  it.each<[string, SelectorNode]>([
    ['', { kind: 'all' }],
    ['   \t ', { kind: 'all' }],
    ['all()', { kind: 'all' }],
    [' (all() )', { kind: 'all' }],
    ['global()', { kind: 'global' }],
    ['has(a)', has('a')],
    ['a == "b"', eq('a', 'b')],
    ["a == 'b'", eq('a', 'b')],
    ['a != "b"', { kind: 'ne', label: 'a', value: 'b' }],
    ['a contains "b"', { kind: 'contains', label: 'a', value: 'b' }],
    ['a starts with "b"', { kind: 'startsWith', label: 'a', value: 'b' }],
    ['a startswith "b"', { kind: 'startsWith', label: 'a', value: 'b' }],
    ['a ends with "b"', { kind: 'endsWith', label: 'a', value: 'b' }],
    ['a endswith "b"', { kind: 'endsWith', label: 'a', value: 'b' }],
    ['a in {"b"}', { kind: 'in', label: 'a', values: ['b'] }],
    ['a not in {"b"}', { kind: 'notIn', label: 'a', values: ['b'] }],
    ['a notin {"b"}', { kind: 'notIn', label: 'a', values: ['b'] }],
    ['a in {}', { kind: 'in', label: 'a', values: [] }],
    ['a not in {}', { kind: 'notIn', label: 'a', values: [] }],
    ['a in {"x",}', { kind: 'in', label: 'a', values: ['x'] }],
    ['a in {"y", "x", "y"}', { kind: 'in', label: 'a', values: ['x', 'y'] }],
    ['contains contains "contains"', { kind: 'contains', label: 'contains', value: 'contains' }],
    ['((a == "b"))', eq('a', 'b')],
    ['!has(a)', { kind: 'not', operand: has('a') }],
    ['!!has(a)', has('a')],
    ['!!!has(a)', { kind: 'not', operand: has('a') }],
    ['! ! !has(a)', { kind: 'not', operand: has('a') }],
    ['!(!has(a))', { kind: 'not', operand: { kind: 'not', operand: has('a') } }],
    ['!a == "x"', { kind: 'not', operand: eq('a', 'x') }],
    ['!a in {"a"}', { kind: 'not', operand: { kind: 'in', label: 'a', values: ['a'] } }],
    ['has(a) && has(b) && has(c)', { kind: 'and', operands: [has('a'), has('b'), has('c')] }],
    ['has(a) || has(b) || has(c)', { kind: 'or', operands: [has('a'), has('b'), has('c')] }],
    [
      '(has(a) && has(b)) && has(c)',
      { kind: 'and', operands: [{ kind: 'and', operands: [has('a'), has('b')] }, has('c')] },
    ],
    [
      'has(a) || has(b) && has(c)',
      { kind: 'or', operands: [has('a'), { kind: 'and', operands: [has('b'), has('c')] }] },
    ],
    [
      'has(a) && has(b) || has(c)',
      { kind: 'or', operands: [{ kind: 'and', operands: [has('a'), has('b')] }, has('c')] },
    ],
    [
      '!has(a) && has(b)',
      { kind: 'and', operands: [{ kind: 'not', operand: has('a') }, has('b')] },
    ],
    [
      '!(has(a) && has(b))',
      { kind: 'not', operand: { kind: 'and', operands: [has('a'), has('b')] } },
    ],
  ])('%j parses to the expected tree', (input, expected) => {
    expect(parseSelectorAst(input)).toEqual(expected);
  });

  it('set values are sorted by UTF-8 byte order, not UTF-16 code units', () => {
    // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (4 bytes, F0 9F 98 80) in Go, but
    // JS's default sort puts the surrogate pair (D83D ...) first.
    const node = parseSelectorAst('a in {"😀", "～", "b", "B", "é"}');
    expect(node).toEqual({ kind: 'in', label: 'a', values: ['B', 'b', 'é', '～', '😀'] });
  });

  it('parsed trees are frozen', () => {
    const node = parseSelectorAst('a in {"x"} && !has(b)');
    expect(Object.isFrozen(node)).toBe(true);
    if (node.kind !== 'and') throw new Error('expected an and node');
    expect(Object.isFrozen(node.operands)).toBe(true);
    expect(Object.isFrozen(node.operands[0])).toBe(true);
    expect(Object.isFrozen((node.operands[0] as { values: unknown }).values)).toBe(true);
  });
});

describe('parser: rejected selectors (libcalico-go badSelectors and more)', () => {
  it.each<[string, number, RegExp]>([
    ['b == b', 5, /expected a string literal after "==", found label "b"/],
    ['b != b', 5, /expected a string literal after "!="/],
    ['b contains b', 11, /expected a string literal after "contains"/],
    ['b starts with b', 14, /expected a string literal after "starts with"/],
    ['b ends with b', 12, /expected a string literal after "ends with"/],
    ["'b1' == b", 0, /found string literal 'b1'/],
    ['b', 1, /expected an operator after label "b".*found end of input/],
    ['a ', 2, /found end of input/],
    ['a b', 2, /expected an operator after label "a"/],
    ['!', 1, /found end of input/],
    ['!!', 2, /found end of input/],
    ['foo == "bar" &', 13, /expected "&&"/],
    ['foo == "bar" |', 13, /expected "\|\|"/],
    ['foo != ||', 7, /expected a string literal after "!=", found "\|\|"/],
    ['foo in {"", ||', 12, /expected a string literal or "}"/],
    ['foo in ""', 7, /expected a set literal/],
    ['foo in "a", "b"', 7, /expected a set literal/],
    ['foo not in has(a)', 11, /expected a set literal/],
    ['a in {"a" "b"}', 10, /expected "," or "}" after a set element/],
    ['a in {,}', 6, /expected a string literal or "}"/],
    ['a in {"a",,}', 10, /expected a string literal or "}"/],
    ['a in {"a"', 9, /expected "," or "}"/],
    ['a in {', 6, /expected a string literal or "}"/],
    ['a in {a}', 6, /found label "a"/],
    ['(', 1, /found end of input/],
    ['(a == "foo"', 11, /expected "\)" to close the "\(" at position 0/],
    [')', 0, /found "\)"/],
    ['()', 1, /found "\)"/],
    ['has(a))', 6, /"\)" has no matching "\("/],
    ['%', 0, /found "%"/],
    ['a == "b" && %', 12, /found "%"/],
    ['a == "b" || %', 12, /found "%"/],
    ['has(foo) &&', 11, /found end of input/],
    ['has(foo) && || has(a)', 12, /found "\|\|"/],
    ['has (a)', 4, /write "has\(" with no space/],
    ['all ()', 4, /write "all\(" with no space/],
    ['global ()', 7, /write "global\(" with no space/],
    ['a == "x" b == "y"', 9, /unexpected label "b" after a complete expression/],
    ['a == "x" "y"', 9, /unexpected string literal "y" after a complete expression/],
    ['all() all()', 6, /unexpected "all\(\)"/],
    ['a == "x" !has(b)', 9, /unexpected "!"/],
    ['a == "x"\n', 8, /found "\\n"/],
    ['a == "x" == "y"', 9, /unexpected "=="/],
    ['a (b)', 2, /expected an operator after label "a".*found "\("/],
    ['a { "x" }', 2, /expected an operator after label "a".*found "\{"/],
    ['a && b == "x"', 2, /expected an operator after label "a".*found "&&"/],
    ['{"a"}', 0, /found "\{"/],
    ['a ==', 4, /expected a string literal after "==", found end of input/],
    ['a in', 4, /expected a set literal .* found end of input/],
  ])('%j is rejected at position %i', (input, position, message) => {
    const error = parseError(input);
    expect(error.reason).toMatch(message);
    expect(error.position).toBe(position);
    expect(error.selector).toBe(input);
  });

  it('lexical errors win over grammar errors earlier in the text, as in Calico (tokenize first)', () => {
    const error = parseError('b == b && %');
    expect(error.position).toBe(10);
  });

  it('errors are GinghamErrors with code SELECTOR_PARSE, a position and a caret excerpt', () => {
    const error = parseError('app == web');
    expect(error).toBeInstanceOf(GinghamError);
    expect(error.code).toBe('SELECTOR_PARSE');
    expect(error.name).toBe('SelectorParseError');
    expect(error.message).toBe(
      'gingham: invalid selector at position 7: expected a string literal after "==", found label "web" ' +
        '(quote the value: the right-hand side must be a literal)\n' +
        '  app == web\n' +
        '         ^',
    );
  });

  it('the caret excerpt of a long selector is cut around the position and stays aligned', () => {
    const input = `${'a == "x" && '.repeat(20)}b == c`;
    const error = parseError(input);
    expect(error.position).toBe(input.length - 1);
    const [, shown, caret] = error.message.split('\n') as [string, string, string];
    expect(shown.startsWith('  …')).toBe(true);
    expect(shown[caret.indexOf('^')]).toBe('c');
  });

  it('control characters are shown as control pictures so the caret stays aligned', () => {
    const error = parseError('a == "x"\n&& b');
    const [, shown, caret] = error.message.split('\n') as [string, string, string];
    expect(shown).toBe('  a == "x"\u240a&& b');
    expect(caret.indexOf('^')).toBe(10);
  });

  it(`accepts ${MAX_SELECTOR_NESTING} nested parentheses and rejects one more`, () => {
    const nest = (depth: number): string => `${'('.repeat(depth)}has(a)${')'.repeat(depth)}`;
    expect(parseSelectorAst(nest(MAX_SELECTOR_NESTING))).toEqual(has('a'));
    expect(parseError(nest(MAX_SELECTOR_NESTING + 1)).reason).toMatch(/nested more than/);
  });
});
