/**
 * Fail closed with `groupDispatch: 'ipset'` (docs/dataplane-iptables.md, "Group dispatch by IP
 * set"): the properties of fail-closed.prop.test.ts over the same world, with endpoint chains that
 * pick their policy groups by IP set membership, so a relabelled pod moves between groups by
 * `ipset` lines alone (add to the new group's list, then delete from the old one) where the
 * planner can show no flow sees a mix, and through versioned lists and one commit otherwise. At
 * every atomic step each pod-to-pod flow gets its old or its new verdict; a `kill -9` after any step
 * is followed by a restart that converges through old-or-new states and then writes nothing. Also:
 * the shapes that must not move in place (two endpoints, both directions of one), and switching a
 * running kernel between the two layouts.
 */
import { createEngine, type DataplaneMessage } from '@gingham/core';
import { NODE } from '@gingham/dataplane-conformance';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createIptablesDataplane, type GroupDispatch } from '../src/index.js';
import { change, changeSteps, enforceFresh, expectOldOrNew, labels, reference, resources, restartAfterEachKill, verdicts, world } from './fail-closed-world.js';
import { cloneSim, forwardVerdict, simRunner, type SimKernel, type SimPacket } from './support/kernel-sim.js';

const IPSET = { groupDispatch: 'ipset' } as const;

describe('fail closed with group dispatch by IP set: every intermediate kernel state gives each flow its old or its new verdict', () => {
  it('label and policy changes in one apply, and kill -9 after any step followed by a restart', async () => {
    await fc.assert(
      fc.asyncProperty(
        world.chain((old) => change(old).map((next) => ({ old, next }))),
        async ({ old, next }) => {
          const oldRs = resources(old);
          const newRs = resources(next);
          const { dp, before, after, steps } = await changeSteps(oldRs, newRs, IPSET);
          expect(before).toEqual(reference(oldRs));
          expect(after).toEqual(reference(newRs));
          steps.forEach((k, i) => expectOldOrNew(`step ${i + 1} of ${steps.length}`, verdicts(k), before, after));
          await restartAfterEachKill(steps, newRs, verdicts, after, (at, got, atCrash) => expectOldOrNew(at, got, atCrash, after), IPSET);
          await dp.close();
        },
      ),
      { numRuns: propRuns(40) },
    );
  }, 600_000);

  it('label changes alone: every step of a relabelling (group moves and member changes) gives each flow its old or its new verdict', async () => {
    await fc.assert(
      fc.asyncProperty(world, labels, async (old, next) => {
        const oldRs = resources(old);
        const newRs = resources({ ...old, labels: next });
        const { sim, dp, before, after, steps } = await changeSteps(oldRs, newRs, IPSET);
        expect(after).toEqual(reference(newRs));
        steps.forEach((k, i) => expectOldOrNew(`step ${i + 1} of ${steps.length}`, verdicts(k), before, after));
        await dp.close();
        // What the change left (moves brought in without rendering, group-moves.ts) is what a
        // fresh dataplane renders: converging on it writes nothing.
        const again = await enforceFresh(simRunner(cloneSim(sim.kernel)), newRs, IPSET);
        expect(again.stats()).toMatchObject({ chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setMembersChanged: 0, setsDestroyed: 0 });
      }),
      { numRuns: propRuns(200) },
    );
  }, 600_000);

  it('switching a running kernel between the layouts keeps every verdict at every step, and a restart writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        const rs = resources(w);
        const want = reference(rs);
        const sim = simRunner();
        await enforceFresh(sim, rs);
        for (const to of ['ipset', 'chain', 'ipset'] as GroupDispatch[]) {
          const seen: boolean[][] = [];
          sim.onStep = (k) => seen.push(verdicts(k));
          await enforceFresh(sim, rs, { groupDispatch: to });
          sim.onStep = undefined;
          seen.forEach((v, i) => expect(v, `step ${i + 1} of the switch to ${to}`).toEqual(want));
          const again = await enforceFresh(sim, rs, { groupDispatch: to });
          expect(again.stats(), `a restart in ${to} writes nothing`).toMatchObject({ chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setMembersChanged: 0, setsDestroyed: 0 });
        }
      }),
      { numRuns: propRuns(25) },
    );
  }, 600_000);
});

