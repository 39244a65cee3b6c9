/**
 * The selector syntax tree: plain, frozen data, one node kind per Calico AST node. Parsing,
 * printing, compiling, interpreting and label restrictions all work on this shape.
 *
 * Invariants a well-formed tree keeps (the parser guarantees them; code building trees by hand
 * should use the `make*` helpers below):
 *  - `in` / `notIn` values are sorted by UTF-8 byte order and de-duplicated;
 *  - `and` / `or` nodes have at least two operands;
 *  - label names match `[a-zA-Z0-9_./-]{1,512}` (prefixing can break the length limit, see
 *    `prefixSelectorLabels`).
 */

import { GinghamError } from '../errors.js';

/** Longest label name Calico's tokenizer accepts (bytes, which for label characters is characters). */
export const MAX_LABEL_LENGTH = 512;

/** `all()`: matches everything. Also what the empty selector parses to. */
export interface AllNode {
  readonly kind: 'all';
}

/** `global()`: matches everything as a plain selector; special only in a rule's `namespaceSelector`. */
export interface GlobalNode {
  readonly kind: 'global';
}

/** `has(label)`: the label is present, with any value (including the empty string). */
export interface HasNode {
  readonly kind: 'has';
  readonly label: string;
}

/** The five comparisons of a label with one string literal. */
export type ComparisonKind = 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';

/**
 * `label == "v"` (`eq`), `label != "v"` (`ne`), `label contains "v"`, `label starts with "v"`,
 * `label ends with "v"`. Only `ne` is true when the label is absent.
 */
export interface ComparisonNode {
  readonly kind: ComparisonKind;
  readonly label: string;
  readonly value: string;
}

/** `label in {..}` (`in`) and `label not in {..}` (`notIn`; true when the label is absent). */
export interface SetNode {
  readonly kind: 'in' | 'notIn';
  readonly label: string;
  /** Sorted by UTF-8 byte order, no duplicates. May be empty. */
  readonly values: readonly string[];
}

/** `!operand`. Runs of `!` in the source collapse before a node is built, but `!(!x)` nests. */
export interface NotNode {
  readonly kind: 'not';
  readonly operand: SelectorNode;
}

/** `a && b && ...` / `a || b || ...` at one parenthesis level (never flattened across levels). */
export interface AndOrNode {
  readonly kind: 'and' | 'or';
  /** Two or more. */
  readonly operands: readonly SelectorNode[];
}

/** A node of a parsed selector; discriminated by `kind`. */
export type SelectorNode = AllNode | GlobalNode | HasNode | ComparisonNode | SetNode | NotNode | AndOrNode;

/** Nodes that name a label (everything except all/global/not/and/or). */
export type LabelNode = HasNode | ComparisonNode | SetNode;

/** True for the characters Calico allows in a label name: `a-z A-Z 0-9 _ . / -`. */
export function isLabelChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x5f || // _
    code === 0x2e || // .
    code === 0x2f || // /
    code === 0x2d // -
  );
}

/** True when `name` is a label name a selector can spell: 1–512 characters of `[a-zA-Z0-9_./-]`. */
export function isValidLabelName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_LABEL_LENGTH) return false;
  for (let i = 0; i < name.length; i++) if (!isLabelChar(name.charCodeAt(i))) return false;
  return true;
}

/**
 * Compares two strings in UTF-8 byte order (= Unicode code point order), which is how Go sorts
 * strings. Plain `<` compares UTF-16 code units, which puts U+E000–U+FFFF after astral characters.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

/** Maps a UTF-16 code unit so that surrogates (astral characters) sort after U+E000–U+FFFF. */
function utf8Rank(unit: number): number {
  if (unit < 0xd800) return unit;
  if (unit < 0xe000) return unit + 0x2000; // surrogates → 0xF800–0xFFFF
  return unit - 0x800; // U+E000–U+FFFF → 0xD800–0xF7FF
}

/** Returns the values sorted by UTF-8 byte order and de-duplicated, as Calico stores a set literal. */
export function toStringSet(values: Iterable<string>): string[] {
  const sorted = [...values].sort(compareUtf8);
  const out: string[] = [];
  for (const v of sorted) if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
  return out;
}

const ALL: AllNode = Object.freeze({ kind: 'all' });
const GLOBAL: GlobalNode = Object.freeze({ kind: 'global' });

/** The shared `all()` node. */
export function makeAll(): AllNode {
  return ALL;
}

/** The shared `global()` node. */
export function makeGlobal(): GlobalNode {
  return GLOBAL;
}

/** A frozen `has(label)` node. */
export function makeHas(label: string): HasNode {
  return Object.freeze({ kind: 'has', label });
}

/** A frozen comparison node (`eq`, `ne`, `contains`, `startsWith`, `endsWith`). */
export function makeComparison(kind: ComparisonKind, label: string, value: string): ComparisonNode {
  return Object.freeze({ kind, label, value });
}

/** A frozen `in` / `notIn` node; the values are sorted and de-duplicated here. */
export function makeSet(kind: 'in' | 'notIn', label: string, values: Iterable<string>): SetNode {
  return Object.freeze({ kind, label, values: Object.freeze(toStringSet(values)) });
}

/** A frozen `!operand` node (no simplification: `makeNot(makeNot(x))` stays nested, as in Calico). */
export function makeNot(operand: SelectorNode): NotNode {
  return Object.freeze({ kind: 'not', operand });
}

/**
 * A frozen `and` / `or` node. With a single operand returns that operand, as Calico's parser does
 * for a group of one; an empty operand list is a programmer error.
 */
export function makeAndOr(kind: 'and' | 'or', operands: readonly SelectorNode[]): SelectorNode {
  if (operands.length === 1) return operands[0]!;
  if (operands.length === 0) {
    throw new GinghamError('SELECTOR_INVALID_ARGUMENT', `an "${kind}" selector node needs at least one operand`);
  }
  return Object.freeze({ kind, operands: Object.freeze([...operands]) });
}

/** True for nodes that carry a label name. */
export function isLabelNode(node: SelectorNode): node is LabelNode {
  return node.kind !== 'all' && node.kind !== 'global' && node.kind !== 'not' && node.kind !== 'and' && node.kind !== 'or';
}
