/**
 * The random worlds of the fail-closed properties (pods of the conformance world, their labels,
 * Calico policies over them), the pod-to-pod flows probed, and a restarted dataplane: shared by
 * fail-closed.prop.test.ts and fail-closed-tables.prop.test.ts. A test helper, not a test.
 */
import { buildSnapshot, createEngine, evaluate, workloadInterfaceName, type Resource } from '@gingham/core';
import fc from 'fast-check';
import { createIptablesDataplane, type IptablesDataplaneOptions } from '../src/index.js';
import { loadResources, NODE, podManifest, TCP_PORTS, WORLD_PODS } from '@gingham/dataplane-conformance';
import { expect } from 'vitest';
import { cloneSim, forwardVerdict, simRunner, type SimKernel } from './support/kernel-sim.js';
export const APPS = ['web', 'db', 'client'] as const;
export const NAMESPACES = `
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: y}}
`;

export type App = (typeof APPS)[number];
export const SELECTORS = ["app == 'web'", "app == 'db'", "app == 'client'", 'all()', "app in {'web', 'db'}", "app != 'db'"];
export const PORTS = [80, 443, 8080, 9005];

export interface Rule {
  readonly action: 'Allow' | 'Deny' | 'Pass';
  readonly selector?: string;
  readonly notSelector?: string;
  readonly port?: number;
}
export interface Policy {
  readonly tier: 'default' | 'pass';
  readonly order: number;
  readonly selector: string;
  readonly egress: boolean;
  readonly rules: readonly Rule[];
}
export interface World {
  readonly labels: readonly App[];
  readonly policies: readonly Policy[];
}

export const rule: fc.Arbitrary<Rule> = fc.record(
  { action: fc.constantFrom('Allow', 'Deny', 'Pass'), selector: fc.constantFrom(...SELECTORS), notSelector: fc.constantFrom(...SELECTORS), port: fc.constantFrom(...PORTS) },
  { requiredKeys: ['action'] },
);
export const policy: fc.Arbitrary<Policy> = fc.record({
  tier: fc.constantFrom('default', 'pass'),
  order: fc.integer({ min: 1, max: 3 }),
  selector: fc.constantFrom(...SELECTORS),
  egress: fc.boolean(),
  rules: fc.array(rule, { minLength: 1, maxLength: 3 }),
});
export const labels = fc.tuple(fc.constantFrom(...APPS), fc.constantFrom(...APPS), fc.constantFrom(...APPS));
export const world: fc.Arbitrary<World> = fc.record({ labels, policies: fc.array(policy, { minLength: 1, maxLength: 3 }) });

/** A new world close to the old one (same selectors in play): labels flip, rules mutate, policies come and go. */
export const change = (old: World): fc.Arbitrary<World> =>
  fc.record({
    labels: fc.oneof(fc.constant(old.labels), labels),
    policies: fc.oneof(
      fc.constant(old.policies),
      fc.tuple(...old.policies.map((p) => fc.oneof(fc.constant(p), rule.map((r) => ({ ...p, rules: [r, ...p.rules.slice(1)] })), fc.constant({ ...p, rules: p.rules.map((r) => ({ ...r, action: r.action === 'Allow' ? ('Deny' as const) : ('Allow' as const) })) })))),
      fc.array(policy, { minLength: 1, maxLength: 3 }),
    ),
  });

export function policyDoc(p: Policy, i: number): unknown {
  const rules = p.rules.map((r) => {
    const peer: Record<string, unknown> = {};
    if (r.selector) peer.selector = r.selector;
    if (r.notSelector) peer.notSelector = r.notSelector;
    const out: Record<string, unknown> = { action: r.action, [p.egress ? 'destination' : 'source']: peer };
    if (r.port !== undefined) {
      out.protocol = 'TCP';
      out.destination = { ...((out.destination as object | undefined) ?? {}), ports: [r.port] };
    }
    return out;
  });
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: p.tier === 'default' ? `p${i}` : `pass.p${i}` },
    spec: { tier: p.tier, order: p.order, selector: p.selector, types: [p.egress ? 'Egress' : 'Ingress'], [p.egress ? 'egress' : 'ingress']: rules },
  };
}

export function resources(w: World): Resource[] {
  const pods = WORLD_PODS.map((p, i) => podManifest(p.namespace, p.name, p.ip, { app: w.labels[i]! })).join('');
  const docs = [
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'pass' }, spec: { order: 100, defaultAction: 'Pass' } },
    ...w.policies.map(policyDoc),
  ];
  return loadResources(`${NAMESPACES}${pods}---\n${docs.map((d) => JSON.stringify(d)).join('\n---\n')}`);
}

export const key = (r: Resource): string => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;

