/**
 * kill -9 of the real `gingham enforce --dataplane ebpf --mode tc` during a first attach, at
 * each child process's start and at random moments: `--clean` afterwards leaves no hook, qdisc or
 * pin, and a re-run converges. The suite: support/kill9-suite.ts.
 */
import { describeKill9 } from './support/kill9-suite.js';

describeKill9('tc', 'first-attach');
