/**
 * Pinning in bpffs: `BPF_OBJ_PIN`, `BPF_OBJ_GET`, unpin (unlink), making sure a bpffs is mounted,
 * and telling whether pins at a path will outlive this process's mount namespace. It must never
 * unmount or remove anything it was not asked to, and never mount a bpffs from a mount namespace
 * that may die with the process (`ip netns exec` makes such a namespace): pins there vanish, and
 * with them every tcx link they hold.
 *
 * Design rationale (persistence). A pin lives in a bpffs superblock, and the superblock lives as
 * long as one of its mounts does. `ip netns exec`, `unshare -m` and container runtimes give a
 * process a private copy of the mount table: mounts copied from the parent share the parent's
 * superblock (pins there survive), a bpffs mounted inside the copy exists only there. So the
 * question "will pins at P survive?" becomes: is P on a bpffs (statfs magic), and is this mount
 * namespace long-lived (the initial one, or the one of the farthest process above us we can
 * inspect, which outlives us) — or else is the same superblock (device number) also mounted in
 * that reference namespace? Propagation needs no separate rule: a mount propagated to the
 * reference namespace shows up there with the same device.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BpfError, NotSupportedError } from './errors.js';
import { Attr, bpf, closeFd } from './syscall.js';

/** The conventional bpffs mount point. */
export const BPFFS = '/sys/fs/bpf';

/** `statfs(2)` f_type of a bpffs. */
export const BPF_FS_MAGIC = 0xcafe4a11;

/** Inode of the initial mount namespace on kernels that give init namespaces fixed inodes (6.x); never a dynamic one. */
const INITIAL_MNT_NS_INODE = 0xeffffff8;

/** One line of /proc/<pid>/mountinfo. */
interface MountEntry {
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function mountEntries(pid: number | 'self'): MountEntry[] {
  const text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (f.length < 7 || dash < 6) continue;
    out.push({ device: f[2]!, mountPoint: unescapeMount(f[4]!), fsType: f[dash + 1]! });
  }
  return out;
}

/** Mount points of type `bpf` in this process's mount namespace. */
export function bpffsMounts(): string[] {
  return mountEntries('self').filter((m) => m.fsType === 'bpf').map((m) => m.mountPoint);
}

/** How this process's mount namespace relates to one that outlives it. */
export interface MountNamespaceFacts {
  /** This process's mount namespace, as `/proc/self/ns/mnt` reads (`mnt:[4026531832]`). */
  readonly self: string;
  /** It is the kernel's initial mount namespace (known from its fixed inode on newer kernels). */
  readonly initial: boolean;
  /**
   * The process it was compared with: PID 1 when its namespace is readable, else the farthest
   * ancestor whose namespace is; undefined when no other process could be inspected.
   */
  readonly reference?: { readonly pid: number; readonly ns: string };
  /**
   * `long-lived`: the initial namespace or the reference's; `private`: a namespace of its own
   * that may die with this process (as `ip netns exec` makes); `unknown`: nothing to compare with
   * (this process is PID 1 of its PID namespace, or its ancestors are hidden).
   */
  readonly kind: 'long-lived' | 'private' | 'unknown';
}

function nsOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const m = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads whether this process runs in a long-lived or a private mount namespace (reads /proc only). */
export function mountNamespaceFacts(): MountNamespaceFacts {
  const self = nsOf('self') ?? 'mnt:[?]';
  const initial = self === `mnt:[${INITIAL_MNT_NS_INODE}]`;
  let reference: { pid: number; ns: string } | undefined;
  const init = nsOf(1);
  if (init !== undefined && process.pid !== 1) reference = { pid: 1, ns: init };
  else {
    const seen = new Set<number>([process.pid]);
    for (let pid = parentOf(process.pid); pid !== undefined && pid > 0 && !seen.has(pid); pid = parentOf(pid)) {
      seen.add(pid);
      const ns = nsOf(pid);
      if (ns === undefined) break;
      reference = { pid, ns };
    }
  }
  const kind = initial || reference?.ns === self ? 'long-lived' : reference ? 'private' : 'unknown';
  return { self, initial, ...(reference ? { reference } : {}), kind };
}

