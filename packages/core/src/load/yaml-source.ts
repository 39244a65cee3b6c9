/**
 * One input text → its YAML documents as plain data, each with a locator for issue positions.
 * JSON is read by the same parser (YAML 1.2 is a superset), so JSON inputs get positions too.
 *
 * Hostile-input defences, in the order they bite: nesting depth is watched on the parser's
 * own stack while it runs (so `[[[[…` or `- - - …` stops at the limit instead of being parsed
 * in full), the document count as documents stream out, scalar length and exact depth on each
 * composed document, and alias expansion inside `toJS` (yaml's `maxAliasCount`).
 */
import { Composer, isCollection, isPair, isScalar, Lexer, LineCounter, Parser, type Document, type Node } from 'yaml';
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
  readonly documents: SourceDocument[];
  readonly issues: Issue[];
  /** A limit was hit: nothing after this point was read. */
  readonly stopped: boolean;
}

export interface DocumentBudget {
  /** Documents and List items still allowed over all inputs. */
  remaining: number;
}

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

export function readDocuments(file: string, text: string, limits: Limits, budget: DocumentBudget): ReadResult {
  const documents: SourceDocument[] = [];
  const issues: Issue[] = [];
  const lines = new LineCounter();
  let stopped = false;
  let docIndex = 0;

  const issue = (code: string, offset: number, message: string, severity: Issue['severity'] = 'error'): void => {
    const { line, col } = lines.linePos(Math.max(0, Math.min(offset, text.length)));
    issues.push({ severity, code, message, file, line, col, kind: '-', name: '-', path: '' });
  };

  const onDocument = (doc: Document.Parsed): void => {
    const index = docIndex++;
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
    documents.push({ docIndex: index, value: value ?? null, locate: createLocator(root, doc, lines) });
  };

  const composer = new Composer({ prettyErrors: false, uniqueKeys: true, version: '1.2', merge: true });
  const parser = new Parser(lines.addNewLine);
  const lexer = new Lexer();
  // Parser stack = document + open collections + at most a pending scalar or two.
  const maxStack = limits.maxDepth + 3;
  lines.addNewLine(0);

  const onToken = (token: Parameters<Composer['next']>[0]): void => {
    if (token.type === 'document') {
      if (budget.remaining <= 0) {
        issue('too-many-documents', token.offset, `too many documents (more than maxDocuments ${limits.maxDocuments}); the rest of the input was not read`);
        stopped = true;
        return;
      }
      budget.remaining--;
    }
    for (const doc of composer.next(token)) onDocument(doc);
  };

  // The composer holds each document until the next one starts; flush it when stopping early
  // so the documents before the limit are still checked and reported.
  const finish = (offset: number): ReadResult => {
    for (const doc of composer.end(false, offset)) onDocument(doc);
    return { documents, issues, stopped };
  };

  for (const lexeme of lexer.lex(text)) {
    for (const token of parser.next(lexeme)) {
      onToken(token);
      if (stopped) return finish(token.offset);
    }
    if (parser.stack.length > maxStack) {
      issue('too-deep', parser.offset, `nesting is deeper than ${limits.maxDepth} levels (maxDepth); the rest of the input was not read`);
      return { documents, issues, stopped: false };
    }
  }
  for (const token of parser.end()) {
    onToken(token);
    if (stopped) return finish(token.offset);
  }
  return finish(text.length);
}
