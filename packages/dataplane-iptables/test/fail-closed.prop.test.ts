/**
 * Fail closed, as a property over random old and new states (pod labels and Calico policies over
 * the conformance world, changed together in one Engine flush): the real iptables dataplane
 * applies the change to a simulated kernel (test/support/kernel-sim.ts) that records every atomic step
 * (each ipset line, each table commit), and at every one of them each pod-to-pod flow must get
 * its old verdict or its new one — never one neither state gives. Then `kill -9` at each of those
 * steps: a fresh dataplane (a restarted process, fed a fresh Engine's first flush) converges from
 * the state the kill left, again through old-or-new states only, to the new verdicts, and a
 * further restart finds nothing to write. The end states are also checked against `evaluate()`,
 * so the interpreter cannot drift from the semantics. Host endpoints and batches over several
 * tables: fail-closed-tables.prop.test.ts.
 */
import { createEngine, type DataplaneMessage } from '@gingham/core';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createIptablesDataplane } from '../src/index.js';
import { NODE } from '@gingham/dataplane-conformance';
import { change, changeSteps, expectOldOrNew, labels, reference, resources, restartAfterEachKill, verdicts, world } from './fail-closed-world.js';
import { cloneSim, forwardVerdict, simRunner, type SimKernel, type SimPacket } from './support/kernel-sim.js';

describe('fail closed: every intermediate kernel state of an apply gives each flow its old or its new verdict', () => {
  it('label and policy changes in one apply, and kill -9 after any step followed by a restart', async () => {
    await fc.assert(
      fc.asyncProperty(
        world.chain((old) => change(old).map((next) => ({ old, next }))),
        async ({ old, next }) => {
          const oldRs = resources(old);
          const newRs = resources(next);
          // The change as one Engine flush: upserts of what is new or changed, deletes of what went.
          const { dp, before, after, steps } = await changeSteps(oldRs, newRs);
          expect(before).toEqual(reference(oldRs));
          expect(after).toEqual(reference(newRs));
          steps.forEach((k, i) => expectOldOrNew(`step ${i + 1} of ${steps.length}`, verdicts(k), before, after));

          // kill -9 after step i: a restarted process converges from there, old-or-new throughout.
          await restartAfterEachKill(steps, newRs, verdicts, after, (at, got, atCrash) => expectOldOrNew(at, got, atCrash, after));
          await dp.close();
        },
      ),
      { numRuns: propRuns(40) },
    );
  }, 600_000);
});

describe('fail closed: label changes alone (members only, the in-place path)', () => {
  it('every ipset step of a relabelling gives each flow its old or its new verdict', async () => {
    await fc.assert(
      fc.asyncProperty(world, labels, async (old, next) => {
        const sim = simRunner();
        const dp = createIptablesDataplane({ runner: sim, lock: false, ipsetSession: false });
        const engine = createEngine({ node: NODE, dataplane: dp });
        for (const r of resources(old)) engine.upsert(r);
        await engine.flush();
        const before = verdicts(sim.kernel);
        const steps: SimKernel[] = [];
        sim.onStep = (k) => steps.push(cloneSim(k));
        for (const r of resources({ ...old, labels: next }).filter((x) => x.kind === 'Pod')) engine.upsert(r);
        await engine.flush();
        const after = verdicts(sim.kernel);
        steps.forEach((k, i) => expectOldOrNew(`step ${i + 1} of ${steps.length}`, verdicts(k), before, after));
        await dp.close();
      }),
      { numRuns: propRuns(200) },
    );
  }, 600_000);
});

