/**
 * The shared conformance suite against the eBPF dataplane: real TCP and UDP between pods in
 * network namespaces, every verdict compared with `evaluate()`. Every case builds a fresh
 * dataplane object with the same instance name, so each case after the first takes over the
 * previous one's pins with a generation swap, as a restarted agent does — after the previous
 * object is closed, since one process at a time holds an instance (its lock). Pins live in a
 * private bpffs mounted for this file, locks in a directory of its own. With CI=true missing
 * capabilities fail instead of skipping. GINGHAM_DIFF_RUNS raises the number of differential
 * property runs (default 15).
 */
import { testDataplane } from '@gingham/dataplane-iptables/conformance';
import { afterAll, beforeAll } from 'vitest';
import { createEbpfDataplane, type EbpfDataplane } from '../src/index.js';
import { canRun, scratchLockDir, uniqueName } from './kernel-env.js';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';

let bpffs: ScratchBpffs | undefined;
const locks = scratchLockDir();
const name = uniqueName('conf');
let previous: EbpfDataplane | undefined;

beforeAll(() => {
  if (canRun) bpffs = mountScratchBpffs('gh-ebpf-bpffs-');
});
afterAll(() => {
  bpffs?.release();
  locks.release();
});

testDataplane('ebpf', async ({ nodeNamespace }) => {
  await previous?.close();
  const dp = createEbpfDataplane({ netns: nodeNamespace, bpffs: bpffs!.path, name, lockDir: locks.path });
  previous = dp;
  return {
    apply: (messages) => dp.apply(messages),
    clean: async () => {
      await dp.clean();
      await dp.close();
    },
  };
}, {
  mustRun: process.env.CI === 'true',
  differentialRuns: Number(process.env.GINGHAM_DIFF_RUNS ?? 15),
});
