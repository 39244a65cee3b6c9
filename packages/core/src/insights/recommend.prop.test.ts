import fc from 'fast-check';
import { arbCluster, arbFlow, propRuns } from '@gingham/testkit';
import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../convert/index.js';
import { evaluate } from '../evaluate/evaluate.js';
import { flowLogRecords } from './flow-log.js';
import { recommendPolicies, verifyRecommendation, withRecommendations, type RecommendationCheck } from './recommend.js';
import { createFlowPreviewPerPair } from './preview.js';
import type { FlowRecord } from '../flows/types.js';
import type { Snapshot } from '../model/types.js';
import type { RecommendResult } from './recommend.js';
import { knownFlows, observe } from './test-fixtures.js';
import type { Resource } from '../model/resources.js';
import type { Flow } from '../evaluate/types.js';

/** A random small cluster and traffic over it. */
const arbClusterTraffic: fc.Arbitrary<{ resources: Resource[]; flows: Flow[] }> = fc.record({
  resources: arbCluster,
  flows: fc.array(arbFlow, { minLength: 5, maxLength: 40 }) as fc.Arbitrary<Flow[]>,
});

/**
 * The check by brute force: every peer pair of each distinct allowed record evaluated (no classes,
 * no sampling) with the cluster's staged view and with the recommendations staged on it.
 */
function checkEveryPair(snapshot: Snapshot, result: RecommendResult, records: readonly FlowRecord[]): RecommendationCheck {
  const all = { maxPeersPerSide: Number.POSITIVE_INFINITY };
  const before = createFlowPreviewPerPair(snapshot, all);
  const after = createFlowPreviewPerPair(withRecommendations(snapshot, result, 'Set'), all);
  let observed = 0;
  let kept = 0;
  const broken: FlowRecord[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    const unpoliced = r.policies.pending.length === 0 && r.policies.enforced.length === 0;
    const key = [unpoliced ? '-' : '+', r.reporter, r.source_type, r.source_namespace, r.source_name, r.dest_type, r.dest_namespace, r.dest_name, r.proto, r.dest_port].join('|');
    if (r.action !== 'allow' || seen.has(key)) continue;
    seen.add(key);
    if (unpoliced) {
      observed++;
      kept++;
      continue;
    }
    const was = before.preview(r);
    if (was.outcome === 'unresolved' || was.after.action !== 'allow') continue;
    observed++;
    if (after.preview(r).after.action === 'allow') kept++;
    else broken.push(r);
  }
  return { observed, kept, broken };
}

describe('recommendation properties', () => {
  it('the check per class is the check of every peer pair (recommendations learnt from all records and from half of them)', () => {
    fc.assert(
      fc.property(arbClusterTraffic, ({ resources, flows }) => {
        const { snapshot } = buildSnapshot(resources);
        const { records } = flowLogRecords(snapshot, observe(knownFlows(snapshot, flows)));
        for (const learned of [records, records.filter((_, i) => i % 2 === 0)]) {
          const result = recommendPolicies(learned, { snapshot, excludeNamespaces: [] });
          const check = verifyRecommendation(snapshot, result, records);
          expect(check).toEqual(checkEveryPair(snapshot, result, records));
          // Learnt from every record, nothing observed breaks (a record no policy decided, e.g. a
          // node's own address to its pod aggregated as `pvt`, is kept: policy cannot touch it).
          if (learned === records) expect(check.broken).toEqual([]);
        }
      }),
      { numRuns: propRuns(60) },
    );
  });

  it('with the recommendations enforced, every observed flow keeps its verdict in each direction', () => {
    fc.assert(
      fc.property(arbClusterTraffic, ({ resources, flows }) => {
        const { snapshot } = buildSnapshot(resources);
        const known = knownFlows(snapshot, flows);
        const { records } = flowLogRecords(snapshot, observe(known));
        const result = recommendPolicies(records, { snapshot, excludeNamespaces: [] });
        const after = withRecommendations(snapshot, result);
        for (const flow of known) {
          const before = evaluate(snapshot, flow);
          const now = evaluate(after, flow);
          // An observed allowed flow: allowed as enforced (the record's action) and in the pending
          // view (the cluster's own staged policies enforced, as the recommendation is compared
          // in). The source always reports; the destination only when the packet got there.
          const was = before.staged ?? before;
          const is = now.staged ?? now;
          const egress = before.trace.egress.allowed && was.trace.egress.allowed;
          const ingress = before.trace.egress.allowed && before.trace.ingress.allowed && was.trace.ingress.allowed;
          if (egress) expect(is.trace.egress.allowed, `egress ${JSON.stringify(flow)}`).toBe(true);
          if (ingress) expect(is.trace.ingress.allowed, `ingress ${JSON.stringify(flow)}`).toBe(true);
          if (before.allowed && was.allowed) expect(is.allowed, JSON.stringify(flow)).toBe(true);
        }
      }),
      { numRuns: propRuns(60) },
    );
  });

  it('records in any order give the same recommendation', () => {
    fc.assert(
      fc.property(arbClusterTraffic, fc.integer(), ({ resources, flows }, seed) => {
        const { snapshot } = buildSnapshot(resources);
        const { records } = flowLogRecords(snapshot, observe(knownFlows(snapshot, flows)));
        const shuffled = [...records].sort((a, b) => ((JSON.stringify(a).length * 31 + seed) % 7) - ((JSON.stringify(b).length * 31 + seed) % 7));
        const now = 1_800_000_000;
        expect(recommendPolicies(shuffled, { snapshot, now, excludeNamespaces: [] })).toEqual(recommendPolicies(records, { snapshot, now, excludeNamespaces: [] }));
      }),
      { numRuns: propRuns(30) },
    );
  });
});
