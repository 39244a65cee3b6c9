/**
 * Installing from packed tarballs on a machine without a C toolchain: `npm pack`s the built
 * packages, installs them from a loopback registry into fresh temporary projects with a PATH that has node, npm
 * and sh but no cc, gcc, g++, make or python3, and runs them:
 *   - @gingham/core and @gingham/ebpf-loader install (the loader's install script allowed to run)
 *     and the loader loads its prebuilt binding;
 *   - with no prebuild for the machine the install script tries to compile, fails, prints one
 *     line and exits 0, and the loader then throws BPF_BINDING_UNAVAILABLE saying what to do;
 *     with a toolchain the same install compiles the addon;
 *   - @gingham/cli installs without its optional eBPF dataplane and loader: `gingham lint` works and
 *     `gingham enforce --dataplane ebpf` says the dataplane is not installed.
 * Nothing reaches the network (a registry on loopback serves the packed tarballs, with a private cache and npmrc); the temporary directory is
 * removed afterwards. Needs the packages built (`npm run build`), as every test here does.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
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

/** A fresh project that installs `packages` (ours as tarballs, others from the loopback registry); returns it and npm's output. */
function project(name: string, packages: string[], allowScripts: Record<string, boolean> = {}, flags: readonly string[] = []): { dir: string; output: string } {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module', allowScripts }));
  const r = run('npm', ['install', '--registry', registryUrl, '--foreground-scripts', ...flags, ...packages.map((p) => (p.startsWith('@gingham/') ? tarballs[p]! : p))], dir);
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

/** Where `name` resolves from `fromDir`, as Node does (node_modules up the tree). */
function resolveDir(name: string, fromDir: string): string {
  for (let d = fromDir; ; d = join(d, '..')) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (d === '/' || d === repo || d === join(repo, '..')) break;
  }
  const top = join(repo, 'node_modules', name);
  if (existsSync(join(top, 'package.json'))) return top;
  throw new Error(`${name} is not installed in the repository (needed from ${fromDir})`);
}

/**
 * Every package (ours and the registry's) that installing `roots` needs, as directories of this
 * repository (workspace packages, node_modules), without following optionalDependencies of ours:
 * an install from these tarballs alone is an install from the registry.
 */
function installClosure(roots: readonly string[]): Map<string, string> {
  // Keyed by directory: one registry package can be needed in two versions (nested node_modules).
  const workspace = new Map<string, string>();
  for (const w of readdirSync(join(repo, 'packages'))) {
    const file = join(repo, 'packages', w, 'package.json');
    if (existsSync(file)) workspace.set((JSON.parse(readFileSync(file, 'utf8')) as { name: string }).name, join(repo, 'packages', w));
  }
  const out = new Map<string, string>();
  const visit = (name: string, fromDir: string): void => {
    const dir = workspace.get(name) ?? resolveDir(name, fromDir);
    if (out.has(dir)) return;
    out.set(dir, name);
    const m = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    const deps = { ...m.dependencies, ...(name.startsWith('@gingham/') ? {} : m.optionalDependencies) };
    for (const d of Object.keys(deps)) visit(d, dir);
  };
  for (const r of roots) visit(r, repo);
  return new Map([...out].map(([dir, name]) => [dir, name]));
}

/** Directory → package name, for everything the installs below need. */
let closure = new Map<string, string>();
let registry: ChildProcess | undefined;
let registryUrl = '';

