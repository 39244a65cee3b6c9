/**
 * wireguard-go, the userspace implementation: who owns an interface name, starting the daemon
 * in the foreground (so we hold its real pid) and stopping it by pid.
 *
 * Why the ownership check matters: wireguard-go listens on `/var/run/wireguard/NAME.sock`,
 * one path for the whole machine, and `wg` talks to that socket *before* it looks for a kernel
 * interface. Run in namespace B, `wg set NAME ...` would silently reconfigure namespace A's
 * tunnel. So before touching anything we find the process that owns the socket (by pid file,
 * else by scanning /proc for `wireguard-go ... NAME`) and compare its network namespace with
 * ours. Processes are only ever signalled by pid, after checking that the pid still is that
 * wireguard-go (pids get reused).
 */
import { access, readFile, readdir, readlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import type { CommandRunner, SpawnedProcess } from '@gingham/host';
import { WireguardError } from '../errors.js';

/** wireguard-go's socket directory (compiled into wireguard-go and wg). */
export const DEFAULT_SOCKET_DIR = '/var/run/wireguard';

/** Filesystem locations, injectable for tests. */
export interface HostPaths {
  readonly socketDir: string;
  readonly procDir: string;
}

export const DEFAULT_HOST_PATHS: HostPaths = { socketDir: DEFAULT_SOCKET_DIR, procDir: '/proc' };

/** A running wireguard-go serving an interface name. */
export interface WireguardGoProcess {
  readonly pid: number;
  /** `net:[inode]` of its network namespace. */
  readonly netns: string;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Reads `/proc/PID/cmdline` as argv; undefined when the process is gone. */
export async function readCmdline(pid: number, procDir = '/proc'): Promise<string[] | undefined> {
  try {
    const raw = await readFile(join(procDir, String(pid), 'cmdline'), 'utf8');
    return raw.split('\0').filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

/** True when argv is `wireguard-go [flags] NAME`. */
export function isWireguardGoFor(argv: readonly string[], interfaceName: string): boolean {
  const [cmd, ...rest] = argv;
  return cmd !== undefined && basename(cmd) === 'wireguard-go' && rest[rest.length - 1] === interfaceName;
}

/** True while the pid is a live (non-zombie) process. */
export async function isAlive(pid: number, procDir = '/proc'): Promise<boolean> {
  try {
    const stat = await readFile(join(procDir, String(pid), 'stat'), 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function netnsOf(pid: number, procDir: string): Promise<string | undefined> {
  try {
    return await readlink(join(procDir, String(pid), 'ns', 'net'));
  } catch {
    return undefined;
  }
}

/** Every live wireguard-go serving `interfaceName`, with its namespace; `hint` is checked first. */
export async function findWireguardGo(interfaceName: string, paths: HostPaths = DEFAULT_HOST_PATHS, hint?: number): Promise<WireguardGoProcess[]> {
  const candidates = new Set<number>();
  if (hint !== undefined) candidates.add(hint);
  for (const entry of await readdir(paths.procDir).catch(() => [] as string[])) {
    if (/^[0-9]+$/.test(entry)) candidates.add(Number(entry));
  }
  const found: WireguardGoProcess[] = [];
  for (const pid of candidates) {
    const argv = await readCmdline(pid, paths.procDir);
    if (!argv || !isWireguardGoFor(argv, interfaceName) || !(await isAlive(pid, paths.procDir))) continue;
    const netns = await netnsOf(pid, paths.procDir);
    if (netns) found.push({ pid, netns });
  }
  return found;
}

/** True when something accepts connections on the unix socket. */
export function socketAccepts(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Who holds an interface name's wireguard-go socket, as seen from namespace `netns`. */
export type SocketOwnership =
  | { readonly kind: 'free' }
  | { readonly kind: 'stale' }
  | { readonly kind: 'this-namespace'; readonly pid: number };

/** The socket path of an interface name. */
export function socketPath(interfaceName: string, paths: HostPaths = DEFAULT_HOST_PATHS): string {
  return join(paths.socketDir, `${interfaceName}.sock`);
}

/**
 * Checks that `interfaceName`'s socket is free, stale, or served by a wireguard-go in our own
 * namespace. Throws `WG_INTERFACE_NAME_TAKEN` when another namespace (or an unidentifiable
 * process) owns it.
 */
export async function checkSocketOwnership(interfaceName: string, netns: string, paths: HostPaths = DEFAULT_HOST_PATHS, hintPid?: number): Promise<SocketOwnership> {
  const sock = socketPath(interfaceName, paths);
  if (!(await exists(sock))) return { kind: 'free' };
  // Fast path: the recorded pid still is a wireguard-go for this name, so it holds the socket
  // (a second one cannot bind it while the first lives).
  if (hintPid !== undefined) {
    const argv = await readCmdline(hintPid, paths.procDir);
    const netnsOfHint = argv && isWireguardGoFor(argv, interfaceName) && (await isAlive(hintPid, paths.procDir)) ? await netnsOf(hintPid, paths.procDir) : undefined;
    if (netnsOfHint === netns) return { kind: 'this-namespace', pid: hintPid };
  }
  const owners = await findWireguardGo(interfaceName, paths, hintPid);
  const foreign = owners.find((o) => o.netns !== netns);
  if (foreign) {
    throw new WireguardError(
      'WG_INTERFACE_NAME_TAKEN',
      `interface name ${interfaceName} is already used by another network namespace on this machine (socket ${sock}, wireguard-go pid ${foreign.pid}); choose another --interface`,
    );
  }
  const mine = owners[0];
  if (mine) return { kind: 'this-namespace', pid: mine.pid };
  if (await socketAccepts(sock)) {
    throw new WireguardError(
      'WG_INTERFACE_NAME_TAKEN',
      `interface name ${interfaceName} is already used on this machine by a process Gingham cannot identify (socket ${sock}); choose another --interface`,
    );
  }
  return { kind: 'stale' };
}

/** Options of {@link startWireguardGo}. */
export interface StartWireguardGoOptions {
  readonly binary: string;
  readonly logFile: string;
  readonly detached: boolean;
  readonly paths: HostPaths;
  /** How long to wait for the socket and the TUN device. Default 10 s. */
  readonly timeoutMs?: number;
  /** Checks that the interface now exists in the target namespace. */
  readonly linkExists: () => Promise<boolean>;
}

async function tail(path: string, bytes = 2000): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.slice(-bytes).trim();
  } catch {
    return '';
  }
}

/**
 * Starts `wireguard-go -f NAME` (foreground: the pid we get is the daemon's own) through the
 * runner, and waits until its socket answers and its TUN device exists. On failure the process
 * is killed and the error carries the end of its log.
 */
export async function startWireguardGo(runner: CommandRunner, interfaceName: string, options: StartWireguardGoOptions): Promise<SpawnedProcess> {
  const child = await runner.spawn([options.binary, '-f', interfaceName], {
    detached: options.detached,
    logFile: options.logFile,
    env: { WG_PROCESS_FOREGROUND: '1' },
  });
  let exited: { code: number | null; signal: string | null } | undefined;
  void child.exited.then((e) => {
    exited = e;
  });
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const sock = socketPath(interfaceName, options.paths);
  for (;;) {
    if (exited) {
      const log = await tail(options.logFile);
      throw new WireguardError(
        'WG_DAEMON_FAILED',
        `wireguard-go for ${interfaceName} exited during startup (${exited.signal ?? `code ${exited.code}`})${log ? `: ${log}` : ''}`,
      );
    }
    if ((await exists(sock)) && (await options.linkExists()) && (await socketAccepts(sock, 500))) return child;
    if (Date.now() > deadline) {
      await stopProcess(child.pid, interfaceName, options.paths);
      const log = await tail(options.logFile);
      throw new WireguardError('WG_DAEMON_FAILED', `wireguard-go for ${interfaceName} did not come up within ${options.timeoutMs ?? 10_000} ms${log ? `: ${log}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Stops a wireguard-go by pid: SIGTERM, then SIGKILL after `graceMs`. Does nothing (returns
 * false) when the pid is gone or no longer is wireguard-go for this interface.
 */
export async function stopProcess(pid: number, interfaceName: string, paths: HostPaths = DEFAULT_HOST_PATHS, graceMs = 3000): Promise<boolean> {
  const argv = await readCmdline(pid, paths.procDir);
  if (!argv || !isWireguardGoFor(argv, interfaceName) || !(await isAlive(pid, paths.procDir))) return false;
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (await isAlive(pid, paths.procDir)) {
    if (Date.now() > deadline) {
      signal('SIGKILL');
      const killDeadline = Date.now() + 2000;
      while ((await isAlive(pid, paths.procDir)) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 20));
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
