/**
 * Fail closed with host endpoints: untracked (raw), pre-DNAT (mangle) and normal or
 * applyOnForward (filter) policy, so that one batch can change rules in several tables while
 * iptables-restore commits one table at a time. Random old and new states (endpoint present or
 * not, default-allow profile or not, policies moving between tables, pod labels and policies)
 * go through the real dataplane onto the simulated kernel (test/support/kernel-sim.ts, which carries the
 * packet mark and conntrack state from raw to mangle to filter); at every atomic step, and after
 * a kill -9 at any step followed by a restart, a flow both states deny stays denied, and the
 * restart converges. Flows cross the host every way: remote ↔ host, remote ↔ pod forwarded,
 * pod ↔ host, pod ↔ pod. Doubly-allowed flows may drop between two commits (the generation
 * stamp drops what a mix of tables would decide): that is checked nowhere, on purpose.
 */
import { createEngine, workloadInterfaceName, type Resource } from '@gingham/core';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createIptablesDataplane } from '../src/index.js';
import { loadResources, NODE, podManifest, WORLD_PODS } from '@gingham/dataplane-conformance';
import { type App, flows, flushChange, labels, NAMESPACES, policy, type Policy, policyDoc, reference, restartAfterEachKill, verdicts } from './fail-closed-world.js';
import { cloneSim, flowVerdict, simRunner, type SimFlow, type SimKernel } from './support/kernel-sim.js';

const HOST_IP = '192.168.99.1';
const REMOTE_IP = '192.168.99.2';
const HOST_PORTS = [80, 8080] as const;
type HostPolicyKind = 'normal' | 'forward' | 'preDNAT' | 'untracked';
interface HostRule {
  readonly action: 'Allow' | 'Deny' | 'Pass';
  readonly port?: number;
  readonly net?: 'remote' | 'pods';
}
interface HostPolicy {
  readonly kind: HostPolicyKind;
  readonly egress: boolean;
  readonly order: number;
  readonly rules: readonly HostRule[];
}
interface HostWorld {
  readonly hep: boolean;
  readonly allowProfile: boolean;
  readonly labels: readonly App[];
  readonly hostPolicies: readonly HostPolicy[];
  readonly podPolicies: readonly Policy[];
}

const KINDS: readonly HostPolicyKind[] = ['normal', 'forward', 'preDNAT', 'untracked'];
const hostRule: fc.Arbitrary<HostRule> = fc.record(
  { action: fc.constantFrom('Allow', 'Deny', 'Pass'), port: fc.constantFrom(...HOST_PORTS), net: fc.constantFrom('remote', 'pods') },
  { requiredKeys: ['action'] },
);
const hostPolicy: fc.Arbitrary<HostPolicy> = fc.record({
  kind: fc.constantFrom(...KINDS),
  egress: fc.boolean(),
  order: fc.integer({ min: 1, max: 3 }),
  rules: fc.array(hostRule, { minLength: 1, maxLength: 2 }),
});
// Biased towards an endpoint that exists and a profile that allows: the shapes where a later
// table's old rules would let through what an earlier table's old rules denied.
const mostly = fc.constantFrom(true, true, true, false);
const hostWorld: fc.Arbitrary<HostWorld> = fc.record({
  hep: mostly,
  allowProfile: mostly,
  labels,
  hostPolicies: fc.array(hostPolicy, { minLength: 1, maxLength: 3 }),
  podPolicies: fc.array(policy, { minLength: 0, maxLength: 2 }),
});
const changeHost = (old: HostWorld): fc.Arbitrary<HostWorld> =>
  fc.record({
    hep: fc.oneof({ arbitrary: fc.constant(old.hep), weight: 3 }, { arbitrary: fc.boolean(), weight: 1 }),
    allowProfile: fc.oneof({ arbitrary: fc.constant(old.allowProfile), weight: 3 }, { arbitrary: fc.boolean(), weight: 1 }),
    labels: fc.oneof(fc.constant(old.labels), labels),
    hostPolicies: fc.oneof(
      {
        // The same rules moved to another table (untracked deny → normal deny: the shape).
        arbitrary: fc.tuple(
          ...old.hostPolicies.map((p) =>
            fc.oneof(
              { arbitrary: fc.constant(p), weight: 1 },
              { arbitrary: fc.constantFrom(...KINDS).map((kind) => ({ ...p, kind })), weight: 3 },
              { arbitrary: fc.constant({ ...p, rules: p.rules.map((r) => ({ ...r, action: r.action === 'Allow' ? ('Deny' as const) : ('Allow' as const) })) }), weight: 1 },
            ),
          ),
        ),
        weight: 4,
      },
      { arbitrary: fc.array(hostPolicy, { minLength: 1, maxLength: 3 }), weight: 1 },
    ),
    podPolicies: fc.oneof(fc.constant(old.podPolicies), fc.array(policy, { minLength: 0, maxLength: 2 })),
  });

