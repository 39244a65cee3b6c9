/**
 * Test doubles for the WireGuard handle: a command runner that answers from a script and records
 * every command (it starts nothing: no process, no session), and a fake /proc + socket directory
 * for the interface-name ownership checks. Test code: never for production.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandResult, CommandRunner, RunOptions } from '@gingham/host';
import type { HostPaths } from '../apply/userspace.js';

export interface RecordingRunner extends CommandRunner {
  readonly calls: { argv: readonly string[]; input?: string }[];
  /** Commands that would change the kernel (or start a daemon or a session). */
  mutating(): string[];
}

/** A scripted answer for a command, or undefined for the default one. */
export type Responder = (argv: readonly string[]) => Partial<CommandResult> | undefined;

const MUTATING = [/^wg (set|setconf|syncconf|addconf)/, /^ip (-\d )?(link (add|del|set)|addr (add|del|replace)|route|rule (add|del)|-batch|-force -batch)/, /^spawn /, /^open /];

/**
 * A runner that records every command and answers: `readlink /proc/self/ns/net` with `netns`,
 * `ip -d -j link show dev X` with "does not exist", `ip -j addr show` with `[]`, anything else
 * with exit 0 and no output, unless `respond` scripts it. `spawn` and `open` are recorded and
 * refused (so a handle falls back to one-shot commands).
 */
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
    async open(argv) {
      calls.push({ argv: ['open', ...argv] });
      throw new Error('the fake runner does not start processes');
    },
    mutating() {
      return calls.map((c) => c.argv.join(' ')).filter((l) => MUTATING.some((re) => re.test(l)));
    },
  };
}

/** A fake host under a temporary directory: pass it as `hostPaths` (and its `stateDir`). */
export interface FakeHost extends HostPaths {
  readonly stateDir: string;
  /** Adds a process to the fake /proc. */
  addProcess(pid: number, argv: readonly string[], netns: string, state?: string): Promise<void>;
  /** Creates `<name>.sock` (a plain file: only its existence is checked unless connected to). */
  addSocket(name: string): Promise<void>;
  /** Removes the temporary directory. */
  remove(): Promise<void>;
}

const roots = new Set<string>();

/** Creates a fake host; remove it with `remove()` or every one at once with {@link removeFakeHosts}. */
export async function fakeHost(): Promise<FakeHost> {
  const root = await mkdtemp(join(tmpdir(), 'ghwg-host-'));
  roots.add(root);
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
    async remove() {
      roots.delete(root);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Removes every fake host still present (an `afterAll` of the test file). */
export async function removeFakeHosts(): Promise<void> {
  await Promise.all([...roots].map((r) => rm(r, { recursive: true, force: true })));
  roots.clear();
}
