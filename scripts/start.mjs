#!/usr/bin/env node
// `npm start` (after the build): analyse the quick-start example, print its connectivity matrix
// and explain one denied flow, using the real `gingham` command.
import { spawnSync } from 'node:child_process';

const bin = new URL('../packages/cli/bin/gingham.js', import.meta.url).pathname;

function gingham(title, args) {
  process.stdout.write(`\n$ gingham ${args.join(' ')}\n# ${title}\n\n`);
  const res = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit' });
  if (res.status !== 0) process.exit(res.status ?? 1);
}

const rel = 'examples/quickstart';
process.chdir(new URL('..', import.meta.url).pathname);
gingham('validate the manifests', ['lint', '-f', rel]);
gingham('who can talk to whom', ['matrix', '-f', rel, '--ports', '8080/TCP,5432/TCP,9090/TCP,53/UDP']);
gingham('why the frontend cannot reach the database', [
  'check', '-f', rel, '--from', 'shop/frontend-0', '--to', 'shop/db-0', '--port', '5432', '--protocol', 'TCP',
]);
