/**
 * A persistent `ip -force -batch -` session: one long-lived `ip` child per handle, fed route
 * commands on stdin, so an incremental apply changes routes without spawning a process.
 *
 * How a batch's end and outcome are known: `ip` numbers the lines it reads (for the whole
 * session) and, for each failing line N, prints the error then `Command failed -:N` on stderr
 * (unbuffered). Every batch is followed by a sentinel, `link show dev ghwg.sentinel`, which
 * fails on purpose; its `Command failed` line marks the end of the batch, and the failures
 * numbered inside the batch's range are its errors. `-force` keeps the session alive after a
 * failing line (so the remaining lines of that batch still run; callers re-read and converge).
 * A usage error makes `ip` exit: the batch is then rejected and the session is dead; the
 * caller falls back to one-shot `ip -batch -`.
 */
import { CommandFailedError, WireguardError } from '../errors.js';
import type { CommandRunner, InteractiveProcess } from './runner.js';

/** A device name that does not exist (valid syntax, 13 characters). */
export const SENTINEL_DEVICE = 'ghwg.sentinel';
const SESSION_ARGV = ['ip', '-force', '-batch', '-'] as const;

/** One failure reported by `ip -batch`: the input line number and the messages before it. */
export interface IpBatchFailure {
  readonly line: number;
  readonly message: string;
}

/**
 * Incremental parser of `ip -batch` stderr: feed text as it arrives; complete failures come out
 * (`Command failed -:N` closes the messages printed since the previous one). Pure.
 */
export class IpBatchStderrParser {
  private buffer = '';
  private pending: string[] = [];

  /** Feeds stderr text; returns the failures completed by it. */
  feed(text: string): IpBatchFailure[] {
    this.buffer += text;
    const out: IpBatchFailure[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const m = /^Command failed (?:-|[^:]*):([0-9]+)$/.exec(line.trim());
      if (m) {
        out.push({ line: Number(m[1]), message: this.pending.join('\n') });
        this.pending = [];
      } else if (line.trim() !== '') {
        this.pending.push(line.trim());
      }
    }
    return out;
  }
}

/** Options of {@link IpSession.batch}. */
export interface IpBatchOptions {
  /** Reject (and kill the session) when the sentinel has not come back by then. Default 30 s. */
  readonly timeoutMs?: number;
}

/** A live `ip -force -batch -` session. Use {@link openIpSession}. */
export class IpSession {
  private lines = 0;
  private dead: string | undefined;
  private waiter: { readonly sentinel: number; readonly first: number; readonly failures: IpBatchFailure[]; resolve: () => void; reject: (e: Error) => void } | undefined;
  private readonly parser = new IpBatchStderrParser();
  /** Batches sent (for tests and the bench). */
  batches = 0;

  constructor(private readonly proc: InteractiveProcess) {
    proc.onOutput((stream, text) => {
      if (stream === 'stderr') for (const f of this.parser.feed(text)) this.onFailure(f);
    });
    void proc.exited.then(({ code, signal }) => {
      this.dead = `ip -batch session exited (${signal ?? `code ${code}`})`;
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(new CommandFailedError(SESSION_ARGV, { code: code ?? 1, stdout: '', stderr: [...w.failures.map((f) => f.message), this.dead].join('\n') }));
    });
  }

  /** The session's `ip` pid. */
  get pid(): number {
    return this.proc.pid;
  }

  /** False once `ip` exited or was closed. */
  get alive(): boolean {
    return this.dead === undefined;
  }

  private onFailure(f: IpBatchFailure): void {
    const w = this.waiter;
    if (!w) return;
    if (f.line === w.sentinel) {
      this.waiter = undefined;
      if (w.failures.length === 0) w.resolve();
      else {
        const stderr = w.failures.map((x) => `line ${x.line - w.first + 1}: ${x.message}`).join('\n');
        w.reject(new CommandFailedError(SESSION_ARGV, { code: 1, stdout: '', stderr }));
      }
    } else if (f.line >= w.first && f.line < w.sentinel) {
      w.failures.push(f);
    }
  }

  /**
   * Runs the commands (lines of `ip` batch syntax, without newlines) and resolves when all have
   * run; rejects with `CommandFailedError` naming the failing lines (1-based within the batch).
   */
  batch(commands: readonly string[], options: IpBatchOptions = {}): Promise<void> {
    if (this.dead) return Promise.reject(new WireguardError('WG_COMMAND_FAILED', this.dead));
    if (this.waiter) return Promise.reject(new WireguardError('WG_COMMAND_FAILED', 'ip -batch session is busy'));
    for (const c of commands) {
      if (c.includes('\n') || c.trim() === '') throw new WireguardError('WG_INVALID_ARGUMENT', `not a single ip batch line: ${JSON.stringify(c)}`);
    }
    const first = this.lines + 1;
    this.lines += commands.length + 1;
    const sentinel = this.lines;
    this.batches++;
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter?.sentinel !== sentinel) return;
        this.waiter = undefined;
        this.dead = `ip -batch session did not answer within ${timeoutMs} ms`;
        void this.proc.close();
        reject(new WireguardError('WG_COMMAND_FAILED', this.dead));
      }, timeoutMs);
      this.waiter = {
        sentinel,
        first,
        failures: [],
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.proc.write(`${[...commands, `link show dev ${SENTINEL_DEVICE}`].join('\n')}\n`);
    });
  }

  /** Ends the session: stdin closed, `ip` signalled by pid and waited for. */
  async close(): Promise<void> {
    this.dead ??= 'ip -batch session closed';
    await this.proc.close();
  }
}

/** Starts a session through the runner; undefined when the runner cannot hold one open. */
export async function openIpSession(runner: CommandRunner): Promise<IpSession | undefined> {
  if (!runner.open) return undefined;
  try {
    return new IpSession(await runner.open(SESSION_ARGV));
  } catch {
    return undefined;
  }
}
