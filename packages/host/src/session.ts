/**
 * A persistent session with a long-lived interactive child (`ipset -exist -`, `ip -force -batch -`):
 * batches of command lines written on its stdin, so a small change costs a pipe write instead of
 * a process start. Built on the runner's `open()`, so it runs wherever the runner runs.
 *
 * The child never says on its own when a batch is done, so each caller supplies a protocol: the
 * text that frames a batch (its lines, then a sentinel command the caller chose because its
 * answer is unmistakable) and a reader of the child's output that returns the batch's result
 * once the sentinel's answer has come back. The sentinel's answer must come on the same stream as
 * the errors it closes (stdout and stderr are two pipes: their relative order is not kept). This
 * helper owns everything else, the same for every
 * caller: batches are serialised (one in flight), a batch whose sentinel does not come back
 * within the timeout ends the session, a child that exits ends it, and an ended session answers
 * every batch with `undefined`: the caller's signal to fall back (a one-shot process) or to read
 * the kernel back. It never retries a batch itself: only the caller knows whether its lines are
 * idempotent.
 *
 * The child holds no reference on Node's event loop; the timer of a batch in flight does (an
 * answer is awaited). `close()` asks the child to quit (the protocol's `quit` text), then stops
 * it by PID.
 */
import type { CommandRunner, InteractiveProcess } from './runner.js';

/** How one kind of child frames a batch and says it is done. One instance per session (it may keep state). */
export interface SessionProtocol<R> {
  /** The text that runs `lines` and then the sentinel, newline-terminated. May throw to refuse the lines. */
  frame(lines: readonly string[]): string;
  /**
   * The child's output as it arrives (between batches too). Returns `{ result }` once the batch
   * in flight has ended (its sentinel answered), else undefined.
   */
  receive(stream: 'stdout' | 'stderr', text: string): { readonly result: R } | undefined;
  /** Written by `close()` to ask the child to leave before it is stopped by PID. */
  readonly quit?: string;
}

export interface SessionOptions {
  /** A batch whose sentinel has not come back by then ends (and closes) the session. Default 10 s. */
  readonly timeoutMs?: number;
  /** How long `close()` waits for the child to leave after `quit`. Default 500 ms. */
  readonly quitGraceMs?: number;
}

/** A live session; see the module comment. */
export interface PersistentSession<R> {
  /** The child's PID. */
  readonly pid: number;
  /** Batches written so far. */
  readonly batches: number;
  /** Whether the session still takes batches. */
  alive(): boolean;
  /** Why it ended (`exited (code 255)`, `did not answer within 10000 ms`, `closed`); undefined while alive. */
  ended(): string | undefined;
  /**
   * Runs a batch after those before it. Resolves the protocol's result, or `undefined` when the
   * session has ended or ends during the batch (exit, timeout): fall back.
   */
  run(lines: readonly string[]): Promise<R | undefined>;
  /** Waits for the batch in flight, asks the child to quit, then stops it by PID if it has not left. */
  close(): Promise<void>;
}

/** Starts a session; `undefined` when the child cannot be started (the caller stays one-shot). */
export async function openSession<R>(
  runner: CommandRunner,
  argv: readonly string[],
  protocol: SessionProtocol<R>,
  options: SessionOptions = {},
): Promise<PersistentSession<R> | undefined> {
  let child: InteractiveProcess;
  try {
    child = await runner.open(argv);
  } catch {
    return undefined;
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  let ended: string | undefined;
  let batches = 0;
  let pending: { resolve: (r: R | undefined) => void; timer: NodeJS.Timeout } | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const settle = (r: R | undefined): void => {
    const p = pending;
    pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.resolve(r);
    }
  };
  void child.exited.then(({ code, signal }) => {
    ended ??= `exited (${signal ?? `code ${code}`})`;
    settle(undefined);
  });
  child.onOutput((stream, text) => {
    const done = protocol.receive(stream, text);
    if (done && pending) settle(done.result);
  });

  const runOne = (lines: readonly string[]): Promise<R | undefined> =>
    new Promise((resolve, reject) => {
      if (ended !== undefined || !child.alive()) return resolve(undefined);
      let text: string;
      try {
        text = protocol.frame(lines);
      } catch (e) {
        return reject(e);
      }
      batches++;
      const timer = setTimeout(() => {
        ended ??= `did not answer within ${timeoutMs} ms`;
        settle(undefined);
        void child.close();
      }, timeoutMs);
      pending = { resolve, timer };
      child.write(text);
    });

  return {
    pid: child.pid,
    get batches() {
      return batches;
    },
    alive: () => ended === undefined && child.alive(),
    ended: () => ended ?? (child.alive() ? undefined : 'exited'),
    run(lines) {
      const next = queue.then(() => runOne(lines));
      queue = next.catch(() => undefined);
      return next;
    },
    async close() {
      await queue;
      ended ??= 'closed';
      if (!child.alive()) return;
      if (protocol.quit !== undefined) {
        child.write(protocol.quit);
        // A ref'd timer: the child is unref'd, so without it Node could exit before the race ends.
        let timer: NodeJS.Timeout | undefined;
        const left = await Promise.race([child.exited.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), options.quitGraceMs ?? 500)))]);
        clearTimeout(timer);
        if (left) return;
      }
      await child.close();
    },
  };
}
