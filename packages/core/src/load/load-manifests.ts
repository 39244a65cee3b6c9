/**
 * `loadManifests`: texts in, validated resources and issues out. Reads multi-document YAML and
 * JSON (one object, or an array of objects), expands `List` / `*List` kinds, defaults the
 * namespace of namespaced kinds, validates every resource and rejects duplicates.
 *
 * All-or-nothing per file: a file with any error contributes no resources, so a half-valid
 * file can never produce a half-applied policy set. Warnings do not reject a file.
 * Pure: takes text, never paths; no I/O, no clock, no logging.
 */
import type { Issue } from '../model/issues.js';
import type { Resource } from '../model/resources.js';
import { apiGroup, findKind } from '../validate/kinds.js';
import type { FieldPath } from '../validate/path.js';
import { createReporter, type Locate } from '../validate/report.js';
import { checkIdentity, resourceDisplayName, validateResource } from '../validate/validate-resource.js';
import { field, isObject, show, str, utf8Length } from '../validate/values.js';
import { formatBytes, resolveLimits, type Limits, type LoadOptions } from './limits.js';
import { readDocuments, type SourceDocument, type StreamBudget } from './yaml-source.js';

export type { LoadOptions } from './limits.js';

export interface LoadInput {
  /** Shown in issues; `<input>` when empty. */
  readonly file: string;
  readonly text: string;
}

export interface LoadedResource {
  readonly resource: Resource;
  readonly file: string;
  /** 1-based position of the resource's mapping in the file. */
  readonly line: number;
  readonly col: number;
  /** 0-based index of the YAML document in the file. */
  readonly docIndex: number;
  /** 0-based index within a `List`'s `items` or a top-level array, when the resource came from one. */
  readonly itemIndex?: number;
}

export interface LoadResult {
  readonly resources: LoadedResource[];
  readonly issues: Issue[];
  /** No errors (warnings allowed). */
  readonly ok: boolean;
}

interface Candidate {
  readonly value: unknown;
  readonly locate: Locate;
  readonly docIndex: number;
  readonly itemIndex?: number;
}

/** Copies plain data, dropping mapping entries whose value is null (the decoders treat them as unset). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === null || v === undefined) continue;
    Object.defineProperty(out, key, { value: withoutNulls(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const LIST_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'items']);

/** Top-level values → resource candidates: arrays and Lists are expanded, items keep their own position. */
function expand(file: string, source: SourceDocument, issues: Issue[], budget: StreamBudget, limits: Limits): Candidate[] | 'stop' {
  const { value, docIndex } = source;
  if (value === null) return [];
  if (Array.isArray(value)) {
    if (value.length > budget.documents) return tooMany(file, source.locate, [], issues, limits);
    budget.documents -= value.length;
    return value.map((v, i) => ({ value: v, docIndex, itemIndex: i, locate: (path, part) => source.locate([i, ...path], part) }));
  }
  if (!isObject(value)) return [{ value, docIndex, locate: source.locate }];
  const kind = str(value, 'kind');
  if (!kind || !kind.endsWith('List') || !Array.isArray(field(value, 'items'))) return [{ value, docIndex, locate: source.locate }];

  const apiVersion = str(value, 'apiVersion') ?? '';
  const items = field(value, 'items') as unknown[];
  const r = createReporter({ file, kind, name: '-', at: source.locate, issues });
  for (const key of Object.keys(value)) {
    if (!LIST_FIELDS.has(key)) r.warn('unknown-field', [key], `unknown field ${show(key)} in a ${kind}`, 'key');
  }
  const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
  if (itemKind !== undefined && !findKind(apiVersion, itemKind)) {
    // Let the normal unknown-kind message explain it.
    checkIdentity(r, { apiVersion, kind: itemKind, metadata: { name: '-' } });
    return [];
  }
  if (items.length > budget.documents) return tooMany(file, source.locate, ['items'], issues, limits);
  budget.documents -= items.length;
  const out: Candidate[] = [];
  items.forEach((item, i) => {
    const at = (path: FieldPath, part?: 'key' | 'value') => source.locate(['items', i, ...path], part);
    if (itemKind !== undefined && isObject(item)) {
      // Typed lists (NetworkPolicyList) usually omit apiVersion and kind on their items.
      const filled: Record<string, unknown> = { apiVersion, kind: itemKind, ...item };
      out.push({ value: filled, docIndex, itemIndex: i, locate: at });
    } else if (kind === 'List' && str(item, 'kind')?.endsWith('List') && Array.isArray(field(item, 'items'))) {
      createReporter({ file, kind: 'List', name: '-', at, issues }).error('nested-list', [], 'a List inside a List is not supported');
    } else {
      out.push({ value: item, docIndex, itemIndex: i, locate: at });
    }
  });
  return out;
}

