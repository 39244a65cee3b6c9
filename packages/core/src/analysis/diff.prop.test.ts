import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { arbCalicoPolicy, arbCluster, arbGlobalPolicy, arbKubernetesPolicy, arbNamespace, arbNetworkSet, arbProfile, arbTier, dedupe, propRuns } from '@gingham/testkit';
import { buildSnapshot } from '../convert/index.js';
import type { Snapshot } from '../model/types.js';
import { evaluate } from '../evaluate/evaluate.js';
import { diffSnapshots } from './diff.js';
import type { DiffResult, FlowChange } from './types.js';
import { applyEdit, bruteFlows, brutePair, brutePeers, clone, coveringChanges, editArb, snapshotArb } from './test-fixtures.js';

/**
 * Checks a diff against brute force: pairs of peers (endpoints at each address or at none, and
 * outside addresses at every CIDR edge) × protocols × boundary ports / ICMP types and codes,
 * evaluated on both sides with `evaluate()` (every pair × a sample of the probes and a sample of
 * pairs × every probe, when all of them would be too many). A flow whose verdict differs must be
 * covered by exactly one change, with the same decisions; a flow whose verdict is the same by none.
 */
function checkAgainstBruteForce(before: Snapshot, after: Snapshot, result: DiffResult, seed: number): number {
  let changed = 0;
  for (const { src, dst, l4 } of bruteFlows([before, after], seed)) {
    const flow = { src: src.ref, dst: dst.ref, ...l4 };
    const a = evaluate(before, flow);
    const b = evaluate(after, flow);
    const covering = coveringChanges(result.changes, src, dst, l4);
    if (a.allowed === b.allowed) {
      if (covering.length > 0) expect.fail(`unchanged flow ${JSON.stringify(flow)} reported as ${covering[0]!.change}`);
      continue;
    }
    changed++;
    if (covering.length !== 1) expect.fail(`changed flow ${JSON.stringify(flow)} (${a.allowed} -> ${b.allowed}) covered by ${covering.length} changes`);
    const c = covering[0]!;
    expect(c.change).toBe(b.allowed ? 'opened' : 'closed');
    expect(c.before).toEqual({ allowed: a.allowed, egress: a.trace.egress.decision, ingress: a.trace.ingress.decision });
    expect(c.after).toEqual({ allowed: b.allowed, egress: b.trace.egress.decision, ingress: b.trace.ingress.decision });
  }
  return changed;
}

function checkWitnesses(before: Snapshot, after: Snapshot, changes: readonly FlowChange[]): void {
  for (const c of changes) {
    expect(evaluate(before, c.witness).allowed, JSON.stringify(c.witness)).toBe(c.before.allowed);
    expect(evaluate(after, c.witness).allowed, JSON.stringify(c.witness)).toBe(c.after.allowed);
  }
}

/** A change with the sides swapped, as a comparable string. */
function mirrored(c: FlowChange): string {
  const { witness: _w, ...rest } = c;
  return JSON.stringify({ ...rest, change: c.change === 'opened' ? 'closed' : 'opened', before: c.after, after: c.before });
}
function plain(c: FlowChange): string {
  const { witness: _w, ...rest } = c;
  return JSON.stringify(rest);
}

const runs = { numRuns: propRuns(30) };

