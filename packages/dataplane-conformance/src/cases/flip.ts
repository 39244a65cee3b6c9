/**
 * The fail-closed scenario of the conformance suite: two states one apply apart (a label and the
 * policy that matches it change together), the flows whose verdict must never waver between
 * them, and the probe loop that flips a dataplane between the two under continuous probes. The
 * kill -9 campaigns (`crash/`) move a real `gingham enforce` between the same two states.
 * Verdicts come from `evaluate()`; `checkFlipScenario` pins that the scenario says what it claims.
 */
import { buildSnapshot, evaluate, type Resource } from '@gingham/core';
import { expect } from 'vitest';
import { podManifest, WORLD, WORLD_PODS } from './cases.js';
import { probeTcp, startProber } from '../topology/probes.js';
import type { PodHandle, Topology } from '../topology/topology.js';

/** The port of the flip scenario's servers (every pod; they answer "ok" and close). */
export const FLIP_PORT = 9100;

const flipPolicy = (source: string): string => `---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: flip}
spec:
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: TCP, source: ${source}, destination: {ports: [${FLIP_PORT}]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-in}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: TCP, source: {selector: app == 'web'}, destination: {ports: [${FLIP_PORT}]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-out}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
  - {action: Allow, destination: {selector: app == 'db'}}
`;

/**
 * State A: b/client is `app=client`; web admits `app == 'db'`. State B (one apply away): b/client
 * becomes `app=db` and web admits only db pods of namespace a. The `app == 'db'` set stays in
 * use (web's egress names it) and gains b/client, so between the two states old rules with new
 * members would admit b/client → a/web, which is denied in both; a/db → a/web is allowed in
 * both; a/db → b/client changes (allowed in A, denied in B: b/client is now a db pod).
 */
export const FLIP_STATES = {
  A: `${WORLD}${flipPolicy("{selector: app == 'db'}")}`,
  B: `${WORLD.replace(podManifest('b', 'client', '10.65.0.13', { app: 'client' }), podManifest('b', 'client', '10.65.0.13', { app: 'db' }))}${flipPolicy("{selector: app == 'db', namespaceSelector: team == 'x'}")}`,
} as const;

export interface FlipProbe {
  readonly from: string;
  readonly to: string;
  /** The verdict in state A and in state B. */
  readonly a: boolean;
  readonly b: boolean;
}

export const FLIP_PROBES: readonly FlipProbe[] = [
  { from: 'b/client', to: 'a/web', a: false, b: false },
  { from: 'a/db', to: 'a/web', a: true, b: true },
  { from: 'a/db', to: 'b/client', a: true, b: false },
];

/** Checks that `evaluate()` gives the flip probes the verdicts the scenario claims. */
export function checkFlipScenario(load: (text: string) => Resource[]): void {
  for (const [state, text] of Object.entries(FLIP_STATES)) {
    const { snapshot } = buildSnapshot(load(text));
    for (const p of FLIP_PROBES) {
      const want = state === 'A' ? p.a : p.b;
      expect(evaluate(snapshot, { src: p.from, dst: p.to, protocol: 'TCP', dstPort: FLIP_PORT }).allowed, `evaluate() in state ${state}: ${p.from} -> ${p.to}`).toBe(want);
    }
  }
}

/** Every ordered pair of world pods whose verdict on `FLIP_PORT` is the same in A and in B, per `evaluate()`. */
export function steadyFlows(load: (text: string) => Resource[]): { readonly from: string; readonly to: string; readonly allowed: boolean }[] {
  const [a, b] = (['A', 'B'] as const).map((s) => buildSnapshot(load(FLIP_STATES[s])).snapshot);
  const ids = WORLD_PODS.map((p) => `${p.namespace}/${p.name}`);
  const out: { from: string; to: string; allowed: boolean }[] = [];
  for (const from of ids) {
    for (const to of ids) {
      if (from === to) continue;
      const flow = { src: from, dst: to, protocol: 'TCP', dstPort: FLIP_PORT };
      const inA = evaluate(a!, flow).allowed;
      if (inA === evaluate(b!, flow).allowed) out.push({ from, to, allowed: inA });
    }
  }
  return out;
}

const pod = (topo: Topology, id: string): PodHandle => {
  const [ns, name] = id.split('/') as [string, string];
  return topo.pod(ns, name);
};

/** Probes every flip probe once (in parallel) and returns "from -> to: allow|deny" lines. */
export async function probeFlip(topo: Topology, timeoutMs = 800): Promise<string[]> {
  return Promise.all(FLIP_PROBES.map(async (p) => `${p.from} -> ${p.to}: ${(await probeTcp(topo, pod(topo, p.from), pod(topo, p.to), FLIP_PORT, timeoutMs)) ? 'allow' : 'deny'}`));
}

export const expectedFlip = (state: 'A' | 'B'): string[] => FLIP_PROBES.map((p) => `${p.from} -> ${p.to}: ${(state === 'A' ? p.a : p.b) ? 'allow' : 'deny'}`);

/** Lines a state in the middle may show: the doubly-denied and doubly-allowed probes fixed, the others either way. */
export function expectOldOrNew(got: string[], at: string): void {
  FLIP_PROBES.forEach((p, i) => {
    if (p.a === p.b) expect(got[i], `${at}: ${p.from} -> ${p.to} must stay ${p.a ? 'allowed' : 'denied'}`).toBe(`${p.from} -> ${p.to}: ${p.a ? 'allow' : 'deny'}`);
  });
}

/**
 * The probe loop: `enter(state)` brings the dataplane to a state (an apply); starting in A, the
 * dataplane flips A → B → A … at least `flips` times and for at least `minMs`, while b/client →
 * a/web (denied in both) is tried every millisecond and a/db → a/web (allowed in both) every
 * 5 ms, each attempt with a timeout below TCP's first SYN retransmission (so one dropped SYN is a
 * failure). Returns the counts. The pods must serve `FLIP_PORT` (`startOkServers(topo, FLIP_PORT)`).
 */
export async function flipUnderProbes(topo: Topology, enter: (state: 'A' | 'B') => Promise<void>, flips = 10, minMs = 3000): Promise<{ denied: { ok: number; fail: number }; allowed: { ok: number; fail: number } }> {
  await enter('A');
  expect(await probeFlip(topo)).toEqual(expectedFlip('A'));
  const denied = await startProber(topo, pod(topo, 'b/client'), pod(topo, 'a/web'), FLIP_PORT, { everyMs: 1, timeoutMs: 400 });
  const allowed = await startProber(topo, pod(topo, 'a/db'), pod(topo, 'a/web'), FLIP_PORT, { everyMs: 5, timeoutMs: 900 });
  let failure: unknown;
  try {
    const started = Date.now();
    for (let i = 0; i < flips || Date.now() - started < minMs; i++) {
      await enter(i % 2 === 0 ? 'B' : 'A');
      await new Promise((r) => setTimeout(r, 40));
    }
  } catch (e) {
    failure = e;
  }
  const result = { denied: await denied.stop(), allowed: await allowed.stop() };
  if (failure) throw failure;
  return result;
}