export const flows = WORLD_PODS.flatMap((from) =>
  WORLD_PODS.filter((to) => to !== from).flatMap((to) =>
    TCP_PORTS.map((port) => ({
      id: `${from.namespace}/${from.name} -> ${to.namespace}/${to.name}:${port}`,
      from: `${from.namespace}/${from.name}`,
      to: `${to.namespace}/${to.name}`,
      packet: { in: workloadInterfaceName(from.namespace, from.name), out: workloadInterfaceName(to.namespace, to.name), src: from.ip, dst: to.ip, dport: port },
      port,
    })),
  ),
);

export const verdicts = (k: SimKernel): boolean[] => flows.map((f) => forwardVerdict(k, f.packet));

export function reference(rs: readonly Resource[]): boolean[] {
  const { snapshot } = buildSnapshot(rs);
  return flows.map((f) => evaluate(snapshot, { src: f.from, dst: f.to, protocol: 'TCP', dstPort: f.port }).allowed);
}

export function expectOldOrNew(at: string, got: boolean[], before: boolean[], after: boolean[]): void {
  const bad = flows.flatMap((f, i) => (got[i] !== before[i] && got[i] !== after[i] ? [`${f.id}: ${got[i] ? 'allowed' : 'denied'}`] : []));
  if (bad.length > 0) throw new Error(`${at}: verdicts neither state gives:\n${bad.join('\n')}`);
}

/** Options of every dataplane these helpers make (the layout under test: `groupDispatch`). */
export type WorldOptions = Pick<IptablesDataplaneOptions, 'groupDispatch'>;

/** Feeds a fresh Engine `rs` and applies its first flush through a fresh dataplane on `runner`. */
export async function enforceFresh(runner: ReturnType<typeof simRunner>, rs: readonly Resource[], o: WorldOptions = {}) {
  const dp = createIptablesDataplane({ runner, lock: false, ipsetSession: false, ...o });
  const engine = createEngine({ node: NODE, dataplane: dp });
  for (const r of rs) engine.upsert(r);
  await engine.flush();
  await dp.close();
  return dp;
}

/** Applies the change `prev` → `next` as one Engine flush: upserts of what is new or changed, deletes of what went. */
export async function flushChange(engine: ReturnType<typeof createEngine>, prev: readonly Resource[], next: readonly Resource[]): Promise<void> {
  const oldByKey = new Map(prev.map((r) => [key(r), JSON.stringify(r)]));
  const newKeys = new Set(next.map(key));
  for (const r of next) if (oldByKey.get(key(r)) !== JSON.stringify(r)) engine.upsert(r);
  for (const r of prev) if (!newKeys.has(key(r))) engine.delete(r.kind, r.metadata.namespace ?? '', r.metadata.name, r.apiVersion);
  await engine.flush();
}

/**
 * Enforces `prev` through a fresh dataplane on a fresh simulated kernel, then the change to `next`
 * as one Engine flush: the verdicts before and after, and the kernel after every step of the change.
 */
export async function changeSteps(prev: readonly Resource[], next: readonly Resource[], o: WorldOptions = {}) {
  const sim = simRunner();
  const dp = createIptablesDataplane({ runner: sim, lock: false, ipsetSession: false, ...o });
  const engine = createEngine({ node: NODE, dataplane: dp });
  for (const r of prev) engine.upsert(r);
  await engine.flush();
  const before = verdicts(sim.kernel);
  const steps: SimKernel[] = [];
  sim.onStep = (k) => steps.push(cloneSim(k));
  await flushChange(engine, prev, next);
  sim.onStep = undefined;
  return { sim, dp, before, after: verdicts(sim.kernel), steps };
}

/**
 * kill -9 after each of `steps`: a restarted process (fresh dataplane and Engine fed `rs`)
 * converges from there to `after`, `check` holding at each of its steps (given the verdicts at
 * the crash), and a further restart writes nothing.
 */
export async function restartAfterEachKill(steps: readonly SimKernel[], rs: readonly Resource[], read: (k: SimKernel) => boolean[], after: boolean[], check: (at: string, got: boolean[], atCrash: boolean[]) => void, o: WorldOptions = {}): Promise<void> {
  for (const [i, crashed] of steps.entries()) {
    const atCrash = read(crashed);
    const restart = simRunner(cloneSim(crashed));
    restart.onStep = (k) => check(`restart after a kill at step ${i + 1}`, read(k), atCrash);
    await enforceFresh(restart, rs, o);
    restart.onStep = undefined;
    expect(read(restart.kernel), `converged after a kill at step ${i + 1}`).toEqual(after);
    const again = await enforceFresh(restart, rs, o);
    expect(again.stats(), `a second restart after a kill at step ${i + 1} writes nothing`).toMatchObject({ chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setMembersChanged: 0, setsDestroyed: 0 });
  }
}
