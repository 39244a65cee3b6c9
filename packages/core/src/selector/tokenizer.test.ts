import { describe, expect, it } from 'vitest';
import { SelectorParseError } from './parse-error.js';
import { tokenizeSelector } from './tokenizer.js';

/** Tokens as `kind` or `kind(value)`, without the final `eof`. */
function tokens(input: string): string[] {
  const all = tokenizeSelector(input);
  expect(all.at(-1)?.kind).toBe('eof');
  return all.slice(0, -1).map((t) => (t.value === '' && t.kind !== 'string' ? t.kind : `${t.kind}(${t.value})`));
}

function lexError(input: string): SelectorParseError {
  try {
    tokenizeSelector(input);
  } catch (error) {
    expect(error).toBeInstanceOf(SelectorParseError);
    return error as SelectorParseError;
  }
  throw new Error(`expected a lexical error for ${JSON.stringify(input)}`);
}

describe('tokenizer: token sequences (libcalico-go tokenizer_test cases and more)', () => {
  it.each([
    ['a=="b"', ['label(a)', 'eq', 'string(b)']],
    ['label == "value"', ['label(label)', 'eq', 'string(value)']],
    ['label contains "value"', ['label(label)', 'contains', 'string(value)']],
    ['contains contains "contains"', ['label(contains)', 'contains', 'string(contains)']],
    ["contains contains 'contains'", ['label(contains)', 'contains', 'string(contains)']],
    ['label contains"value"', ['label(label)', 'contains', 'string(value)']],
    ['label startswith "value"', ['label(label)', 'startsWith', 'string(value)']],
    ['label endswith "value"', ['label(label)', 'endsWith', 'string(value)']],
    ['label starts with "value"', ['label(label)', 'startsWith', 'string(value)']],
    ['startswith starts with "value"', ['label(startswith)', 'startsWith', 'string(value)']],
    ['label ends with "value"', ['label(label)', 'endsWith', 'string(value)']],
    ['endswith ends with "value"', ['label(endswith)', 'endsWith', 'string(value)']],
    ['label starts  with "value"', ['label(label)', 'startsWith', 'string(value)']],
    ['label starts\t \twith "value"', ['label(label)', 'startsWith', 'string(value)']],
    ['label ends  with "value"', ['label(label)', 'endsWith', 'string(value)']],
    [
      'a not in "bar" && !has(foo) || b in c',
      ['label(a)', 'notIn', 'string(bar)', 'and', 'not', 'has(foo)', 'or', 'label(b)', 'in', 'label(c)'],
    ],
    ['has(calico/k8s_ns)', ['has(calico/k8s_ns)']],
    ['has(calico/k8s_NS-.1/role)', ['has(calico/k8s_NS-.1/role)']],
    [
      'calico/k8s_ns == "kube-system" && k8s-app == "kube-dns"',
      ['label(calico/k8s_ns)', 'eq', 'string(kube-system)', 'and', 'label(k8s-app)', 'eq', 'string(kube-dns)'],
    ],
    [
      'a  not  in  "bar"  &&  ! has( foo )  ||  b  in  c ',
      ['label(a)', 'notIn', 'string(bar)', 'and', 'not', 'has(foo)', 'or', 'label(b)', 'in', 'label(c)'],
    ],
    [
      'a notin"bar"&&!has(foo)||b in"c"',
      ['label(a)', 'notIn', 'string(bar)', 'and', 'not', 'has(foo)', 'or', 'label(b)', 'in', 'string(c)'],
    ],
    ['a not in {}', ['label(a)', 'notIn', 'lbrace', 'rbrace']],
    ['a not in {"a","B"}', ['label(a)', 'notIn', 'lbrace', 'string(a)', 'comma', 'string(B)', 'rbrace']],
    ['global()', ['global']],
    ['all()', ['all']],
    ['all( \t)', ['all']],
    ['global(  )', ['global']],
    ['has(\t a \t)', ['has(a)']],
    ['a!="b"', ['label(a)', 'ne', 'string(b)']],
    ['!!a', ['not', 'not', 'label(a)']],
    ['(a)', ['lparen', 'label(a)', 'rparen']],
  ])('%j tokenizes as %j', (input, expected) => {
    expect(tokens(input)).toEqual(expected);
  });

  it('words that are operators after a label are plain labels anywhere else', () => {
    expect(tokens('in in {}')).toEqual(['label(in)', 'in', 'lbrace', 'rbrace']);
    expect(tokens('not not in {}')).toEqual(['label(not)', 'notIn', 'lbrace', 'rbrace']);
    expect(tokens('has == "x"')).toEqual(['label(has)', 'eq', 'string(x)']);
    expect(tokens('all != "x"')).toEqual(['label(all)', 'ne', 'string(x)']);
  });

  it('identifiers may start with a digit, ".", "/" or "-"', () => {
    expect(tokens('0 == "" && .a == "" && /b == "" && -c == ""').filter((t) => t.startsWith('label'))).toEqual([
      'label(0)',
      'label(.a)',
      'label(/b)',
      'label(-c)',
    ]);
  });

  it('string literals have no escapes and end at the first matching quote', () => {
    expect(tokens(String.raw`a == "x\"`)).toEqual(['label(a)', 'eq', String.raw`string(x\)`]);
    expect(tokens(`a == "it's"`)).toEqual(['label(a)', 'eq', "string(it's)"]);
    expect(tokens(`a == 'say "hi"'`)).toEqual(['label(a)', 'eq', 'string(say "hi")']);
    expect(tokens('a == ""')).toEqual(['label(a)', 'eq', 'string()']);
    expect(tokens('a == "ünï €😀"')).toEqual(['label(a)', 'eq', 'string(ünï €😀)']);
  });

  it('records the source span of every token', () => {
    const all = tokenizeSelector('  has( a ) && b  starts with "x"');
    expect(all.map((t) => [t.kind, t.start, t.end])).toEqual([
      ['has', 2, 10],
      ['and', 11, 13],
      ['label', 14, 15],
      ['startsWith', 17, 28],
      ['string', 29, 32],
      ['eof', 32, 32],
    ]);
  });

  it('a 512-character label is accepted, in has() too', () => {
    const label = 'x'.repeat(512);
    expect(tokens(`${label} == "v"`)[0]).toBe(`label(${label})`);
    expect(tokens(`has(${label})`)).toEqual([`has(${label})`]);
  });

  it('empty and whitespace-only input is just end of input', () => {
    expect(tokens('')).toEqual([]);
    expect(tokens(' \t ')).toEqual([]);
  });
});

