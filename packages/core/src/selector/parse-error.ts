/**
 * The one error a selector can fail with: where (0-based offset), what was wrong, and an excerpt
 * with a caret so a person can see it. Messages are ours; Calico's differ in wording, never in
 * which inputs are rejected.
 */
import { GinghamError } from '../errors.js';

/** Widest excerpt shown under a message before it is cut around the error position. */
const EXCERPT_WIDTH = 72;
const EXCERPT_BEFORE = 32;

/**
 * Thrown by `parseSelector` for text that is not a valid Calico selector.
 *
 * `message` reads `gingham: invalid selector at position 7: expected a string literal after "==",
 * found label "b"` followed by an excerpt of the selector and a caret under the offending token.
 */
export class SelectorParseError extends GinghamError {
  /** 0-based offset (UTF-16 code units, as JS indexes strings) of the offending token; `selector.length` at end of input. */
  readonly position: number;
  /** The text that failed to parse, unchanged. */
  readonly selector: string;
  /** What is wrong, in one line, without the position or excerpt (`expected ")" ...`). */
  readonly reason: string;

  constructor(selector: string, position: number, reason: string) {
    super('SELECTOR_PARSE', `${describeSelectorError(position, reason)}\n${caretExcerpt(selector, position)}`);
    this.position = position;
    this.selector = selector;
    this.reason = reason;
  }
}

/** The one-line form, `invalid selector at position N: reason`, used by `validateSelector`. */
export function describeSelectorError(position: number, reason: string): string {
  return `invalid selector at position ${position}: ${reason}`;
}

/**
 * Two indented lines: the selector (cut to a window around `position` when long, control
 * characters shown as Unicode control pictures so the caret stays aligned) and a caret.
 */
export function caretExcerpt(selector: string, position: number): string {
  let start = 0;
  let end = selector.length;
  if (selector.length > EXCERPT_WIDTH) {
    start = Math.max(0, Math.min(position - EXCERPT_BEFORE, selector.length - EXCERPT_WIDTH));
    end = Math.min(selector.length, start + EXCERPT_WIDTH);
  }
  const head = start > 0 ? '…' : '';
  const tail = end < selector.length ? '…' : '';
  const shown = visible(selector.slice(start, end));
  const column = head.length + [...visible(selector.slice(start, Math.min(position, end)))].length;
  return `  ${head}${shown}${tail}\n  ${' '.repeat(column)}^`;
}

/** Replaces C0 controls and DEL by their control pictures (U+2400–U+2421), one column each. */
function visible(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 ? String.fromCharCode(0x2400 + c) : c === 0x7f ? '\u2421' : ch;
  }
  return out;
}

/** A character quoted for a message, JSON style: `"%"`, `"\n"`. */
export function quoteChar(text: string, at: number): string {
  const cp = text.codePointAt(at);
  return cp === undefined ? 'end of input' : JSON.stringify(String.fromCodePoint(cp));
}
