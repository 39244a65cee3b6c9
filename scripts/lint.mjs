#!/usr/bin/env node
// House rules that the type checker cannot see:
//  - @gingham/core is pure: no `node:` (or bare node builtin) imports, no console, no Date.now /
//    Math.random / timers, no process or fetch, outside test and bench files;
//  - packages expose their API only through src/index.ts (nobody imports another package's
//    internals via a relative path or a deep specifier);
//  - packages depend only on the packages the dependency table allows (see its section).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const problems = [];

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const builtins = new Set(builtinModules);
const corePatterns = [
  [/\bfrom\s+['"]node:/, 'imports a node: module'],
  [/\bconsole\./, 'logs (console)'],
  [/\bDate\.now\(|new Date\(/, 'reads the clock'],
  [/\bMath\.random\(/, 'uses randomness'],
  [/\bset(Timeout|Interval|Immediate)\(/, 'uses timers'],
  [/\bprocess\./, 'touches process'],
  [/\bfetch\(/, 'does I/O (fetch)'],
];

/** `@gingham/<pkg>/<sub>` is public when `<pkg>`'s package.json lists `./<sub>` in its exports map. */
function exportedSubpath(spec) {
  const [, name, sub] = /^@gingham\/([^/]+)\/(.+)$/.exec(spec) ?? [];
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
    return Object.hasOwn(manifest.exports ?? {}, `./${sub}`);
  } catch {
    return false;
  }
}

for (const pkg of readdirSync(join(root, 'packages'))) {
  const src = join(root, 'packages', pkg, 'src');
  try { statSync(src); } catch { continue; }
  for (const file of files(src)) {
    const rel = relative(root, file);
    const isTestOrBench = /\.(test|bench)\.ts$/.test(file) || /\.prop\.test\.ts$/.test(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1];
      if (/^\.\.\/\.\.\/\.\.\//.test(spec) || /^(\.\.\/)+(packages\/)?[a-z-]+\/src\//.test(spec)) {
        problems.push(`${rel}: reaches into another package's sources (${spec}); import the package instead`);
      }
      if (/^@gingham\/[^/]+\/.+/.test(spec) && !spec.endsWith('/package.json') && !exportedSubpath(spec)) {
        problems.push(`${rel}: deep import ${spec}; use the package's public index`);
      }
      if (pkg === 'core' && !isTestOrBench && builtins.has(spec.replace(/^node:/, ''))) {
        problems.push(`${rel}: core must stay pure but imports ${spec}`);
      }
    }
    if (pkg === 'core' && !isTestOrBench) {
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      for (const [re, what] of corePatterns) {
        if (re.test(code)) problems.push(`${rel}: core must stay pure but ${what}`);
      }
    }
  }
}

// ---- test layout (docs/testing.md; owned by the conformance work) -------------------------------
//  - tests are `*.test.ts` under a package's `src/` (unit tests beside their module) or `test/`
//    (through the public API, the built bin, real servers); vitest runs nothing else;
//  - kernel tests (`*.kernel.test.ts`, root, their own namespaces) live only under `test/`;
//  - helpers that tests import are not tests: never `*.test.ts` under `test/support/`;
//  - no dataplane depends on another dataplane (package.json dependency fields, and imports in
//    src/ and test/ outside benchmarks); what every dataplane must pass is
//    @gingham/dataplane-conformance, and the conformance package depends on no dataplane.
const dataplanes = readdirSync(join(root, 'packages')).filter((p) => p.startsWith('dataplane-') && p !== 'dataplane-conformance');
for (const pkg of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', pkg);
  if (!statSync(dir).isDirectory()) continue;
  for (const top of readdirSync(dir)) {
    if (['node_modules', 'dist'].includes(top) || !statSync(join(dir, top)).isDirectory()) continue;
    for (const file of files(join(dir, top))) {
      const rel = relative(root, file);
      const inTest = top === 'test';
      if (/\.test\.ts$/.test(file) && top !== 'src' && !inTest) problems.push(`${rel}: a test outside src/ and test/ never runs (docs/testing.md)`);
      if (/\.kernel\.test\.ts$/.test(file) && !inTest) problems.push(`${rel}: kernel tests live under test/ (docs/testing.md)`);
      if (/\.test\.ts$/.test(file) && /\/test\/support\//.test(file)) problems.push(`${rel}: test/support/ holds helpers, not tests (docs/testing.md)`);
      if ((dataplanes.includes(pkg) || pkg === 'dataplane-conformance') && !/\.bench\.ts$/.test(file)) {
        for (const m of readFileSync(file, 'utf8').matchAll(/\bfrom\s+['"]@gingham\/(dataplane-[a-z]+)/g)) {
          if (pkg !== 'dataplane-conformance' && m[1] !== pkg && m[1] !== 'dataplane-conformance') problems.push(`${rel}: imports @gingham/${m[1]}; no dataplane depends on another (shared tests: @gingham/dataplane-conformance)`);
          if (pkg === 'dataplane-conformance' && m[1] !== pkg) problems.push(`${rel}: the conformance suite must not import a dataplane (@gingham/${m[1]})`);
        }
      }
    }
  }
  if (dataplanes.includes(pkg) || pkg === 'dataplane-conformance') {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const dep of Object.keys(manifest[field] ?? {})) {
        const other = dep.replace(/^@gingham\//, '');
        if (dep.startsWith('@gingham/') && dataplanes.includes(other) && other !== pkg) problems.push(`packages/${pkg}/package.json: ${field} names ${dep}; no dataplane depends on another`);
      }
    }
  }
}
// ---- end of test layout -------------------------------------------------------------------------

// ---- Package dependency table (issue 10, item 6) ---------------------------------------------
// Which of our packages each package may depend on: core depends on nothing of ours; the host
// and eBPF loader layers are leaves too; adapters (dataplanes, WireGuard, sources) on core and
// host (+ the loader for eBPF); only the CLI and the agent compose everything. Checked against
// package.json (dependencies, optionalDependencies, peerDependencies) and against the imports
// of every non-test, non-bench source file (static and dynamic); an import of ours must also be
// declared. Tests and benches may import more (the testkit, the conformance suite, the CLI for
// end-to-end runs). A package missing from the table is a problem: add its row here.
const ANY = '*';
const DEPENDENCY_TABLE = {
  core: [],
  host: [],
  'ebpf-loader': [],
  'dataplane-iptables': ['core', 'host'],
  'dataplane-ebpf': ['core', 'host', 'ebpf-loader'],
  wireguard: ['core', 'host'],
  datastore: ['core', 'host'],
  k8s: ['core', 'host'],
  openstack: ['core', 'host'],
  flows: ['core', 'host'],
  testkit: ['core'],
  'dataplane-conformance': ['core', 'host', 'testkit'],
  cli: ANY,
  agent: ANY,
};
const RUNTIME_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies'];

function checkDependencyTable() {
  for (const pkg of readdirSync(join(root, 'packages'))) {
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    const allowed = DEPENDENCY_TABLE[pkg];
    if (allowed === undefined) {
      problems.push(`packages/${pkg}: not in the dependency table of scripts/lint.mjs; add a row naming which of our packages it may depend on`);
      continue;
    }
    const may = (dep) => allowed === ANY || allowed.includes(dep);
    const rule = allowed === ANY ? 'anything' : allowed.length === 0 ? 'nothing of ours' : allowed.map((d) => `@gingham/${d}`).join(', ');
    const declared = new Set();
    for (const field of RUNTIME_FIELDS) {
      for (const name of Object.keys(manifest[field] ?? {})) {
        const dep = /^@gingham\/(.+)$/.exec(name)?.[1];
        if (dep === undefined || dep === pkg) continue;
        declared.add(dep);
        if (!may(dep)) problems.push(`packages/${pkg}/package.json: ${field} names @gingham/${dep}, but @gingham/${pkg} may depend on ${rule} (dependency table in scripts/lint.mjs)`);
      }
    }
    const src = join(root, 'packages', pkg, 'src');
    try { statSync(src); } catch { continue; }
    for (const file of files(src)) {
      if (/\.(test|bench)\.ts$/.test(file)) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"]@gingham\/([^/'"]+)[^'"]*['"]/g)) {
        const dep = m[1];
        if (dep === pkg) continue;
        const where = `${relative(root, file)}:${text.slice(0, m.index).split('\n').length}`;
        if (!may(dep)) problems.push(`${where}: imports @gingham/${dep}, but @gingham/${pkg} may depend on ${rule} (dependency table in scripts/lint.mjs)`);
        else if (!declared.has(dep)) problems.push(`${where}: imports @gingham/${dep}, which packages/${pkg}/package.json does not declare in ${RUNTIME_FIELDS.join(', ')}`);
      }
    }
  }
}
checkDependencyTable();
// ---- end of the package dependency table -----------------------------------------------------

if (problems.length > 0) {
  for (const p of problems) console.error(`lint: ${p}`);
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.error('lint: ok');
