/**
 * Differential property of the trace cache: one resolver answering many flows in random order
 * (so most answers come from the cache, filled by another port of the same class) gives each
 * flow exactly the enforced and pending hits of `policyTraceHits(evaluate())` for that flow.
 * Ports are drawn at and around the snapshot's port boundaries, where a wrong class would show.
 */
import { buildSnapshot, evaluate, formatPolicyHit, policyTraceHits } from '@gingham/core';
import { arbCluster, OUTSIDE_ADDRESSES, propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kernelDecision, snapshotOf } from './test-fixtures.js';
import { createTraceResolver, portBoundaries, portClass, TraceTable, type TraceQuery } from './traces.js';

describe('trace cache (property)', () => {
  it('answers every flow as evaluate() does, whichever port of its class filled the cache', () => {
    fc.assert(
      fc.property(
        arbCluster,
        fc.array(fc.record({ s: fc.nat(), d: fc.nat(), protocol: fc.constantFrom(6, 17, 132), dport: fc.nat(), sport: fc.nat(), shift: fc.integer({ min: -1, max: 1 }), uniform: fc.integer({ min: 1, max: 65535 }) }), { minLength: 1, maxLength: 40 }),
        (resources, picks) => {
          const { snapshot } = buildSnapshot(resources);
          const bounds = [...portBoundaries(snapshot)];
          const port = (n: number, shift: number, uniform: number): number => (n % 4 === 3 ? uniform : Math.min(65535, Math.max(1, bounds[n % bounds.length]! + shift)));
          const ips = [...new Set([...snapshot.workloadEndpoints.flatMap((w) => w.addresses.map((a) => a.split('/')[0]!)), ...OUTSIDE_ADDRESSES])];
          const table = new TraceTable();
          const resolver = createTraceResolver(snapshot, table);
          const hits = (id: number): string[] => table.hits(id).map(formatPolicyHit);
          for (const p of picks) {
            const q: TraceQuery = { direction: 'egress', protocol: p.protocol, src: ips[p.s % ips.length]!, dst: ips[p.d % ips.length]!, srcPort: port(p.sport, -p.shift, p.uniform), dstPort: port(p.dport, p.shift, p.uniform) };
            const result = evaluate(snapshot, { src: q.src, dst: q.dst, protocol: q.protocol, srcPort: q.srcPort, dstPort: q.dstPort });
            const staged = result.staged ?? result;
            for (const [direction, side, stagedSide] of [['egress', result.trace.egress, staged.trace.egress], ['ingress', result.trace.ingress, staged.trace.ingress]] as const) {
              const query = { ...q, direction };
              const expected = policyTraceHits(result, direction === 'egress' ? 'src' : 'dst');
              const pending = resolver.pending(query);
              expect(hits(pending.pending)).toEqual(expected.pending.map(formatPolicyHit));
              expect(pending.pendingAction).toBe(stagedSide.allowed ? 'allow' : 'deny');
              const decision = kernelDecision(side.decision);
              if (!decision) continue;
              const r = resolver.resolve(query, decision, side.allowed ? 'allow' : 'deny');
              expect(hits(r.enforced)).toEqual(expected.enforced.map(formatPolicyHit));
            }
          }
          expect(resolver.mismatches).toBe(0);
        },
      ),
      { numRuns: propRuns(60) },
    );
  });

  it('keys ports by class: one evaluation for a port range, separate ones around its ends and at failsafe ports', () => {
    const snapshot = snapshotOf(`
apiVersion: v1
kind: Pod
metadata: {name: a-0, namespace: bench, labels: {app: a}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-in, namespace: bench}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{port: 1000, endPort: 1999}]}]
`);
    const bounds = portBoundaries(snapshot);
    expect(portClass(bounds, 1000)).toBe(portClass(bounds, 1999));
    expect(portClass(bounds, 999)).not.toBe(portClass(bounds, 1000));
    expect(portClass(bounds, 2000)).not.toBe(portClass(bounds, 1999));
    expect(portClass(bounds, 22)).not.toBe(portClass(bounds, 23)); // Calico's default inbound failsafe tcp:22
    const resolver = createTraceResolver(snapshot, new TraceTable());
    const q = (dstPort: number): TraceQuery => ({ direction: 'ingress', protocol: 6, src: '10.9.0.1', dst: '10.0.0.1', srcPort: 40000 + dstPort, dstPort });
    for (let port = 1000; port < 2000; port++) resolver.pending(q(port));
    expect(resolver.evaluations).toBe(1);
    resolver.pending(q(2000));
    resolver.pending(q(999));
    expect(resolver.evaluations).toBe(3);
  });
});
