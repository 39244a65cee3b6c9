/**
 * The plan's last step (destroying sets nothing names any more) right behind a commit: the nft
 * backend releases a removed rule's hold on its set only after the commit has returned, so a
 * destroy batch the kernel refuses as "in use by a kernel component" is left for later (a set
 * nothing names decides nothing) and run, with retries (idempotent under -exist), before the
 * next apply or interface re-check touches the kernel, or by `close()`; any other error fails
 * the apply, as before.
 */
import { describe, expect, it } from 'vitest';
import type { CommandRunner } from '@gingham/host';
import type { DataplaneMessage } from '@gingham/core';
import { createIptablesDataplane } from '../src/index.js';
import { simRunner } from './support/kernel-sim.js';

const withSet: DataplaneMessage[] = [
  { kind: 'ipset-replace', id: 's:a', type: 'nets', members: ['10.65.0.9/32'] },
  { kind: 'policy-upsert', policy: { id: 'gnp/p', tier: 'default', staged: false, egress: [], ingress: [{ action: 'Allow', source: { ipSetId: 's:a' }, destination: {} }] } },
  {
    kind: 'workload-endpoint-upsert',
    endpoint: { id: 'a/w', name: 'w', node: 'n1', interfaceName: 'cali1', addresses: ['10.65.0.1/32'], ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/p'] }], egressTiers: [], profileIds: [], stagedPolicyIds: [] },
  },
  { kind: 'in-sync' },
];
const withoutSet: DataplaneMessage[] = [
  {
    kind: 'workload-endpoint-upsert',
    endpoint: { id: 'a/w', name: 'w', node: 'n1', interfaceName: 'cali1', addresses: ['10.65.0.1/32'], ingressTiers: [], egressTiers: [], profileIds: [], stagedPolicyIds: [] },
  },
  { kind: 'policy-remove', id: 'gnp/p' },
  { kind: 'ipset-delete', id: 's:a' },
];

/** The simulated kernel, refusing the first `refusals` destroy batches with `stderr`. */
function refusing(refusals: number, stderr: string): { runner: CommandRunner; sim: ReturnType<typeof simRunner>; destroyBatches: () => number } {
  const sim = simRunner();
  let batches = 0;
  const runner: CommandRunner = {
    ...sim,
    run: (argv, o) => {
      const lines = (o?.input ?? '').split('\n').filter((l) => l !== '');
      if (argv[0] === 'ipset' && lines.length > 0 && lines.every((l) => l.startsWith('destroy '))) {
        if (batches++ < refusals) return Promise.resolve({ code: 1, stdout: '', stderr: stderr });
      }
      return sim.run(argv, o);
    },
  };
  return { runner, sim, destroyBatches: () => batches };
}

describe('destroying sets right behind a commit', () => {
  it('leaves a set the kernel still holds for later: the next apply destroys it first, retrying', async () => {
    const { runner, sim, destroyBatches } = refusing(2, 'ipset v7.17: Set cannot be destroyed: it is in use by a kernel component\n');
    const dp = createIptablesDataplane({ runner, lock: false, ipsetSession: false });
    await dp.apply(withSet);
    expect([...sim.kernel.sets.keys()]).toEqual(['gh40s:a']);
    await dp.apply(withoutSet);
    // Refused once behind the commit: the apply did not wait for it.
    expect(destroyBatches()).toBe(1);
    expect([...sim.kernel.sets.keys()]).toEqual(['gh40s:a']);
    expect(dp.stats().setsDestroyed).toBe(1);
    await dp.apply([]);
    expect(destroyBatches()).toBe(3);
    expect([...sim.kernel.sets.keys()]).toEqual([]);
    // Nothing left to do: the model was right all along.
    expect(dp.stats()).toMatchObject({ chainsWritten: 0, setsCreated: 0, setsDestroyed: 0 });
    await dp.close();
  });

  it('close() destroys what was left for later (a one-shot run leaves no set its model says is gone)', async () => {
    const { runner, sim, destroyBatches } = refusing(1, 'ipset v7.17: Set cannot be destroyed: it is in use by a kernel component\n');
    const dp = createIptablesDataplane({ runner, lock: false, ipsetSession: false });
    await dp.apply(withSet);
    await dp.apply(withoutSet);
    expect([...sim.kernel.sets.keys()]).toEqual(['gh40s:a']);
    await dp.close();
    expect(destroyBatches()).toBe(2);
    expect([...sim.kernel.sets.keys()]).toEqual([]);
  });

  it('fails the apply on any other error', async () => {
    const { runner, destroyBatches } = refusing(1, 'ipset v7.17: Kernel error received: Operation not permitted\n');
    const dp = createIptablesDataplane({ runner, lock: false, ipsetSession: false });
    await dp.apply(withSet);
    await expect(dp.apply(withoutSet)).rejects.toThrow(/Operation not permitted/);
    expect(destroyBatches()).toBe(1);
  });
});