/** What is at a path that is meant to hold pins. */
export interface BpffsInspection {
  readonly path: string;
  readonly exists: boolean;
  /** `statfs` says bpffs. */
  readonly isBpffs: boolean;
  /** The filesystem type of the mount holding `path` (`bpf`, `sysfs`, `ext4`...), when known. */
  readonly fsType?: string;
  /** Where that mount is mounted in this namespace. */
  readonly mountPoint?: string;
  /** `major:minor` of its superblock. */
  readonly device?: string;
  readonly namespace: MountNamespaceFacts;
  /**
   * Whether the same bpffs superblock is mounted in the reference namespace (so it outlives this
   * process's namespace); undefined when not a bpffs or there is no reference to look at.
   */
  readonly inReference?: boolean;
  /**
   * Pins here outlive this process: a bpffs in a long-lived namespace, or one also mounted in the
   * reference namespace. `unknown` for a bpffs whose namespace cannot be compared with anything.
   */
  readonly persistent: boolean | 'unknown';
}

function deviceOf(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** Inspects `path` (reads /proc and statfs only; changes nothing). */
export function inspectBpffs(path: string): BpffsInspection {
  const namespace = mountNamespaceFacts();
  if (!existsSync(path)) return { path, exists: false, isBpffs: false, namespace, persistent: false };
  const real = realpathSync(path);
  const isBpffs = statfsSync(real).type === BPF_FS_MAGIC;
  const device = deviceOf(statSync(real, { bigint: true }).dev);
  const holder = mountEntries('self')
    .filter((m) => m.device === device && (real === m.mountPoint || real.startsWith(m.mountPoint === '/' ? '/' : `${m.mountPoint}/`)))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  const base = { path, exists: true, isBpffs, device, namespace, ...(holder ? { fsType: holder.fsType, mountPoint: holder.mountPoint } : {}) };
  if (!isBpffs) return { ...base, persistent: false };
  let inReference: boolean | undefined;
  if (namespace.reference && namespace.kind === 'private') {
    try {
      inReference = mountEntries(namespace.reference.pid).some((m) => m.fsType === 'bpf' && m.device === device);
    } catch {
      inReference = undefined;
    }
  }
  const persistent = namespace.kind === 'long-lived' ? true : inReference === true ? true : namespace.kind === 'unknown' || inReference === undefined ? 'unknown' : false;
  return { ...base, ...(inReference !== undefined ? { inReference } : {}), persistent };
}

function mountBpffs(path: string): void {
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

/**
 * Make sure a bpffs is mounted at `path` (default /sys/fs/bpf): does nothing when one is, else
 * mounts a new bpffs there (root only). Never mounts over a non-empty directory, and never from a
 * private mount namespace (`ip netns exec`): such a mount, and every pin in it, would vanish when
 * the process exits.
 */
export function ensureBpffs(path: string = BPFFS): void {
  if (bpffsMounts().includes(path)) return;
  const ns = mountNamespaceFacts();
  if (ns.kind !== 'long-lived') {
    throw new NotSupportedError(
      `bpffs: mounting one at ${path} from a ${ns.kind} mount namespace (${ns.self}): it would vanish when this process exits; ` +
        `mount it on the host first: mount -t bpf bpffs ${path}`,
    );
  }
  mountBpffs(path);
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
 * separate instance: what is pinned there disappears with `release()` (or with this process's
 * mount namespace).
 */
export function mountScratchBpffs(prefix = 'gh-bpffs-'): ScratchBpffs {
  const path = mkdtempSync(join(tmpdir(), prefix));
  try {
    mountBpffs(path);
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

function parentOnBpffs(path: string): boolean {
  try {
    return statfsSync(dirname(path)).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

function checkInBpffs(path: string): void {
  if (path.split('/').pop()!.includes('.')) {
    throw new BpfError('BPF_INVALID_ARGUMENT', `pin path ${path}: bpffs does not allow '.' in names`);
  }
  // Quick path (one statfs, no mount table read): the parent directory exists on a bpffs.
  if (parentOnBpffs(path)) return;
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

/**
 * The kernel id of a pinned program, map or link (`BPF_OBJ_GET_INFO_BY_FD`: the id follows the
 * type in each of their info structs) — to tell whose program a tc filter runs.
 */
export function pinnedObjectId(path: string): number {
  const fd = getPinned(path);
  try {
    const info = new Uint8Array(16);
    bpf('OBJ_GET_INFO_BY_FD', new Attr().u32(0, fd).u32(4, info.length).ptr(8, info), `info of pin ${path}`);
    return new DataView(info.buffer).getUint32(4, true);
  } finally {
    closeFd(fd);
  }
}

/** Remove a pin (the object is freed once no fd, link or pin refers to it). Missing is fine. */
export function unpin(path: string): void {
  rmSync(path, { force: true });
}
