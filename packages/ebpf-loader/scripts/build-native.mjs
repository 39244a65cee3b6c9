#!/usr/bin/env node
// `install` script: builds the bpf(2) N-API addon with node-gyp (npm runs it on `npm ci`).
// Uses the node-gyp bundled with npm; prefers local Node headers (/usr/include/node, or
// npm's nodedir setting) so no download is needed. Skips on non-Linux: the ELF/BTF parser is
// pure and still works there, and kernel calls throw BPF_BINDING_UNAVAILABLE.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (process.platform !== 'linux') {
  console.error('@gingham/ebpf-loader: not Linux; skipping the native bpf(2) binding');
  process.exit(0);
}
const args = ['rebuild'];
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const gypJs = process.env.npm_config_node_gyp;
const [cmd, argv] = gypJs && existsSync(gypJs) ? [process.execPath, [gypJs, ...args]] : ['node-gyp', args];
const r = spawnSync(cmd, argv, { stdio: 'inherit' });
process.exit(r.status ?? 1);