/** The registry's own process (the tests run npm synchronously, so it cannot live in this one). */
const REGISTRY_SERVER = `const { createServer } = require('node:http');
const { readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');
const [packs, index] = process.argv.slice(1);
const docs = JSON.parse(readFileSync(index, 'utf8'));
const server = createServer((req, res) => {
  const url = decodeURIComponent((req.url || '/').split('?')[0]);
  if (url.startsWith('/-/')) {
    const file = join(packs, url.slice(3));
    if (file.includes('..') || !existsSync(file)) return void res.writeHead(404).end();
    return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
  }
  const doc = docs[url.slice(1)];
  if (!doc) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  const base = 'http://' + req.headers.host;
  const body = JSON.stringify(doc).replaceAll('REGISTRY_BASE', base);
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;

/**
 * A registry on loopback that serves exactly the packed tarballs (packuments with every packed
 * version, tarballs with their integrity), as the npm registry protocol has it: installs resolve
 * version ranges and nested versions as they would from npmjs.org, with no network.
 */
async function startRegistry(packed: readonly { name: string; version: string; filename: string; dir: string }[], packs: string): Promise<void> {
  const docs: Record<string, { name: string; 'dist-tags': { latest: string }; versions: Record<string, unknown> }> = {};
  for (const p of packed) {
    const manifest = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    const bytes = readFileSync(join(packs, p.filename));
    const doc = (docs[p.name] ??= { name: p.name, 'dist-tags': { latest: p.version }, versions: {} });
    doc.versions[p.version] = {
      ...manifest,
      name: p.name,
      version: p.version,
      dist: {
        tarball: `REGISTRY_BASE/-/${encodeURIComponent(p.filename)}`,
        integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
        shasum: createHash('sha1').update(bytes).digest('hex'),
      },
    };
  }
  const index = join(tmp, 'registry.json');
  writeFileSync(index, JSON.stringify(docs));
  registry = spawn(process.execPath, ['-e', REGISTRY_SERVER, packs, index], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    registry!.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim()));
    registry!.once('exit', (code) => reject(new Error(`test registry exited ${code}`)));
  });
  registryUrl = `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'gh-install-'));
  bin = join(tmp, 'bin');
  mkdirSync(bin);
  mkdirSync(join(tmp, 'home'));
  writeFileSync(join(tmp, 'npmrc'), '');
  for (const c of ['node', 'npm', 'sh']) symlinkSync(which(c)!, join(bin, c));
  const packs = join(tmp, 'packs');
  mkdirSync(packs);
  closure = installClosure(['@gingham/cli', '@gingham/ebpf-loader']);
  const dirs = [...closure.keys()];
  const packed = (JSON.parse(ok(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packs, ...dirs], repo, true))) as { name: string; version: string; filename: string }[])
    .map((p, i) => ({ ...p, dir: dirs[i]! }));
  for (const p of packed) if (p.name.startsWith('@gingham/')) tarballs[p.name] = join(packs, p.filename);
  await startRegistry(packed, packs);
}, 180_000);


afterAll(() => {
  if (registry?.pid !== undefined && registry.exitCode === null) process.kill(registry.pid, 'SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('install without a C toolchain', () => {
  it('the PATH used has node and npm but no compiler, make or python', () => {
    expect(readdirSync(bin).sort()).toEqual(['node', 'npm', 'sh']);
    for (const c of TOOLCHAIN) expect(which(c, bin), c).toBeUndefined();
    const ours = Object.keys(tarballs).filter((n) => n.startsWith('@gingham/'));
    expect(ours).toContain('@gingham/cli');
    expect(ours).toContain('@gingham/ebpf-loader');
    expect(ours).not.toContain('@gingham/dataplane-ebpf');
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
      const r = run('npm', ['rebuild', '--registry', registryUrl, '--foreground-scripts', '@gingham/ebpf-loader'], app);
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
      const r = run('npm', ['rebuild', '--registry', registryUrl, '--foreground-scripts', '@gingham/ebpf-loader'], app, true);
      expect(r.status, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`).toContain(`@gingham/ebpf-loader: no prebuilt bpf(2) binding for ${target}; compiled build/Release/gingham_bpf.node`);
      const compiled = join(loader, 'build', 'Release', 'gingham_bpf.node');
      expect(evaluate(app, BINDING)).toEqual({ source: { kind: 'compiled', path: compiled }, lo: expect.any(Number) });
      renameSync(join(loader, 'prebuilds', 'moved-away'), join(loader, 'prebuilds', target));
      expect(evaluate(app, BINDING)).toMatchObject({ source: { kind: 'prebuild' } });
    });
  });

  it('@gingham/cli installs without its optional eBPF dataplane and loader (--omit=optional): lint works, enforce --dataplane ebpf says what is missing', () => {
    const ours = [...closure.values()].filter((n) => n.startsWith('@gingham/') && n !== '@gingham/ebpf-loader');
    const app = project('cli-app', ours, {}, ['--omit=optional']).dir;
    const installed = readdirSync(join(app, 'node_modules', '@gingham')).sort();
    expect(installed).toEqual(ours.map((n) => n.slice('@gingham/'.length)).sort());
    expect(installed).not.toContain('dataplane-ebpf');
    expect(installed).not.toContain('ebpf-loader');
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
      'gingham enforce: the eBPF dataplane is not installed (@gingham/dataplane-ebpf is an optional dependency of @gingham/cli): npm install @gingham/dataplane-ebpf, or use --dataplane iptables',
    );
  });
});
