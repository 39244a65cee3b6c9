#!/usr/bin/env node
// Compiles build/Release/gingham_bpf.node from src/native with node-gyp (the one bundled with npm
// when run through npm, else `node-gyp` on PATH): `npm run build:native`, and the install
// script's fallback when no prebuild fits this machine. Needs python3, make and a C compiler.
// Uses the Node headers next to the running node (or npm's nodedir) when present, so nothing
// is downloaded. Exits non-zero when the compile fails; it is the install script that forgives.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.platform !== 'linux') {
  console.error('@gingham/ebpf-loader: the bpf(2) binding needs Linux; nothing to compile');
  process.exit(1);
}
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = ['rebuild'];
const nodedir = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodedir}`);
const gypJs = process.env.npm_config_node_gyp;
const [cmd, argv] = gypJs && existsSync(gypJs) ? [process.execPath, [gypJs, ...args]] : ['node-gyp', args];
const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
if (r.error) console.error(`@gingham/ebpf-loader: cannot run ${cmd}: ${r.error.message}`);
process.exit(r.status ?? 1);
