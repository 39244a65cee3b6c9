/**
 * One input text → its YAML documents as plain data, each with a locator for issue positions,
 * handed to a callback one at a time so that a document's tree is garbage as soon as the
 * caller has checked it. JSON is read by the same parser (YAML 1.2 is a superset), so JSON
 * inputs get positions too.
 *
 * Hostile-input defences, in the order they bite: on the token stream, before any tree exists,
 * the node budget (every scalar, alias, collection and entry indicator), nesting depth on the
 * parser's own stack (so `[[[[…` or `- - - …` stops at the limit instead of being parsed in
 * full), rules per policy and in total (items of a sequence held by an `ingress` or `egress`
 * key, counted as they start), and the document count as documents stream out; then scalar
 * length and exact depth on each composed document, and alias expansion inside `toJS` (yaml's
 * `maxAliasCount`).
 */
import { Composer, isCollection, isPair, isScalar, Lexer, LineCounter, Parser, type CST, type Document, type Node } from 'yaml';
import type { Issue } from '../model/issues.js';
import type { Locate } from '../validate/report.js';
import { createLocator } from './locator.js';
import type { Limits } from './limits.js';

export interface SourceDocument {
  readonly docIndex: number;
  /** Plain data (`toJS`), never `undefined`; `null` for an empty document. */
  readonly value: unknown;
  /** Field path (from the document root) → line and column. */
  readonly locate: Locate;
}

export interface ReadResult {
  readonly issues: Issue[];
  /** A budget shared by all inputs ran out: nothing after this point, in any input, may be read. */
  readonly stopped: boolean;
}

/** What is still allowed over all inputs; `readDocuments` spends it. */
export interface StreamBudget {
  /** Documents and List items. */
  documents: number;
  /** YAML nodes (see `LoadOptions.maxNodes`). */
  nodes: number;
  /** Rules of all policies. */
  rules: number;
}

/** Called with each document as soon as it is composed; return false to stop reading. */
export type OnDocument = (document: SourceDocument) => boolean;

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}

