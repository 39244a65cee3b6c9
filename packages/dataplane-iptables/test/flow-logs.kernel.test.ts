/**
 * Flow-log conformance of the iptables dataplane (NFLOG + conntrack through the netlink relay
 * in the suite's node namespace), with real packets between pods: the records of each case
 * (reporter, action, enforced and pending hits) must equal what `evaluate()` implies and counters
 * must match the packets that went, as for the eBPF dataplane
 * (packages/dataplane-ebpf/test/flow-logs.kernel.test.ts). CI=true fails instead of skipping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testFlowLogs } from '@gingham/dataplane-conformance';
import { afterAll } from 'vitest';
import { createIptablesDataplane, createIptablesFlowSource } from '../src/index.js';

const locks = mkdtempSync(join(tmpdir(), 'gh-ipt-flows-locks-'));
afterAll(() => rmSync(locks, { recursive: true, force: true }));

testFlowLogs('iptables', async ({ runner, nodeNamespace }) => {
  const dp = createIptablesDataplane({ runner, lock: { dir: locks }, flowLogs: true });
  const source = createIptablesFlowSource({ netns: nodeNamespace, dataplane: dp });
  await source.ready;
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
}, { mustRun: process.env.CI === 'true' });
