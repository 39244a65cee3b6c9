/**
 * The command runner: every program an adapter runs goes through `run` (short commands),
 * `spawn` (daemons) or `open` (long-lived children fed on stdin: `ipset -`, `ip -batch -`).
 * Commands are argument arrays, never shell strings. `createNetnsRunner` prefixes
 * `ip netns exec NS`, which is how tests and tools aim the same code at a namespace.
 *
 * A program that is not installed is a `ToolMissingError` naming the Debian package (locally:
 * spawn's ENOENT; in a namespace: `ip netns exec`'s "exec of … failed"), never a result to parse.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { CommandFailedError, HostError, NotPermittedError, ToolMissingError } from './errors.js';
import { debianPackageOf } from './tools.js';

/** Output of one command. `code` is the exit status (128 + signal number when killed). */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface RunOptions {
  /** Written to the command's standard input (then closed). */
  readonly input?: string;
  /** Kill the command (SIGKILL) after this many milliseconds; 0 = never. Default 60 s. */
  readonly timeoutMs?: number;
}

export interface SpawnOptions {
  /** Append stdout and stderr to this file; default: discard. */
  readonly logFile?: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Own process group and not waited for, so it outlives this process. Default false. */
  readonly detached?: boolean;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started long-running process. */
export interface SpawnedProcess {
  readonly pid: number;
  /** Settles when the process exits (only observed while this process lives). */
  readonly exited: Promise<ProcessExit>;
}

/**
 * A long-lived child with piped standard streams. It holds no reference on Node's event loop
 * (whoever waits for its output keeps a timer) and dies with this process at the latest (its
 * stdin closes).
 */
export interface InteractiveProcess {
  readonly pid: number;
  /** Writes to its standard input (ignored once it exited). */
  write(text: string): void;
  /** Standard output and error as they arrive (UTF-8). */
  onOutput(listener: (stream: 'stdout' | 'stderr', text: string) => void): void;
  readonly exited: Promise<ProcessExit>;
  /** Whether it is still running. */
  alive(): boolean;
  /** Closes its stdin, then signals it by pid (SIGTERM, SIGKILL after 2 s) unless it exited; waits. */
  close(): Promise<void>;
}

/** Where and how commands run. */
export interface CommandRunner {
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  spawn(argv: readonly string[], options?: SpawnOptions): Promise<SpawnedProcess>;
  open(argv: readonly string[]): Promise<InteractiveProcess>;
  /** Human-readable place, used in messages (`this network namespace`, `network namespace n1`). */
  readonly description: string;
}

const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** `ip netns exec` reports a program it cannot exec like this (exit 1 on iproute2 6.x, 255 on older ones). */
const NETNS_EXEC_MISSING = /^exec of "([^"]+)" failed: No such file or directory/m;

function signalNumber(signal: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };
  return table[signal] ?? 0;
}

function missing(tool: string, where: string): ToolMissingError {
  return new ToolMissingError(tool, debianPackageOf(tool), where);
}

function checkArgv(argv: readonly string[]): string {
  const cmd = argv[0];
  if (!cmd) throw new HostError('HOST_INVALID_ARGUMENT', 'empty command');
  return cmd;
}

function runLocal(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const cmd = checkArgv(argv);
  return new Promise((resolve, reject) => {
    const child = nodeSpawn(cmd, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timer = timeoutMs > 0 ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (cause: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (cause.code === 'ENOENT') reject(missing(cmd, 'not found in PATH'));
      else if (cause.code === 'EACCES') reject(new NotPermittedError('execute permission', `running ${cmd}`, { cause }));
      else reject(new HostError('COMMAND_FAILED', `cannot run ${argv.join(' ')}: ${cause.message}`, { cause }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      const m = code !== 0 && cmd === 'ip' && argv[1] === 'netns' ? NETNS_EXEC_MISSING.exec(stderr) : null;
      if (m) {
        reject(missing(m[1]!, `inside ${argv.slice(0, 4).join(' ')}`));
        return;
      }
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr, code: code ?? 128 + (signal ? signalNumber(signal) : 0) });
    });
    child.stdin.on('error', () => undefined); // EPIPE when the command does not read its input
    child.stdin.end(options.input ?? '');
  });
}