describe('diffSnapshots is exact', () => {
  test.prop([snapshotArb, fc.array(editArb, { minLength: 1, maxLength: 3 }), fc.integer()], runs)(
    'a change is reported iff evaluate() disagrees on a flow, with the same decisions (brute force over peers and boundaries)',
    (before, edits, seed) => {
      const after = edits.reduce(applyEdit, before);
      const result = diffSnapshots(before, after);
      checkAgainstBruteForce(before, after, result, seed);
      expect(result.empty).toBe(result.changes.length === 0);
      checkWitnesses(before, after, result.changes);
    },
  );

  test.prop([snapshotArb, fc.array(editArb, { minLength: 1, maxLength: 3 })], runs)('diff(a, b) mirrors diff(b, a): opened and closed swap, nothing else changes', (a, edits) => {
    const b = edits.reduce(applyEdit, a);
    const forward = diffSnapshots(a, b).changes.map(mirrored).sort();
    const backward = diffSnapshots(b, a).changes.map(plain).sort();
    expect(backward).toEqual(forward);
  });

  test.prop([snapshotArb, fc.array(editArb, { minLength: 1, maxLength: 3 })], { numRuns: propRuns(25) })(
    'sharing arrays or not gives the same answer (the shared-index fast path equals a fresh index)',
    (a, edits) => {
      const b = edits.reduce(applyEdit, a);
      const shared = diffSnapshots(a, b).changes.map(plain);
      const fresh = diffSnapshots(clone(a), clone(b)).changes.map(plain);
      expect(fresh).toEqual(shared);
    },
  );

  test.prop([snapshotArb], { numRuns: propRuns(25) })('a snapshot against itself or a copy of itself is empty', (s) => {
    expect(diffSnapshots(s, s).empty).toBe(true);
    const copy = diffSnapshots(s, clone(s));
    expect(copy.changes).toEqual([]);
    expect(copy.empty).toBe(true);
  });

  test.prop([snapshotArb, fc.array(editArb, { minLength: 1, maxLength: 2 }), fc.array(fc.record({ s: fc.nat(), d: fc.nat(), protocol: fc.integer({ min: 0, max: 255 }), sp: fc.integer({ min: 1, max: 65535 }), dp: fc.integer({ min: 1, max: 65535 }), t: fc.integer({ min: 0, max: 255 }), c: fc.integer({ min: 0, max: 255 }), o: fc.integer({ min: 0, max: 0xffffffff }) }), { minLength: 50, maxLength: 50 })], runs)(
    'random concrete flows (any address, protocol, port, ICMP type/code) agree with the diff',
    (before, edits, specs) => {
      const after = edits.reduce(applyEdit, before);
      const result = diffSnapshots(before, after);
      const outside = specs.map((x) => `${(x.o >>> 24) & 255}.${(x.o >>> 16) & 255}.${(x.o >>> 8) & 255}.${x.o & 255}`);
      const peers = brutePeers([before, after], outside);
      for (const x of specs) {
        const src = peers[x.s % peers.length]!;
        const dst = peers[x.d % peers.length]!;
        if (!brutePair(src, dst, before)) continue;
        const protocol = [6, 17, 1, 58, x.protocol][x.protocol % 5]!;
        const l4 = [6, 17, 132, 136].includes(protocol) ? { protocol, srcPort: x.sp, dstPort: x.dp } : protocol === 1 || protocol === 58 ? { protocol, icmp: { type: x.t, code: x.c } } : { protocol };
        const flow = { src: src.ref, dst: dst.ref, ...l4 };
        const differs = evaluate(before, flow).allowed !== evaluate(after, flow).allowed;
        expect(coveringChanges(result.changes, src, dst, l4).length, JSON.stringify(flow)).toBe(differs ? 1 : 0);
      }
    },
  );

  test.prop(
    [
      arbCluster,
      fc.array(fc.oneof(arbGlobalPolicy, arbCalicoPolicy, arbKubernetesPolicy, arbNamespace, arbNetworkSet, arbProfile, arbTier), { minLength: 1, maxLength: 3 }),
      fc.integer(),
    ],
    { numRuns: propRuns(20) },
  )('Kubernetes and Calico resources (namespaces, tiers, policies, sets, profiles) changed: brute force agrees', (resources, extra, seed) => {
    const before = buildSnapshot(resources).snapshot;
    const after = buildSnapshot(dedupe([...resources, ...extra])).snapshot;
    const result = diffSnapshots(before, after);
    expect(result.endpoints).toEqual({ added: [], removed: [], readdressed: [] });
    checkAgainstBruteForce(before, after, result, seed);
    checkWitnesses(before, after, result.changes);
  });
});
