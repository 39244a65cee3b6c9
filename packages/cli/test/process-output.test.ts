// The built `gingham` as a child process writing a lot: --flows output streams (30,000 flows
// with their traces, some 70 MB of JSON, are answered in a 48 MiB heap that could not hold
// them), and a reader that goes away (`| head`) ends the command quietly with exit code 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCorpus } from './hostile-corpus.js';
import { root, runBin, STACK_LINE } from './run-bin.js';

const scratch = mkdtempSync(join(tmpdir(), 'gingham-stream-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const flows = writeCorpus(scratch).flows(30_000);
const example = join(root, 'examples/quickstart');

describe('streamed --flows output', () => {
  it('30,000 flows with traces as one JSON array, in a 48 MiB heap', async () => {
    const r = await runBin(['check', '-f', example, '--flows', flows, '--json'], { maxOldSpaceMb: 48, keepStdout: 4096 });
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(r.stdout.startsWith('[\n{"index":0,"from":"shop/frontend-0","to":"monitoring/prometheus-0","protocol":"UDP","port":53,"allowed":')).toBe(true);
    expect(r.stdoutTail).toMatch(/\}\}\n\]\n$/);
    expect(r.stdoutLines).toBe(30_002); // [, one row a line, ]
    // ~2.4 KB of trace a flow: the whole answer is bigger than the heap it was made in.
    expect(r.stdoutChars).toBeGreaterThan(60 * 1024 * 1024);
    expect(r.peakRssKb! / 1024).toBeLessThan(200);
  });

  it('a reader that goes away after 100 KB: exit 0, nothing on stderr', async () => {
    const r = await runBin(['check', '-f', example, '--flows', flows, '--json'], { closeStdoutAfter: 100_000 });
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(r.stdoutChars).toBeLessThan(60 * 1024 * 1024);
  });

  it('the same for text output and for matrix', async () => {
    const [text, matrix] = await Promise.all([
      runBin(['check', '-f', example, '--flows', flows], { closeStdoutAfter: 1 }),
      runBin(['matrix', '-f', example, '--ports', '80,443,8080,9090,5432,53/UDP'], { closeStdoutAfter: 1 }),
    ]);
    for (const r of [text, matrix]) {
      expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
      expect(STACK_LINE.test(r.stderr)).toBe(false);
    }
  });
});