function hostPolicyDoc(p: HostPolicy, i: number): unknown {
  const egress = p.kind === 'preDNAT' ? false : p.egress;
  const rules = p.rules.map((r) => {
    const out: Record<string, unknown> = { action: r.action };
    if (r.port !== undefined) {
      out.protocol = 'TCP';
      out.destination = { ports: [r.port] };
    }
    if (r.net !== undefined) out[egress ? 'destination' : 'source'] = { ...((out[egress ? 'destination' : 'source'] as object | undefined) ?? {}), nets: [r.net === 'remote' ? `${REMOTE_IP}/32` : '10.65.0.0/24'] };
    return out;
  });
  const spec: Record<string, unknown> = { order: p.order, selector: "role == 'node'", types: [egress ? 'Egress' : 'Ingress'], [egress ? 'egress' : 'ingress']: rules };
  if (p.kind !== 'normal') spec.applyOnForward = true;
  if (p.kind === 'preDNAT') spec.preDNAT = true;
  if (p.kind === 'untracked') spec.doNotTrack = true;
  return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: `h${i}` }, spec };
}

function hostResources(w: HostWorld): Resource[] {
  const pods = WORLD_PODS.map((p, i) => podManifest(p.namespace, p.name, p.ip, { app: w.labels[i]! })).join('');
  const docs: unknown[] = [
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'pass' }, spec: { order: 100, defaultAction: 'Pass' } },
    ...w.hostPolicies.map(hostPolicyDoc),
    ...w.podPolicies.map(policyDoc),
  ];
  if (w.hep) {
    docs.push({
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: 'node-eth0', labels: { role: 'node' } },
      spec: { node: NODE, interfaceName: 'eth0', expectedIPs: [HOST_IP], ...(w.allowProfile ? { profiles: ['projectcalico-default-allow'] } : {}) },
    });
  }
  return loadResources(`${NAMESPACES}${pods}---\n${docs.map((d) => JSON.stringify(d)).join('\n---\n')}`);
}

const podIf = (p: (typeof WORLD_PODS)[number]): string => workloadInterfaceName(p.namespace, p.name);
const hostFlows: { id: string; flow: SimFlow }[] = [
  ...HOST_PORTS.flatMap((dport) => [
    { id: `remote -> host:${dport}`, flow: { hook: 'input' as const, in: 'eth0', src: REMOTE_IP, dst: HOST_IP, dport } },
    { id: `host -> remote:${dport}`, flow: { hook: 'output' as const, out: 'eth0', src: HOST_IP, dst: REMOTE_IP, dport } },
    ...WORLD_PODS.flatMap((p) => [
      { id: `remote -> ${p.name}:${dport}`, flow: { hook: 'forward' as const, in: 'eth0', out: podIf(p), src: REMOTE_IP, dst: p.ip, dport } },
      { id: `${p.name} -> remote:${dport}`, flow: { hook: 'forward' as const, in: podIf(p), out: 'eth0', src: p.ip, dst: REMOTE_IP, dport } },
      { id: `${p.name} -> host:${dport}`, flow: { hook: 'input' as const, in: podIf(p), src: p.ip, dst: HOST_IP, dport } },
      { id: `host -> ${p.name}:${dport}`, flow: { hook: 'output' as const, out: podIf(p), src: HOST_IP, dst: p.ip, dport } },
    ]),
  ]),
  ...flows.filter((f) => (HOST_PORTS as readonly number[]).includes(f.port)).map((f) => ({ id: f.id, flow: { hook: 'forward' as const, ...f.packet } })),
].map((f) => ({ ...f, flow: { ...f.flow, local: [HOST_IP] } }));

