/**
 * Flow-log conformance of the eBPF dataplane, with real packets between pods in network
 * namespaces: the records of each case (reporter, action, enforced and pending hits) must equal
 * what `evaluate()` implies, and counters must match the packets that went. The iptables
 * dataplane passes the same cases against the same expectations
 * (packages/dataplane-iptables/test/flow-logs.kernel.test.ts), so their records agree. Pins live
 * in a private bpffs, locks in a scratch directory; CI=true fails instead of skipping.
 */
import { testFlowLogs } from '@gingham/dataplane-conformance';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { afterAll, beforeAll } from 'vitest';
import { createEbpfDataplane, createEbpfFlowSource, type EbpfDataplane } from '../src/index.js';
import { canRun, mustRun, scratchLockDir, uniqueName } from './support/kernel-env.js';

let bpffs: ScratchBpffs | undefined;
const locks = scratchLockDir();
const name = uniqueName('flows');
let previous: EbpfDataplane | undefined;

beforeAll(() => {
  if (canRun) bpffs = mountScratchBpffs('gh-ebpf-flows-');
});
afterAll(async () => {
  await previous?.close();
  bpffs?.release();
  locks.release();
});

testFlowLogs('ebpf', async ({ nodeNamespace }) => {
  await previous?.close();
  const dp = createEbpfDataplane({ netns: nodeNamespace, bpffs: bpffs!.path, name, lockDir: locks.path, flowLogs: true });
  previous = dp;
  const source = createEbpfFlowSource({ dataplane: dp });
  return {
    dataplane: {
      apply: (m) => dp.apply(m),
      clean: async () => {
        source.close();
        await dp.clean();
      },
      close: async () => {
        source.close();
        await dp.close();
      },
    },
    source,
  };
}, { mustRun });
