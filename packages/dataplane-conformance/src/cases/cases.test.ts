import { buildSnapshot, evaluate } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { CASES, loadResources, WORLD } from './cases.js';
import { checkFlipScenario, expectedFlip, FLIP_PROBES, FLIP_STATES, steadyFlows } from './flip.js';
import { quickstartExampleDir, quickstartModel } from './quickstart.js';

// The kernel suite probes these with real packets and compares with evaluate(); here, without
// root, that each case's pinned intent is what evaluate() says, so a wrong `expect` (or a case
// that would pass because everything is allowed) shows up on every machine.
describe('conformance cases', () => {
  for (const c of CASES) {
    it(`evaluate() gives every probe its pinned verdict, allowing some and denying some: ${c.name}`, () => {
      const { snapshot, issues } = buildSnapshot(loadResources(WORLD + (c.manifests ? `---\n${c.manifests}` : '')));
      expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
      const got = c.probes.map((p) => `${p.from} -> ${p.to} ${p.protocol}/${p.port}: ${evaluate(snapshot, { src: p.from, dst: p.to, protocol: p.protocol, dstPort: p.port }).allowed}`);
      expect(got).toEqual(c.probes.map((p) => `${p.from} -> ${p.to} ${p.protocol}/${p.port}: ${p.expect}`));
    });
  }
  it('every case but the default-allow one denies something', () => {
    expect(CASES.filter((c) => c.probes.every((p) => p.expect)).map((c) => c.name)).toEqual(['default allow via profiles']);
  });
});

describe('the flip scenario of the fail-closed cases and the kill -9 campaigns', () => {
  it('evaluate() gives the flip probes the verdicts the scenario claims in both states', () => {
    checkFlipScenario(loadResources);
    expect(expectedFlip('A')).not.toEqual(expectedFlip('B'));
  });

  it('has flows both states deny (guarded by the probers) and flows both allow', () => {
    const steady = steadyFlows(loadResources).map((f) => `${f.from} -> ${f.to}: ${f.allowed ? 'allow' : 'deny'}`);
    expect(steady).toEqual(['a/web -> a/db: allow', 'a/db -> a/web: allow', 'b/client -> a/web: deny', 'b/client -> a/db: deny']);
    for (const p of FLIP_PROBES.filter((x) => x.a === x.b)) expect(steady).toContain(`${p.from} -> ${p.to}: ${p.a ? 'allow' : 'deny'}`);
  });

  it('state B differs from A by one label and one policy', () => {
    const [a, b] = (['A', 'B'] as const).map((s) => loadResources(FLIP_STATES[s]).map((r) => JSON.stringify(r)));
    expect(a!.filter((x) => !b!.includes(x))).toHaveLength(2);
  });
});

describe('the quick-start matrix', () => {
  it('has 48 cells over the example\'s four pods, 9 of them allowed', () => {
    const model = quickstartModel(quickstartExampleDir());
    expect(model.pods.map((p) => `${p.id} ${p.ip}`)).toEqual(['monitoring/prometheus-0 10.65.0.40', 'shop/backend-0 10.65.0.20', 'shop/db-0 10.65.0.30', 'shop/frontend-0 10.65.0.10']);
    expect(model.cells).toHaveLength(48);
    expect(model.cells.filter((c) => c.allowed)).toHaveLength(9);
  });
});