function tooMany(file: string, locate: Locate, path: FieldPath, issues: Issue[], limits: Limits): 'stop' {
  createReporter({ file, kind: '-', name: '-', at: locate, issues }).error(
    'too-many-documents',
    path,
    `too many documents (more than maxDocuments ${limits.maxDocuments}); the rest of the input was not read`,
  );
  return 'stop';
}

function identityKey(resource: unknown, namespaced: boolean): string {
  const meta = field(resource, 'metadata');
  const ns = namespaced ? str(meta, 'namespace') || 'default' : '';
  return [apiGroup(str(resource, 'apiVersion') ?? ''), str(resource, 'kind'), ns, str(meta, 'name')].join('\u0000');
}

/**
 * Loads manifests from texts. Never throws for bad input: everything wrong is an issue with a
 * file, line, column, kind, name and field path. See docs/validation.md.
 */
export function loadManifests(inputs: readonly LoadInput[], options?: LoadOptions): LoadResult {
  const limits = resolveLimits(options);
  const issues: Issue[] = [];
  const resources: LoadedResource[] = [];

  // Total size first: nothing is parsed when the input as a whole is too big.
  let total = 0;
  for (const input of inputs) {
    total += input.text.length > limits.maxInputBytes ? input.text.length : utf8Length(input.text);
    if (total > limits.maxInputBytes) {
      issues.push({
        severity: 'error',
        code: 'input-too-large',
        message: `input is larger than ${formatBytes(limits.maxInputBytes)} (maxInputBytes); nothing was loaded`,
        file: input.file || '<input>',
        line: 0,
        col: 0,
        kind: '-',
        name: '-',
        path: '',
      });
      return { resources: [], issues, ok: false };
    }
  }

  const budget: StreamBudget = { documents: limits.maxDocuments, nodes: limits.maxNodes, rules: limits.maxRules };
  const seen = new Map<string, string>();

  for (const input of inputs) {
    const file = input.file || '<input>';
    const fileIssues: Issue[] = [];
    const fileResources: LoadedResource[] = [];
    // A shared budget ran out (or maxIssues): this file is cut short and nothing after it is read.
    let stop = false;

    const bad = findUnprintable(input.text);
    if (bad) {
      fileIssues.push({ severity: 'error', code: 'invalid-character', message: bad.message, file, line: bad.line, col: bad.col, kind: '-', name: '-', path: '' });
    }

    const addCandidate = (c: Candidate): void => {
      const def = isObject(c.value) ? findKind(str(c.value, 'apiVersion') ?? '', str(c.value, 'kind') ?? '') : undefined;
      const namespaced = def?.namespaced ?? false;
      const found = validateResource(c.value, { at: c.locate, file });
      fileIssues.push(...found);
      if (!def || found.some((i) => i.code === 'missing-name')) return;

      const name = resourceDisplayName(c.value, namespaced);
      const key = identityKey(c.value, namespaced);
      const { line, col } = c.locate([]);
      const where = `${file}:${line}:${col}`;
      const first = seen.get(key);
      if (first !== undefined) {
        createReporter({ file, kind: def.kind, name, at: c.locate, issues: fileIssues }).error(
          'duplicate-resource',
          ['metadata', 'name'],
          `duplicate ${def.kind} ${show(name)}: already defined at ${first}`,
        );
        return;
      }
      seen.set(key, where);

      const resource = withoutNulls(c.value) as Record<string, unknown>;
      if (namespaced && !str(field(resource, 'metadata'), 'namespace')) {
        createReporter({ file, kind: def.kind, name, at: c.locate, issues: fileIssues }).warn(
          'default-namespace',
          ['metadata', 'namespace'],
          'no metadata.namespace; using "default"',
        );
        resource['metadata'] = { ...(field(resource, 'metadata') as object), namespace: 'default' };
      }
      fileResources.push({
        resource: resource as unknown as Resource,
        file,
        line,
        col,
        docIndex: c.docIndex,
        ...(c.itemIndex === undefined ? {} : { itemIndex: c.itemIndex }),
      });
    };

    // Each document is checked as soon as it is composed, so its tree (and its locator) is
    // garbage before the next one is built: memory holds plain resources, not syntax trees.
    const read = bad
      ? { issues: [], stopped: false }
      : readDocuments(file, input.text, limits, budget, (source) => {
          if (issues.length + fileIssues.length >= limits.maxIssues) return !(stop = true);
          const candidates = expand(file, source, fileIssues, budget, limits);
          if (candidates === 'stop') return !(stop = true);
          for (const c of candidates) {
            if (issues.length + fileIssues.length >= limits.maxIssues) return !(stop = true);
            addCandidate(c);
          }
          return true;
        });
    fileIssues.push(...read.issues);

    stop ||= read.stopped;
    sortByPosition(fileIssues);
    issues.push(...fileIssues);
    // A file read only in part is as unusable as one with an error (a limit that stops inside
    // one file, like maxDepth, leaves an error issue).
    if (!stop && !fileIssues.some((i) => i.severity === 'error')) resources.push(...fileResources);
    if (issues.length >= limits.maxIssues) {
      issues.push({
        severity: 'error',
        code: 'too-many-issues',
        message: `stopped after ${issues.length} issues (maxIssues ${limits.maxIssues}); later inputs were not loaded`,
        file,
        line: 0,
        col: 0,
        kind: '-',
        name: '-',
        path: '',
      });
      break;
    }
    if (stop) break;
  }
  return { resources, issues, ok: !issues.some((i) => i.severity === 'error') };
}

