/**
 * Runs the built `gingham` bin as a child process, the way a person's shell would, and reports
 * its exit code, output and peak memory (getrusage maxrss = VmHWM, via peak-rss.mjs). Used by
 * the process-level tests (EPIPE, memory bounds, no stack traces) and by `npm run bench:input`.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export const root = new URL('../../../', import.meta.url).pathname;
export const bin = join(root, 'packages/cli/bin/gingham.js');
const preload = new URL('./peak-rss.mjs', import.meta.url).href;

export interface BinRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The first `keepStdout` characters of stdout. */
  readonly stdout: string;
  /** The last 200 characters of stdout, and its total size in characters. */
  readonly stdoutTail: string;
  readonly stdoutChars: number;
  readonly stdoutLines: number;
  readonly stderr: string;
  /** Peak resident set size, KiB (undefined when the child died before its exit hook ran). */
  readonly peakRssKb?: number;
  readonly userCpuMs?: number;
  readonly wallMs: number;
}

export interface BinOptions {
  /** V8 old-space limit, MiB: the child dies (and the test fails) if it needs more. */
  readonly maxOldSpaceMb?: number;
  /** A file to connect as standard input (e.g. /dev/zero). */
  readonly stdinFile?: string;
  readonly env?: Record<string, string>;
  /** Keep at most this many characters of stdout (the rest is read, counted and dropped). */
  readonly keepStdout?: number;
  /** Close our end of stdout after this many characters, as `| head -c N` does. */
  readonly closeStdoutAfter?: number;
  readonly cwd?: string;
  /** Kill the child (SIGKILL, by its PID) if it has not exited after this many ms (default 55 s,
   *  under the unit tests' 60 s limit), so a command that never ends cannot outlive the test that ran it. */
  readonly killAfterMs?: number;
}

export function runBin(args: readonly string[], options: BinOptions = {}): Promise<BinRun> {
  const started = performance.now();
  const stdinFd = options.stdinFile ? openSync(options.stdinFile, 'r') : undefined;
  const child = spawn(
    process.execPath,
    [...(options.maxOldSpaceMb ? [`--max-old-space-size=${options.maxOldSpaceMb}`] : []), '--import', preload, bin, ...args],
    {
      stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, GINGHAM_DEBUG: '', ...options.env },
      cwd: options.cwd ?? root,
    },
  );
  if (stdinFd !== undefined) closeSync(stdinFd);
  const keep = options.keepStdout ?? 1_000_000;
  let stdout = '';
  let tail = '';
  let chars = 0;
  let lines = 0;
  let stderr = '';
  let usage = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    if (stdout.length < keep) stdout += s.slice(0, keep - stdout.length);
    tail = (tail + s).slice(-200);
    chars += s.length;
    for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) lines++;
    if (options.closeStdoutAfter !== undefined && chars >= options.closeStdoutAfter) child.stdout!.destroy();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (s: string) => (usage += s));
  const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 55_000);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(killer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      const [rss, cpu] = usage.trim().split(' ').map(Number);
      resolve({
        code,
        signal,
        stdout,
        stdoutTail: tail,
        stdoutChars: chars,
        stdoutLines: lines,
        stderr,
        ...(rss ? { peakRssKb: rss } : {}),
        ...(cpu ? { userCpuMs: cpu / 1000 } : {}),
        wallMs: performance.now() - started,
      });
    });
  });
}

/** A stack trace line (`    at f (file.js:1:2)`): must never reach a person without GINGHAM_DEBUG=1. */
export const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;
