/**
 * A persistent `ipset -exist -` child (ipset's interactive mode: one command per stdin line,
 * the process stays up) so that a small batch — a label change's `add`/`del` lines — costs a
 * pipe write and a few netlink round trips instead of a process start. Built on the host
 * layer's persistent-session helper (`openSession`: serialised batches, timeout, death detection),
 * so it runs wherever the runner runs (a namespace); this file is only ipset's protocol.
 *
 * End of batch: after the batch's lines the session writes `help <sentinel>`, which ipset answers
 * locally (no kernel access) on stderr with "Unknown settype: `<sentinel>'". stderr is one pipe
 * written in command order, so everything before that line is the batch's errors. Unlike
 * `ipset restore`, interactive mode does not stop at an error; the dataplane treats any error as
 * a failed batch and reads the kernel back on its next apply, as after a failed restore. Each
 * line is still one atomic kernel step, exactly as in `ipset restore`, which is what the
 * dataplane's ordering argument relies on.
 *
 * Any trouble with the session itself (exit, no sentinel within the timeout) makes `run` resolve
 * `undefined` and closes the session: the caller re-runs the batch one-shot (every line is
 * idempotent under `-exist`). The child holds no reference on Node's event loop; `close()` stops
 * it by PID.
 */
import { openSession, type CommandRunner } from '@gingham/host';

export interface IpsetBatchResult {
  /** ipset's error lines for this batch ('' when every line succeeded). */
  readonly stderr: string;
}

export interface IpsetSession {
  readonly pid: number;
  /** Whether the child is still usable. */
  alive(): boolean;
  /** Runs the lines; `undefined` when the session failed (it is then closed). */
  run(lines: readonly string[]): Promise<IpsetBatchResult | undefined>;
  /** Asks the child to quit, then stops it by PID if it has not exited. */
  close(): Promise<void>;
}

export const IPSET_SESSION_ARGV = ['ipset', '-exist', '-'] as const;
const HELP_LINE = /^Try `ipset help' for more information\.$/;

/** Starts the session; `undefined` when the child cannot be started (the caller stays one-shot). */
export async function openIpsetSession(runner: CommandRunner, timeoutMs = 10_000): Promise<IpsetSession | undefined> {
  let seq = 0;
  let errBuf = '';
  let sentinel: string | undefined;
  const nonce = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const session = await openSession<IpsetBatchResult>(
    runner,
    IPSET_SESSION_ARGV,
    {
      frame(lines) {
        sentinel = `ghsync-${nonce}-${++seq}`;
        return `${lines.join('\n')}\nhelp ${sentinel}\n`;
      },
      receive(stream, text) {
        if (stream !== 'stderr') return undefined; // prompts and help text: ignored
        errBuf += text;
        if (sentinel === undefined) return undefined;
        const at = errBuf.indexOf(`\`${sentinel}'`);
        if (at < 0) return undefined;
        const lineStart = errBuf.lastIndexOf('\n', at) + 1;
        const errors = errBuf
          .slice(0, lineStart)
          .split('\n')
          .filter((l) => l.length > 0 && !HELP_LINE.test(l))
          .join('\n');
        const lineEnd = errBuf.indexOf('\n', at);
        errBuf = lineEnd < 0 ? '' : errBuf.slice(lineEnd + 1);
        sentinel = undefined;
        return { result: { stderr: errors } };
      },
      quit: 'quit\n',
    },
    { timeoutMs, quitGraceMs: 500 },
  );
  if (!session) return undefined;
  return {
    pid: session.pid,
    alive: () => session.alive(),
    run: (lines) => session.run(lines),
    close: () => session.close(),
  };
}
