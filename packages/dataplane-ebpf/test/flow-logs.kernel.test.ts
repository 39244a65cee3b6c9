/**
 * Flow logs from both dataplanes on the same conformance cases, with real packets between pods
 * in network namespaces: each dataplane's records must be what `evaluate()` implies (the shared
 * suite checks that), and the eBPF and iptables records must agree with each other (names,
 * reporters, actions, enforced and pending hits; counters within a tolerance). Pins live in a
 * private bpffs, locks in a scratch directory; CI=true fails instead of skipping.
 */
import { compareFlowLogResults, testFlowLogs } from '@gingham/dataplane-iptables/conformance';
import { createIptablesDataplane, createIptablesFlowSource } from '@gingham/dataplane-iptables';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEbpfDataplane, createEbpfFlowSource, type EbpfDataplane } from '../src/index.js';
import { canRun, mustRun, scratchLockDir, uniqueName } from './kernel-env.js';

let bpffs: ScratchBpffs | undefined;
const locks = scratchLockDir();
const name = uniqueName('flows');
let previous: EbpfDataplane | undefined;

beforeAll(() => {
  if (canRun) bpffs = mountScratchBpffs('gh-ebpf-flows-');
});
afterAll(() => {
  previous?.close();
  bpffs?.release();
  locks.release();
});

const ebpf = testFlowLogs('ebpf', ({ nodeNamespace }) => {
  previous?.close();
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
      close: () => {
        source.close();
        dp.close();
      },
    },
    source,
  };
}, { mustRun });

const iptables = testFlowLogs('iptables', async ({ runner, nodeNamespace }) => {
  const dp = createIptablesDataplane({ runner, lock: { dir: locks.path }, flowLogs: true });
  const source = createIptablesFlowSource({ netns: nodeNamespace, dataplane: dp });
  return {
    dataplane: {
      apply: (m) => dp.apply(m),
      clean: async () => {
        await source.close();
        await dp.clean();
      },
      close: async () => {
        await source.close();
        await dp.close();
      },
    },
    source,
  };
}, { mustRun });

describe.skipIf(!canRun)('flow logs: eBPF and iptables agree', () => {
  it('the same conformance flows give the same records from both dataplanes', () => {
    expect(ebpf.size).toBeGreaterThan(0);
    expect(compareFlowLogResults(ebpf, iptables)).toEqual([]);
  });
});
