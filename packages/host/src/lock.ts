/**
 * One lock per enforcement instance (an iptables chain prefix in one network namespace, an eBPF
 * pin root), held for as long as a process programs it: `gingham enforce`, the agent, `--clean`.
 * A second process waits for it (up to `waitMs`) or fails with `INSTANCE_LOCKED` naming the
 * holder.
 *
 * Design rationale. The lock is the kernel's `flock(2)` on `<dir>/<name>.lock`, so it is released
 * by the kernel when the holder exits for any reason, `kill -9` included: no stale locks, no PID
 * files to second-guess. Node has no `flock`, so the file is opened here and util-linux's
 * `flock -n 3` is run on the inherited descriptor: the lock belongs to the open file description
 * both processes share, so it stays held by this process after `flock` exits, until `release()`
 * or this process's death closes the descriptor. The holder writes its PID and command line into
 * the file so a refused process can say who holds it.
 *
 * `release()` removes the file while still holding the lock, so a lock leaves nothing behind
 * (only a killed holder's file stays, and the next holder reuses it). A waiter may have opened
 * the file just before it was removed and then win the flock on that orphan: after locking, the
 * taker checks that the path still names the file it locked and otherwise starts over.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { HostError, ToolMissingError } from './errors.js';

/** Where locks live unless told otherwise (tmpfs, gone at reboot like the state they guard). */
export const DEFAULT_LOCK_DIR = '/run/gingham/locks';

export interface InstanceLockOptions {
  /** Directory of lock files (created 0700). Default `/run/gingham/locks`. */
  readonly dir?: string;
  /** Wait up to this long for the holder to finish; 0 (default) = fail at once. */
  readonly waitMs?: number;
  /** What this process is doing, recorded for whoever finds the lock held (default: argv). */
  readonly purpose?: string;
}

/** A held lock; `release()` (or process exit) frees it. */
export interface InstanceLock {
  readonly name: string;
  readonly path: string;
  release(): void;
  [Symbol.dispose](): void;
}

/** Who holds a lock, as recorded in its file (best effort: the file is advisory text). */
export interface LockHolder {
  readonly pid?: number;
  readonly purpose?: string;
  readonly since?: string;
}

/** Thrown when another process holds the lock. */
export class InstanceLockedError extends HostError {
  declare readonly code: 'INSTANCE_LOCKED';
  readonly lockName: string;
  readonly holder: LockHolder;

  constructor(name: string, holder: LockHolder, waitedMs: number) {
    const who = holder.pid !== undefined ? `process ${holder.pid}${holder.purpose ? ` (${holder.purpose})` : ''}${holder.since ? ` since ${holder.since}` : ''}` : 'another process';
    super(
      'INSTANCE_LOCKED',
      `${name} is being programmed by ${who}${waitedMs > 0 ? `; waited ${Math.round(waitedMs / 1000)} s` : ''}. ` +
        'Wait for it to finish, or stop it (one process at a time per instance).',
    );
    this.lockName = name;
    this.holder = holder;
  }
}

const NAME = /^[A-Za-z0-9_.:-]{1,200}$/;

function readHolder(path: string): LockHolder {
  try {
    const text = readFileSync(path, 'utf8');
    const o = JSON.parse(text) as { pid?: unknown; purpose?: unknown; since?: unknown };
    return {
      ...(typeof o.pid === 'number' ? { pid: o.pid } : {}),
      ...(typeof o.purpose === 'string' ? { purpose: o.purpose } : {}),
      ...(typeof o.since === 'string' ? { since: o.since } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * Takes the instance lock `name` (letters, digits, `_.:-`). Throws `InstanceLockedError` when
 * another process holds it (after waiting `waitMs`), `ToolMissingError` without util-linux's
 * `flock`.
 */
export function acquireInstanceLock(name: string, options: InstanceLockOptions = {}): InstanceLock {
  if (!NAME.test(name)) throw new HostError('HOST_INVALID_ARGUMENT', `invalid lock name "${name}"`);
  const dir = options.dir ?? DEFAULT_LOCK_DIR;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${name}.lock`);
  const waitMs = Math.max(0, options.waitMs ?? 0);
  const started = Date.now();
  let fd: number;
  for (;;) {
    fd = openSync(path, 'a+', 0o600);
    const left = waitMs - (Date.now() - started);
    const args = waitMs > 0 && left > 0 ? ['-w', String(left / 1000), '3'] : ['-n', '3'];
    const r = spawnSync('flock', ['-E', '75', ...args], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    if (r.error) {
      closeSync(fd);
      if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new ToolMissingError('flock', 'util-linux', 'needed for instance locks');
      throw new HostError('COMMAND_FAILED', `flock ${path}: ${r.error.message}`, { cause: r.error });
    }
    if (r.status !== 0) {
      closeSync(fd);
      if (r.status === 75 || r.status === 1) throw new InstanceLockedError(name, readHolder(path), Date.now() - started);
      throw new HostError('COMMAND_FAILED', `flock ${path} failed (exit ${r.status}): ${r.stderr?.toString().trim()}`);
    }
    if (sameFile(fd, path)) break;
    // The holder we waited for removed the file as it released it: lock the current one.
    closeSync(fd);
  }
  const record = JSON.stringify({ pid: process.pid, purpose: options.purpose ?? process.argv.slice(1).join(' ').slice(0, 300), since: new Date().toISOString() });
  ftruncateSync(fd, 0);
  writeSync(fd, `${record}\n`, 0);
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    try {
      // Still held here, so the path names this file: nobody else can have replaced it.
      unlinkSync(path);
    } catch {
      // already gone (removed by hand): the lock itself goes with the descriptor
    }
    closeSync(fd);
  };
  return { name, path, release, [Symbol.dispose]: release };
}

/** Whether `path` still names the open file `fd` (not removed or replaced since it was opened). */
function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** Who holds `name` right now, or undefined when nobody does (never takes the lock for long). */
export function lockHolder(name: string, options: Pick<InstanceLockOptions, 'dir'> = {}): LockHolder | undefined {
  try {
    acquireInstanceLock(name, options).release();
    return undefined;
  } catch (e) {
    if (e instanceof InstanceLockedError) return e.holder;
    throw e;
  }
}

/** A lock name from free text (a path, a namespace id): safe characters only, short, stable. */
export function lockName(...parts: readonly string[]): string {
  return parts
    .map((p) => p.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, ''))
    .filter((p) => p !== '')
    .join(':')
    .slice(0, 200);
}
