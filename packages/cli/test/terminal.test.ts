// Strings from input reach the terminal escaped in text mode (a manifest cannot retitle the
// terminal or fake an `ok:` line), and exactly as they are in JSON.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { propRuns } from '@gingham/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { escapeText } from '@gingham/cli';
import { run } from './run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'gingham-term-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const example = new URL('../../../examples/quickstart', import.meta.url).pathname;

/** A Namespace whose name (valid YAML escapes) would retitle an xterm and print a fake `ok:` line. */
const RETITLE = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: "x\\e]0;pwned\\a\\nok: 0 policies"}\n';
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

describe('text output is escaped', () => {
  it('a name with ESC, BEL and a newline is printed as \\x1b, \\x07 and \\x0a, on one line', async () => {
    const path = join(scratch, 'retitle.yaml');
    writeFileSync(path, RETITLE);
    const r = await run(['lint', '-f', path]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `${path}:3:18: Namespace/x\\x1b]0;pwned\\x07\\x0aok: 0 policies metadata.name: name must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character\n` +
        '1 error(s); files with errors were not used\n',
    );
    expect(RAW_CONTROL.test(r.err)).toBe(false);
    expect(r.err.split('\n').some((l) => l.startsWith('ok:'))).toBe(false);
  });

  it('file names found by a directory walk are escaped too', async () => {
    const dir = join(scratch, 'walk');
    mkdirSync(dir);
    const name = 'evil\u001b[2J\nok: fake.yaml';
    writeFileSync(join(dir, name), 'apiVersion: v1\nkind: Gadget\nmetadata: {name: g}\n');
    const r = await run(['lint', '-f', dir]);
    expect(r.code).toBe(1);
    expect(r.err.startsWith(`${dir}/evil\\x1b[2J\\x0aok: fake.yaml:`)).toBe(true);
    expect(RAW_CONTROL.test(r.err)).toBe(false);
  });

  it('--flows entries: peers from the file are escaped in text', async () => {
    const path = join(scratch, 'evil.jsonl');
    writeFileSync(path, `${JSON.stringify({ from: 'a\u001b]0;x\u0007', to: 'shop/db-0' })}\n`);
    const r = await run(['check', '-f', example, '--flows', path]);
    expect(r.out.split('\n')[0]).toBe(`ERROR    ${path}:1:1 entry 0 from: unknown flow peer "a\\x1b]0;x\\x07": not an IP address, a namespace/pod workload id, or a WorkloadEndpoint/HostEndpoint name`);
    expect(RAW_CONTROL.test(r.out + r.err)).toBe(false);
  });
});

describe('JSON output is exact', () => {
  it('lint --json carries the name as it is', async () => {
    const path = join(scratch, 'retitle2.yaml');
    writeFileSync(path, RETITLE);
    const r = await run(['lint', '-f', path, '--json']);
    const issues = (JSON.parse(r.out) as { issues: { name: string }[] }).issues;
    expect(issues[0]!.name).toBe('x\u001b]0;pwned\u0007\nok: 0 policies');
  });

  it('check --flows --jsonl carries the peer as it is', async () => {
    const path = join(scratch, 'evil2.jsonl');
    writeFileSync(path, `${JSON.stringify({ from: 'a\u001b\u009b', to: 'shop/db-0' })}\n`);
    const r = await run(['check', '-f', example, '--flows', path, '--jsonl']);
    expect((JSON.parse(r.out) as { from: string }).from).toBe('a\u001b\u009b');
  });
});

describe('escapeText', () => {
  test.prop([fc.string({ unit: 'binary', maxLength: 60 })], { numRuns: propRuns(500) })('leaves no control, bidi or separator character', (s) => {
    expect(escapeText(s)).not.toMatch(/[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/);
  });

  test.prop([fc.string({ unit: fc.constantFrom(...'abc/-_.:é日本 🎉"\'\\'), maxLength: 40 })], { numRuns: propRuns(200) })('leaves printable text as it is', (s) => {
    expect(escapeText(s)).toBe(s);
  });

  it('writes \\xNN below U+0100 and \\u{…} above', () => {
    expect(escapeText('a\u0000\u001b\u007f\u0085\u009b\u202e\u2028b')).toBe('a\\x00\\x1b\\x7f\\x85\\x9b\\u{202e}\\u{2028}b');
  });
});