/** Exact collection depth and scalar lengths of a composed document, without recursion. */
function checkTree(root: Node | null, limits: Limits): { node: Node; problem: 'depth' | 'scalar' } | undefined {
  if (!root) return undefined;
  const stack: [Node, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [Node, number];
    if (isScalar(node)) {
      if (typeof node.value === 'string' && node.value.length > limits.maxScalarLength) return { node, problem: 'scalar' };
      continue;
    }
    if (!isCollection(node)) continue;
    if (depth > limits.maxDepth) return { node, problem: 'depth' };
    for (const item of node.items as unknown[]) {
      if (isPair(item)) {
        if (item.key) stack.push([item.key as Node, depth + 1]);
        if (item.value) stack.push([item.value as Node, depth + 1]);
      } else if (item) stack.push([item as Node, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Whether a lexeme makes a node or an entry: the plain-scalar marker, a quoted scalar, an alias,
 * a flow collection, or an entry indicator. An upper bound of the nodes a tree would hold.
 */
function makesNode(lexeme: string): boolean {
  switch (lexeme) {
    case '\x1f': // a plain or block scalar follows
    case '{':
    case '[':
    case '-':
    case '?':
    case ':':
    case ',':
      return true;
  }
  const c = lexeme.charCodeAt(0);
  return c === 0x22 /* " */ || c === 0x27 /* ' */ || c === 0x2a /* * */;
}

const RULE_KEYS = new Set(['ingress', 'egress']);

function isRulesKey(key: CST.Token | null | undefined): boolean {
  if (!key) return false;
  if (key.type === 'scalar') return RULE_KEYS.has(key.source);
  if (key.type === 'double-quoted-scalar' || key.type === 'single-quoted-scalar') return RULE_KEYS.has(key.source.slice(1, -1));
  return false;
}

/**
 * Counts rules while the parser builds a sequence held by an `ingress` or `egress` key: called
 * after each entry indicator (`-`, `,`), when the sequence that just grew is on top of the
 * parser's stack. Returns what the new items add to the policy (the mapping holding the key).
 */
function createRuleCounter(parser: Parser) {
  const seen = new WeakMap<object, number>();
  const perPolicy = new WeakMap<object, number>();
  return (): { added: number; policy: number } | undefined => {
    const stack = parser.stack;
    const top = stack[stack.length - 1];
    const holder = stack[stack.length - 2];
    if (!top || !holder) return undefined;
    const isSeq = top.type === 'block-seq' || (top.type === 'flow-collection' && top.start.source === '[');
    if (!isSeq || !('items' in holder)) return undefined;
    const item = holder.items[holder.items.length - 1] as { key?: CST.Token | null } | undefined;
    if (!isRulesKey(item?.key)) return undefined;
    const count = top.items.length;
    const before = seen.get(top) ?? 0;
    if (count <= before) return undefined;
    seen.set(top, count);
    const policy = (perPolicy.get(holder) ?? 0) + count - before;
    perPolicy.set(holder, policy);
    return { added: count - before, policy };
  };
}

/**
 * Reads the documents of one input, calling `onDocument` with each as soon as it is composed
 * and checked. Issues come back sorted by nothing in particular (the caller sorts).
 */
export function readDocuments(file: string, text: string, limits: Limits, budget: StreamBudget, onDocument: OnDocument): ReadResult {
  const issues: Issue[] = [];
  const lines = new LineCounter();
  let stopped = false;
  let halted = false;
  let docIndex = 0;

  const issue = (code: string, offset: number, message: string, severity: Issue['severity'] = 'error'): void => {
    const { line, col } = lines.linePos(Math.max(0, Math.min(offset, text.length)));
    issues.push({ severity, code, message, file, line, col, kind: '-', name: '-', path: '' });
  };

  const compose = (doc: Document.Parsed): void => {
    const index = docIndex++;
    if (halted) return;
    for (const e of doc.errors) issue('yaml-syntax', e.pos[0], firstLine(e.message));
    for (const w of doc.warnings) issue('yaml-warning', w.pos[0], firstLine(w.message), 'warning');
    if (doc.errors.length > 0) return;
    const root = (doc.contents ?? null) as Node | null;
    const bad = checkTree(root, limits);
    if (bad) {
      const at = bad.node.range?.[0] ?? 0;
      if (bad.problem === 'depth') issue('too-deep', at, `nesting is deeper than ${limits.maxDepth} levels (maxDepth)`);
      else issue('scalar-too-long', at, `a scalar is longer than ${limits.maxScalarLength} characters (maxScalarLength)`);
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/alias/i.test(message)) {
        issue('alias-limit', root?.range?.[0] ?? 0, `YAML aliases expand too much (more than maxAliasCount ${limits.maxAliasCount}); refusing a possible billion-laughs document`);
      } else issue('yaml-syntax', root?.range?.[0] ?? 0, firstLine(message));
      return;
    }
    if (!onDocument({ docIndex: index, value: value ?? null, locate: createLocator(root, doc, lines) })) halted = true;
  };

  const composer = new Composer({ prettyErrors: false, uniqueKeys: true, version: '1.2', merge: true });
  const parser = new Parser(lines.addNewLine);
  const lexer = new Lexer();
  const countRules = createRuleCounter(parser);
  // Parser stack = document + open collections + at most a pending scalar or two.
  const maxStack = limits.maxDepth + 3;
  lines.addNewLine(0);

  let documentNodes = 0;
  const onToken = (token: CST.Token): void => {
    if (token.type === 'document') {
      documentNodes = 0;
      if (budget.documents <= 0) {
        issue('too-many-documents', token.offset, `too many documents (more than maxDocuments ${limits.maxDocuments}); the rest of the input was not read`);
        stopped = true;
        return;
      }
      budget.documents--;
    }
    for (const doc of composer.next(token)) compose(doc);
  };

  // The composer holds each document until the next one starts; flush it when stopping at a
  // document boundary so the documents before the limit are still checked and reported.
  const finish = (offset: number): ReadResult => {
    for (const doc of composer.end(false, offset)) compose(doc);
    return { issues, stopped };
  };
  // A limit hit inside a document: that document is incomplete and is dropped with the rest.
  const abandon = (code: string, message: string, shared: boolean, offset = parser.offset): ReadResult => {
    issue(code, offset, `${message}; the rest of the input was not read`);
    return { issues, stopped: shared };
  };

  for (const lexeme of lexer.lex(text)) {
    if (makesNode(lexeme)) {
      if (--budget.nodes < 0) return abandon('too-many-nodes', `too many YAML nodes (more than maxNodes ${limits.maxNodes} over all inputs)`, true);
      if (++documentNodes > limits.maxNodesPerDocument) {
        return abandon('too-many-nodes', `a document has more than ${limits.maxNodesPerDocument} YAML nodes (maxNodesPerDocument); split it into several documents`, false);
      }
    }
    for (const token of parser.next(lexeme)) {
      onToken(token);
      if (stopped) return finish(token.offset);
      if (halted) return { issues, stopped: false };
    }
    if (parser.stack.length > maxStack) {
      return abandon('too-deep', `nesting is deeper than ${limits.maxDepth} levels (maxDepth)`, false);
    }
    if (lexeme === '-' || lexeme === ',') {
      const rules = countRules();
      if (rules) {
        budget.rules -= rules.added;
        if (rules.policy > limits.maxRulesPerPolicy) {
          return abandon('too-many-rules', `a policy has more than ${limits.maxRulesPerPolicy} rules (maxRulesPerPolicy)`, false, parser.offset - 1);
        }
        if (budget.rules < 0) return abandon('too-many-rules', `too many rules (more than maxRules ${limits.maxRules} over all inputs)`, true, parser.offset - 1);
      }
    }
  }
  for (const token of parser.end()) {
    onToken(token);
    if (stopped) return finish(token.offset);
    if (halted) return { issues, stopped: false };
  }
  return finish(text.length);
}