describe('fail closed: the two shapes that make in-place member changes unsafe', () => {
  const allowAll: DataplaneMessage = { kind: 'profile-upsert', profile: { id: 'all', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } };
  const web = { id: 'a/web', name: 'web', node: NODE, interfaceName: 'caliweb', addresses: ['10.65.0.11/32'], egressTiers: [], profileIds: ['all'], stagedPolicyIds: [] };
  const peer = { id: 'b/client', name: 'client', node: NODE, interfaceName: 'caliclient', addresses: ['10.65.0.13/32'], ingressTiers: [], egressTiers: [], profileIds: ['all'], stagedPolicyIds: [] };
  const db = { ...peer, id: 'a/db', name: 'db', interfaceName: 'calidb', addresses: ['10.65.0.12/32'] };
  const peer2 = { ...peer, id: 'b/other', name: 'other', interfaceName: 'caliother', addresses: ['10.65.0.14/32'] };
  const tier = (ids: string[]) => [{ name: 'default', defaultAction: 'Deny' as const, policyIds: ids }];
  const packet = (src: string, iface: string) => ({ in: iface, out: 'caliweb', src, dst: '10.65.0.11', dport: 80 });

  async function stepsOf(setup: DataplaneMessage[], change: DataplaneMessage[], probes: SimPacket[]) {
    const sim = simRunner();
    const dp = createIptablesDataplane({ runner: sim, lock: false, ipsetSession: false });
    await dp.apply([allowAll, ...setup]);
    const v = (k: SimKernel) => probes.map((p) => forwardVerdict(k, p));
    const before = v(sim.kernel);
    const seen: boolean[][] = [];
    sim.onStep = (k) => seen.push(v(k));
    await dp.apply(change);
    return { before, after: v(sim.kernel), seen, stats: dp.stats() };
  }

  it('"deny from D" before "allow from A", an address leaving both: the sets are versioned and switched in one commit', async () => {
    const setup: DataplaneMessage[] = [
      { kind: 'ipset-replace', id: 's:0deny', type: 'nets', members: ['10.65.0.13/32'] },
      { kind: 'ipset-replace', id: 's:1allow', type: 'nets', members: ['10.65.0.13/32'] },
      { kind: 'policy-upsert', policy: { id: 'p', tier: 'default', staged: false, egress: [], ingress: [
        { action: 'Deny', source: { ipSetId: 's:0deny' }, destination: {} },
        { action: 'Allow', source: { ipSetId: 's:1allow' }, destination: {} },
      ] } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...web, ingressTiers: tier(['p']) } },
      { kind: 'workload-endpoint-upsert', endpoint: peer },
      { kind: 'in-sync' },
    ];
    const change: DataplaneMessage[] = [
      { kind: 'ipset-remove-members', id: 's:0deny', members: ['10.65.0.13/32'] },
      { kind: 'ipset-remove-members', id: 's:1allow', members: ['10.65.0.13/32'] },
    ];
    const r = await stepsOf(setup, change, [packet('10.65.0.13', 'caliclient')]);
    expect(r.before).toEqual([false]);
    expect(r.after).toEqual([false]);
    expect(r.seen.every(([x]) => x === false)).toBe(true);
    expect(r.stats).toMatchObject({ setsVersioned: 2, chainsWritten: 1 });
  });

  it('"selector S" with "notSelector S", two addresses flipping: never both seen half-flipped', async () => {
    const setup: DataplaneMessage[] = [
      { kind: 'ipset-replace', id: 's:S', type: 'nets', members: ['10.65.0.13/32'] },
      { kind: 'policy-upsert', policy: { id: 'p', tier: 'default', staged: false, ingress: [], egress: [
        { action: 'Allow', source: { ipSetId: 's:S' }, destination: { notIpSetId: 's:S' } },
      ] } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...peer, egressTiers: tier(['p']) } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...peer2, egressTiers: tier(['p']) } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...web, ingressTiers: [] } },
      { kind: 'in-sync' },
    ];
    // client (in S) → other (not in S) is allowed; after the flip other is in S and client not: allowed again.
    const probe = { in: 'caliclient', out: 'caliother', src: '10.65.0.13', dst: '10.65.0.14', dport: 80 };
    const change: DataplaneMessage[] = [
      { kind: 'ipset-add-members', id: 's:S', members: ['10.65.0.14/32'] },
      { kind: 'ipset-remove-members', id: 's:S', members: ['10.65.0.13/32'] },
    ];
    const r = await stepsOf(setup, change, [probe]);
    expect(r.before).toEqual([true]);
    expect(r.after).toEqual([false]);
    expect(r.seen.every(([x]) => x === true || x === false)).toBe(true);
    // One set, two lines: rebuilt in its temporary and swapped in by one line.
    expect(r.stats).toMatchObject({ setsSwapped: 1, setsVersioned: 0, chainsWritten: 0 });
  });

  it('the issue: a label and the policy matching it change in one apply; the old rules never see the new members', async () => {
    const setup: DataplaneMessage[] = [
      { kind: 'ipset-replace', id: 's:db', type: 'nets', members: ['10.65.0.12/32'] },
      { kind: 'policy-upsert', policy: { id: 'p', tier: 'default', staged: false, egress: [], ingress: [{ action: 'Allow', source: { ipSetId: 's:db' }, destination: {} }] } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...web, ingressTiers: tier(['p']) } },
      { kind: 'workload-endpoint-upsert', endpoint: peer },
      { kind: 'workload-endpoint-upsert', endpoint: db },
      { kind: 'in-sync' },
    ];
    // client becomes app=db, and the policy now allows only db pods of namespace a (a new set).
    const change: DataplaneMessage[] = [
      { kind: 'ipset-add-members', id: 's:db', members: ['10.65.0.13/32'] },
      { kind: 'ipset-replace', id: 's:db-in-a', type: 'nets', members: ['10.65.0.12/32'] },
      { kind: 'policy-upsert', policy: { id: 'p', tier: 'default', staged: false, egress: [], ingress: [{ action: 'Allow', source: { ipSetId: 's:db-in-a' }, destination: {} }] } },
      { kind: 'ipset-delete', id: 's:db' },
    ];
    const r = await stepsOf(setup, change, [packet('10.65.0.13', 'caliclient'), packet('10.65.0.12', 'calidb')]);
    expect(r.before).toEqual([false, true]);
    expect(r.after).toEqual([false, true]);
    expect(r.seen.map(([c]) => c)).not.toContain(true);
    expect(r.seen.map(([, d]) => d)).not.toContain(false);
  });

  it('an address moving between two sets that guard different endpoints (ingress) changes in place; egress of one and ingress of another is versioned', async () => {
    const policy = (id: string, set: string, dir: 'ingress' | 'egress'): DataplaneMessage => ({
      kind: 'policy-upsert',
      policy: { id, tier: 'default', staged: false, ingress: dir === 'ingress' ? [{ action: 'Allow', source: { ipSetId: set }, destination: {} }] : [], egress: dir === 'egress' ? [{ action: 'Allow', source: {}, destination: { ipSetId: set } }] : [] },
    });
    const setup = (dirDb: 'ingress' | 'egress'): DataplaneMessage[] => [
      { kind: 'ipset-replace', id: 's:A', type: 'nets', members: ['10.65.0.13/32'] },
      { kind: 'ipset-replace', id: 's:B', type: 'nets', members: [] },
      policy('pa', 's:A', 'ingress'),
      policy('pb', 's:B', dirDb),
      { kind: 'workload-endpoint-upsert', endpoint: { ...web, ingressTiers: tier(['pa']) } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...db, ...(dirDb === 'ingress' ? { ingressTiers: tier(['pb']) } : { egressTiers: tier(['pb']) }) } },
      { kind: 'workload-endpoint-upsert', endpoint: peer },
      { kind: 'in-sync' },
    ];
    const move: DataplaneMessage[] = [
      { kind: 'ipset-add-members', id: 's:B', members: ['10.65.0.13/32'] },
      { kind: 'ipset-remove-members', id: 's:A', members: ['10.65.0.13/32'] },
    ];
    const probes = [packet('10.65.0.13', 'caliclient'), { in: 'caliclient', out: 'calidb', src: '10.65.0.13', dst: '10.65.0.12', dport: 80 }];
    const apart = await stepsOf(setup('ingress'), move, probes);
    expect(apart.stats).toMatchObject({ setsVersioned: 0, chainsWritten: 0, setMembersChanged: 2 });
    expect(apart.seen.every((v) => v.every((x, i) => x === apart.before[i] || x === apart.after[i]))).toBe(true);
    const meet = await stepsOf(setup('egress'), move, [packet('10.65.0.12', 'calidb')]);
    expect(meet.stats).toMatchObject({ setsVersioned: 2 });
  });

  it('an endpoint moving to other policies, its address between sets guarding other endpoints: sets in place, one chain rewritten; versioned when a set guards the moving endpoint', async () => {
    const policy = (id: string, set: string): DataplaneMessage => ({ kind: 'policy-upsert', policy: { id, tier: 'default', staged: false, egress: [], ingress: [{ action: 'Allow', source: { ipSetId: set }, destination: {} }] } });
    const setup: DataplaneMessage[] = [
      { kind: 'ipset-replace', id: 's:A', type: 'nets', members: ['10.65.0.13/32'] },
      { kind: 'ipset-replace', id: 's:B', type: 'nets', members: [] },
      { kind: 'ipset-replace', id: 's:C', type: 'nets', members: ['10.65.0.14/32'] },
      { kind: 'ipset-replace', id: 's:D', type: 'nets', members: ['10.65.0.12/32'] },
      policy('pa', 's:A'),
      policy('pb', 's:B'),
      policy('pc', 's:C'),
      policy('pd', 's:D'),
      { kind: 'workload-endpoint-upsert', endpoint: { ...web, ingressTiers: tier(['pa']) } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...db, ingressTiers: tier(['pb']) } },
      { kind: 'workload-endpoint-upsert', endpoint: { ...peer, ingressTiers: tier(['pd']) } },
      { kind: 'workload-endpoint-upsert', endpoint: peer2 },
      { kind: 'in-sync' },
    ];
    // client (in A, guarded by pd) becomes "app C": guarded by pc, its address leaves A for B.
    const move = (guard: string): DataplaneMessage[] => [
      { kind: 'workload-endpoint-upsert', endpoint: { ...peer, ingressTiers: tier([guard]) } },
      { kind: 'ipset-remove-members', id: 's:A', members: ['10.65.0.13/32'] },
      { kind: 'ipset-add-members', id: 's:B', members: ['10.65.0.13/32'] },
    ];
    const flow = (from: string, src: string, to: string, dst: string) => ({ in: from, out: to, src, dst, dport: 80 });
    const probes = [
      packet('10.65.0.13', 'caliclient'),
      flow('caliclient', '10.65.0.13', 'calidb', '10.65.0.12'),
      flow('caliother', '10.65.0.14', 'caliclient', '10.65.0.13'),
      flow('calidb', '10.65.0.12', 'caliclient', '10.65.0.13'),
    ];
    const oldOrNew = (r: Awaited<ReturnType<typeof stepsOf>>): boolean => r.seen.every((v) => v.every((x, i) => x === r.before[i] || x === r.after[i]));
    const apart = await stepsOf(setup, move('pc'), probes);
    expect(apart.before).toEqual([true, false, false, true]);
    expect(apart.after).toEqual([false, true, true, false]);
    expect(oldOrNew(apart)).toBe(true);
    // client's chain, and pc's (no endpoint referenced it before).
    expect(apart.stats).toMatchObject({ setsVersioned: 0, chainsWritten: 2, setMembersChanged: 2 });
    // Guarded by pa (naming A) afterwards: A lies on a path through the rewritten chain.
    const meet = await stepsOf(setup, move('pa'), probes);
    expect(oldOrNew(meet)).toBe(true);
    expect(meet.stats.setsVersioned).toBeGreaterThanOrEqual(1);
  });

  it('rejects a batch that breaks the contract, writes nothing, and keeps the state as it was', async () => {
    const sim = simRunner();
    const dp = createIptablesDataplane({ runner: sim, lock: false, ipsetSession: false });
    await dp.apply([{ kind: 'ipset-replace', id: 's:x', type: 'nets', members: [] }, { kind: 'in-sync' }]);
    const steps = sim.steps;
    for (const bad of [
      [{ kind: 'ipset-add-members', id: 's:unknown', members: ['10.0.0.1/32'] }],
      [{ kind: 'ipset-add-members', id: 's:x', members: ['10.0.0.1/32'] }, { kind: 'policy-upsert', policy: { id: 'q', tier: 'default', staged: false, egress: [], ingress: [{ action: 'Allow', source: { ipSetId: 's:missing' }, destination: {} }] } }],
      [{ kind: 'workload-endpoint-upsert', endpoint: { ...web, ingressTiers: tier(['no-such-policy']) } }],
    ] as DataplaneMessage[][]) {
      await expect(dp.apply(bad)).rejects.toMatchObject({ code: 'IPTABLES_CONTRACT_VIOLATION' });
    }
    expect(sim.steps).toBe(steps);
    // The rolled-back state: 10.0.0.1 never joined s:x, so a valid batch sees s:x empty.
    await dp.apply([{ kind: 'ipset-add-members', id: 's:x', members: ['10.0.0.2/32'] }]);
    expect([...sim.kernel.sets.get('gh40s:x')!.members]).toEqual(['10.0.0.2/32']);
  });
});
