/**
 * The committed prebuilt bindings (prebuilds/linux-<arch>/gingham_bpf.node): each is built from
 * the current native sources, is what the manifest says, and is fit to ship to its architecture
 * (checked from the ELF file, so the arm64 one is verified on an x64 machine too). The loader
 * picks the prebuild for this machine before a locally compiled addon.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addonProblems, MACHINES, readAddon, type AddonInfo } from '../scripts/addon-elf.mjs';
import { bpfBindingSource, getBpfBinding } from '../src/index.js';

interface ManifestEntry {
  file: string;
  sha256: string;
  bytes: number;
  sources: Record<string, string>;
  napiVersion: number;
  glibc: string;
}
const pkg = new URL('../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('prebuilds/manifest.json', pkg), 'utf8')) as {
  napiVersion: number;
  addon: string;
  prebuilds: Record<string, ManifestEntry>;
};
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const prebuild = (e: ManifestEntry) => new Uint8Array(readFileSync(new URL(`prebuilds/${e.file}`, pkg)));
const REBUILD = 'rebuild them with `npm run build:prebuilds -w packages/ebpf-loader` and commit prebuilds/';

describe('committed prebuilds', () => {
  it('ship for linux x64 and arm64, one file each, as the manifest lists them', () => {
    expect(Object.keys(manifest.prebuilds).sort()).toEqual(['linux-arm64', 'linux-x64']);
    const dirs = readdirSync(new URL('prebuilds/', pkg), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(dirs.sort()).toEqual(['linux-arm64', 'linux-x64']);
    for (const [target, e] of Object.entries(manifest.prebuilds)) {
      expect(e.file).toBe(`${target}/${manifest.addon}`);
      const bytes = prebuild(e);
      expect({ target, sha256: sha256(bytes), bytes: bytes.length }).toEqual({ target, sha256: e.sha256, bytes: e.bytes });
    }
  });

  it('were built from the current src/native sources (fails when the C changes without rebuilding them)', () => {
    const dir = new URL('src/native/', pkg);
    const current = Object.fromEntries(readdirSync(dir).sort().map((f) => [`src/native/${f}`, sha256(readFileSync(new URL(f, dir)))]));
    for (const [target, e] of Object.entries(manifest.prebuilds)) {
      expect(e.sources, `${target} is stale: ${REBUILD}`).toEqual(current);
    }
  });

  it('are fit to ship: right ELF machine, only libc linked, only N-API and versioned glibc imported, N-API 8', () => {
    for (const [target, e] of Object.entries(manifest.prebuilds)) {
      const arch = target.replace('linux-', '');
      const info = readAddon(prebuild(e));
      expect({ target, problems: addonProblems(info, arch, manifest.napiVersion) }).toEqual({ target, problems: [] });
      expect(info.machine).toBe(MACHINES[arch as keyof typeof MACHINES]);
      expect(info.needed).toEqual(['libc.so.6']);
      expect(info.imports.filter((s) => s.name.startsWith('napi_')).length).toBeGreaterThan(10);
      expect(info.exports).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
      expect(info.napiVersion).toBe(8);
      expect(info.glibc).toBe(e.glibc);
    }
    // glibc floors: x64 2.14 (setns), arm64 2.17 (its first glibc).
    expect(manifest.prebuilds['linux-x64']!.glibc).toBe('2.14');
    expect(manifest.prebuilds['linux-arm64']!.glibc).toBe('2.17');
  });

  it('the ELF check rejects a wrong machine, foreign libraries and imports, and another N-API version', () => {
    const x64 = readAddon(prebuild(manifest.prebuilds['linux-x64']!));
    expect(addonProblems(x64, 'arm64', 8)).toEqual(['ELF machine is 62, expected 183 for arm64']);
    expect(addonProblems(x64, 'x64', 9)).toEqual(['reports N-API version 8, expected 9']);
    const bad: AddonInfo = {
      ...x64,
      needed: [...x64.needed, 'libstdc++.so.6'],
      imports: [...x64.imports, { name: '_Znwm', weak: false, version: 'GLIBCXX_3.4', file: 'libstdc++.so.6' }, { name: 'uv_default_loop', weak: false }],
      exports: ['napi_register_module_v1'],
    };
    expect(addonProblems(bad, 'x64', 8)).toEqual([
      'links against libstdc++.so.6 (only libc.so.6 is allowed)',
      'imports _Znwm@GLIBCXX_3.4 from libstdc++.so.6: neither N-API nor versioned glibc',
      'imports uv_default_loop: neither N-API nor versioned glibc',
      'does not export node_api_module_get_api_version_v1',
    ]);
    expect(() => readAddon(new TextEncoder().encode('not an ELF file, just text'))).toThrow(/not an ELF file/);
  });
});

const here = `${process.platform}-${process.arch}`;
describe.runIf(here in manifest.prebuilds)(`the binding on ${here}`, () => {
  it('loads from the prebuild for this machine, before any locally compiled addon', () => {
    const source = bpfBindingSource();
    expect(source).toEqual({ kind: 'prebuild', path: expect.stringMatching(new RegExp(`/prebuilds/${here}/gingham_bpf\\.node$`)) });
    const b = getBpfBinding();
    expect(Object.keys(b).sort()).toEqual(['bpf', 'ifNameToIndex', 'mmap', 'munmap', 'setns']);
    expect(b.ifNameToIndex('lo')).toBeGreaterThan(0);
    expect(b.ifNameToIndex('gh-no-such-if0')).toBe(0);
  });
});
