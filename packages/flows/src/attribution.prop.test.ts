/**
 * Differential property: for random clusters and flows, every record the collector makes from
 * events carrying `evaluate()`'s own decision (what a correct dataplane reports) has the action
 * and the enforced hits `policyTraceHits(evaluate())` gives for its reporter, and pending hits
 * from the staged preview.
 */
import { buildSnapshot, evaluate, formatPolicyHit, policyTraceHits, type FlowVerdictEvent } from '@gingham/core';
import { arbCluster, OUTSIDE_ADDRESSES, propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFlowCollector } from './collector.js';
import { kernelDecision } from './test-fixtures.js';
import { createScriptedFlowSource } from './testing.js';

describe('attribution (property)', () => {
  it('each record has the action and enforced and pending hits of policyTraceHits(evaluate()) for its reporter', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbCluster,
        fc.array(fc.record({ s: fc.nat(), d: fc.nat(), protocol: fc.constantFrom(6, 17), dstPort: fc.constantFrom(80, 53, 5000, 8080) }), { minLength: 1, maxLength: 12 }),
        async (resources, picks) => {
          const { snapshot } = buildSnapshot(resources);
          const ips = [...new Set([...snapshot.workloadEndpoints.flatMap((w) => w.addresses.map((a) => a.split('/')[0]!)), ...OUTSIDE_ADDRESSES])];
          const source = createScriptedFlowSource();
          // Not preallocated: 60 collectors would commit 28 MiB each, and records do not depend on it.
          const collector = createFlowCollector({ source, snapshot: () => snapshot, timers: false, aggregation: { allowed: 0, denied: 0 }, preallocate: false });
          const expected = new Map<string, { action: string; enforced: string[]; pending: string[] }>();
          picks.forEach((p, i) => {
            const src = ips[p.s % ips.length]!;
            const dst = ips[p.d % ips.length]!;
            const srcPort = 30000 + i;
            const result = evaluate(snapshot, { src, dst, protocol: p.protocol, srcPort, dstPort: p.dstPort });
            for (const [direction, side] of [['egress', result.trace.egress], ['ingress', result.trace.ingress]] as const) {
              if (direction === 'ingress' && !result.trace.egress.allowed) continue; // the packet never got there
              const decision = kernelDecision(side.decision);
              if (!decision) continue;
              const e: FlowVerdictEvent = { tsMs: 0, direction, action: side.allowed ? 'allow' : 'deny', decision, family: 4, protocol: p.protocol, src, dst, srcPort, dstPort: p.dstPort, bytes: 60 };
              source.verdict(e);
              const reporter = direction === 'egress' ? 'src' : 'dst';
              const hits = policyTraceHits(result, reporter);
              expected.set(`${reporter}|${src}|${srcPort}|${dst}`, { action: e.action, enforced: hits.enforced.map(formatPolicyHit), pending: hits.pending.map(formatPolicyHit) });
            }
          });
          await collector.poll();
          const w = await collector.flush();
          expect(collector.stats().mismatches).toBe(0);
          const got = new Map(w.records.map((r) => [`${r.reporter}|${r.source_ip}|${r.source_port}|${r.dest_ip}`, { action: r.action, enforced: r.policies.enforced.map(formatPolicyHit), pending: r.policies.pending.map(formatPolicyHit) }]));
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: propRuns(60) },
    );
  });
});