/**
 * YAML 1.2 reads only printable characters (c-printable): tab, LF, CR, U+0020–U+007E, NEL, and
 * U+00A0 up, without surrogates (unpaired ones cannot be UTF-8 either) or U+FFFE/U+FFFF. A
 * control character, NUL or DEL in a manifest is refused where it is, as Go's YAML readers do;
 * inside a double-quoted string it can still be written escaped (`"\t"`, `"\u001b"`).
 */
const UNPRINTABLE = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function findUnprintable(text: string): { line: number; col: number; message: string } | undefined {
  const m = UNPRINTABLE.exec(text);
  if (!m) return undefined;
  const offset = m.index;
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  const code = m[0].charCodeAt(0);
  const what = code === 0 ? 'a NUL character' : code >= 0xd800 && code <= 0xdfff ? 'an unpaired surrogate' : 'a control character';
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  return {
    line,
    col: offset - lineStart + 1,
    message: `${what} (U+${hex}) is not allowed in YAML or JSON text; write it escaped inside a double-quoted string, e.g. "\\u${hex.toLowerCase()}"`,
  };
}

function sortByPosition(list: Issue[]): void {
  const indexed = list.map((issue, i) => ({ issue, i }));
  indexed.sort((a, b) => {
    const la = a.issue.line === 0 ? Number.MAX_SAFE_INTEGER : a.issue.line;
    const lb = b.issue.line === 0 ? Number.MAX_SAFE_INTEGER : b.issue.line;
    return la - lb || a.issue.col - b.issue.col || a.i - b.i;
  });
  indexed.forEach((x, i) => (list[i] = x.issue));
}
