/**
 * A persistent `ipset -exist -` child (ipset's interactive mode: one command per stdin line,
 * the process stays up) so that a small batch — a label change's `add`/`del` lines — costs a
 * pipe write and a few netlink round trips instead of a process start.
 *
 * End of batch: after the batch's lines the session writes `help <sentinel>`, which ipset answers
 * locally (no kernel access) on stderr with "Unknown settype: `<sentinel>'". stderr is one pipe
 * written in command order, so everything before that line is the batch's errors. Unlike
 * `ipset restore`, interactive mode does not stop at an error; the dataplane treats any error as
 * a failed batch and reads the kernel back on its next apply, as after a failed restore.
 *
 * Any trouble with the session itself (spawn error, exit, no sentinel within the timeout) makes
 * `run` resolve `undefined` and closes the session: the caller re-runs the batch one-shot (every
 * line is idempotent under `-exist`). The child is unref'd (it never keeps Node alive; it exits on
 * stdin EOF when its parent goes) and `close()` stops it by PID.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { CommandRunner } from './runner.js';

export interface IpsetBatchResult {
  /** ipset's error lines for this batch ('' when every line succeeded). */
  readonly stderr: string;
}

export interface IpsetSession {
  readonly pid: number | undefined;
  /** Whether the child is still usable. */
  alive(): boolean;
  /** Runs the lines; `undefined` when the session failed (it is then closed). */
  run(lines: readonly string[]): Promise<IpsetBatchResult | undefined>;
  /** Asks the child to quit, then kills it by PID if it has not exited within 500 ms. */
  close(): Promise<void>;
}

export const IPSET_SESSION_ARGV = ['ipset', '-exist', '-'] as const;
const HELP_LINE = /^Try `ipset help' for more information\.$/;

export function openIpsetSession(runner: CommandRunner, timeoutMs = 10_000): IpsetSession | undefined {
  if (!runner.spawn) return undefined;
  let child: ChildProcessWithoutNullStreams;
  try {
    child = runner.spawn(IPSET_SESSION_ARGV);
  } catch {
    return undefined;
  }
  let dead = false;
  let seq = 0;
  let errBuf = '';
  let pending: { sentinel: string; resolve: (r: IpsetBatchResult | undefined) => void; timer: NodeJS.Timeout } | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const nonce = `${process.pid.toString(36)}${Date.now().toString(36)}`;

  const settle = (r: IpsetBatchResult | undefined): void => {
    const p = pending;
    pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.resolve(r);
    }
  };
  const fail = (): void => {
    dead = true;
    settle(undefined);
    kill();
  };
  const kill = (): void => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  child.on('error', fail);
  child.on('exit', () => {
    dead = true;
    settle(undefined);
  });
  child.stdin.on('error', fail);
  child.stdout.on('data', () => undefined); // prompts and help text: drained, ignored
  child.stderr.on('data', (b: Buffer) => {
    errBuf += b.toString('utf8');
    if (!pending) return;
    const marker = `\`${pending.sentinel}'`;
    const at = errBuf.indexOf(marker);
    if (at < 0) return;
    const lineStart = errBuf.lastIndexOf('\n', at) + 1;
    const errors = errBuf
      .slice(0, lineStart)
      .split('\n')
      .filter((l) => l.length > 0 && !HELP_LINE.test(l))
      .join('\n');
    const lineEnd = errBuf.indexOf('\n', at);
    errBuf = lineEnd < 0 ? '' : errBuf.slice(lineEnd + 1);
    settle({ stderr: errors });
  });
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();

  const runOne = (lines: readonly string[]): Promise<IpsetBatchResult | undefined> =>
    new Promise((resolve) => {
      if (dead) return resolve(undefined);
      const sentinel = `ghsync-${nonce}-${++seq}`;
      // The timer is ref'd: it keeps Node alive while a batch is in flight.
      pending = { sentinel, resolve, timer: setTimeout(fail, timeoutMs) };
      child.stdin.write(`${lines.join('\n')}\nhelp ${sentinel}\n`);
    });

  return {
    pid: child.pid,
    alive: () => !dead,
    run(lines) {
      const next = queue.then(() => runOne(lines));
      queue = next.catch(() => undefined);
      return next;
    },
    async close() {
      await queue;
      dead = true;
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((res) => {
        child.once('exit', () => res());
        setTimeout(res, 2000).unref();
      });
      try {
        child.stdin.end('quit\n');
      } catch {
        /* pipe already closed */
      }
      const timer = setTimeout(kill, 500);
      await exited;
      clearTimeout(timer);
    },
  };
}
