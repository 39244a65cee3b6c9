/**
 * Where a command reads and writes. Injected so tests can capture output without spawning a
 * process; `processIo` is the real one. Output to a reader that went away (`gingham check … |
 * head`) is dropped quietly: `drain()` then answers false and long outputs stop.
 */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /**
   * Resolves once stdout has taken what was written (back-pressure for long outputs), with false
   * when its reader has gone away: stop producing output. Without it, writes count as taken.
   */
  drain?(): Promise<boolean>;
  /** Standard input (`-f -`, `--flows -`), read as it arrives; absent: there is none. */
  stdin?(): AsyncIterable<Uint8Array>;
  /** Environment variables (`GINGHAM_DEBUG`); the process environment when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A usage problem: one or two lines and a pointer to the command's `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The real streams. EPIPE on stdout or stderr is not an error: the reader left. */
export function createProcessIo(): CliIo & { readonly readerGone: () => boolean } {
  let gone = false;
  let writes = 0;
  const onError = (stream: NodeJS.WriteStream) => (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
      if (stream === process.stdout) gone = true;
      return;
    }
    // Anything else on our own output (EIO on a vanished terminal) ends the output the same way.
    if (stream === process.stdout) gone = true;
  };
  process.stdout.on('error', onError(process.stdout));
  process.stderr.on('error', onError(process.stderr));
  const write = (stream: NodeJS.WriteStream, text: string): void => {
    if (stream === process.stdout && gone) return;
    if (stream.destroyed) return;
    stream.write(text.endsWith('\n') ? text : `${text}\n`);
    writes++;
  };
  return {
    stdout: (text) => write(process.stdout, text),
    stderr: (text) => write(process.stderr, text),
    readerGone: () => gone,
    async drain() {
      if (gone) return false;
      if (process.stdout.writableNeedDrain) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            for (const event of ['drain', 'close', 'error']) process.stdout.off(event, done);
            resolve();
          };
          for (const event of ['drain', 'close', 'error']) process.stdout.once(event, done);
        });
      } else if (writes >= 64) {
        // Let pending stream events (an EPIPE is reported asynchronously) reach us now and then.
        writes = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
      return !gone;
    },
    stdin: () => process.stdin,
    env: process.env,
  };
}
