/**
 * The selector facade: `parseSelector` (cached), the `Selector` object (compiled matcher,
 * canonical text, unique id, label restrictions) and `validateSelector`.
 *
 * The parse cache is keyed by the exact input text, holds at most `SELECTOR_CACHE_LIMIT`
 * entries and evicts the oldest insertion first, so its contents depend only on the sequence
 * of calls. Only successful parses are cached. It is never keyed by canonical text: `!(!has(a))`
 * prints as `!!has(a)`, which parses to a different tree (`has(a)`).
 */
import { makeUniqueId } from '../hash/index.js';
import type { Labels } from '../model/types.js';
import { makeAll, type SelectorNode } from './ast.js';
import { compileSelector, type LabelMatcher } from './compile.js';
import { computeLabelRestrictions, type LabelRestrictions } from './label-restrictions.js';
import { describeSelectorError, SelectorParseError } from './parse-error.js';
import { parseSelectorAst } from './parser.js';
import { printSelector } from './print.js';

/**
 * A parsed, compiled Calico selector. Immutable; safe to share (the parse cache hands out the
 * same object for the same text).
 */
export interface Selector {
  /**
   * True when the labels match. Compiled once, no tree walk. A label is present when the map has
   * a string under that name (pass plain or null-prototype objects; `constructor` and other
   * Object.prototype members never count). `!=` and `not in` are true for an absent label.
   */
  matches(labels: Labels): boolean;
  /** Calico's canonical form, byte for byte (`(a == "x" && b == "y")`, `!k == "v"`, `all()`). */
  toString(): string;
  /** `s:` + base64url(SHA-224(`s:` + canonical)), Calico's `UniqueID()`; names IP sets. */
  readonly uniqueId: string;
  /** The frozen syntax tree. */
  readonly ast: SelectorNode;
  /**
   * Per-label lower bounds every matching map satisfies (Calico's `LabelRestrictions()`), for
   * indexing. Computed on first use and cached; an empty map means "no useful restriction".
   */
  labelRestrictions(): LabelRestrictions;
}

/** Result of `validateSelector`: ok, or where and why the text is not a selector. */
export type SelectorValidation =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** 0-based offset of the offending token (`text.length` at end of input). */
      readonly position: number;
      /** One line: `invalid selector at position 7: expected a string literal after "==", ...`. */
      readonly message: string;
    };

/** Most entries the parse cache holds before evicting its oldest. */
export const SELECTOR_CACHE_LIMIT = 10_000;

class CompiledSelector implements Selector {
  readonly ast: SelectorNode;
  readonly matches: LabelMatcher;
  readonly #text: string;
  #uniqueId: string | undefined;
  #restrictions: LabelRestrictions | undefined;

  constructor(ast: SelectorNode) {
    this.ast = ast;
    this.#text = printSelector(ast);
    this.matches = compileSelector(ast);
  }

  get uniqueId(): string {
    return (this.#uniqueId ??= makeUniqueId('s', this.#text));
  }

  toString(): string {
    return this.#text;
  }

  labelRestrictions(): LabelRestrictions {
    return (this.#restrictions ??= computeLabelRestrictions(this.ast));
  }

  /** `JSON.stringify` writes the canonical text. */
  toJSON(): string {
    return this.#text;
  }
}

const ALL_SELECTOR: Selector = Object.freeze(new CompiledSelector(makeAll()));
const cache = new Map<string, Selector>();

/** The shared `all()` selector (what the empty selector means). */
export function selectorAll(): Selector {
  return ALL_SELECTOR;
}

/**
 * Wraps a syntax tree (for example one built by `prefixSelectorLabels`) as a compiled `Selector`.
 * The tree should keep the invariants in `ast.ts` (use its `make*` helpers). Not cached.
 */
export function selectorFromAst(ast: SelectorNode): Selector {
  return ast.kind === 'all' ? ALL_SELECTOR : Object.freeze(new CompiledSelector(ast));
}

/**
 * Parses a Calico selector, exactly as libcalico-go accepts it; empty or whitespace-only text is
 * `all()`. Cached by text: parsing the same text again returns the same object.
 * @throws SelectorParseError (`code` `SELECTOR_PARSE`) with `.position`, `.selector`, `.reason`.
 * @example parseSelector("app == 'web' && tier in {'a', 'b'}").toString()
 *   // '(app == "web" && tier in {"a", "b"})'
 */
export function parseSelector(text: string): Selector {
  const cached = cache.get(text);
  if (cached !== undefined) return cached;
  const selector = selectorFromAst(parseSelectorAst(text));
  if (cache.size >= SELECTOR_CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(text, selector);
  return selector;
}

/** Checks selector text without throwing (same language as `parseSelector`; uses its cache). */
export function validateSelector(text: string): SelectorValidation {
  if (cache.has(text)) return { ok: true };
  try {
    parseSelector(text);
    return { ok: true };
  } catch (error) {
    if (!(error instanceof SelectorParseError)) throw error;
    return { ok: false, position: error.position, message: describeSelectorError(error.position, error.reason) };
  }
}

/** Empties the parse cache (tests, or to release memory after a large batch). */
export function clearSelectorCache(): void {
  cache.clear();
}

/** Number of texts currently in the parse cache. */
export function selectorCacheSize(): number {
  return cache.size;
}
