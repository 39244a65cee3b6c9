/**
 * Who pulls the loader (and its native code) in: only the eBPF dataplane, and the CLI through an
 * optional dependency it imports lazily. The pure core, the testkit, the iptables dataplane and
 * WireGuard must not depend on it, not even transitively, and must not import it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

type Manifest = { name: string } & Partial<Record<'dependencies' | 'optionalDependencies' | 'peerDependencies' | 'devDependencies', Record<string, string>>>;

const packagesDir = new URL('../../', import.meta.url);
const manifests = new Map<string, Manifest>();
const dirOf = new Map<string, string>();
for (const dir of readdirSync(packagesDir)) {
  const m = JSON.parse(readFileSync(new URL(`${dir}/package.json`, packagesDir), 'utf8')) as Manifest;
  manifests.set(m.name, m);
  dirOf.set(m.name, dir);
}

/** What installing `name` from the registry installs of ours (devDependencies are not installed). */
function closure(name: string, fields: ReadonlyArray<keyof Manifest> = ['dependencies', 'optionalDependencies', 'peerDependencies']): Set<string> {
  const seen = new Set<string>();
  const walk = (n: string): void => {
    for (const f of fields) {
      for (const dep of Object.keys((manifests.get(n)?.[f] as Record<string, string> | undefined) ?? {})) {
        if (!dep.startsWith('@gingham/') || seen.has(dep)) continue;
        seen.add(dep);
        walk(dep);
      }
    }
  };
  walk(name);
  return seen;
}

function builtJs(name: string): Array<[string, string]> {
  const dist = new URL(`${dirOf.get(name)}/dist/`, packagesDir);
  return readdirSync(dist, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => [f, readFileSync(new URL(f, dist), 'utf8')]);
}

const LOADER = '@gingham/ebpf-loader';
const EBPF = '@gingham/dataplane-ebpf';

describe('packages that do not need the eBPF loader do not pull it in', () => {
  it.each(['@gingham/core', '@gingham/testkit', '@gingham/dataplane-iptables', '@gingham/wireguard'])('%s neither depends on it (even transitively) nor imports it', (name) => {
    expect(manifests.has(name)).toBe(true);
    const deps = closure(name);
    expect(deps.has(LOADER) || deps.has(EBPF)).toBe(false);
    for (const [file, text] of builtJs(name)) {
      expect(text.includes(LOADER) || text.includes(EBPF) || text.includes('gingham_bpf'), `${name} dist/${file}`).toBe(false);
    }
  });

  it('the eBPF dataplane depends on it; the CLI only through an optional dependency', () => {
    expect(closure(EBPF).has(LOADER)).toBe(true);
    const cli = manifests.get('@gingham/cli')!;
    expect(Object.keys(cli.dependencies ?? {})).not.toContain(EBPF);
    expect(cli.optionalDependencies).toMatchObject({ [EBPF]: expect.any(String), [LOADER]: expect.any(String) });
    expect(closure('@gingham/cli', ['dependencies', 'peerDependencies']).has(LOADER)).toBe(false);
  });

  it('the built CLI imports the eBPF dataplane only dynamically and never bundles it', () => {
    const files = builtJs('@gingham/cli');
    const all = files.map(([, t]) => t).join('\n');
    expect(all).toMatch(/\bimport\(\s*["']@gingham\/dataplane-ebpf["']\s*\)/);
    expect(all).not.toMatch(/\bfrom\s*["']@gingham\/(dataplane-ebpf|ebpf-loader)["']/);
    expect(all).not.toMatch(/function createEbpfDataplane\b|gingham_bpf\.node/);
  });
});
