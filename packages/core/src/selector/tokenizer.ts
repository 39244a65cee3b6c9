/**
 * Selector tokenizer, following libcalico-go's rules exactly (see docs/selectors.md):
 *  - whitespace is only space and tab; anything else (newline, CR, NBSP) is an error;
 *  - string literals end at the first matching quote, with no escapes;
 *  - word operators (`contains`, `starts with`, `ends with`, `in`, `not in`) are recognised only
 *    right after a label and only before a word boundary, so they remain usable as label names;
 *  - `has(`, `all(`, `global(` are recognised only as exact prefixes (no space before `(`).
 * The whole input is tokenized before parsing starts, as Calico does, so a lexical error is
 * reported even when a grammar error comes earlier in the text.
 */
import { isLabelChar, MAX_LABEL_LENGTH } from './ast.js';
import { quoteChar, SelectorParseError } from './parse-error.js';

/** Token kinds; word operators and functions are single tokens. */
export type TokenKind =
  | 'label'
  | 'string'
  | 'lbrace'
  | 'rbrace'
  | 'comma'
  | 'eq'
  | 'ne'
  | 'in'
  | 'notIn'
  | 'not'
  | 'contains'
  | 'startsWith'
  | 'endsWith'
  | 'all'
  | 'has'
  | 'global'
  | 'lparen'
  | 'rparen'
  | 'and'
  | 'or'
  | 'eof';

/** One token with its source span (`input.slice(start, end)` is what was written). */
export interface Token {
  readonly kind: TokenKind;
  /** Label name for `label` and `has`, literal contents for `string`, otherwise `''`. */
  readonly value: string;
  /** 0-based offset of the first character. */
  readonly start: number;
  /** Offset just past the last character. */
  readonly end: number;
}

const SPACE = 0x20;
const TAB = 0x09;

function skipWhitespace(input: string, i: number): number {
  while (i < input.length) {
    const c = input.charCodeAt(i);
    if (c !== SPACE && c !== TAB) break;
    i++;
  }
  return i;
}

/** End of the run of label characters starting at `i` (== `i` when there is none). */
function scanLabel(input: string, i: number): number {
  while (i < input.length && isLabelChar(input.charCodeAt(i))) i++;
  return i;
}

function isWordBoundary(input: string, i: number): boolean {
  return i >= input.length || !isLabelChar(input.charCodeAt(i));
}

/**
 * Matches `words` at `i`, each separated by any run of spaces/tabs (possibly empty, so
 * `startswith` and `notin` work), followed by a word boundary. Returns the end offset or -1.
 * (Calico also skips spaces after the last word of `starts with`/`ends with`/`not in` before the
 * boundary test; that only moves the error for inputs like `a not in x` from here to the parser,
 * since a label character can never start the `{` or literal that must follow.)
 */
function matchWords(input: string, i: number, words: readonly string[]): number {
  let at = i;
  for (let w = 0; w < words.length; w++) {
    const word = words[w]!;
    if (!input.startsWith(word, at)) return -1;
    at += word.length;
    if (w < words.length - 1) at = skipWhitespace(input, at);
  }
  return isWordBoundary(input, at) ? at : -1;
}

const WORD_OPERATORS: ReadonlyArray<readonly [TokenKind, readonly string[]]> = [
  ['contains', ['contains']],
  ['startsWith', ['starts', 'with']],
  ['endsWith', ['ends', 'with']],
  ['notIn', ['not', 'in']],
  ['in', ['in']],
];

/** What is at `i`, for messages: a word of label characters (shortened) or one character, with a hint for stray whitespace. */
function describeAt(input: string, i: number): string {
  const end = scanLabel(input, i);
  if (end === i) {
    const hint = /\s/.test(input[i] ?? '') ? ' (only spaces and tabs count as whitespace in a selector)' : '';
    return quoteChar(input, i) + hint;
  }
  const word = input.slice(i, Math.min(end, i + 40));
  return JSON.stringify(end - i > 40 ? `${word}…` : word);
}

/**
 * Splits a selector into tokens, ending with one `eof` token.
 * @throws SelectorParseError on a lexical error (unterminated string, lone `=`/`&`/`|`, a label
 *   longer than 512 characters, a missing operator after a label, a malformed `has(`/`all(`/
 *   `global(`, or any character outside the language).
 */