describe('group dispatch by IP set: which moves need no commit', () => {
  const allowAll: DataplaneMessage = { kind: 'profile-upsert', profile: { id: 'all', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } };
  const ep = (name: string, ip: string) => ({ id: `a/${name}`, name, node: NODE, interfaceName: `cali${name}`, addresses: [`${ip}/32`], ingressTiers: [], egressTiers: [], profileIds: ['all'], stagedPolicyIds: [] });
  const web = ep('web', '10.65.0.11');
  const db = ep('db', '10.65.0.12');
  const client = ep('client', '10.65.0.13');
  const other = ep('other', '10.65.0.14');
  const spare = ep('spare', '10.65.0.15');
  const all = [web, db, client, other, spare];
  const tier = (ids: string[]) => [{ name: 'default', defaultAction: 'Deny' as const, policyIds: ids }];
  const allowFrom = (id: string, set: string, dir: 'ingress' | 'egress' = 'ingress'): DataplaneMessage => ({
    kind: 'policy-upsert',
    policy: { id, tier: 'default', staged: false, ingress: dir === 'ingress' ? [{ action: 'Allow', source: { ipSetId: set }, destination: {} }] : [], egress: dir === 'egress' ? [{ action: 'Allow', source: {}, destination: { ipSetId: set } }] : [] },
  });
  const flow = (from: typeof web, to: typeof web): SimPacket => ({ in: from.interfaceName, out: to.interfaceName, src: from.addresses[0]!.slice(0, -3), dst: to.addresses[0]!.slice(0, -3), dport: 80 });
  const everyFlow = all.flatMap((a) => all.filter((b) => b !== a).map((b) => flow(a, b)));
  const v = (k: SimKernel) => everyFlow.map((p) => forwardVerdict(k, p));

  async function stepsOf(setup: DataplaneMessage[], change: DataplaneMessage[]) {
    const sim = simRunner();
    const dp = createIptablesDataplane({ runner: sim, lock: false, ipsetSession: false, ...IPSET });
    await dp.apply([allowAll, ...setup, { kind: 'in-sync' }]);
    const before = v(sim.kernel);
    const seen: boolean[][] = [];
    const kernels: SimKernel[] = [];
    sim.onStep = (k) => {
      seen.push(v(k));
      kernels.push(cloneSim(k));
    };
    await dp.apply(change);
    sim.onStep = undefined;
    const after = v(sim.kernel);
    const oldOrNew = seen.every((s) => s.every((x, i) => x === before[i] || x === after[i]));
    await dp.close();
    return { before, after, kernels, oldOrNew, stats: dp.stats() };
  }

  // Each endpoint guarded by "allow from <set>" in its own tier run: web by A, db by B, client
  // and spare by C (one group), other by D. client's address is in A, web's in C, other's in D.
  const setup: DataplaneMessage[] = [
    { kind: 'ipset-replace', id: 's:A', type: 'nets', members: ['10.65.0.13/32'] },
    { kind: 'ipset-replace', id: 's:B', type: 'nets', members: [] },
    { kind: 'ipset-replace', id: 's:C', type: 'nets', members: ['10.65.0.11/32'] },
    { kind: 'ipset-replace', id: 's:D', type: 'nets', members: ['10.65.0.14/32'] },
    allowFrom('pa', 's:A'),
    allowFrom('pb', 's:B'),
    allowFrom('pc', 's:C'),
    allowFrom('pd', 's:D'),
    { kind: 'workload-endpoint-upsert', endpoint: { ...web, ingressTiers: tier(['pa']) } },
    { kind: 'workload-endpoint-upsert', endpoint: { ...db, ingressTiers: tier(['pb']) } },
    { kind: 'workload-endpoint-upsert', endpoint: { ...client, ingressTiers: tier(['pc']) } },
    { kind: 'workload-endpoint-upsert', endpoint: { ...spare, ingressTiers: tier(['pc']) } },
    { kind: 'workload-endpoint-upsert', endpoint: { ...other, ingressTiers: tier(['pd']) } },
  ];
  const clientTo = (ids: string[]): DataplaneMessage => ({ kind: 'workload-endpoint-upsert', endpoint: { ...client, ingressTiers: tier(ids) } });
  const committed = (st: { chainsWritten: number; setsVersioned: number }) => st.chainsWritten + st.setsVersioned;

  it('one endpoint moving to an existing group: ipset lines only, no chain written, old or new at every step', async () => {
    const r = await stepsOf(setup, [clientTo(['pd'])]);
    expect(r.before).not.toEqual(r.after);
    expect(r.oldOrNew).toBe(true);
    expect(r.stats).toMatchObject({ chainsWritten: 0, chainsDeleted: 0, setsVersioned: 0 });
  });

  it('the common label change: the endpoint moves and its address changes sets that guard other endpoints, still without a commit', async () => {
    // client joins other's group; its address leaves A (guarding web) for B (guarding db).
    const r = await stepsOf(setup, [
      clientTo(['pd']),
      { kind: 'ipset-remove-members', id: 's:A', members: ['10.65.0.13/32'] },
      { kind: 'ipset-add-members', id: 's:B', members: ['10.65.0.13/32'] },
    ]);
    expect(r.before).not.toEqual(r.after);
    expect(r.oldOrNew).toBe(true);
    expect(r.stats).toMatchObject({ chainsWritten: 0, setsVersioned: 0 });
  });

  it('a move whose address change touches a set guarding the moving endpoint itself falls back to a commit, old or new throughout', async () => {
    // client joins web's group (pa, naming A), and its address leaves A: A lies on client's own path.
    const r = await stepsOf(setup, [clientTo(['pa']), { kind: 'ipset-remove-members', id: 's:A', members: ['10.65.0.13/32'] }]);
    expect(r.oldOrNew).toBe(true);
    expect(committed(r.stats)).toBeGreaterThanOrEqual(1);
  });

  it('two endpoints moving in one batch: never one moved and the other not (a commit)', async () => {
    const r = await stepsOf(setup, [clientTo(['pd']), { kind: 'workload-endpoint-upsert', endpoint: { ...spare, ingressTiers: tier(['pa']) } }]);
    expect(r.oldOrNew).toBe(true);
    expect(committed(r.stats)).toBeGreaterThanOrEqual(1);
  });

  it('one endpoint moving in both directions: never its new ingress with its old egress (a commit)', async () => {
    const both: DataplaneMessage[] = [
      ...setup,
      allowFrom('qc', 's:C', 'egress'),
      allowFrom('qd', 's:D', 'egress'),
      { kind: 'workload-endpoint-upsert', endpoint: { ...client, ingressTiers: tier(['pc']), egressTiers: tier(['qc']) } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...spare, ingressTiers: tier(['pc']), egressTiers: tier(['qc']) } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...other, ingressTiers: tier(['pd']), egressTiers: tier(['qd']) } },
    ];
    const r = await stepsOf(both, [{ kind: 'workload-endpoint-upsert', endpoint: { ...client, ingressTiers: tier(['pd']), egressTiers: tier(['qd']) } }]);
    expect(r.oldOrNew).toBe(true);
    expect(committed(r.stats)).toBeGreaterThanOrEqual(1);
  });

  it('a kill -9 after any step of a move: a restart converges through old-or-new states and then writes nothing', async () => {
    const r = await stepsOf(setup, [clientTo(['pd'])]);
    const endState: DataplaneMessage[] = [allowAll, ...setup, clientTo(['pd']), { kind: 'in-sync' }];
    expect(r.kernels.length).toBeGreaterThan(0);
    for (const [i, crashed] of r.kernels.entries()) {
      const restart = simRunner(cloneSim(crashed));
      const atCrash = v(crashed);
      restart.onStep = (k) => expect(v(k).every((x, j) => x === atCrash[j] || x === r.after[j]), `restart after step ${i + 1}`).toBe(true);
      const dp = createIptablesDataplane({ runner: restart, lock: false, ipsetSession: false, ...IPSET });
      await dp.apply(endState);
      restart.onStep = undefined;
      expect(v(restart.kernel), `converged after a kill at step ${i + 1}`).toEqual(r.after);
      await dp.close();
      const again = createIptablesDataplane({ runner: restart, lock: false, ipsetSession: false, ...IPSET });
      await again.apply(endState);
      expect(again.stats()).toMatchObject({ chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setMembersChanged: 0, setsDestroyed: 0 });
      await again.close();
    }
  });
});

describe('group dispatch by IP set: the Engine drives it like the chain layout', () => {
  it('the same world gives the same verdicts in both layouts', async () => {
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        const rs = resources(w);
        const got: boolean[][] = [];
        for (const groupDispatch of ['chain', 'ipset'] as GroupDispatch[]) {
          const sim = simRunner();
          const dp = createIptablesDataplane({ runner: sim, lock: false, ipsetSession: false, groupDispatch });
          const engine = createEngine({ node: NODE, dataplane: dp });
          for (const r of rs) engine.upsert(r);
          await engine.flush();
          got.push(verdicts(sim.kernel));
          await dp.close();
        }
        expect(got[1]).toEqual(got[0]);
        expect(got[0]).toEqual(reference(rs));
      }),
      { numRuns: propRuns(40) },
    );
  }, 300_000);
});
