/**
 * Installing from packed tarballs on a machine without a C toolchain: `npm pack`s the built
 * packages, installs them offline into fresh temporary projects with a PATH that has node, npm
 * and sh but no cc, gcc, g++, make or python3, and runs them:
 *   - @gingham/core and @gingham/ebpf-loader install (the loader's install script allowed to run)
 *     and the loader loads its prebuilt binding;
 *   - with no prebuild for the machine the install script tries to compile, fails, prints one
 *     line and exits 0, and the loader then throws BPF_BINDING_UNAVAILABLE saying what to do;
 *     with a toolchain the same install compiles the addon;
 *   - @gingham/cli installs without its optional eBPF dataplane: `gingham lint` works and
 *     `gingham enforce --dataplane ebpf` says the dataplane is not installed.
 * Nothing reaches a registry (`--offline`, a private cache and npmrc); the temporary directory is
 * removed afterwards. Needs the packages built (`npm run build`), as every test here does.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const target = `${process.platform}-${process.arch}`;
const manifest = JSON.parse(readFileSync(new URL('../prebuilds/manifest.json', import.meta.url), 'utf8')) as { prebuilds: Record<string, unknown> };
const TOOLCHAIN = ['cc', 'gcc', 'g++', 'make', 'python3', 'python'];

/** `command -v` over PATH, without a shell. */
function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  return path.split(delimiter).map((d) => join(d, cmd)).find((p) => existsSync(p));
}
const hasToolchain = ['cc', 'make', 'python3'].every((c) => which(c) !== undefined);

let tmp = '';
let bin = '';
const tarballs: Record<string, string> = {};

