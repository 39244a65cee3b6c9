/**
 * Pinning in bpffs: `BPF_OBJ_PIN`, `BPF_OBJ_GET`, unpin (unlink) and making sure a bpffs is
 * mounted. It must never unmount or remove anything it was not asked to.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BpfError, NotSupportedError } from './errors.js';
import { Attr, bpf } from './syscall.js';

/** The conventional bpffs mount point. */
export const BPFFS = '/sys/fs/bpf';

/** Mount points of type `bpf` from /proc/self/mounts. */
export function bpffsMounts(): string[] {
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  return mounts.split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'bpf').map((f) => f[1]!.replace(/\\040/g, ' '));
}

/**
 * Make sure a bpffs is mounted at `path` (default /sys/fs/bpf): does nothing when one is, else
 * mounts a new bpffs there (root only). Never mounts over a non-empty directory.
 */
export function ensureBpffs(path: string = BPFFS): void {
  if (bpffsMounts().includes(path)) return;
  if (!existsSync(path)) throw new NotSupportedError(`bpffs: mount point ${path} does not exist`);
  try {
    execFileSync('mountpoint', ['-q', path]);
    throw new NotSupportedError(`bpffs: ${path} is a mount point of another filesystem type`);
  } catch (e) {
    if (e instanceof NotSupportedError) throw e;
  }
  if (readdirSync(path).length > 0) throw new NotSupportedError(`bpffs: ${path} is not empty; refusing to mount over it`);
  try {
    execFileSync('mount', ['-t', 'bpf', 'bpffs', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (cause) {
    throw new NotSupportedError(`bpffs: cannot mount at ${path}`, { cause });
  }
}

/** A bpffs of one's own, from `mountScratchBpffs`. */
export interface ScratchBpffs {
  readonly path: string;
  /** Unmounts it and removes the directory (idempotent; a mount still busy is left alone). */
  release(): void;
}

/**
 * Mounts a new bpffs on a fresh temporary directory (`<tmpdir>/<prefix>XXXXXX`, root only), so
 * tests and tools can pin without ever touching the host's /sys/fs/bpf. Every bpffs mount is a
 * separate instance: what is pinned there disappears with `release()`.
 */
export function mountScratchBpffs(prefix = 'gh-bpffs-'): ScratchBpffs {
  const path = mkdtempSync(join(tmpdir(), prefix));
  try {
    ensureBpffs(path);
  } catch (e) {
    rmdirSync(path);
    throw e;
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      spawnSync('umount', [path], { stdio: 'ignore' });
      try {
        rmdirSync(path);
      } catch {
        // still mounted or not empty: leave it rather than remove a live mount's contents
      }
    },
  };
}

function checkInBpffs(path: string): void {
  if (path.split('/').pop()!.includes('.')) {
    throw new BpfError('BPF_INVALID_ARGUMENT', `pin path ${path}: bpffs does not allow '.' in names`);
  }
  const mounts = bpffsMounts();
  if (!mounts.some((m) => path === m || path.startsWith(m.endsWith('/') ? m : `${m}/`))) {
    throw new BpfError('BPF_INVALID_ARGUMENT', `pin path ${path} is not inside a mounted bpffs (${mounts.join(', ') || 'none mounted; call ensureBpffs()'})`);
  }
}

/** Pin an fd at `path` (parent directories inside bpffs are created). */
export function pinObject(fd: number, path: string): void {
  checkInBpffs(path);
  mkdirSync(dirname(path), { recursive: true });
  const p = new TextEncoder().encode(`${path}\0`);
  bpf('OBJ_PIN', new Attr().ptr(0, p).u32(8, fd), `pin at ${path}`);
}

/** Open a pinned object (`BPF_OBJ_GET`); returns a new fd owned by the caller. */
export function getPinned(path: string): number {
  const p = new TextEncoder().encode(`${path}\0`);
  return bpf('OBJ_GET', new Attr().ptr(0, p), `open pin ${path}`);
}

/** Remove a pin (the object is freed once no fd, link or pin refers to it). Missing is fine. */
export function unpin(path: string): void {
  rmSync(path, { force: true });
}
