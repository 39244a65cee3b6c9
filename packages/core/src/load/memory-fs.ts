/**
 * An in-memory `ManifestFs` for core's own tests (not exported): files, directories, pipes,
 * devices, sockets, unreadable entries and symlinked directories, with node's error codes.
 * Keys ending in `/` are directories; other keys are regular files unless given as an entry.
 */
import type { ManifestFileHandle, ManifestFs, ManifestStat } from './manifest-paths.js';

export type MemoryEntry =
  | string
  | Uint8Array
  | { readonly type: 'pipe'; readonly data: Uint8Array | string }
  | { readonly type: 'char-device' | 'block-device' | 'socket' }
  | { readonly type: 'unreadable'; readonly code: string }
  /** A symlink to a directory (its target's inode, so walking it twice is visible). */
  | { readonly type: 'dir-link'; readonly target: string };

export interface MemoryFs extends ManifestFs {
  /** Bytes handed out by `read`, over all files. */
  readonly bytesRead: () => number;
  /** Paths opened. */
  readonly opened: string[];
}

const enc = (s: string): Uint8Array => {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
};

function fail(code: string, path: string): never {
  throw Object.assign(new Error(`${code}: ${path}`), { code });
}

export function createMemoryFs(tree: Record<string, MemoryEntry>): MemoryFs {
  const strip = (p: string): string => p.replace(/\/+$/, '');
  const resolveLinks = (p: string): string => {
    let path = strip(p);
    for (let i = 0; i < 8; i++) {
      const hop = Object.entries(tree).find(([k, v]) => typeof v === 'object' && 'type' in v && v.type === 'dir-link' && (path === strip(k) || path.startsWith(`${strip(k)}/`)));
      if (!hop) return path;
      const [k, v] = hop as [string, { target: string }];
      path = strip(v.target) + path.slice(strip(k).length);
    }
    return path;
  };
  const isDir = (p: string): boolean => {
    const path = resolveLinks(p);
    return Object.keys(tree).some((k) => k.startsWith(`${path}/`));
  };
  const entry = (p: string): MemoryEntry | undefined => tree[resolveLinks(p)];
  const inodes = new Map<string, number>();
  const ino = (p: string): number => {
    const key = resolveLinks(p);
    if (!inodes.has(key)) inodes.set(key, inodes.size + 1);
    return inodes.get(key)!;
  };
  let read = 0;
  const opened: string[] = [];
  const stat = (path: string, kind: 'file' | 'dir' | 'pipe' | 'char' | 'block' | 'socket', size: number): ManifestStat => ({
    isFile: () => kind === 'file',
    isDirectory: () => kind === 'dir',
    isFIFO: () => kind === 'pipe',
    isCharacterDevice: () => kind === 'char',
    isBlockDevice: () => kind === 'block',
    isSocket: () => kind === 'socket',
    size,
    dev: 1,
    ino: ino(path),
  });
  return {
    bytesRead: () => read,
    opened,
    async stat(path) {
      const e = entry(path);
      if (e === undefined) {
        if (isDir(path)) return stat(path, 'dir', 4096);
        fail('ENOENT', path);
      }
      if (typeof e === 'string') return stat(path, 'file', enc(e).length);
      if (e instanceof Uint8Array) return stat(path, 'file', e.length);
      switch (e.type) {
        case 'pipe':
          return stat(path, 'pipe', 0);
        case 'char-device':
          return stat(path, 'char', 0);
        case 'block-device':
          return stat(path, 'block', 0);
        case 'socket':
          return stat(path, 'socket', 0);
        case 'unreadable':
          return fail(e.code, path);
        case 'dir-link':
          return stat(path, 'dir', 4096);
      }
    },
    async readdir(path) {
      const prefix = `${resolveLinks(path)}/`;
      const names = new Set<string>();
      for (const k of Object.keys(tree)) if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]!);
      return [...names].filter((n) => n !== '').reverse();
    },
    async open(path) {
      const e = entry(path);
      if (e === undefined) fail('ENOENT', path);
      if (typeof e === 'object' && !(e instanceof Uint8Array) && e.type === 'unreadable') fail(e.code, path);
      opened.push(path);
      const data = typeof e === 'string' ? enc(e) : e instanceof Uint8Array ? e : e.type === 'pipe' ? (typeof e.data === 'string' ? enc(e.data) : e.data) : new Uint8Array(0);
      let position = 0;
      const handle: ManifestFileHandle = {
        async read(buffer, offset, length) {
          const n = Math.min(length, data.length - position);
          buffer.set(data.subarray(position, position + n), offset);
          position += n;
          read += n;
          return { bytesRead: n };
        },
        async close() {},
      };
      return handle;
    },
  };
}
