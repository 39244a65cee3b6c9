/**
 * Command execution: argument arrays only, never a shell. The runner is injectable so tests run
 * everything through `ip netns exec <ns>` and unit tests can record commands.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandRunner {
  run(argv: readonly string[], stdin?: string): Promise<RunResult>;
  /**
   * Starts a long-lived process with piped stdio (optional: a runner without it only gets
   * one-shot commands; the iptables dataplane then runs `ipset restore` per batch).
   */
  spawn?(argv: readonly string[]): ChildProcessWithoutNullStreams;
}

export interface ExecRunnerOptions {
  /** Prepended to every argv, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  readonly wrap?: readonly string[];
  /** Per-command timeout in milliseconds (default 60 000). */
  readonly timeoutMs?: number;
}

/** A runner that spawns processes directly (no shell). */
export function createExecRunner(options: ExecRunnerOptions = {}): CommandRunner {
  const wrap = options.wrap ?? [];
  const timeoutMs = options.timeoutMs ?? 60_000;
  return {
    spawn(argv) {
      const full = [...wrap, ...argv];
      return spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    },
    run(argv, stdin) {
      const full = [...wrap, ...argv];
      return new Promise((resolve) => {
        const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.stderr.on('data', (b: Buffer) => err.push(b));
        child.on('error', (e) => {
          clearTimeout(timer);
          resolve({ code: 127, stdout: '', stderr: e.message });
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? 137, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
        });
        child.stdin.on('error', () => undefined);
        child.stdin.end(stdin ?? '');
      });
    },
  };
}
