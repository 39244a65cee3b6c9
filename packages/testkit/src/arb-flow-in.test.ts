import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, type Flow, type Snapshot } from '@gingham/core';
import { arbFlowIn } from './arb-flow-in.js';
import { snapshotFromFiles, snapshotFromManifests } from './snapshot-from-files.js';

const quickstart = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));
let snapshot: Snapshot;
let planted: Snapshot;

/** The quick start plus one NetworkPolicy rule: Prometheus may reach the database on 6000. */
const HOLE = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: planted-hole, namespace: shop }
spec:
  podSelector: { matchLabels: { app: db } }
  policyTypes: [Ingress]
  ingress:
    - from: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: monitoring } } }]
      ports: [{ port: 6000 }]
`;

beforeAll(async () => {
  snapshot = await snapshotFromFiles(quickstart);
  const { readdirSync, readFileSync } = await import('node:fs');
  const files = readdirSync(quickstart).filter((f) => f.endsWith('.yaml'));
  planted = snapshotFromManifests([...files.map((f) => ({ file: f, text: readFileSync(`${quickstart}${f}`, 'utf8') })), { file: 'hole.yaml', text: HOLE }]);
});

/** The database accepts only the backend on 5432 and Prometheus' scrape on 9090. */
function dbInvariant(s: Snapshot): (flow: Flow) => boolean {
  return (flow) => {
    if (!evaluate(s, flow).allowed) return true;
    const ok = (flow.src === 'shop/backend-0' && flow.dstPort === 5432) || (flow.src === 'monitoring/prometheus-0' && flow.dstPort === 9090);
    return ok && flow.protocol === 'TCP';
  };
}

/** Runs until the first counterexample, or undefined when none within `max`. */
function runsToFind(s: Snapshot, bias: number, seed: number, max: number): number | undefined {
  const r = fc.check(fc.property(arbFlowIn(s, { to: { endpoints: ['shop/db-0'] }, bias }), dbInvariant(s)), { seed, numRuns: max, endOnFailure: true });
  return r.failed ? r.numRuns : undefined;
}

describe('arbFlowIn on the quick start', () => {
  it('draws only the peers the query names, never an endpoint to itself, and every flow evaluates', () => {
    const flows = fc.sample(arbFlowIn(snapshot, { from: { namespace: 'shop' }, to: "app == 'db'" }), { numRuns: 300, seed: 1 });
    for (const f of flows) {
      expect(['shop/frontend-0', 'shop/backend-0', 'shop/db-0']).toContain(f.src);
      expect(f.dst).toBe('shop/db-0');
      expect(f.src).not.toBe(f.dst);
      expect(() => evaluate(snapshot, f)).not.toThrow();
    }
  });

  it('tries the ports the rules and endpoints mention (5432, the named port postgres) far more often than uniform draws', () => {
    const count = (bias: number): number => fc.sample(arbFlowIn(snapshot, { to: { endpoints: ['shop/db-0'] }, bias }), { numRuns: 500, seed: 7 }).filter((f) => f.dstPort === 5432).length;
    expect(count(0.9)).toBeGreaterThan(50);
    expect(count(0)).toBeLessThan(3);
  });

  it('passes the true invariant, and finds a planted one-port hole within 100 runs for every seed tried', () => {
    fc.assert(fc.property(arbFlowIn(snapshot, { to: { endpoints: ['shop/db-0'] } }), dbInvariant(snapshot)), { numRuns: 300, seed: 3 });
    for (let seed = 1; seed <= 40; seed++) {
      const n = runsToFind(planted, 0.9, seed, 100);
      expect(n, `seed ${seed}`).toBeDefined();
    }
    // Uniform draws (ports 1-65535) do not find it in 100 runs.
    const uniform = [1, 2, 3, 4, 5].map((seed) => runsToFind(planted, 0, seed, 100));
    expect(uniform.filter((n) => n !== undefined).length).toBeLessThanOrEqual(1);
  });

  it('shrinks the counterexample to a flow a person can read', () => {
    const r = fc.check(fc.property(arbFlowIn(planted, { to: { endpoints: ['shop/db-0'] } }), dbInvariant(planted)), { seed: 5, numRuns: 200 });
    expect(r.failed).toBe(true);
    const [flow] = r.counterexample as [Flow];
    expect(flow).toEqual({ src: 'monitoring/prometheus-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 6000 });
  });

  it('rejects a query that names nothing', () => {
    expect(() => arbFlowIn(snapshot, { to: "app == 'nope'" })).toThrow(expect.objectContaining({ code: 'EMPTY_QUERY' }));
  });
});
