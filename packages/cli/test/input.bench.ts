/**
 * `npm run bench:input`: the built `gingham` on hostile and large input, as a child process:
 * user CPU, wall time and peak RSS (getrusage maxrss) per case, next to `gingham --help` (node's
 * startup) in the same run. Cases: a 100,000-rule policy, a 400 MiB file, /dev/zero as a file
 * and as standard input, 16 MiB of realistic manifests, and 300,000 flows with and without traces.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateCluster } from '@gingham/testkit';
import { writeCorpus } from './hostile-corpus.js';
import { root, runBin, type BinOptions } from './run-bin.js';

type Row = { bench: string; metric: string; value: number; unit: string };

export async function runInputBench(emit: (row: Row) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gingham-bench-input-'));
  try {
    const corpus = writeCorpus(dir);
    const cluster = generateCluster({ seed: 1, namespaces: 200, endpoints: 30_000, nodes: 100, policies: 3_000 });
    const realistic = join(dir, 'realistic.yaml');
    writeFileSync(realistic, cluster.resources.map((r) => stringify(r)).join('---\n'));
    const example = join(root, 'examples/quickstart');
    const flows = corpus.flows(300_000);
    const cases: [string, string[], BinOptions][] = [
      ['help (node startup)', ['--help'], {}],
      ['lint 100k-rule policy', ['lint', '-f', corpus.rules100k], {}],
      ['lint 400 MiB file', ['lint', '-f', corpus.sparse400m], {}],
      ['lint /dev/zero', ['lint', '-f', '/dev/zero'], {}],
      ['lint - < /dev/zero', ['lint', '-f', '-'], { stdinFile: '/dev/zero' }],
      ['lint 16 MiB realistic', ['lint', '-f', realistic], {}],
      ['check 300k flows --jsonl --no-trace', ['check', '-f', example, '--flows', flows, '--jsonl', '--no-trace'], { keepStdout: 0 }],
      ['check 300k flows --json (traces)', ['check', '-f', example, '--flows', flows, '--json'], { keepStdout: 0 }],
    ];
    for (const [bench, args, options] of cases) {
      process.stderr.write(`bench:input: ${bench}\n`);
      const r = await runBin(args, options);
      emit({ bench: `input: ${bench}`, metric: 'exit code', value: r.code ?? -1, unit: 'code' });
      emit({ bench: `input: ${bench}`, metric: 'user CPU', value: r.userCpuMs ?? NaN, unit: 'ms' });
      emit({ bench: `input: ${bench}`, metric: 'wall', value: r.wallMs, unit: 'ms' });
      emit({ bench: `input: ${bench}`, metric: 'peak RSS', value: (r.peakRssKb ?? NaN) / 1024, unit: 'MiB' });
      if (r.stdoutChars > 0) emit({ bench: `input: ${bench}`, metric: 'stdout', value: r.stdoutChars / 1024 / 1024, unit: 'MiB' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
