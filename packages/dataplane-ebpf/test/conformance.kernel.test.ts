/**
 * The shared dataplane conformance suite against the eBPF dataplane, on one topology of
 * namespaces the suite creates: the policy cases through in-process dataplane objects (each case
 * builds a fresh one with the same instance name, so each takes over the previous one's pins
 * with a generation swap, as a restarted agent does — after the previous object is closed, since
 * one process at a time holds an instance), the quick-start matrix and the kill -9 campaigns (tcx
 * and tc modes) through the real `gingham enforce --dataplane ebpf` under `ip netns exec`. Pins
 * live in a private bpffs mounted for this file before any `ip netns exec` (so the command's
 * private mount namespace shares it), in-process locks in a directory of its own. Root only; with
 * CI=true missing capabilities fail. GINGHAM_DIFF_RUNS sets the differential property's runs;
 * GINGHAM_PROP_SCALE scales them and the random kills; GINGHAM_KILL9_SEED replays a campaign.
 */
import { join } from 'node:path';
import { testDataplane, type ConformanceEnv } from '@gingham/dataplane-conformance';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { propRuns } from '@gingham/testkit';
import { afterAll, beforeAll, expect } from 'vitest';
import { createEbpfDataplane } from '../src/index.js';
import { canRun, clsactIn, hooksIn, linksIn, listTree, removeCliLock, scratchLockDir, uniqueName } from './support/kernel-env.js';

const bin = join(new URL('../../../', import.meta.url).pathname, 'packages/cli/bin/gingham.js');
let bpffs: ScratchBpffs | undefined;
const locks = scratchLockDir();
const name = uniqueName('conf');

beforeAll(() => {
  if (canRun) bpffs = mountScratchBpffs('gh-ebpf-bpffs-');
});
afterAll(() => {
  try {
    if (bpffs) removeCliLock(bpffs.path, name);
    bpffs?.release();
  } finally {
    locks.release();
  }
});

const cli = (...args: string[]): string[] => [process.execPath, bin, 'enforce', ...args, '--dataplane', 'ebpf', '--bpffs', bpffs!.path, '--name', name];
const instance = (): string[] => listTree(join(bpffs!.path, 'gingham', name));

/** A converged run swaps in generation N+1 over N, leaving that one generation and no temporary pin or pending marker. */
function expectConverged(stdout: string): void {
  const m = /generation (\d+) \(replaced (\d+)\), map writes \d+, hooks \d+; pinned in /.exec(stdout);
  expect(m, stdout).not.toBeNull();
  expect(Number(m![1])).toBe(Number(m![2]) + 1);
  const tree = instance();
  expect(tree.filter((f) => /^(g\d+|tmp)\/$/.test(f))).toEqual([`g${m![1]}/`]);
  expect(tree.filter((f) => f.startsWith('tmp/') || f.startsWith('tc/pending-'))).toEqual([]);
}

/** Two hooks (ingress and egress) per endpoint the run reports. */
function expectHooksPerEndpoint(stdout: string): void {
  const m = /: (\d+) endpoints.*hooks (\d+); pinned in /s.exec(stdout);
  expect(m, stdout).not.toBeNull();
  expect(Number(m![2])).toBe(2 * Number(m![1]));
}

testDataplane('ebpf', {
  factory: ({ nodeNamespace }) => createEbpfDataplane({ netns: nodeNamespace, bpffs: bpffs!.path, name, lockDir: locks.path }),
  residue: ({ nodeNamespace }: ConformanceEnv) => [
    ...listTree(bpffs!.path).map((p) => `pin ${p}`),
    ...hooksIn(nodeNamespace, linksIn(nodeNamespace)),
    ...clsactIn(nodeNamespace).map((q) => `qdisc ${q.trim()}`),
  ],
  command: {
    enforce: ({ dir, node, mode }) => cli('-f', dir, '--node', node, ...(mode !== undefined ? ['--mode', mode] : [])),
    clean: () => cli('--clean'),
    // Every program it may start (mount/mountpoint only for /sys/fs/bpf, never here).
    childTools: ['tc', 'ip', 'nsenter', 'flock', 'mount', 'mountpoint'],
    readOnly: (start) => /^(flock|mountpoint|tc -j|ip -j) /.test(start),
    modes: ['tcx', 'tc'],
    randomKills: propRuns(3),
    report: {
      enforced: (stdout) => {
        expect(stdout).toMatch(/generation \d+, map writes \d+, hooks \d+; pinned in /);
        expectHooksPerEndpoint(stdout);
      },
      converged: (stdout) => {
        expectConverged(stdout);
        expectHooksPerEndpoint(stdout);
      },
      cleaned: (stdout) => expect(stdout).toMatch(/^gingham enforce: cleaned \S+:\n {2}detached \d+ hooks: .*\((tcx|tc)\).*\n {2}deleted \d clsact qdiscs?(: .*)?\n {2}removed \d+ pins\n$/),
    },
  },
  capabilities: {
    tools: ['tc'],
    differentialRuns: propRuns(Number(process.env.GINGHAM_DIFF_RUNS ?? 15)),
  },
});
