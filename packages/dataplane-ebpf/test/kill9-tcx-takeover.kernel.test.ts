/**
 * kill -9 of the real `gingham enforce --dataplane ebpf --mode tcx` over an enforced policy, at
 * each child process's start and at random moments: no flow both policies deny ever passes (continuous
 * probes), and the next run converges. The suite: support/kill9-suite.ts.
 */
import { describeKill9 } from './support/kill9-suite.js';

describeKill9('tcx', 'takeover');
