import { describe, expect, it } from 'vitest';
import { describeRefusal, readManifestPaths } from './manifest-paths.js';
import { createMemoryFs } from './memory-fs.js';

describe('readManifestPaths: walking', () => {
  const fs = createMemoryFs({
    'm/b.yaml': 'b',
    'm/a.json': 'a',
    'm/notes.txt': 'ignored',
    'm/sub/c.yml': 'c',
    'one.txt': 'given explicitly',
  });

  it('walks directories recursively in sorted order, picking .yaml/.yml/.json; explicit files are taken as given', async () => {
    expect(await readManifestPaths(['m/', 'one.txt'], fs)).toEqual({
      inputs: [
        { file: 'm/a.json', text: 'a' },
        { file: 'm/b.yaml', text: 'b' },
        { file: 'm/sub/c.yml', text: 'c' },
        { file: 'one.txt', text: 'given explicitly' },
      ],
      missing: [],
      refused: [],
    });
  });

  it('reads - from the stdin callback when given, passing the budget plus one byte', async () => {
    let asked = 0;
    const r = await readManifestPaths(['-'], fs, {
      maxInputBytes: 100,
      stdin: async (max) => {
        asked = max;
        return new TextEncoder().encode('piped');
      },
    });
    expect(r.inputs).toEqual([{ file: '<stdin>', text: 'piped' }]);
    expect(asked).toBe(101);
  });

  it('returns every missing path as data and reads nothing', async () => {
    const mem = createMemoryFs({ 'ok.yaml': 'x' });
    expect(await readManifestPaths(['ok.yaml', 'nope.yaml', 'gone/'], mem)).toEqual({ inputs: [], missing: ['nope.yaml', 'gone/'], refused: [] });
    expect(mem.opened).toEqual([]);
  });

  it('walks a directory reached twice through a symlink loop once', async () => {
    const mem = createMemoryFs({ 'd/a.yaml': 'a', 'd/loop': { type: 'dir-link', target: 'd' } });
    expect((await readManifestPaths(['d'], mem)).inputs).toEqual([{ file: 'd/a.yaml', text: 'a' }]);
  });
});