export function tokenizeSelector(input: string): Token[] {
  const tokens: Token[] = [];
  const n = input.length;
  const fail = (at: number, reason: string): never => {
    throw new SelectorParseError(input, at, reason);
  };
  const push = (kind: TokenKind, start: number, end: number, value = ''): void => {
    tokens.push({ kind, value, start, end });
  };
  /** Reads a label at `i` (after `what`), enforcing the 512-character limit. */
  const readLabel = (i: number, what: string): number => {
    const end = scanLabel(input, i);
    if (end === i) fail(i, `expected ${what}, found ${describeAt(input, i)}`);
    if (end - i > MAX_LABEL_LENGTH) {
      fail(i, `label too long: ${end - i} characters, at most ${MAX_LABEL_LENGTH} are allowed`);
    }
    return end;
  };

  let i = 0;
  for (;;) {
    i = skipWhitespace(input, i);
    if (i >= n) {
      push('eof', n, n);
      return tokens;
    }
    const start = i;
    const c = input.charCodeAt(i);
    switch (c) {
      case 0x28: // (
        push('lparen', i, ++i);
        break;
      case 0x29: // )
        push('rparen', i, ++i);
        break;
      case 0x7b: // {
        push('lbrace', i, ++i);
        break;
      case 0x7d: // }
        push('rbrace', i, ++i);
        break;
      case 0x2c: // ,
        push('comma', i, ++i);
        break;
      case 0x22: // "
      case 0x27: {
        // ' (either quote; the literal ends at the first matching one)
        const quote = input[i]!;
        const close = input.indexOf(quote, i + 1);
        if (close < 0) fail(i, `unterminated string literal: no closing ${quote} (literals have no escapes)`);
        push('string', start, close + 1, input.slice(i + 1, close));
        i = close + 1;
        break;
      }
      case 0x3d: // =
        if (input.charCodeAt(i + 1) !== 0x3d) fail(i, 'expected "==": a single "=" is not an operator');
        push('eq', i, i + 2);
        i += 2;
        break;
      case 0x21: // !
        if (input.charCodeAt(i + 1) === 0x3d) {
          push('ne', i, i + 2);
          i += 2;
        } else {
          push('not', i, ++i);
        }
        break;
      case 0x26: // &
        if (input.charCodeAt(i + 1) !== 0x26) fail(i, 'expected "&&": a single "&" is not an operator');
        push('and', i, i + 2);
        i += 2;
        break;
      case 0x7c: // |
        if (input.charCodeAt(i + 1) !== 0x7c) fail(i, 'expected "||": a single "|" is not an operator');
        push('or', i, i + 2);
        i += 2;
        break;
      default: {
        const last = tokens[tokens.length - 1];
        if (last?.kind === 'label') {
          // Right after a label only a word operator may follow (punctuation was handled above).
          let matched = false;
          for (const [kind, words] of WORD_OPERATORS) {
            const end = matchWords(input, i, words);
            if (end >= 0) {
              push(kind, i, end);
              i = end;
              matched = true;
              break;
            }
          }
          if (!matched) {
            fail(
              i,
              `expected an operator after label ${JSON.stringify(last.value)} ` +
                `(==, !=, in, not in, contains, starts with, ends with), found ${describeAt(input, i)}`,
            );
          }
        } else if (input.startsWith('has(', i)) {
          const labelStart = skipWhitespace(input, i + 4);
          const labelEnd = readLabel(labelStart, 'a label name inside "has("');
          const close = skipWhitespace(input, labelEnd);
          if (input.charCodeAt(close) !== 0x29) {
            fail(close, `expected ")" to close "has(" (it takes exactly one label name), found ${describeAt(input, close)}`);
          }
          push('has', start, close + 1, input.slice(labelStart, labelEnd));
          i = close + 1;
        } else if (input.startsWith('all(', i) || input.startsWith('global(', i)) {
          const fn = input.startsWith('all(', i) ? 'all' : 'global';
          const close = skipWhitespace(input, i + fn.length + 1);
          if (input.charCodeAt(close) !== 0x29) {
            fail(close, `expected ")" after "${fn}(" (it takes no arguments), found ${describeAt(input, close)}`);
          }
          push(fn, start, close + 1);
          i = close + 1;
        } else {
          const end = readLabel(i, 'a label name, a quoted string or one of ( ) { } , == != ! && ||');
          push('label', start, end, input.slice(start, end));
          i = end;
        }
      }
    }
  }
}
