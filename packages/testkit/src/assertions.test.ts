import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, type Snapshot } from '@gingham/core';
import { applyPolicyChange, arbPolicyChange, describePolicyChange } from './arb-policy-change.js';
import { assertAllows, assertDenies, assertIsolated, assertNoPath, assertOpensNothing, PolicyAssertionError } from './assertions.js';
import { ManifestsError, snapshotFromFiles, snapshotFromManifests } from './snapshot-from-files.js';

const quickstart = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));
let snapshot: Snapshot;
beforeAll(async () => {
  snapshot = await snapshotFromFiles(quickstart);
});

function thrown(f: () => unknown): PolicyAssertionError {
  try {
    f();
  } catch (e) {
    if (e instanceof PolicyAssertionError) return e;
    throw e;
  }
  throw new Error('expected a PolicyAssertionError');
}

describe('one-flow assertions', () => {
  it('pass silently and return the evaluation', () => {
    expect(assertAllows(snapshot, { from: 'shop/backend-0', to: 'shop/db-0', port: 5432 }).allowed).toBe(true);
    expect(assertDenies(snapshot, { src: 'shop/frontend-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }).allowed).toBe(false);
  });

  it('fail with the flow, the verdict and explain()’s trace', () => {
    const e = thrown(() => assertAllows(snapshot, { from: 'shop/frontend-0', to: 'shop/db-0', port: 5432 }));
    expect(e.code).toBe('POLICY_ASSERTION');
    expect(e.message).toMatch(/^gingham: expected shop\/frontend-0 -> shop\/db-0 TCP 5432 to be allowed, but it is DENIED:\n  DENIED: egress denied by end of tier default/);
    expect(e.message).toContain('tier security (default Deny): Pass → next tier');
    expect(e.witnesses).toEqual([{ src: 'shop/frontend-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }]);
    expect(e.result?.allowed).toBe(false);
  });
});

describe('exact assertions', () => {
  it('assertNoPath proves there is no flow at all, and returns the answer', () => {
    expect(assertNoPath(snapshot, { from: "app == 'frontend'", to: "app == 'db'" }).paths).toEqual([]);
    expect(assertIsolated(snapshot, "app == 'db'", { from: { namespace: 'monitoring' }, ports: [{ protocol: 'TCP', port: 5432 }] }).reachable).toBe(false);
  });

  it('assertNoPath fails with every allowed path, a witness each, and the trace of the first', () => {
    const e = thrown(() => assertIsolated(snapshot, "app == 'db'", { from: { namespace: 'monitoring' } }));
    expect(e.paths).toHaveLength(1);
    expect(e.witnesses).toEqual([{ src: '10.65.0.40', dst: '10.65.0.30', protocol: 6, srcPort: 49152, dstPort: 9090 }]);
    expect(e.message).toContain('expected no path from {"namespace":"monitoring"} to app == \'db\', but 1 set of flows is allowed:');
    expect(e.message).toContain('first counterexample: 10.65.0.40 -> 10.65.0.30 TCP 9090 (from port 49152)');
    expect(e.message).toContain('policy kanp/allow-monitoring-scrape rule 0 "scrape-metrics" in tier kube-admin');
    for (const w of e.witnesses) expect(evaluate(snapshot, w).allowed).toBe(true);
  });

  it('assertOpensNothing passes for closing changes and fails with the opened flows', () => {
    const closing = { ...snapshot, policies: snapshot.policies.filter((p) => p.id !== 'knp/shop/allow-dns') };
    expect(assertOpensNothing(snapshot, closing).closed).toBeGreaterThan(0);
    const e = thrown(() => assertOpensNothing(closing, snapshot));
    expect(e.changes!.length).toBeGreaterThan(0);
    expect(e.changes!.every((c) => c.change === 'opened')).toBe(true);
    expect(e.message).toMatch(/expected the change to open nothing, but it opens \d+ sets of flows/);
    expect(e.message).toContain('now allowed by policy knp/shop/allow-dns');
  });
});

describe('arbPolicyChange', () => {
  it('no edit of the shop team’s NetworkPolicies opens the database port to another namespace (the security tier holds)', () => {
    fc.assert(
      fc.property(arbPolicyChange(snapshot, { policies: (p) => p.tier === 'default', endpoints: "app != 'db'" }), (change) => {
        assertNoPath(applyPolicyChange(snapshot, change), { from: { namespace: 'monitoring' }, to: "app == 'db'", ports: [{ protocol: 'TCP', port: 5432 }] });
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  it('finds an edit that opens something when one exists, and describes it', () => {
    const r = fc.check(
      fc.property(arbPolicyChange(snapshot, { kinds: ['remove-rule', 'add-rule'] }), (change) => {
        assertOpensNothing(snapshot, applyPolicyChange(snapshot, change));
      }),
      { numRuns: 200, seed: 2 },
    );
    expect(r.failed).toBe(true);
    expect(describePolicyChange(r.counterexample![0])).toMatch(/^(add|remove) (ingress|egress) rule \d+ (to|of) /);
  });

  it('applies edits without touching anything else', () => {
    for (const change of fc.sample(arbPolicyChange(snapshot), { numRuns: 50, seed: 4 })) {
      const after = applyPolicyChange(snapshot, change);
      if (change.kind === 'label') expect(after.policies).toBe(snapshot.policies);
      else expect(after.workloadEndpoints).toBe(snapshot.workloadEndpoints);
      expect(after.networkSets).toBe(snapshot.networkSets);
    }
  });
});

describe('loading manifests', () => {
  it('reports every problem with file:line:col', () => {
    expect(() => snapshotFromManifests([{ file: 'bad.yaml', text: 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: { name: x }\nspec:\n  selector: "app =="\n' }])).toThrow(ManifestsError);
    expect(() => snapshotFromManifests([{ file: 'bad.yaml', text: 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: { name: x }\nspec:\n  selector: "app =="\n' }])).toThrow(/bad\.yaml:5:\d+: GlobalNetworkPolicy\/x spec\.selector/);
  });
});
