#!/usr/bin/env node
// The package's `install` script (npm runs it on `npm install` / `npm ci`). It must never fail
// the install: users of the pure parts, and everyone whose packages merely sit next to this one,
// must not be blocked by a missing C toolchain.
//   - a prebuild for this platform that loads: nothing to do, silent;
//   - otherwise: compile build/Release/gingham_bpf.node with node-gyp (scripts/build-native.mjs)
//     and print one line; if that fails too, keep its output in build/native-build.log, print one
//     line saying what to do, and exit 0 (kernel calls then throw BPF_BINDING_UNAVAILABLE).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const target = `${process.platform}-${process.arch}`;
const say = (line) => console.error(`@gingham/ebpf-loader: ${line}`);

function install() {
  if (process.platform !== 'linux') {
    say(`no bpf(2) binding on ${target} (it needs Linux); parsing BPF objects still works`);
    return;
  }
  const prebuild = join(root, 'prebuilds', target, 'gingham_bpf.node');
  let reason = `no prebuilt bpf(2) binding for ${target}`;
  if (existsSync(prebuild)) {
    try {
      createRequire(import.meta.url)(prebuild);
      return;
    } catch (e) {
      reason = `the prebuilt bpf(2) binding for ${target} does not load here (${String(e?.message ?? e).split('\n')[0]})`;
    }
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, encoding: 'utf8', timeout: 600_000 });
  if (r.status === 0) {
    say(`${reason}; compiled build/Release/gingham_bpf.node`);
    return;
  }
  const log = join(root, 'build', 'native-build.log');
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, `${r.error ? `${r.error.message}\n` : ''}${r.stdout ?? ''}${r.stderr ?? ''}`);
  say(
    `${reason} and compiling one failed (see ${log}); eBPF kernel calls will throw BPF_BINDING_UNAVAILABLE. ` +
      'To compile it: apt-get install python3 make gcc (Debian), then npm rebuild @gingham/ebpf-loader',
  );
}

try {
  install();
} catch (e) {
  say(`skipped setting up the bpf(2) binding (${String(e?.message ?? e).split('\n')[0]})`);
}
process.exit(0);
