/**
 * Entries of a `--flows` file, streamed: a JSON array (`[{…}, {…}]`) or JSON lines (one value
 * after another, `{…}\n{…}`, pretty-printed or not). The bytes are split into top-level entries
 * by a small scanner that tracks only nesting and strings, and each entry is parsed on its own,
 * so a file of any length costs the memory of one entry, and a broken entry is an error of that
 * entry (with its index, line and column) while the others are still read.
 *
 * It must never hold more than one entry (at most `maxEntryBytes`) in memory.
 */
import { decodeUtf8 } from '@gingham/core';

/** One entry: its 0-based index, where it starts (1-based line and column), and its value or what is wrong with it. */
export type FlowEntry =
  | { readonly kind: 'entry'; readonly index: number; readonly line: number; readonly col: number; readonly value: unknown }
  | { readonly kind: 'bad-entry'; readonly index: number; readonly line: number; readonly col: number; readonly message: string };

/** A problem of the file as a whole (after the entries before it were read). */
export interface FlowsFileProblem {
  readonly kind: 'file-problem';
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export interface ReadFlowsOptions {
  /** Largest entry, in bytes; a bigger one is an error of that entry. Default 64 KiB. */
  readonly maxEntryBytes?: number;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const OPEN = new Set([0x7b, 0x5b]); // { [
const CLOSE = new Set([0x7d, 0x5d]); // } ]

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseEntry(bytes: Uint8Array, startOffset: number): { value: unknown } | { message: string } {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    // The native decoder says only "invalid"; core's says where.
    const decoded = decodeUtf8(bytes);
    return { message: `not valid UTF-8 at byte ${startOffset + (decoded.ok ? 0 : decoded.offset)} of the file` };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return { message: `not valid JSON (${(err as Error).message.replace(/^Unexpected/, 'unexpected')})` };
  }
}

/**
 * Reads entries from `source` as they arrive. Yields each entry, then at most one file problem
 * (a stray `]`, text after the array, a file that ends inside an entry) and stops.
 */
export async function* readFlowEntries(source: AsyncIterable<Uint8Array>, options: ReadFlowsOptions = {}): AsyncGenerator<FlowEntry | FlowsFileProblem> {
  const maxEntry = options.maxEntryBytes ?? 64 * 1024;
  let mode: 'unknown' | 'array' | 'values' | 'after-array' = 'unknown';
  let line = 1;
  let col = 0;
  let offset = -1;
  // The entry being read: `open` while inside one; its bytes in a buffer reused by every entry.
  let open = false;
  let buffer = new Uint8Array(4096);
  let length = 0;
  let oversized = false;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scalar = false; // a bare number/true/false/null at the top level
  let start = { line: 0, col: 0, offset: 0 };
  let index = 0;
  let expectValue = true; // array mode: a value may start here (after `[` or `,`)
  let problem: FlowsFileProblem | undefined;
  let resync = false;

  const begin = (): void => {
    open = true;
    length = 0;
    oversized = false;
    depth = 0;
    inString = false;
    escaped = false;
    scalar = false;
    start = { line, col, offset };
  };
  const finish = (): FlowEntry => {
    const at = { index: index++, line: start.line, col: start.col };
    open = false;
    if (oversized) return { kind: 'bad-entry', ...at, message: `larger than ${maxEntry} bytes` };
    while (length > 0 && WS.has(buffer[length - 1]!)) length--;
    const parsed = parseEntry(buffer.subarray(0, length), start.offset);
    return 'value' in parsed ? { kind: 'entry', ...at, value: parsed.value } : { kind: 'bad-entry', ...at, message: parsed.message };
  };
  const push = (b: number): void => {
    if (oversized) return;
    if (length >= maxEntry) {
      oversized = true;
      return;
    }
    if (length === buffer.length) {
      const grown = new Uint8Array(Math.min(maxEntry, buffer.length * 2));
      grown.set(buffer);
      buffer = grown;
    }
    buffer[length++] = b;
  };

  for await (const chunk of source) {
    const out: (FlowEntry | FlowsFileProblem)[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      offset++;
      if (b === 0x0a) {
        line++;
        col = 0;
      } else if ((b & 0xc0) !== 0x80) col++;

      if (resync) {
        // After a broken JSON line: skip to the next line that starts an object.
        if (!(b === 0x7b && col === 1)) continue;
        resync = false;
      } else if (open && mode === 'values' && !scalar) {
        // JSON lines: a raw newline cannot be inside a string, and an object starting a line
        // cannot be inside another one as pretty-printed JSON writes it; either way the open
        // entry is broken, and reading goes on with the next line.
        if (inString && b === 0x0a) {
          out.push(finish());
          resync = true;
          continue;
        }
        if (!inString && b === 0x7b && col === 1) out.push(finish());
      }
      if (open) {
        // Inside an entry: track strings and nesting until it ends.
        if (inString) {
          push(b);
          if (escaped) escaped = false;
          else if (b === 0x5c) escaped = true;
          else if (b === 0x22) {
            inString = false;
            if (depth === 0) out.push(finish());
          }
          continue;
        }
        if (scalar) {
          if (WS.has(b) || b === 0x2c || CLOSE.has(b) || OPEN.has(b) || b === 0x22) {
            out.push(finish());
            // fall through: the byte that ended the scalar is handled below
          } else {
            push(b);
            continue;
          }
        } else {
          if (b === 0x22) inString = true;
          else if (OPEN.has(b)) depth++;
          else if (CLOSE.has(b)) depth--;
          push(b);
          if (depth === 0) out.push(finish());
          continue;
        }
      }

      if (WS.has(b)) continue;
      if (mode === 'unknown') {
        if (b === 0x5b) {
          mode = 'array';
          expectValue = true;
          continue;
        }
        mode = 'values';
      }
      if (mode === 'after-array') {
        problem = { kind: 'file-problem', line, col, message: 'unexpected text after the closing ]' };
        break;
      }
      if (mode === 'array') {
        if (b === 0x5d) {
          mode = 'after-array';
          continue;
        }
        if (b === 0x2c) {
          if (expectValue) out.push({ kind: 'bad-entry', index: index++, line, col, message: 'empty entry (two commas in a row)' });
          expectValue = true;
          continue;
        }
        if (!expectValue) {
          problem = { kind: 'file-problem', line, col, message: 'expected , or ] between entries' };
          break;
        }
        expectValue = false;
      } else if (CLOSE.has(b)) {
        problem = { kind: 'file-problem', line, col, message: `unexpected ${String.fromCharCode(b)}` };
        break;
      }
      // A new entry starts at this byte.
      begin();
      push(b);
      if (b === 0x22) inString = true;
      else if (OPEN.has(b)) depth = 1;
      else scalar = true;
    }
    for (const item of out) yield item;
    if (problem) break;
  }
  if (problem) {
    yield problem;
    return;
  }
  if (open) {
    if (scalar && !inString) yield finish();
    else {
      yield { kind: 'bad-entry', index: index++, line: start.line, col: start.col, message: 'the file ends inside this entry' };
      yield { kind: 'file-problem', line, col, message: 'unexpected end of the file' };
      return;
    }
  }
  if (mode === 'array') yield { kind: 'file-problem', line, col, message: 'unexpected end of the file: the array has no closing ]' };
}