/** An environment with nothing of the caller's npm configuration and a PATH without a toolchain (unless `fullPath`). */
function env(fullPath = false): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = fullPath
    ? Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)))
    : { HOME: join(tmp, 'home'), LANG: 'C.UTF-8' };
  return {
    ...base,
    PATH: fullPath ? process.env.PATH : bin,
    npm_config_userconfig: join(tmp, 'npmrc'),
    npm_config_cache: join(tmp, 'cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };
}

function run(cmd: string, args: string[], cwd: string, fullPath = false): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: env(fullPath), encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>): string {
  if (r.status !== 0) throw new Error(`exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A fresh project that installs `packages` (tarball names) offline; returns it and npm's output. */
function project(name: string, packages: string[], allowScripts: Record<string, boolean> = {}): { dir: string; output: string } {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module', allowScripts }));
  const r = run('npm', ['install', '--offline', '--foreground-scripts', ...packages.map((p) => tarballs[p]!)], dir);
  ok(r);
  return { dir, output: `${r.stdout}${r.stderr}` };
}

/** Runs an ES module snippet in `dir` with the toolchain-free PATH; returns its JSON output. */
function evaluate(dir: string, code: string): unknown {
  return JSON.parse(ok(run('node', ['--input-type=module', '-e', code], dir)));
}

const BINDING = `import * as l from '@gingham/ebpf-loader';
let out;
try { out = { source: l.bpfBindingSource(), lo: l.getBpfBinding().ifNameToIndex('lo') }; }
catch (e) { out = { code: e.code, message: e.message }; }
console.log(JSON.stringify(out));`;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gh-install-'));
  bin = join(tmp, 'bin');
  mkdirSync(bin);
  mkdirSync(join(tmp, 'home'));
  writeFileSync(join(tmp, 'npmrc'), '');
  for (const c of ['node', 'npm', 'sh']) symlinkSync(which(c)!, join(bin, c));
  const packs = join(tmp, 'packs');
  mkdirSync(packs);
  const workspaces = ['core', 'ebpf-loader', 'dataplane-iptables', 'wireguard', 'cli'].flatMap((w) => ['-w', `packages/${w}`]);
  ok(run('npm', ['pack', '--pack-destination', packs, ...workspaces], repo));
  // @gingham/core's one registry dependency, packed from the repository's node_modules.
  ok(run('npm', ['pack', '--pack-destination', packs, './node_modules/yaml'], repo));
  for (const f of readdirSync(packs)) tarballs[f.replace(/^gingham-/, '@gingham/').replace(/-\d+\.\d+\.\d+\.tgz$/, '')] = join(packs, f);
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('install without a C toolchain', () => {
  it('the PATH used has node and npm but no compiler, make or python', () => {
    expect(readdirSync(bin).sort()).toEqual(['node', 'npm', 'sh']);
    for (const c of TOOLCHAIN) expect(which(c, bin), c).toBeUndefined();
    expect(Object.keys(tarballs).sort()).toEqual(['@gingham/cli', '@gingham/core', '@gingham/dataplane-iptables', '@gingham/ebpf-loader', '@gingham/wireguard', 'yaml']);
  });

  describe.runIf(target in manifest.prebuilds)(`@gingham/core and @gingham/ebpf-loader on ${target}`, () => {
    let app = '';
    let loader = '';

    it('install, and the loader loads its prebuilt binding (its install script ran and compiled nothing)', () => {
      const installed = project('app', ['yaml', '@gingham/core', '@gingham/ebpf-loader'], { '@gingham/ebpf-loader': true });
      app = installed.dir;
      loader = join(app, 'node_modules', '@gingham', 'ebpf-loader');
      expect(installed.output).toContain('node scripts/install.mjs');
      expect(installed.output).not.toContain('@gingham/ebpf-loader:'); // a fitting prebuild: silent
      expect(existsSync(join(loader, 'build'))).toBe(false);
      expect(evaluate(app, `import { parseSelector } from '@gingham/core';
        console.log(JSON.stringify(parseSelector("app == 'web'").matches({ app: 'web' })));`)).toBe(true);
      expect(evaluate(app, BINDING)).toEqual({
        source: { kind: 'prebuild', path: join(loader, 'prebuilds', target, 'gingham_bpf.node') },
        lo: expect.any(Number),
      });
    });

    it('without a prebuild for the machine, the install script tries to compile, prints one line and exits 0', () => {
      renameSync(join(loader, 'prebuilds', target), join(loader, 'prebuilds', 'moved-away'));
      const r = run('npm', ['rebuild', '--offline', '--foreground-scripts', '@gingham/ebpf-loader'], app);
      expect(r.status, r.stderr).toBe(0);
      const ours = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith('@gingham/ebpf-loader:'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toMatch(new RegExp(`no prebuilt bpf\\(2\\) binding for ${target} and compiling one failed \\(see .*build/native-build\\.log\\).*apt-get install python3 make gcc`));
      expect(readFileSync(join(loader, 'build', 'native-build.log'), 'utf8')).toMatch(/python/i);
      const err = evaluate(app, BINDING) as { code: string; message: string };
      expect(err.code).toBe('BPF_BINDING_UNAVAILABLE');
      expect(err.message).toContain(`no prebuild for ${target}`);
      expect(err.message).toContain('native-build.log');
      expect(err.message).toContain('apt-get install python3 make gcc');
      expect(err.message).toContain('npm rebuild @gingham/ebpf-loader');
    });

    it.runIf(hasToolchain)('with a toolchain the install script compiles the addon; a prebuild is still preferred', () => {
      const r = run('npm', ['rebuild', '--offline', '--foreground-scripts', '@gingham/ebpf-loader'], app, true);
      expect(r.status, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`).toContain(`@gingham/ebpf-loader: no prebuilt bpf(2) binding for ${target}; compiled build/Release/gingham_bpf.node`);
      const compiled = join(loader, 'build', 'Release', 'gingham_bpf.node');
      expect(evaluate(app, BINDING)).toEqual({ source: { kind: 'compiled', path: compiled }, lo: expect.any(Number) });
      renameSync(join(loader, 'prebuilds', 'moved-away'), join(loader, 'prebuilds', target));
      expect(evaluate(app, BINDING)).toMatchObject({ source: { kind: 'prebuild' } });
    });
  });

  it('@gingham/cli installs without its optional eBPF dataplane: lint works, enforce --dataplane ebpf says what is missing', () => {
    const app = project('cli-app', ['yaml', '@gingham/core', '@gingham/dataplane-iptables', '@gingham/wireguard', '@gingham/cli']).dir;
    const installed = readdirSync(join(app, 'node_modules', '@gingham')).sort();
    expect(installed).toEqual(['cli', 'core', 'dataplane-iptables', 'wireguard']);
    writeFileSync(join(app, 'policy.yaml'), [
      'apiVersion: projectcalico.org/v3', 'kind: NetworkPolicy', 'metadata: { name: allow-web, namespace: default }',
      "spec: { selector: app == 'web', ingress: [{ action: Allow }] }", '',
    ].join('\n'));
    const gingham = join(app, 'node_modules', '.bin', 'gingham');
    const lint = run(gingham, ['lint', '-f', 'policy.yaml'], app);
    expect(lint.status, lint.stderr).toBe(0);
    expect(lint.stdout).toContain('1 policies');
    const ebpf = run(gingham, ['enforce', '-f', 'policy.yaml', '--node', 'n1', '--dataplane', 'ebpf'], app);
    expect(ebpf.status).toBe(1);
    expect(ebpf.stderr.trim()).toBe(
      'gingham: the eBPF dataplane is not installed (@gingham/dataplane-ebpf is an optional dependency of @gingham/cli): npm install @gingham/dataplane-ebpf, or use --dataplane iptables',
    );
  });
});
