// The built `gingham` as a child process on hostile input: each is refused with its exact
// message and exit code 1, inside a memory bound (V8 heap capped with --max-old-space-size,
// peak RSS measured), and never with a stack trace.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCorpus } from './hostile-corpus.js';
import { runBin, STACK_LINE, type BinRun } from './run-bin.js';

const scratch = mkdtempSync(join(tmpdir(), 'gingham-hostile-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const corpus = writeCorpus(scratch);
const LINT_FAIL = '1 error(s); files with errors were not used\n';

function refused(r: BinRun, stderr: string, maxRssMb: number): void {
  expect({ code: r.code, signal: r.signal, stderr: r.stderr, stdout: r.stdout }).toEqual({ code: 1, signal: null, stderr, stdout: '' });
  expect(STACK_LINE.test(r.stderr)).toBe(false);
  expect(r.peakRssKb).toBeDefined();
  expect(r.peakRssKb! / 1024).toBeLessThan(maxRssMb);
}

describe('hostile input through the built CLI', () => {
  it('a 100,000-rule policy: refused at rule 2,501 with a 64 MiB heap', async () => {
    const r = await runBin(['lint', '-f', corpus.rules100k], { maxOldSpaceMb: 64 });
    refused(r, `${corpus.rules100k}:10007:5: -/-: a policy has more than 2500 rules (maxRulesPerPolicy); the rest of the input was not read\n${LINT_FAIL}`, 200);
  });

  it('a 400 MiB file: refused by its size before a byte is read', async () => {
    const r = await runBin(['lint', '-f', corpus.sparse400m], { maxOldSpaceMb: 32 });
    refused(r, `gingham lint: ${corpus.sparse400m}: is larger than 16 MiB (419430400 bytes)\nnothing was loaded\n`, 120);
  });

  it('/dev/zero: refused by its type, never read', async () => {
    const r = await runBin(['lint', '-f', '/dev/zero'], { maxOldSpaceMb: 32 });
    refused(r, 'gingham lint: /dev/zero: is a character device; only regular files, directories and pipes are read\nnothing was loaded\n', 120);
  });

  it('standard input that never ends: 16 MiB + 1 byte read, then refused', async () => {
    const r = await runBin(['lint', '-f', '-'], { maxOldSpaceMb: 64, stdinFile: '/dev/zero' });
    refused(r, 'gingham lint: <stdin>: is larger than 16 MiB (more than 16777216 bytes)\nnothing was loaded\n', 200);
  });

  it('billion laughs, 8 MiB of nesting, Latin-1 bytes, a raw ESC', async () => {
    const [laughs, deep, latin1, esc] = await Promise.all([
      runBin(['lint', '-f', corpus.laughs], { maxOldSpaceMb: 64 }),
      runBin(['lint', '-f', corpus.deep], { maxOldSpaceMb: 64 }),
      runBin(['lint', '-f', corpus.latin1], { maxOldSpaceMb: 32 }),
      runBin(['lint', '-f', corpus.esc], { maxOldSpaceMb: 32 }),
    ]);
    refused(laughs, `${corpus.laughs}:1:1: -/-: YAML aliases expand too much (more than maxAliasCount 100); refusing a possible billion-laughs document\n${LINT_FAIL}`, 200);
    refused(deep, `${corpus.deep}:1:68: -/-: nesting is deeper than 64 levels (maxDepth); the rest of the input was not read\n${LINT_FAIL}`, 200);
    refused(latin1, `gingham lint: ${corpus.latin1}: is not valid UTF-8 at byte 51; manifests must be UTF-8\nnothing was loaded\n`, 120);
    refused(esc, `${corpus.esc}:3:19: -/-: a control character (U+001B) is not allowed in YAML or JSON text; write it escaped inside a double-quoted string, e.g. "\\u001b"\n${LINT_FAIL}`, 120);
  });

  it('a name that would retitle the terminal is printed escaped', async () => {
    const r = await runBin(['lint', '-f', corpus.retitle]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(/^.*retitle\.yaml:3:18: Namespace\/x\\x1b\]0;pwned\\x07\\x0aok: 0 policies metadata\.name: /);
    expect(/[\x00-\x09\x0b-\x1f\x7f]/.test(r.stderr)).toBe(false);
  });
});
