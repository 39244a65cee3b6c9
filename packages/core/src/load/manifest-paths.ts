/**
 * Expanding `-f PATH...` arguments into loader inputs: files as given, directories walked
 * recursively in sorted order for `.yaml`, `.yml` and `.json`, so the same tree always loads the
 * same way. Core does no I/O itself: the caller hands in the file-system calls (`stat`,
 * `readdir` and `open` of `node:fs/promises` fit as they are).
 *
 * Sizes are checked before anything is read, and nothing is read at all when a path is missing
 * or refused: regular files by `stat` (each, and their total), directories by the number of
 * entries and files walked, pipes and standard input by reading at most the remaining budget
 * plus one byte and stopping there. Devices and sockets are refused by type, so `/dev/zero` or
 * `/dev/stdin` on a terminal is never read. Text must be well-formed UTF-8. Problems come back
 * as data (`missing`, `refused`), never as exceptions, and carry no command-line wording: the
 * caller says what to do.
 */
import type { LoadInput } from './load-manifests.js';
import { DEFAULT_LIMITS, formatBytes } from './limits.js';
import { decodeUtf8 } from './utf8.js';

/** What `readManifestPaths` needs of a `stat` result (a `node:fs` `Stats` fits). */
export interface ManifestStat {
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  readonly size: number;
  /** Device and inode: a directory seen twice (a symlink loop) is walked once. */
  readonly dev: number;
  readonly ino: number;
}

/** An open file (a `node:fs/promises` `FileHandle` fits). */
export interface ManifestFileHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** The file-system calls the walk needs; `stat`, `readdir` and `open` of `node:fs/promises` fit as they are. */
export interface ManifestFs {
  /** Follows symlinks. */
  stat(path: string): Promise<ManifestStat>;
  readdir(path: string): Promise<string[]>;
  open(path: string, flags: 'r'): Promise<ManifestFileHandle>;
}

export interface ReadManifestPathsOptions {
  /**
   * Reads standard input for the path `-` (shown as `<stdin>`): must return at most `maxBytes`
   * bytes, stopping there. Without it, `-` is a missing path.
   */
  readonly stdin?: (maxBytes: number) => Promise<Uint8Array>;
  /** Total bytes of everything read. Default `DEFAULT_LIMITS.maxInputBytes` (16 MiB), the loader's own cap. */
  readonly maxInputBytes?: number;
  /** Files read, over all paths. Default 10,000. */
  readonly maxFiles?: number;
  /** Directory entries looked at while walking (matching or not), over all paths. Default 100,000. */
  readonly maxDirectoryEntries?: number;
}

/** Why a path was refused; `size` and `limit` are bytes or counts, as the kind says. */
export type RefusalReason =
  /** A character or block device, a socket, or something else that is not a file, directory or pipe. */
  | { readonly kind: 'not-a-file'; readonly type: 'character-device' | 'block-device' | 'socket' | 'other' }
  /**
   * Over `maxInputBytes`: `size` is the file's size from `stat`, or for a pipe (`atLeast`) what
   * was read before stopping; `total` the bytes of all inputs up to and including this one.
   */
  | { readonly kind: 'too-large'; readonly size: number; readonly atLeast: boolean; readonly total: number; readonly limit: number }
  /** The walk met more than `maxFiles` manifest files; the path is the directory being walked. */
  | { readonly kind: 'too-many-files'; readonly limit: number }
  /** The walk looked at more than `maxDirectoryEntries` entries; the path is the directory being walked. */
  | { readonly kind: 'too-many-entries'; readonly limit: number }
  /** Not well-formed UTF-8 at byte `offset` (0-based); `utf16`: the file starts with a UTF-16 byte order mark. */
  | { readonly kind: 'invalid-utf8'; readonly offset: number; readonly utf16: boolean }
  /** The file system said no (`EACCES`, `EIO`, `ELOOP`...): `code` and the message as given. */
  | { readonly kind: 'unreadable'; readonly code: string; readonly message: string };

export interface RefusedPath {
  readonly path: string;
  readonly reason: RefusalReason;
}

export interface ManifestPathsResult {
  /** What was read, in order. Empty when anything is missing or refused: nothing is half-read. */
  readonly inputs: LoadInput[];
  /** Paths that do not exist (as given, or found by the walk and gone before their `stat`). */
  readonly missing: string[];
  readonly refused: RefusedPath[];
}

