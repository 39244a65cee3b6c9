#!/usr/bin/env node
// `npm test`: everything CI runs, in order. Installs missing system packages when root, builds
// every package (tests of the CLI run the built bin), lints, then runs the unit project and the
// kernel project (root-only suites that program the kernel inside namespaces they create).
// Prints one closing line `N passed, N failed, N skipped`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const isRoot = process.getuid?.() === 0;
const totals = { passed: 0, failed: 0, skipped: 0 };
let exitCode = 0;

function step(title, cmd, args) {
  process.stderr.write(`\n=== ${title}: ${[cmd, ...args].join(' ')}\n`);
  const res = spawnSync(cmd, args, { stdio: 'inherit' });
  return res.status ?? 1;
}

// Vitest runs in a process group of its own: a test that signals its own group (process.kill(0),
// a pid read as 0) then ends that run, which is reported as failed, not this script and whatever
// started it (CI saw only exit 137). Ctrl-C and SIGTERM are passed on to the group.
function grouped(title, cmd, args) {
  process.stderr.write(`\n=== ${title}: ${[cmd, ...args].join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', detached: true });
    const forward = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // the group is gone
      }
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, forward);
    child.on('error', (err) => {
      process.stderr.write(`\n${title}: cannot start: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      if (signal) process.stderr.write(`\n${title} was killed by ${signal}\n`);
      resolve(code ?? 1);
    });
  });
}

async function vitest(project) {
  const out = `.vitest-${project}.json`;
  rmSync(out, { force: true });
  const code = await grouped(`vitest (${project})`, 'npx', [
    'vitest', 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile=${out}`,
  ]);
  if (existsSync(out)) {
    const r = JSON.parse(readFileSync(out, 'utf8'));
    totals.passed += r.numPassedTests ?? 0;
    totals.failed += r.numFailedTests ?? 0;
    totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    rmSync(out, { force: true });
  } else if (code !== 0) {
    totals.failed += 1;
  }
  return code;
}

for (const [title, cmd, args] of [
  ['system packages', 'bash', ['scripts/ensure-system-deps.sh']],
  ['build', 'npm', ['run', 'build']],
  ['lint', 'npm', ['run', 'lint']],
]) {
  const code = step(title, cmd, args);
  if (code !== 0) {
    console.log(`\n${title} failed (exit ${code})`);
    console.log(`0 passed, 1 failed`);
    process.exit(code);
  }
}

if ((await vitest('unit')) !== 0) exitCode = 1;
if (isRoot) {
  if ((await vitest('kernel')) !== 0) exitCode = 1;
} else {
  process.stderr.write('\n=== kernel suites skipped: not root\n');
  if (process.env.CI === 'true') exitCode = 1;
}

console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(exitCode || (totals.failed > 0 ? 1 : 0));