describe('readManifestPaths: refusing before reading', () => {
  it('refuses character and block devices and sockets by type, without opening them', async () => {
    const mem = createMemoryFs({ '/dev/zero': { type: 'char-device' }, '/dev/sda': { type: 'block-device' }, 's.sock': { type: 'socket' } });
    const r = await readManifestPaths(['/dev/zero', '/dev/sda', 's.sock'], mem);
    expect(r.refused.map(describeRefusal)).toEqual([
      '/dev/zero: is a character device; only regular files, directories and pipes are read',
      '/dev/sda: is a block device; only regular files, directories and pipes are read',
      's.sock: is a socket; only regular files, directories and pipes are read',
    ]);
    expect(r.inputs).toEqual([]);
    expect(mem.opened).toEqual([]);
  });

  it('a device named like a manifest inside a directory is refused too', async () => {
    const mem = createMemoryFs({ 'd/zero.yaml': { type: 'char-device' } });
    expect((await readManifestPaths(['d'], mem)).refused).toEqual([{ path: 'd/zero.yaml', reason: { kind: 'not-a-file', type: 'character-device' } }]);
  });

  it('a file over the cap is refused by its size from stat, and not one byte is read', async () => {
    const mem = createMemoryFs({ 'big.yaml': new Uint8Array(1001), 'ok.yaml': 'x' });
    const r = await readManifestPaths(['ok.yaml', 'big.yaml'], mem, { maxInputBytes: 1000 });
    expect(r.refused.map(describeRefusal)).toEqual(['big.yaml: the inputs together are larger than 1000 bytes (1001 bytes in this one, 1002 in all)']);
    expect(mem.bytesRead()).toBe(0);
    const alone = await readManifestPaths(['big.yaml'], mem, { maxInputBytes: 1000 });
    expect(alone.refused.map(describeRefusal)).toEqual(['big.yaml: is larger than 1000 bytes (1001 bytes)']);
  });

  it('exactly the cap is fine', async () => {
    const mem = createMemoryFs({ 'a.yaml': 'x'.repeat(1000) });
    expect((await readManifestPaths(['a.yaml'], mem, { maxInputBytes: 1000 })).inputs[0]?.text).toHaveLength(1000);
  });

  it('a pipe is read up to the cap plus one byte, then refused', async () => {
    const mem = createMemoryFs({ '/dev/fd/63': { type: 'pipe', data: new Uint8Array(10_000_000) } });
    const r = await readManifestPaths(['/dev/fd/63'], mem, { maxInputBytes: 1000 });
    expect(r.refused.map(describeRefusal)).toEqual(['/dev/fd/63: is larger than 1000 bytes (more than 1000 bytes)']);
    expect(mem.bytesRead()).toBe(1001);
  });

  it('stdin counts against the same budget', async () => {
    const mem = createMemoryFs({ 'a.yaml': 'x'.repeat(600) });
    const r = await readManifestPaths(['a.yaml', '-'], mem, { maxInputBytes: 1000, stdin: async (max) => new Uint8Array(max) });
    expect(r.refused).toEqual([{ path: '<stdin>', reason: { kind: 'too-large', size: 401, atLeast: true, total: 1001, limit: 1000 } }]);
    expect(r.inputs).toEqual([]);
  });

  it('directory walks stop at the entry and file counts', async () => {
    const tree: Record<string, string> = {};
    for (let i = 0; i < 50; i++) tree[`d/f${String(i).padStart(2, '0')}.yaml`] = 'x';
    for (let i = 0; i < 50; i++) tree[`d/n${i}.txt`] = 'x';
    const mem = createMemoryFs(tree);
    expect((await readManifestPaths(['d'], mem, { maxDirectoryEntries: 99 })).refused.map(describeRefusal)).toEqual(['d: more than 99 directory entries to walk']);
    expect((await readManifestPaths(['d'], mem, { maxFiles: 10 })).refused.map(describeRefusal)).toEqual(['d/f10.yaml: more than 10 manifest files to read']);
    expect(mem.opened).toEqual([]);
  });

  it('unreadable paths are refused with the file system\'s word', async () => {
    const mem = createMemoryFs({ 'secret.yaml': { type: 'unreadable', code: 'EACCES' } });
    const r = await readManifestPaths(['secret.yaml'], mem);
    expect(r.refused).toEqual([{ path: 'secret.yaml', reason: { kind: 'unreadable', code: 'EACCES', message: 'EACCES: secret.yaml' } }]);
  });
});

describe('readManifestPaths: text must be UTF-8', () => {
  it('refuses invalid UTF-8 naming the byte offset', async () => {
    const bytes = Uint8Array.from([...new TextEncoder().encode('kind: Pod\nname: caf'), 0xe9, 0x0a]);
    const r = await readManifestPaths(['latin1.yaml'], createMemoryFs({ 'latin1.yaml': bytes }));
    expect(r.refused.map(describeRefusal)).toEqual(['latin1.yaml: is not valid UTF-8 at byte 19; manifests must be UTF-8']);
  });

  it('says UTF-16 when the file starts with its byte order mark', async () => {
    const r = await readManifestPaths(['w.yaml'], createMemoryFs({ 'w.yaml': Uint8Array.from([0xff, 0xfe, 0x6b, 0x00]) }));
    expect(r.refused.map(describeRefusal)).toEqual(['w.yaml: is UTF-16 (byte order mark at byte 0); manifests must be UTF-8']);
  });

  it('drops a UTF-8 byte order mark and keeps every other character', async () => {
    const r = await readManifestPaths(['bom.yaml'], createMemoryFs({ 'bom.yaml': Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('a: é 🎉')]) }));
    expect(r.inputs).toEqual([{ file: 'bom.yaml', text: 'a: é 🎉' }]);
  });
});
