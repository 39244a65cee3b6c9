/**
 * A persistent `ipset -exist -` child (ipset's interactive mode: one command per stdin line,
 * the process stays up) so that a small batch — a label change's `add`/`del` lines — costs a
 * pipe write and a few netlink round trips instead of a process start. Built on the host
 * runner's `open()` (`InteractiveProcess`), so it runs wherever the runner runs (a namespace).
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
import type { CommandRunner, InteractiveProcess } from '@gingham/host';

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
  let child: InteractiveProcess;
  try {
    child = await runner.open(IPSET_SESSION_ARGV);
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
    void child.close();
  };
  void child.exited.then(() => {
    dead = true;
    settle(undefined);
  });
  child.onOutput((stream, text) => {
    if (stream !== 'stderr') return; // prompts and help text: ignored
    errBuf += text;
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

  const runOne = (lines: readonly string[]): Promise<IpsetBatchResult | undefined> =>
    new Promise((resolve) => {
      if (dead || !child.alive()) return resolve(undefined);
      const sentinel = `ghsync-${nonce}-${++seq}`;
      // The timer is ref'd: it keeps Node alive while a batch is in flight.
      pending = { sentinel, resolve, timer: setTimeout(fail, timeoutMs) };
      child.write(`${lines.join('\n')}\nhelp ${sentinel}\n`);
    });

  return {
    pid: child.pid,
    alive: () => !dead && child.alive(),
    run(lines) {
      const next = queue.then(() => runOne(lines));
      queue = next.catch(() => undefined);
      return next;
    },
    async close() {
      await queue;
      dead = true;
      if (!child.alive()) return;
      child.write('quit\n');
      // A ref'd timer: the child is unref'd, so without it Node could exit before the race ends.
      let timer: NodeJS.Timeout | undefined;
      const quit = await Promise.race([child.exited.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), 500)))]);
      clearTimeout(timer);
      if (!quit) await child.close();
    },
  };
}