describe('tokenizer: lexical errors', () => {
  it.each([
    ['label starts foo "value"', 6, /expected an operator after label "label".*found "starts"/],
    ['label ends foo "value"', 6, /found "ends"/],
    ['label squiggles "value"', 6, /found "squiggles"/],
    ['label inf "v"', 6, /found "inf"/],
    ['label ends withs "v"', 6, /expected an operator/],
    ['label startswithx "v"', 6, /expected an operator/],
    ['label containsx "v"', 6, /expected an operator/],
    ['a notinx {}', 2, /expected an operator/],
    ['a not {}', 2, /expected an operator/],
    ['a b', 2, /expected an operator after label "a".*found "b"/],
    ['a has(b)', 2, /expected an operator after label "a"/],
    ['a = "b"', 2, /expected "=="/],
    ['a == "b" & c == "d"', 9, /expected "&&"/],
    ['a == "b" | c == "d"', 9, /expected "\|\|"/],
    ['"FOO', 0, /unterminated string/],
    [`"FOO'`, 0, /unterminated string/],
    [`'FOO`, 0, /unterminated string/],
    [`a == 'x" `, 5, /unterminated string/],
    ['%', 0, /found "%"/],
    ['a == "b" && %', 12, /found "%"/],
    ['a == "x"\n', 8, /found "\\n" \(only spaces and tabs count as whitespace/],
    ['\na == "x"', 0, /found "\\n"/],
    ['a == "x"\r', 8, /found "\\r"/],
    ['a\u00a0== "x"', 1, /only spaces and tabs/],
    ['a: == "x"', 1, /found ":"/],
    ['ä == "x"', 0, /found "ä"/],
    ['has()', 4, /expected a label name inside "has\("/],
    ['has( )', 5, /expected a label name inside "has\("/],
    ['has(a', 5, /expected "\)" to close "has\("/],
    ['has(a b)', 6, /expected "\)" to close "has\("/],
    ['has(a,b)', 5, /expected "\)" to close "has\("/],
    ['all(', 4, /expected "\)" after "all\("/],
    ['all(x)', 4, /expected "\)" after "all\("/],
    ['global(x)', 7, /expected "\)" after "global\("/],
  ])('%j fails at %i', (input, position, message) => {
    const error = lexError(input);
    expect(error.position).toBe(position);
    expect(error.reason).toMatch(message);
    expect(error.code).toBe('SELECTOR_PARSE');
  });

  it('a 513-character label is "label too long", as a label and inside has()', () => {
    const label = 'x'.repeat(513);
    expect(lexError(`${label} == "v"`).reason).toMatch(/^label too long: 513 characters, at most 512/);
    const inHas = lexError(`has(  ${label})`);
    expect(inHas.reason).toMatch(/^label too long/);
    expect(inHas.position).toBe(6);
  });
});
