/**
 * Text for a terminal. Every string that came from input (names, labels, file names, flow
 * peers) is escaped before it is printed in text mode, so a manifest cannot retitle the
 * terminal, move the cursor, or fake an `ok:` line: C0 controls, DEL and C1 controls become
 * `\xNN`; bidirectional overrides, line/paragraph separators and unpaired surrogates become
 * `\u{…}`. JSON output is never passed through here: it stays exact JSON.
 */
import { formatIssue, type Issue } from '@gingham/core';

const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const UNSAFE_KEEP_NEWLINES = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** One value from input, safe to print on one line. */
export function escapeText(value: string): string {
  return value.replace(UNSAFE, escapeChar);
}

/** A block of our own text (newlines are ours), with anything else unsafe escaped: the last line of defence. */
export function escapeBlock(text: string): string {
  return text.replace(UNSAFE_KEEP_NEWLINES, escapeChar);
}

/** `formatIssue` with every field that came from input escaped. */
export function renderIssue(issue: Issue): string {
  return formatIssue({
    ...issue,
    file: escapeText(issue.file),
    kind: escapeText(issue.kind),
    name: escapeText(issue.name),
    path: escapeText(issue.path),
    message: escapeText(issue.message),
  });
}
