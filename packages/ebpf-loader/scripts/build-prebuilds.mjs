#!/usr/bin/env node
// Builds the committed prebuilt bpf(2) bindings, prebuilds/linux-<arch>/gingham_bpf.node, for
// linux x64 and arm64, checks each one (scripts/addon-elf.mjs) and records in
// prebuilds/manifest.json what it was built from. Maintainers run it after changing
// src/native/*: `npm run build:prebuilds -w packages/ebpf-loader [-- x64|arm64 ...]`.
//
// An N-API addon needs only Node's arch-independent node_api.h, so one machine builds both:
// each architecture with `<triple>-gcc` (Debian: gcc-aarch64-linux-gnu and libc6-dev-arm64-cross
// for arm64; gcc for x64), or the plain `gcc` when it is the host's own architecture. The output
// is reproducible (no paths or timestamps in it). It never touches anything outside prebuilds/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonProblems, readAddon } from './addon-elf.mjs';

const NAPI_VERSION = 8;
const ADDON = 'gingham_bpf.node';
const TARGETS = {
  x64: { triple: 'x86_64-linux-gnu', debian: 'gcc' },
  arm64: { triple: 'aarch64-linux-gnu', debian: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross' },
};
const HOST_ARCH = { x64: 'x64', arm64: 'arm64' }[process.arch];

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prebuilds = join(pkg, 'prebuilds');
const manifestPath = join(prebuilds, 'manifest.json');

function die(message) {
  console.error(`build-prebuilds: ${message}`);
  process.exit(1);
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const has = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** `src/native/<file>` -> sha256, for every native source and header. */
function nativeSources() {
  const dir = join(pkg, 'src', 'native');
  const out = {};
  for (const f of readdirSync(dir).sort()) out[`src/native/${f}`] = sha256(readFileSync(join(dir, f)));
  return out;
}

function nodeIncludeDir() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
  ].filter(Boolean);
  return candidates.find((d) => existsSync(join(d, 'node_api.h'))) ?? die(`node_api.h not found (looked in ${candidates.join(', ')})`);
}

function compilerFor(arch) {
  const { triple, debian } = TARGETS[arch];
  if (has(`${triple}-gcc`)) return `${triple}-gcc`;
  if (arch === HOST_ARCH && has('gcc')) return 'gcc';
  return die(`no C compiler for linux-${arch}: install ${triple}-gcc (Debian: apt-get install ${debian})`);
}

function build(arch, include) {
  const cc = compilerFor(arch);
  const outDir = join(prebuilds, `linux-${arch}`);
  mkdirSync(outDir, { recursive: true });
  const tmp = join(outDir, `${ADDON}.tmp`);
  const args = [
    '-std=gnu11', '-O2', '-fPIC', '-shared', '-fvisibility=hidden',
    '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror',
    `-DNAPI_VERSION=${NAPI_VERSION}`, '-DNODE_GYP_MODULE_NAME=gingham_bpf', '-DBUILDING_NODE_EXTENSION',
    `-I${include}`, `-ffile-prefix-map=${pkg}=.`, '-s', '-Wl,--build-id=sha1',
    '-o', tmp, 'src/native/bpf.c',
  ];
  const r = spawnSync(cc, args, { cwd: pkg, encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    die(`${cc} failed for linux-${arch}:\n${r.stderr}`);
  }
  const bytes = readFileSync(tmp);
  const info = readAddon(bytes);
  const problems = addonProblems(info, arch, NAPI_VERSION);
  if (problems.length > 0) {
    rmSync(tmp, { force: true });
    die(`linux-${arch}: the built addon is not fit to ship:\n  ${problems.join('\n  ')}`);
  }
  renameSync(tmp, join(outDir, ADDON));
  const compiler = spawnSync(cc, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  return {
    file: `linux-${arch}/${ADDON}`,
    sha256: sha256(bytes),
    bytes: bytes.length,
    sources: nativeSources(),
    napiVersion: info.napiVersion,
    glibc: info.glibc,
    compiler,
    nodeHeaders: process.version,
  };
}

function main() {
  const arches = process.argv.slice(2);
  for (const a of arches) if (!TARGETS[a]) die(`unknown architecture "${a}" (known: ${Object.keys(TARGETS).join(', ')})`);
  const include = nodeIncludeDir();
  const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : {};
  const entries = { ...(manifest.prebuilds ?? {}) };
  for (const arch of arches.length > 0 ? arches : Object.keys(TARGETS)) {
    const entry = build(arch, include);
    entries[`linux-${arch}`] = entry;
    console.log(`build-prebuilds: linux-${arch}: ${entry.file}, ${entry.bytes} bytes, N-API ${entry.napiVersion}, glibc >= ${entry.glibc}, sha256 ${entry.sha256.slice(0, 16)}...`);
  }
  const sorted = Object.fromEntries(Object.entries(entries).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(manifestPath, `${JSON.stringify({ napiVersion: NAPI_VERSION, addon: ADDON, prebuilds: sorted }, null, 2)}\n`);
}

main();
