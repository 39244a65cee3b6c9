/**
 * Test doubles for the apply layer: a command runner that answers from a script and records
 * every command, and a fake /proc + socket directory for the name-ownership checks.
 */
import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandResult, CommandRunner, RunOptions } from '../src/index.js';

export interface RecordingRunner extends CommandRunner {
  readonly calls: { argv: readonly string[]; input?: string }[];
  /** Commands that would change the kernel (or start a daemon). */
  mutating(): string[];
}

type Responder = (argv: readonly string[]) => Partial<CommandResult> | undefined;

const MUTATING = [/^wg (set|setconf|syncconf|addconf)/, /^ip (-\d )?(link (add|del|set)|addr (add|del|replace)|route|rule (add|del)|-batch)/, /^spawn /];

export function recordingRunner(netns = 'net:[4026530001]', respond: Responder = () => undefined): RecordingRunner {
  const calls: { argv: readonly string[]; input?: string }[] = [];
  return {
    description: 'the fake namespace',
    calls,
    async run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
      calls.push({ argv, ...(options?.input !== undefined ? { input: options.input } : {}) });
      const scripted = respond(argv);
      if (scripted) return { stdout: '', stderr: '', code: 0, ...scripted };
      const line = argv.join(' ');
      if (line === 'readlink /proc/self/ns/net') return { stdout: `${netns}\n`, stderr: '', code: 0 };
      if (line.startsWith('ip -d -j link show dev ')) return { stdout: '', stderr: `Device "${argv[argv.length - 1]}" does not exist.\n`, code: 1 };
      if (line.startsWith('ip -j addr show')) return { stdout: '[]', stderr: '', code: 0 };
      return { stdout: '', stderr: '', code: 0 };
    },
    async spawn(argv) {
      calls.push({ argv: ['spawn', ...argv] });
      throw new Error('the fake runner does not start processes');
    },
    mutating() {
      return calls.map((c) => c.argv.join(' ')).filter((l) => MUTATING.some((re) => re.test(l)));
    },
  };
}

export interface FakeHost {
  readonly socketDir: string;
  readonly procDir: string;
  readonly stateDir: string;
  /** Adds a process to the fake /proc. */
  addProcess(pid: number, argv: readonly string[], netns: string, state?: string): Promise<void>;
  /** Creates `<name>.sock` (a plain file: only its existence is checked unless connected to). */
  addSocket(name: string): Promise<void>;
}

const roots: string[] = [];
// Registered at import time, so it runs after all tests of the importing file.
afterAll(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A fake host under a temporary directory (removed after the importing test file). */
export async function fakeHost(): Promise<FakeHost> {
  const root = await mkdtemp(join(tmpdir(), 'ghwg-host-'));
  roots.push(root);
  const socketDir = join(root, 'wireguard');
  const procDir = join(root, 'proc');
  const stateDir = join(root, 'state');
  await mkdir(socketDir);
  await mkdir(procDir);
  return {
    socketDir,
    procDir,
    stateDir,
    async addProcess(pid, argv, netns, state = 'S') {
      const dir = join(procDir, String(pid));
      await mkdir(join(dir, 'ns'), { recursive: true });
      await writeFile(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
      await writeFile(join(dir, 'stat'), `${pid} (${argv[0]}) ${state} 1 1 1`);
      await symlink(netns, join(dir, 'ns', 'net'));
    },
    async addSocket(name) {
      await writeFile(join(socketDir, `${name}.sock`), '');
    },
  };
}
