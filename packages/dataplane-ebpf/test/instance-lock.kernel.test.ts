/**
 * One process at a time per instance (issue 15: two `enforce` runs at once both exited 0 and left
 * a state that matched neither). Pinned with the real CLI under `ip netns exec`: two runs with
 * different policies started together both exit 0, one after the other (the second waits for
 * the instance lock), and what is enforced is exactly the policy of the run that finished last
 * (one generation left, every hook running its program, its verdict on the flow the policies
 * disagree on). A run that cannot get the lock within `--lock-wait` refuses naming the holder
 * and changes nothing; `--clean` takes the same lock.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTcp } from '@gingham/dataplane-conformance';
import { pinnedObjectId, queryTcx, readTcHooks } from '@gingham/ebpf-loader';
import { acquireInstanceLock, lockName } from '@gingham/host';
import { canRun, listTree } from './support/kernel-env.js';
import { createQuickstartNode, EXAMPLE, exampleVariant, FRONTEND_TO_DB, type QuickstartNode } from './support/quickstart-node.js';

describe.skipIf(!canRun)('gingham enforce --dataplane ebpf: one run at a time per instance', () => {
  let node: QuickstartNode;
  const variant = exampleVariant(FRONTEND_TO_DB);
  const root = (): string => join(node.bpffs.path, 'gingham', node.name);
  const generations = (): string[] => listTree(root()).filter((f) => /^g\d+\/$/.test(f));
  const frontendToDb = (): Promise<boolean> => probeTcp(node.topo, node.topo.pod('shop', 'frontend-0'), node.topo.pod('shop', 'db-0'), 5432, 1000);
  /** Kernel ids of the programs on every pod hook (tcx links and tc filters). */
  const hookPrograms = (): number[] => {
    const tc = readTcHooks({ netns: node.topo.node, ifnames: node.topo.pods.map((p) => p.iface) });
    return node.topo.pods.flatMap((p) => (['ingress', 'egress'] as const).flatMap((direction) => [
      ...queryTcx({ ifname: p.iface, netns: node.topo.node, direction }).programIds,
      ...tc.get(p.iface)![direction].flatMap((f) => (f.programId !== undefined ? [f.programId] : [])),
    ]));
  };

  beforeAll(async () => {
    node = await createQuickstartNode('elck');
  });
  afterAll(async () => {
    try {
      await node?.destroy();
    } finally {
      variant.release();
    }
  });

  it('two runs started together both succeed, one after the other, and the last one is what is enforced', async () => {
    for (let round = 0; round < 2; round++) {
      const [a, b] = await Promise.all([
        node.ipNetnsExecAsync(node.enforceArgv('-f', EXAMPLE, '--node', 'node-1')),
        node.ipNetnsExecAsync(node.enforceArgv('-f', variant.path, '--node', 'node-1')),
      ]);
      expect([a.status, a.stderr, b.status, b.stderr]).toEqual([0, '', 0, '']);
      const gen = (out: string): number => Number(/generation (\d+)/.exec(out)?.[1]);
      const [ga, gb] = [gen(a.stdout), gen(b.stdout)];
      // Serialised: the second built on the first's pins (N+1), never two runs building the same N.
      expect(Math.abs(ga - gb)).toBe(1);
      const last = Math.max(ga, gb);
      expect(generations()).toEqual([`g${last}/`]);
      const program = pinnedObjectId(join(root(), `g${last}`, 'gingham_tc'));
      expect(hookPrograms()).toEqual(Array(8).fill(program));
      // The policies disagree on frontend -> db:5432: the variant allows it.
      expect(await frontendToDb()).toBe(gb === last);
    }
  });

  it('a run that cannot get the lock in --lock-wait refuses naming the holder, and changes nothing; so does --clean', async () => {
    const before = generations();
    const programs = hookPrograms();
    const lock = acquireInstanceLock(lockName('ebpf', root()), { purpose: 'the instance-lock test' });
    try {
      for (const args of [node.enforceArgv('-f', EXAMPLE, '--node', 'node-1', '--lock-wait', '1'), node.enforceArgv('--clean', '--lock-wait', '0.5')]) {
        const started = Date.now();
        const r = node.ipNetnsExec(args);
        expect(r.status).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(new RegExp(`is being programmed by process ${process.pid} \\(the instance-lock test\\)`));
        expect(Date.now() - started).toBeGreaterThanOrEqual(400);
        expect(generations()).toEqual(before);
        expect(hookPrograms()).toEqual(programs);
      }
    } finally {
      lock.release();
    }
    const r = node.ipNetnsExec(node.enforceArgv('-f', EXAMPLE, '--node', 'node-1'));
    expect(r.status).toBe(0);
    expect(await frontendToDb()).toBe(false);
  });
});
