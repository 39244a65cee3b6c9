// Manifests from files, directories and standard input, bounded before they are read; no input
// at all, however hostile, gets a stack trace or an internal error out of the CLI.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { propRuns } from '@gingham/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './run-cli.js';
import { STACK_LINE } from './run-bin.js';

const scratch = mkdtempSync(join(tmpdir(), 'gingham-input-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const NS = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: piped}\n';

describe('-f', () => {
  it('- reads standard input', async () => {
    const r = await run(['lint', '-f', '-'], { stdin: NS });
    expect(r).toEqual({ code: 0, out: 'ok: 0 policies, 0 workload endpoints, 0 host endpoints, 0 network sets\n', err: '' });
  });

  it('standard input over 16 MiB is refused after 16 MiB + 1 byte', async () => {
    const r = await run(['lint', '-f', '-'], { stdin: new Uint8Array(16 * 1024 * 1024 + 10).fill(0x61) });
    expect(r).toEqual({ code: 1, out: '', err: 'gingham lint: <stdin>: is larger than 16 MiB (more than 16777216 bytes)\nnothing was loaded\n' });
  });

  it('every missing path is named; nothing is loaded (exit 2)', async () => {
    const r = await run(['lint', '-f', 'nope.yaml', '-f', 'gone/']);
    expect(r).toEqual({ code: 2, out: '', err: "gingham lint: no such file or directory: nope.yaml\nno such file or directory: gone/\nrun 'gingham lint --help' for usage\n" });
  });

  it('a manifest that is not UTF-8 is refused at its byte', async () => {
    const path = join(scratch, 'utf16.yaml');
    writeFileSync(path, Buffer.from(`\ufeff${NS}`, 'utf16le'));
    const r = await run(['check', '-f', path, '--from', '10.0.0.1', '--to', '10.0.0.2']);
    expect(r).toEqual({ code: 1, out: '', err: `gingham check: ${path}: is UTF-16 (byte order mark at byte 0); manifests must be UTF-8\nnothing was loaded\n` });
  });
});

/** Text made of YAML's structural characters, manifest fragments and troublemakers. */
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
  fc
    .array(
      fc.constantFrom('a', ':', ' ', '\n', '- ', '[', ']', '{', '}', ',', '"', "'", '&x ', '*x', '!!binary ', '#', '---\n', '\t', '<<: ', '%YAML 1.2\n', '\u0000', '\u001b]0;t\u0007', '\ud800', '9'.repeat(400),
        'apiVersion: v1\n', 'kind: Namespace\n', 'kind: List\n', 'items:\n', 'metadata: {name: x}\n', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n', 'spec: {ingress: [{action: Allow}]}\n', 'egress:\n'),
      { maxLength: 60 },
    )
    .map((parts) => parts.join('')),
);

describe('no input gets a stack trace', () => {
  test.prop([hostile], { numRuns: propRuns(150) })('lint of anything exits 0 or 1 with issues that name <stdin>', async (input) => {
    const r = await run(['lint', '-f', '-'], { stdin: input });
    expect([0, 1]).toContain(r.code);
    expect(STACK_LINE.test(r.err)).toBe(false);
    expect(r.err).not.toMatch(/internal error/);
    for (const line of r.err.split('\n').filter((l) => l !== '' && !/^\d+ error\(s\)/.test(l) && !/^nothing was loaded$/.test(l))) {
      expect(line).toMatch(/^(<stdin>:\d+:\d+: |gingham lint: <stdin>: )/);
    }
    expect(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(r.out + r.err)).toBe(false);
  });
});
