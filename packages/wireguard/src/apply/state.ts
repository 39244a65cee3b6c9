/**
 * What Gingham remembers about interfaces it created, under a state directory on tmpfs
 * (default `/run/gingham/wireguard`, gone after a reboot together with the interfaces):
 *   <iface>.pid             wireguard-go's pid (userspace only; interface names are
 *                           machine-wide for wireguard-go, so no namespace in the name)
 *   <iface>.log             wireguard-go's stdout/stderr
 *   <iface>.<netns>.json    the state record below (kernel interfaces are per namespace)
 * An interface without a state record was not created by Gingham and is never reconfigured.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Default state directory. */
export const DEFAULT_STATE_DIR = '/run/gingham/wireguard';

/** The record written when Gingham creates an interface. */
export interface InterfaceState {
  readonly version: 1;
  readonly interfaceName: string;
  /** `net:[inode]` of the namespace the interface lives in. */
  readonly netns: string;
  readonly mode: 'kernel' | 'userspace';
  /** wireguard-go's pid (userspace). */
  readonly pid?: number;
  readonly table: number;
  readonly rulePriority: number;
  readonly fwmark: number;
  /** Address families whose policy-routing rule Gingham added. */
  readonly ruleFamilies: readonly (4 | 6)[];
}

/** Paths of one interface's files. */
export interface StatePaths {
  readonly dir: string;
  readonly pidFile: string;
  readonly logFile: string;
  readonly stateFile: string;
}

function netnsTag(netns: string): string {
  return netns.replace(/[^0-9]/g, '') || 'unknown';
}

/** Computes the file paths for an interface in a namespace. */
export function statePaths(dir: string, interfaceName: string, netns: string): StatePaths {
  return {
    dir,
    pidFile: join(dir, `${interfaceName}.pid`),
    logFile: join(dir, `${interfaceName}.log`),
    stateFile: join(dir, `${interfaceName}.${netnsTag(netns)}.json`),
  };
}

/** Creates the state directory (mode 0700). */
export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Reads a state record; undefined when absent or unreadable. */
export async function readState(paths: StatePaths): Promise<InterfaceState | undefined> {
  try {
    const parsed = JSON.parse(await readFile(paths.stateFile, 'utf8')) as InterfaceState;
    return parsed.version === 1 ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a state record atomically (mode 0600). */
export async function writeState(paths: StatePaths, state: InterfaceState): Promise<void> {
  await ensureStateDir(paths.dir);
  const tmp = `${paths.stateFile}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, paths.stateFile);
}

/** Reads a pid file; undefined when absent or malformed. */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return /^[0-9]+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a pid file (mode 0600). */
export async function writePidFile(path: string, pid: number): Promise<void> {
  await writeFile(path, `${pid}\n`, { mode: 0o600 });
}

/** Removes files, ignoring missing ones. */
export async function removeFiles(...paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true })));
}
