import { describe, expect, it } from 'vitest';
import { ManifestPathError, readManifestPaths, type ManifestFs } from './manifest-paths.js';

/** An in-memory tree: keys ending in `/` are directories. */
function memoryFs(tree: Record<string, string>): ManifestFs {
  const isDir = (p: string): boolean => Object.keys(tree).some((k) => k.startsWith(`${p.replace(/\/$/, '')}/`));
  return {
    async stat(path) {
      if (!(path in tree) && !isDir(path)) throw new Error(`ENOENT ${path}`);
      return { isDirectory: () => isDir(path) };
    },
    async readdir(path) {
      const prefix = `${path.replace(/\/$/, '')}/`;
      return [...new Set(Object.keys(tree).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length).split('/')[0]!))].reverse();
    },
    async readFile(path) {
      return tree[path]!;
    },
  };
}

describe('readManifestPaths', () => {
  const fs = memoryFs({
    'm/b.yaml': 'b',
    'm/a.json': 'a',
    'm/notes.txt': 'ignored',
    'm/sub/c.yml': 'c',
    'one.txt': 'given explicitly',
  });

  it('walks directories recursively in sorted order, picking .yaml/.yml/.json; explicit files are taken as given', async () => {
    expect(await readManifestPaths(['m/', 'one.txt'], fs)).toEqual([
      { file: 'm/a.json', text: 'a' },
      { file: 'm/b.yaml', text: 'b' },
      { file: 'm/sub/c.yml', text: 'c' },
      { file: 'one.txt', text: 'given explicitly' },
    ]);
  });

  it('reads - from the stdin callback when given', async () => {
    expect(await readManifestPaths(['-'], fs, { stdin: async () => 'piped' })).toEqual([{ file: '<stdin>', text: 'piped' }]);
  });

  it('names a missing path with a stable code', async () => {
    await expect(readManifestPaths(['nope.yaml'], fs)).rejects.toThrow(ManifestPathError);
    await expect(readManifestPaths(['nope.yaml'], fs)).rejects.toMatchObject({ code: 'MANIFEST_PATH_NOT_FOUND', path: 'nope.yaml' });
  });
});