/** Names a directory walk picks up. */
export const MANIFEST_FILE_PATTERN = /\.(ya?ml|json)$/i;

const DEFAULT_MAX_FILES = 10_000;
const DEFAULT_MAX_DIRECTORY_ENTRIES = 100_000;
/** Bytes per read from a pipe or file; the buffer grows only as data arrives. */
const READ_CHUNK = 64 * 1024;

const joinPath = (dir: string, name: string): string => `${dir.endsWith('/') ? dir.slice(0, -1) : dir}/${name}`;

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function typeOf(info: ManifestStat): 'character-device' | 'block-device' | 'socket' | 'other' {
  if (info.isCharacterDevice()) return 'character-device';
  if (info.isBlockDevice()) return 'block-device';
  if (info.isSocket()) return 'socket';
  return 'other';
}

/** A file to read: a regular file (its size known) or a pipe (read up to the budget). */
interface Planned {
  readonly path: string;
  readonly pipe: boolean;
  readonly size: number;
}

/**
 * Reads at most `max` bytes of an open file, in chunks, growing the buffer only as data comes:
 * a pipe that never ends costs `max` bytes at most, a file that grew since its `stat` no more.
 */
async function readAtMost(handle: ManifestFileHandle, max: number, sizeHint: number): Promise<Uint8Array> {
  let buffer = new Uint8Array(Math.min(max, Math.max(sizeHint, READ_CHUNK)));
  let length = 0;
  while (length < max) {
    if (length === buffer.length) {
      const grown = new Uint8Array(Math.min(max, buffer.length * 2));
      grown.set(buffer);
      buffer = grown;
    }
    const { bytesRead } = await handle.read(buffer, length, Math.min(buffer.length - length, READ_CHUNK * 16), null);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  return buffer.subarray(0, length);
}

/**
 * The loader inputs for `paths`, in order, with every missing or refused path. `-` reads
 * `options.stdin` when given. Never throws for what the file system says (missing, refused,
 * unreadable); only a failing `fs` callback that is not an I/O error (a programmer error) escapes.
 */
export async function readManifestPaths(paths: readonly string[], fs: ManifestFs, options: ReadManifestPathsOptions = {}): Promise<ManifestPathsResult> {
  const maxBytes = options.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  const maxEntries = options.maxDirectoryEntries ?? DEFAULT_MAX_DIRECTORY_ENTRIES;
  const missing: string[] = [];
  const refused: RefusedPath[] = [];
  const planned: (Planned | { readonly stdin: true })[] = [];
  const visited = new Set<string>();
  let files = 0;
  let entries = 0;
  let walkStopped = false;

  const refuse = (path: string, reason: RefusalReason): void => {
    refused.push({ path, reason });
  };

  const statOf = async (path: string): Promise<ManifestStat | undefined> => {
    try {
      return await fs.stat(path);
    } catch (e) {
      if (errorCode(e) === 'ENOENT' || errorCode(e) === 'ENOTDIR') missing.push(path);
      else refuse(path, { kind: 'unreadable', code: errorCode(e), message: errorMessage(e) });
      return undefined;
    }
  };

  const plan = (path: string, info: ManifestStat): void => {
    if (info.isFile() || info.isFIFO()) {
      if (++files > maxFiles) {
        if (!walkStopped) refuse(path, { kind: 'too-many-files', limit: maxFiles });
        walkStopped = true;
        return;
      }
      planned.push({ path, pipe: !info.isFile(), size: info.isFile() ? info.size : 0 });
    } else refuse(path, { kind: 'not-a-file', type: typeOf(info) });
  };

  const walk = async (dir: string, info: ManifestStat): Promise<void> => {
    const id = `${info.dev}:${info.ino}`;
    if (visited.has(id)) return; // a symlink back up the tree: already walked
    visited.add(id);
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (e) {
      refuse(dir, { kind: 'unreadable', code: errorCode(e), message: errorMessage(e) });
      return;
    }
    entries += names.length;
    if (entries > maxEntries) {
      refuse(dir, { kind: 'too-many-entries', limit: maxEntries });
      walkStopped = true;
      return;
    }
    for (const name of names.sort()) {
      if (walkStopped) return;
      const child = joinPath(dir, name);
      const childInfo = await statOf(child);
      if (!childInfo) continue;
      if (childInfo.isDirectory()) await walk(child, childInfo);
      // Only manifest names are picked up, and only files or pipes among them: a device named
      // x.yaml inside a directory is refused like one given by name.
      else if (MANIFEST_FILE_PATTERN.test(name)) plan(child, childInfo);
    }
  };

  for (const p of paths) {
    if (walkStopped) break;
    if (p === '-' && options.stdin) {
      planned.push({ stdin: true });
      continue;
    }
    const info = await statOf(p);
    if (!info) continue;
    if (info.isDirectory()) await walk(p, info);
    else plan(p, info);
  }

  // Regular files: their total size from stat, before a byte is read.
  let total = 0;
  for (const f of planned) {
    if ('stdin' in f || f.pipe) continue;
    total += f.size;
    if (total > maxBytes) {
      refuse(f.path, { kind: 'too-large', size: f.size, atLeast: false, total, limit: maxBytes });
      break;
    }
  }
  if (missing.length > 0 || refused.length > 0) return { inputs: [], missing, refused };

  const inputs: LoadInput[] = [];
  let used = 0;
  for (const f of planned) {
    const name = 'stdin' in f ? '<stdin>' : f.path;
    // One byte over the budget is enough to know it does not fit.
    const budget = maxBytes - used + 1;
    let bytes: Uint8Array;
    if ('stdin' in f) {
      bytes = await options.stdin!(budget);
    } else {
      let handle: ManifestFileHandle;
      try {
        handle = await fs.open(f.path, 'r');
      } catch (e) {
        if (errorCode(e) === 'ENOENT') missing.push(f.path);
        else refuse(f.path, { kind: 'unreadable', code: errorCode(e), message: errorMessage(e) });
        return { inputs: [], missing, refused };
      }
      try {
        bytes = await readAtMost(handle, budget, f.size + 1);
      } catch (e) {
        refuse(f.path, { kind: 'unreadable', code: errorCode(e), message: errorMessage(e) });
        return { inputs: [], missing, refused };
      } finally {
        await handle.close().catch(() => undefined);
      }
    }
    used += bytes.length;
    if (used > maxBytes) {
      refuse(name, { kind: 'too-large', size: bytes.length, atLeast: true, total: used, limit: maxBytes });
      return { inputs: [], missing, refused };
    }
    const decoded = decodeUtf8(bytes);
    if (!decoded.ok) {
      refuse(name, { kind: 'invalid-utf8', offset: decoded.offset, utf16: decoded.utf16 });
      return { inputs: [], missing, refused };
    }
    inputs.push({ file: name, text: decoded.text });
  }
  return { inputs, missing, refused };
}

/**
 * One line about a refused path, for any front end: `PATH: is a character device; only regular
 * files, directories and pipes are read`. No command-line wording: callers add what to do.
 */
export function describeRefusal(r: RefusedPath): string {
  const reason = r.reason;
  switch (reason.kind) {
    case 'not-a-file':
      return `${r.path}: is a ${reason.type === 'other' ? 'special file' : reason.type.replace('-', ' ')}; only regular files, directories and pipes are read`;
    case 'too-large': {
      const size = reason.atLeast ? `more than ${reason.size - 1} bytes` : `${reason.size} bytes`;
      return reason.total > reason.size
        ? `${r.path}: the inputs together are larger than ${formatBytes(reason.limit)} (${size} in this one, ${reason.total}${reason.atLeast ? '+' : ''} in all)`
        : `${r.path}: is larger than ${formatBytes(reason.limit)} (${size})`;
    }
    case 'too-many-files':
      return `${r.path}: more than ${reason.limit} manifest files to read`;
    case 'too-many-entries':
      return `${r.path}: more than ${reason.limit} directory entries to walk`;
    case 'invalid-utf8':
      return reason.utf16
        ? `${r.path}: is UTF-16 (byte order mark at byte 0); manifests must be UTF-8`
        : `${r.path}: is not valid UTF-8 at byte ${reason.offset}; manifests must be UTF-8`;
    case 'unreadable':
      return `${r.path}: cannot be read (${reason.message})`;
  }
}
