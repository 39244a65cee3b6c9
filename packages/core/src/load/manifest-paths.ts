/**
 * Expanding `-f PATH...` arguments into loader inputs: files as given, directories walked
 * recursively in sorted order for `.yaml`, `.yml` and `.json`, so the same tree always loads the
 * same way. Core does no I/O itself: the caller hands in the three file-system calls it needs
 * (`node:fs/promises` fits as is), which keeps this walk in one place for every command.
 */
import { GinghamError } from '../errors.js';
import type { LoadInput } from './load-manifests.js';

/** The file-system calls the walk needs; readdir, readFile and stat of the node:fs/promises module fit as they are. */
export interface ManifestFs {
  stat(path: string): Promise<{ isDirectory(): boolean }>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
}

/** Names a directory walk picks up. */
export const MANIFEST_FILE_PATTERN = /\.(ya?ml|json)$/i;

/** A `-f` argument that does not exist (code `MANIFEST_PATH_NOT_FOUND`). */
export class ManifestPathError extends GinghamError {
  declare readonly code: 'MANIFEST_PATH_NOT_FOUND';
  constructor(readonly path: string, options?: { cause?: unknown }) {
    super('MANIFEST_PATH_NOT_FOUND', `no such file or directory: ${path}`, options);
  }
}

const joinPath = (dir: string, name: string): string => `${dir.endsWith('/') ? dir.slice(0, -1) : dir}/${name}`;

async function expand(fs: ManifestFs, path: string, out: string[]): Promise<void> {
  let info;
  try {
    info = await fs.stat(path);
  } catch (cause) {
    throw new ManifestPathError(path, { cause });
  }
  if (!info.isDirectory()) {
    out.push(path);
    return;
  }
  for (const name of (await fs.readdir(path)).sort()) {
    const child = joinPath(path, name);
    if ((await fs.stat(child)).isDirectory() || MANIFEST_FILE_PATTERN.test(name)) await expand(fs, child, out);
  }
}

/**
 * The loader inputs for `paths`, in order. `-` reads `options.stdin` when given (as `<stdin>`).
 * Throws `ManifestPathError` for a path that does not exist.
 */
export async function readManifestPaths(paths: readonly string[], fs: ManifestFs, options: { stdin?: () => Promise<string> } = {}): Promise<LoadInput[]> {
  const inputs: LoadInput[] = [];
  for (const p of paths) {
    if (p === '-' && options.stdin) {
      inputs.push({ file: '<stdin>', text: await options.stdin() });
      continue;
    }
    const files: string[] = [];
    await expand(fs, p, files);
    for (const file of files) inputs.push({ file, text: await fs.readFile(file, 'utf8') });
  }
  return inputs;
}