const hostVerdicts = (k: SimKernel): boolean[] => hostFlows.map((f) => flowVerdict(k, f.flow));

/** Flows both states deny must be denied (doubly-allowed ones may drop between two commits). */
function expectDoublyDeniedDenied(at: string, got: boolean[], before: boolean[], after: boolean[]): void {
  const bad = hostFlows.flatMap((f, i) => (got[i] && !before[i] && !after[i] ? [f.id] : []));
  if (bad.length > 0) throw new Error(`${at}: flows both states deny got through:\n${bad.join('\n')}`);
}

/** Runs one old → new change with kill -9 after each step; returns the number of steps. */
async function checkHostChange(old: HostWorld, next: HostWorld): Promise<{ steps: number; tables: number }> {
  const oldRs = hostResources(old);
  const newRs = hostResources(next);
  const sim = simRunner();
  const dp = createIptablesDataplane({ runner: sim, lock: false, ipsetSession: false });
  const engine = createEngine({ node: NODE, dataplane: dp });
  for (const r of oldRs) engine.upsert(r);
  await engine.flush();
  const before = hostVerdicts(sim.kernel);
  const steps: SimKernel[] = [];
  let tables = 0;
  sim.onStep = (k) => steps.push(cloneSim(k));
  const tablesBefore = cloneSim(sim.kernel);
  await flushChange(engine, oldRs, newRs);
  sim.onStep = undefined;
  const after = hostVerdicts(sim.kernel);
  for (const t of ['raw', 'mangle', 'filter']) if (JSON.stringify([...tablesBefore.tables.get(t)!]) !== JSON.stringify([...sim.kernel.tables.get(t)!])) tables++;
  // Pod-to-pod flows (no host endpoint on their path) still match the semantics.
  expect(verdicts(sim.kernel)).toEqual(reference(newRs));
  steps.forEach((k, i) => expectDoublyDeniedDenied(`step ${i + 1} of ${steps.length}`, hostVerdicts(k), before, after));

  await restartAfterEachKill(steps, newRs, hostVerdicts, after, (at, got) => expectDoublyDeniedDenied(at, got, before, after));
  await dp.close();
  return { steps: steps.length, tables };
}

describe('fail closed with host endpoints: batches that change several tables (raw, mangle, filter)', () => {
  it('untracked, pre-DNAT, normal and applyOnForward policy changing together, endpoints coming and going, and kill -9 after any step', async () => {
    let multiTable = 0;
    await fc.assert(
      fc.asyncProperty(
        hostWorld.chain((old) => changeHost(old).map((next) => ({ old, next }))),
        async ({ old, next }) => {
          if ((await checkHostChange(old, next)).tables > 1) multiTable++;
        },
      ),
      { numRuns: propRuns(15) },
    );
    // Not vacuous: most runs change more than one table.
    expect(multiTable).toBeGreaterThan(0);
  }, 600_000);

  it('the issue: an untracked deny becomes a normal deny under a default-allow profile', async () => {
    const untrackedDeny: HostPolicy = { kind: 'untracked', egress: false, order: 1, rules: [{ action: 'Deny', port: 8080 }] };
    const base: HostWorld = { hep: true, allowProfile: true, labels: ['web', 'db', 'client'], hostPolicies: [untrackedDeny], podPolicies: [] };
    const r = await checkHostChange(base, { ...base, hostPolicies: [{ ...untrackedDeny, kind: 'forward' }] });
    expect(r.tables).toBe(3);
    // And back, and with a pre-DNAT allow in front of it.
    await checkHostChange({ ...base, hostPolicies: [{ ...untrackedDeny, kind: 'forward' }] }, base);
    await checkHostChange({ ...base, hostPolicies: [{ kind: 'preDNAT', egress: false, order: 1, rules: [{ action: 'Allow', port: 80 }] }, { ...untrackedDeny, order: 2 }] }, { ...base, hostPolicies: [{ ...untrackedDeny, kind: 'normal' }] });
  }, 120_000);
});
