#!/usr/bin/env node
// House rules that the type checker cannot see:
//  - @gingham/core is pure: no `node:` (or bare node builtin) imports, no console, no Date.now /
//    Math.random / timers, no process or fetch, outside test and bench files;
//  - packages expose their API only through src/index.ts (nobody imports another package's
//    internals via a relative path or a deep specifier).
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

if (problems.length > 0) {
  for (const p of problems) console.error(`lint: ${p}`);
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.error('lint: ok');
