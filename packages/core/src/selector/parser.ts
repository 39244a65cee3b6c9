/**
 * Recursive-descent selector parser with Calico's grammar and tree shapes:
 *
 *   expression := and-expr ( "||" and-expr )*        one `or` node, or the single and-expr
 *   and-expr   := operation ( "&&" operation )*      one `and` node, or the single operation
 *   operation  := "!"* primary                       odd count → `not`, even count → nothing
 *   primary    := has(l) | all() | global() | "(" expression ")"
 *               | l == s | l != s | l contains s | l starts with s | l ends with s
 *               | l in set | l not in set
 *   set        := "{" [ s ( "," s )* [ "," ] ] "}"
 *
 * Parentheses leave no node behind, so `((a == "x"))` is the comparison itself and
 * `(a && b) && c` keeps the inner group as its own `and` node. Empty input is `all()`.
 * Never caches and never throws anything but `SelectorParseError`.
 */
import {
  makeAll,
  makeAndOr,
  makeComparison,
  makeGlobal,
  makeHas,
  makeNot,
  makeSet,
  type ComparisonKind,
  type SelectorNode,
} from './ast.js';
import { SelectorParseError } from './parse-error.js';
import { tokenizeSelector, type Token, type TokenKind } from './tokenizer.js';

/**
 * Deepest parenthesis nesting accepted. Calico has no limit; ours keeps the recursive parser,
 * printer and compiler well inside the JS stack. Unreachable within the 1024-character limit
 * the Calico API puts on selector fields.
 */
export const MAX_SELECTOR_NESTING = 1000;

const COMPARISONS: Partial<Record<TokenKind, ComparisonKind>> = {
  eq: 'eq',
  ne: 'ne',
  contains: 'contains',
  startsWith: 'startsWith',
  endsWith: 'endsWith',
};

const OPERATOR_TEXT: Partial<Record<TokenKind, string>> = {
  eq: '==',
  ne: '!=',
  contains: 'contains',
  startsWith: 'starts with',
  endsWith: 'ends with',
  in: 'in',
  notIn: 'not in',
};

/**
 * Parses selector text into a frozen syntax tree (no caching; see `parseSelector` for the
 * cached, compiled form).
 * @throws SelectorParseError with the 0-based position of the offending token.
 */
export function parseSelectorAst(input: string): SelectorNode {
  const tokens = tokenizeSelector(input);
  if (tokens[0]!.kind === 'eof') return makeAll();
  const parser = new Parser(input, tokens);
  const node = parser.parseOr(0);
  const rest = parser.peek();
  if (rest.kind !== 'eof') {
    const hint =
      rest.kind === 'rparen'
        ? '")" has no matching "("'
        : `unexpected ${parser.describe(rest)} after a complete expression; join expressions with "&&" or "||"`;
    parser.fail(rest, hint);
  }
  return node;
}

class Parser {
  private index = 0;

  constructor(
    private readonly input: string,
    private readonly tokens: readonly Token[],
  ) {}

  peek(): Token {
    return this.tokens[this.index]!;
  }

  private next(): Token {
    const token = this.tokens[this.index]!;
    if (token.kind !== 'eof') this.index++;
    return token;
  }

  fail(token: Token, reason: string): never {
    throw new SelectorParseError(this.input, token.start, reason);
  }

  /** How a token is named in messages: `label "a"`, `string literal 'x'`, `"&&"`, `end of input`. */
  describe(token: Token): string {
    switch (token.kind) {
      case 'eof':
        return 'end of input';
      case 'label':
        return `label ${JSON.stringify(token.value)}`;
      case 'string':
        return `string literal ${this.input.slice(token.start, token.end)}`;
      default:
        return JSON.stringify(this.input.slice(token.start, token.end));
    }
  }

  parseOr(depth: number): SelectorNode {
    const operands = [this.parseAnd(depth)];
    while (this.peek().kind === 'or') {
      this.next();
      operands.push(this.parseAnd(depth));
    }
    return makeAndOr('or', operands);
  }

  private parseAnd(depth: number): SelectorNode {
    const operands = [this.parseOperation(depth)];
    while (this.peek().kind === 'and') {
      this.next();
      operands.push(this.parseOperation(depth));
    }
    return makeAndOr('and', operands);
  }

  private parseOperation(depth: number): SelectorNode {
    let negated = false;
    while (this.peek().kind === 'not') {
      this.next();
      negated = !negated;
    }
    const node = this.parsePrimary(depth);
    return negated ? makeNot(node) : node;
  }

  private parsePrimary(depth: number): SelectorNode {
    const token = this.next();
    switch (token.kind) {
      case 'has':
        return makeHas(token.value);
      case 'all':
        return makeAll();
      case 'global':
        return makeGlobal();
      case 'lparen': {
        if (depth >= MAX_SELECTOR_NESTING) this.fail(token, `parentheses nested more than ${MAX_SELECTOR_NESTING} deep`);
        const inner = this.parseOr(depth + 1);
        const close = this.next();
        if (close.kind !== 'rparen') {
          this.fail(close, `expected ")" to close the "(" at position ${token.start}, found ${this.describe(close)}`);
        }
        return inner;
      }
      case 'label':
        return this.parseComparison(token);
      default:
        return this.fail(
          token,
          `expected a label comparison, has(…), all(), global(), "!" or "(", found ${this.describe(token)}`,
        );
    }
  }

  private parseComparison(label: Token): SelectorNode {
    const op = this.next();
    const comparison = COMPARISONS[op.kind];
    if (comparison !== undefined) {
      const literal = this.next();
      if (literal.kind !== 'string') {
        const hint = literal.kind === 'label' ? ' (quote the value: the right-hand side must be a literal)' : '';
        this.fail(literal, `expected a string literal after "${OPERATOR_TEXT[op.kind]}", found ${this.describe(literal)}${hint}`);
      }
      return makeComparison(comparison, label.value, literal.value);
    }
    if (op.kind === 'in' || op.kind === 'notIn') {
      const open = this.next();
      if (open.kind !== 'lbrace') {
        this.fail(open, `expected a set literal such as {"a", "b"} after "${OPERATOR_TEXT[op.kind]}", found ${this.describe(open)}`);
      }
      return makeSet(op.kind, label.value, this.parseSetBody(open));
    }
    const hint =
      op.kind === 'lparen' && (label.value === 'has' || label.value === 'all' || label.value === 'global')
        ? ` (write "${label.value}(" with no space before the parenthesis)`
        : '';
    return this.fail(
      op,
      `expected an operator after label ${JSON.stringify(label.value)} ` +
        `(==, !=, in, not in, contains, starts with, ends with), found ${this.describe(op)}${hint}`,
    );
  }

  /** After `{`: literals separated by commas, an optional trailing comma, then `}`. */
  private parseSetBody(open: Token): string[] {
    const values: string[] = [];
    for (;;) {
      const token = this.next();
      if (token.kind === 'rbrace') return values;
      if (token.kind !== 'string') {
        this.fail(token, `expected a string literal or "}" in the set opened at position ${open.start}, found ${this.describe(token)}`);
      }
      values.push(token.value);
      const sep = this.next();
      if (sep.kind === 'rbrace') return values;
      if (sep.kind !== 'comma') {
        this.fail(sep, `expected "," or "}" after a set element, found ${this.describe(sep)}`);
      }
    }
  }
}
