/**
 * The conformance suite's kill -9 harness against the iptables dataplane: the real `gingham`
 * command (the CLI's bin) run with `ip netns exec` in a node namespace, SIGKILLed at the start of
 * each child it spawns (readlink, flock, iptables-save, iptables-restore, ipset) and at random
 * moments while it moves the node from one state to the next; after each kill, flows both states
 * deny stay denied and flows both allow stay allowed, and the next run converges. (The probe loop
 * during in-process applies is a case of the shared suite, `conformance.kernel.test.ts`.)
 */
import { join } from 'node:path';
import { testCrashSafety } from '../src/conformance/fail-closed.js';
import { NODE } from '../src/conformance/cases.js';

const bin = join(new URL('../../../', import.meta.url).pathname, 'packages/cli/bin/gingham.js');

testCrashSafety('iptables', {
  mustRun: process.env.CI === 'true',
  enforce: (dir) => [process.execPath, bin, 'enforce', '-f', dir, '--node', NODE, '--dataplane', 'iptables'],
  clean: [process.execPath, bin, 'enforce', '--clean', '--dataplane', 'iptables'],
  childTools: ['readlink', 'flock', 'iptables-save', 'iptables-restore', 'ipset'],
  converged: (stdout) => /chains written 0, deleted 0; sets created 0, destroyed 0/.test(stdout),
});
