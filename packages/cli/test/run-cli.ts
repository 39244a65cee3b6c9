/** `runCli` in-process with captured output, newline-terminated as the real streams get it. */
import { runCli, type CliIo, type RunCliOptions } from '@gingham/cli';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function run(argv: string[], options: RunCliOptions & { stdin?: Uint8Array | string; env?: Record<string, string> } = {}): Promise<CliRun> {
  let out = '';
  let err = '';
  const input = options.stdin;
  const io: CliIo = {
    stdout: (s) => (out += s.endsWith('\n') ? s : `${s}\n`),
    stderr: (s) => (err += s.endsWith('\n') ? s : `${s}\n`),
    env: options.env ?? {},
    ...(input === undefined
      ? {}
      : {
          async *stdin() {
            yield typeof input === 'string' ? new TextEncoder().encode(input) : input;
          },
        }),
  };
  const code = await runCli(argv, io, options);
  return { code, out, err };
}
