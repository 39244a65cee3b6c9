/**
 * A persistent `ip -force -batch -` session: one long-lived `ip` child per handle, fed route
 * commands on stdin, so an incremental apply changes routes without spawning a process. The
 * session itself (serialised batches, timeout, death detection) is `@gingham/host`'s
 * `openSession`; this file is `ip`'s protocol.
 *
 * How a batch's end and outcome are known: `ip` numbers the lines it reads (for the whole
 * session) and, for each failing line N, prints the error then `Command failed -:N` on stderr
 * (unbuffered). Every batch is followed by a sentinel, `link show dev ghwg.sentinel`, which
 * fails on purpose; its `Command failed` line marks the end of the batch, and the failures
 * numbered inside the batch's range are its errors. `-force` keeps the session alive after a
 * failing line (so the remaining lines of that batch still run; callers re-read and converge).
 * A usage error makes `ip` exit: the batch is then rejected and the session is dead; the caller
 * reads the kernel back (it never re-runs the batch: `route del` is not idempotent).
 */
import { CommandFailedError, openSession, type CommandRunner, type PersistentSession, type SessionOptions, type SessionProtocol } from '@gingham/host';
import { WireguardError } from '../errors.js';

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

/**
 * `ip -batch`'s framing: the lines, then the sentinel; the batch ends at the sentinel's failure
 * and its result is the failures numbered inside it (1-based within the batch).
 */
class IpBatchProtocol implements SessionProtocol<readonly IpBatchFailure[]> {
  private lines = 0;
  private readonly parser = new IpBatchStderrParser();
  /** The batch in flight: its first line and its sentinel's line (session numbering). */
  private current: { first: number; sentinel: number; failures: IpBatchFailure[] } | undefined;

  frame(commands: readonly string[]): string {
    const first = this.lines + 1;
    this.lines += commands.length + 1;
    this.current = { first, sentinel: this.lines, failures: [] };
    return `${[...commands, `link show dev ${SENTINEL_DEVICE}`].join('\n')}\n`;
  }

  receive(stream: 'stdout' | 'stderr', text: string): { readonly result: readonly IpBatchFailure[] } | undefined {
    if (stream !== 'stderr') return undefined;
    let done: { readonly result: readonly IpBatchFailure[] } | undefined;
    for (const f of this.parser.feed(text)) {
      const c = this.current;
      if (!c) continue;
      if (f.line === c.sentinel) {
        this.current = undefined;
        done = { result: c.failures.map((x) => ({ line: x.line - c.first + 1, message: x.message })) };
      } else if (f.line >= c.first && f.line < c.sentinel) {
        c.failures.push(f);
      }
    }
    return done;
  }

  /** Messages of the batch in flight so far (for the error when `ip` dies in the middle of it). */
  inFlight(): string[] {
    return this.current?.failures.map((f) => f.message) ?? [];
  }
}

/** A live `ip -force -batch -` session. Use {@link openIpSession}. */
export class IpSession {
  private constructor(
    private readonly session: PersistentSession<readonly IpBatchFailure[]>,
    private readonly protocol: IpBatchProtocol,
  ) {}

  /** Starts a session through the runner (a batch unanswered for 30 s ends it); undefined when `ip` cannot be started. */
  static async open(runner: CommandRunner, options: SessionOptions = {}): Promise<IpSession | undefined> {
    const protocol = new IpBatchProtocol();
    const session = await openSession(runner, SESSION_ARGV, protocol, { timeoutMs: 30_000, ...options });
    return session ? new IpSession(session, protocol) : undefined;
  }

  /** The session's `ip` pid. */
  get pid(): number {
    return this.session.pid;
  }

  /** False once `ip` exited, stopped answering, or was closed. */
  get alive(): boolean {
    return this.session.alive();
  }

  /** Batches sent (for tests and the bench). */
  get batches(): number {
    return this.session.batches;
  }

  /**
   * Runs the commands (lines of `ip` batch syntax, without newlines) and resolves when all have
   * run; rejects with `CommandFailedError` naming the failing lines (1-based within the batch),
   * or the reason the session ended. Throws `WG_INVALID_ARGUMENT`, sending nothing, for a line
   * that would break the numbering.
   */
  batch(commands: readonly string[]): Promise<void> {
    for (const c of commands) {
      if (c.includes('\n') || c.trim() === '') throw new WireguardError('WG_INVALID_ARGUMENT', `not a single ip batch line: ${JSON.stringify(c)}`);
    }
    return this.session.run(commands).then((failures) => {
      if (failures === undefined) {
        const why = `ip -batch session ${this.session.ended() ?? 'ended'}`;
        throw new CommandFailedError(SESSION_ARGV, { code: 1, stdout: '', stderr: [...this.protocol.inFlight(), why].join('\n') });
      }
      if (failures.length > 0) {
        throw new CommandFailedError(SESSION_ARGV, { code: 1, stdout: '', stderr: failures.map((f) => `line ${f.line}: ${f.message}`).join('\n') });
      }
    });
  }

  /** Ends the session: stdin closed, `ip` signalled by pid and waited for. */
  close(): Promise<void> {
    return this.session.close();
  }
}

/** Starts a session through the runner; undefined when the runner cannot hold one open. */
export function openIpSession(runner: CommandRunner, options?: SessionOptions): Promise<IpSession | undefined> {
  return IpSession.open(runner, options);
}

/**
 * The persistent session of one handle: opened on the first incremental route batch, reopened
 * after it died, ended (by pid) by `reset()` (the handle's `down`) and for good by `close()`.
 */
export class IpSessionSlot {
  private session: IpSession | undefined;
  private closed = false;

  constructor(private readonly runner: CommandRunner) {}

  /**
   * Sends a route batch on the session; resolves false when no session can be had (the caller
   * runs a one-shot `ip -batch -`). Rejects as {@link IpSession.batch}.
   */
  async batch(lines: readonly string[]): Promise<boolean> {
    if (this.closed) return false;
    if (!this.session?.alive) {
      await this.reset();
      this.session = await openIpSession(this.runner);
      if (!this.session) return false;
    }
    await this.session.batch(lines);
    return true;
  }

  /** Ends the current session, if any; a later batch opens a new one. */
  async reset(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.close();
  }

  /** Ends the session for good: later batches answer false. */
  async close(): Promise<void> {
    this.closed = true;
    await this.reset();
  }
}