function spawnLocal(argv: readonly string[], options: SpawnOptions = {}): Promise<SpawnedProcess> {
  const cmd = checkArgv(argv);
  return new Promise((resolve, reject) => {
    const fd = options.logFile ? openSync(options.logFile, 'a', 0o600) : undefined;
    const stdio = fd === undefined ? (['ignore', 'ignore', 'ignore'] as const) : (['ignore', fd, fd] as const);
    let child;
    try {
      child = nodeSpawn(cmd, argv.slice(1), { stdio: [...stdio], detached: options.detached ?? false, env: { ...process.env, ...options.env } });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const exited = new Promise<ProcessExit>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    child.on('error', (cause: NodeJS.ErrnoException) =>
      reject(cause.code === 'ENOENT' ? missing(cmd, 'not found in PATH') : new HostError('COMMAND_FAILED', `cannot start ${cmd}: ${cause.message}`, { cause })),
    );
    child.on('spawn', () => {
      if (options.detached) child.unref();
      if (child.pid === undefined) reject(new HostError('COMMAND_FAILED', `cannot start ${cmd}: no pid`));
      else resolve({ pid: child.pid, exited });
    });
  });
}

function openLocal(argv: readonly string[]): Promise<InteractiveProcess> {
  const cmd = checkArgv(argv);
  return new Promise((resolve, reject) => {
    const child = nodeSpawn(cmd, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let done = false;
    const exited = new Promise<ProcessExit>((res) => {
      child.on('exit', (code, signal) => {
        done = true;
        res({ code, signal });
      });
    });
    child.stdin.on('error', () => undefined); // EPIPE after it died; the exit is reported instead
    child.on('error', (cause: NodeJS.ErrnoException) => {
      done = true;
      reject(cause.code === 'ENOENT' ? missing(cmd, 'not found in PATH') : new HostError('COMMAND_FAILED', `cannot run ${argv.join(' ')}: ${cause.message}`, { cause }));
    });
    child.on('spawn', () => {
      const pid = child.pid;
      if (pid === undefined) {
        reject(new HostError('COMMAND_FAILED', `cannot run ${argv.join(' ')}: no pid`));
        return;
      }
      child.unref();
      for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
      const signal = (sig: NodeJS.Signals): void => {
        try {
          process.kill(pid, sig);
        } catch {
          // already gone
        }
      };
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
        alive: () => !done,
        close: async () => {
          if (done) return;
          child.stdin.end();
          signal('SIGTERM');
          const timer = setTimeout(() => {
            if (!done) signal('SIGKILL');
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
 * Runs commands inside the named network namespace (`ip netns exec NS argv…`). `ip netns exec`
 * execs the command in place, so a spawned process's pid is the command's own pid.
 */
export function createNetnsRunner(namespace: string, base: CommandRunner = createLocalRunner()): CommandRunner {
  if (!NETNS_NAME.test(namespace)) throw new HostError('HOST_INVALID_ARGUMENT', `invalid network namespace name "${namespace}"`);
  const wrap = (argv: readonly string[]): string[] => ['ip', 'netns', 'exec', namespace, ...argv];
  return {
    run: (argv, options) => base.run(wrap(argv), options),
    spawn: (argv, options) => base.spawn(wrap(argv), options),
    open: (argv) => base.open(wrap(argv)),
    description: `network namespace ${namespace}`,
  };
}

const PERMISSION = /Permission denied|Operation not permitted|must be root|you must be root/i;

/**
 * Runs a command and returns its result when it exits 0. Otherwise throws: `NotPermittedError`
 * when the tool says it lacks privileges (CAP_NET_ADMIN for the networking tools), else
 * `CommandFailedError` with argv, exit code, output and the input it was given.
 */
export async function runChecked(runner: CommandRunner, argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
  const result = await runner.run(argv, options);
  if (result.code === 0) return result;
  if (PERMISSION.test(result.stderr) && process.getuid?.() !== 0) {
    throw new NotPermittedError('CAP_NET_ADMIN', `${argv[0]} (${runner.description})`, { cause: new CommandFailedError(argv, result, options?.input) });
  }
  throw new CommandFailedError(argv, result, options?.input);
}
