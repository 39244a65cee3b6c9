/**
 * The command runner port: everything the apply layer does to the kernel goes through `run`
 * (short commands: `wg`, `ip`, `genl`) and `spawn` (the wireguard-go daemon). Commands are
 * argument arrays, never shell strings. `createNetnsRunner` prefixes `ip netns exec NS`, which
 * is how tests (and benchmarks) aim the same code at a namespace they created.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { CommandFailedError, WireguardError } from '../errors.js';

/** Output of one command. `code` is the exit status (128 + signal number when killed). */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Options of {@link CommandRunner.run}. */
export interface RunOptions {
  /** Written to the command's standard input (then closed). */
  readonly input?: string;
  /** Kill the command after this many milliseconds. Default 30 s. */
  readonly timeoutMs?: number;
}

/** Options of {@link CommandRunner.spawn}. */
export interface SpawnOptions {
  /** Append stdout and stderr to this file; default: discard. */
  readonly logFile?: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Own process group and not waited for by Node, so it outlives this process (the CLI's
   * `apply` exits, the daemon stays). Default false: a child that dies with us.
   */
  readonly detached?: boolean;
}

/** A started long-running process. */
export interface SpawnedProcess {
  readonly pid: number;
  /** Settles when the process exits (only observed while this process lives). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A long-lived command with piped standard streams (the persistent `ip -batch -` session). It
 * dies with this process at the latest (its stdin closes), and holds no reference on Node's
 * event loop: whoever waits for its output keeps a timer.
 */
export interface InteractiveProcess {
  readonly pid: number;
  /** Writes to its standard input. */
  write(text: string): void;
  /** Standard output and error as they arrive (UTF-8). */
  onOutput(listener: (stream: 'stdout' | 'stderr', text: string) => void): void;
  /** Settles when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Closes its stdin and signals it by pid (SIGTERM) unless it already exited; waits for it. */
  close(): Promise<void>;
}

/** Where and how commands run. */
export interface CommandRunner {
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  spawn(argv: readonly string[], options?: SpawnOptions): Promise<SpawnedProcess>;
  /** Starts a long-lived command with piped stdio. Optional: callers fall back to `run`. */
  open?(argv: readonly string[]): Promise<InteractiveProcess>;
  /** Human-readable place, used in messages (`this network namespace`, `netns ghwg-1-n1`). */
  readonly description: string;
}

const NETNS_NAME_RE = /^[a-zA-Z0-9_.-]{1,64}$/;

function runLocal(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new WireguardError('WG_INVALID_ARGUMENT', 'empty command'));
  return new Promise((resolve, reject) => {
    const child = nodeSpawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== 0) {
      timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (cause: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (cause.code === 'ENOENT') resolve({ stdout: '', stderr: `${cmd}: command not found`, code: 127 });
      else reject(new WireguardError('WG_COMMAND_FAILED', `cannot run ${argv.join(' ')}: ${cause.message}`, { cause }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code: code ?? 128 + (signal ? signalNumber(signal) : 0),
      });
    });
    child.stdin.on('error', () => undefined); // EPIPE when the command does not read its input
    child.stdin.end(options.input ?? '');
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return table[signal] ?? 0;
}

function spawnLocal(argv: readonly string[], options: SpawnOptions = {}): Promise<SpawnedProcess> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new WireguardError('WG_INVALID_ARGUMENT', 'empty command'));
  return new Promise((resolve, reject) => {
    const fd = options.logFile ? openSync(options.logFile, 'a', 0o600) : undefined;
    const stdio = fd === undefined ? (['ignore', 'ignore', 'ignore'] as const) : (['ignore', fd, fd] as const);
    let child;
    try {
      child = nodeSpawn(cmd, args, { stdio: [...stdio], detached: options.detached ?? false, env: { ...process.env, ...options.env } });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      child.on('exit', (code, signal) => res({ code, signal }));
    });
    child.on('error', (cause) => reject(new WireguardError('WG_DAEMON_FAILED', `cannot start ${cmd}: ${cause.message}`, { cause })));
    child.on('spawn', () => {
      if (options.detached) child.unref();
      if (child.pid === undefined) reject(new WireguardError('WG_DAEMON_FAILED', `cannot start ${cmd}: no pid`));
      else resolve({ pid: child.pid, exited });
    });
  });
}

function openLocal(argv: readonly string[]): Promise<InteractiveProcess> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new WireguardError('WG_INVALID_ARGUMENT', 'empty command'));
  return new Promise((resolve, reject) => {
    const child = nodeSpawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let done = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      child.on('exit', (code, signal) => {
        done = true;
        res({ code, signal });
      });
    });
    child.stdin.on('error', () => undefined); // EPIPE after it died; the exit is reported instead
    child.on('error', (cause) => {
      done = true;
      reject(new WireguardError('WG_COMMAND_FAILED', `cannot run ${argv.join(' ')}: ${cause.message}`, { cause }));
    });
    child.on('spawn', () => {
      const pid = child.pid;
      if (pid === undefined) {
        reject(new WireguardError('WG_COMMAND_FAILED', `cannot run ${argv.join(' ')}: no pid`));
        return;
      }
      child.unref();
      for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
      resolve({
        pid,
        write: (text) => {
          if (!done) child.stdin.write(text);
        },
        onOutput: (listener) => {
          child.stdout.on('data', (b: Buffer) => listener('stdout', b.toString('utf8')));
          child.stderr.on('data', (b: Buffer) => listener('stderr', b.toString('utf8')));
        },
        exited,
        close: async () => {
          if (done) return;
          child.stdin.end();
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // already gone
          }
          const timer = setTimeout(() => {
            if (!done) {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                // gone
              }
            }
          }, 2000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}

/** Runs commands in this process's network namespace. */
export function createLocalRunner(): CommandRunner {
  return { run: runLocal, spawn: spawnLocal, open: openLocal, description: 'this network namespace' };
}

/**
 * Runs commands inside the named network namespace (`ip netns exec NS argv...`). `ip netns
 * exec` execs the command in place, so a spawned process's pid is the command's own pid.
 */
export function createNetnsRunner(namespace: string, base: CommandRunner = createLocalRunner()): CommandRunner {
  if (!NETNS_NAME_RE.test(namespace)) {
    throw new WireguardError('WG_INVALID_ARGUMENT', `invalid network namespace name "${namespace}"`);
  }
  const wrap = (argv: readonly string[]): string[] => ['ip', 'netns', 'exec', namespace, ...argv];
  return {
    run: (argv, options) => base.run(wrap(argv), options),
    spawn: (argv, options) => base.spawn(wrap(argv), options),
    ...(base.open ? { open: (argv: readonly string[]) => base.open!(wrap(argv)) } : {}),
    description: `network namespace ${namespace}`,
  };
}

/** Runs a command and throws `CommandFailedError` unless it exits 0. */
export async function runChecked(runner: CommandRunner, argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
  const result = await runner.run(argv, options);
  if (result.code !== 0) throw new CommandFailedError(argv, result);
  return result;
}
