import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { Resource } from '../model/resources.js';
import { buildSnapshot } from '../convert/index.js';
import { evaluate } from '../evaluate/index.js';
import { applyMessage, canonicalDataplaneState, emptyDataplaneState, modelVerdict, RecordingDataplane } from '../dataplane/index.js';
import { createEngine } from './index.js';
import { applyOps, arbCluster, arbFlow, arbUpdateStream, type ClusterOp, OUTSIDE_ADDRESSES, resourceIdentity } from '@gingham/testkit';

const arbNode = fc.constantFrom<string | undefined>(undefined, 'node-a', 'node-b');

function runOps(ops: readonly ClusterOp[], node: string | undefined, flushAfter: (i: number) => boolean = () => false) {
  const dp = new RecordingDataplane({ keepBatches: false });
  const engine = createEngine({ dataplane: dp, ...(node !== undefined ? { node } : {}) });
  ops.forEach((o, i) => {
    if (o.op === 'upsert') engine.upsert(o.resource);
    else engine.delete(o.kind, o.namespace, o.name, o.apiVersion);
    if (flushAfter(i)) engine.flush();
  });
  engine.flush();
  return { dp, engine };
}

function fromScratch(resources: readonly Resource[], node: string | undefined): unknown {
  const sorted = [...resources].sort((a, b) => (resourceIdentity(a) < resourceIdentity(b) ? -1 : 1));
  const { dp } = runOps(sorted.map((resource) => ({ op: 'upsert', resource })), node);
  expect(dp.violations).toEqual([]);
  return canonicalDataplaneState(dp.state);
}

/** Reorders `ops` by `perm` across identities while keeping each identity's own ops in order. */
function interleave(ops: readonly ClusterOp[], perm: readonly number[]): ClusterOp[] {
  const id = (o: ClusterOp): string => (o.op === 'upsert' ? resourceIdentity(o.resource) : `${o.kind}|${o.apiVersion}|${o.namespace}|${o.name}`);
  const order = ops.map((_, i) => i).sort((a, b) => perm[a]! - perm[b]! || a - b);
  const queues = new Map<string, ClusterOp[]>();
  for (const o of ops) {
    const q = queues.get(id(o));
    if (q) q.push(o);
    else queues.set(id(o), [o]);
  }
  return order.map((i) => queues.get(id(ops[i]!))!.shift()!);
}

describe('Engine properties', () => {
  test.prop(
    [arbUpdateStream, fc.array(fc.nat(), { minLength: 25, maxLength: 25 }), fc.array(fc.nat(), { minLength: 25, maxLength: 25 }), fc.func(fc.boolean()), arbNode],
    { numRuns: 600 },
  )('any interleaving of the same update stream converges to the same dataplane state, with no dangling reference', (ops, permA, permB, flushAt, node) => {
    const a = runOps(interleave(ops, permA), node, (i) => flushAt(i));
    const b = runOps(interleave(ops, permB), node, (i) => flushAt(i + 100));
    expect(a.dp.violations).toEqual([]);
    expect(b.dp.violations).toEqual([]);
    const stateA = canonicalDataplaneState(a.dp.state);
    expect(canonicalDataplaneState(b.dp.state)).toEqual(stateA);
    expect(stateA).toEqual(fromScratch(applyOps(ops), node));
  });

  test.prop([arbCluster, arbUpdateStream, arbNode], { numRuns: 400 })(
    'after every flushed step the incremental state equals a from-scratch computation',
    (start, ops, node) => {
      const dp = new RecordingDataplane({ keepBatches: false });
      const engine = createEngine({ dataplane: dp, ...(node !== undefined ? { node } : {}) });
      for (const r of start) engine.upsert(r);
      engine.flush();
      expect(canonicalDataplaneState(dp.state)).toEqual(fromScratch(start, node));
      ops.forEach((o, i) => {
        if (o.op === 'upsert') engine.upsert(o.resource);
        else engine.delete(o.kind, o.namespace, o.name, o.apiVersion);
        engine.flush();
        expect(dp.violations).toEqual([]);
        expect(canonicalDataplaneState(dp.state)).toEqual(fromScratch(applyOps(ops.slice(0, i + 1), start), node));
      });
    },
  );

  test.prop([arbCluster, fc.array(fc.tuple(arbFlow, fc.nat(), fc.nat(), fc.boolean()), { minLength: 1, maxLength: 12 })], { numRuns: 800 })(
    "the model dataplane's verdicts equal evaluate() on buildSnapshot of the same resources, forwarded flows included",
    (resources, specs) => {
      const { dp } = runOps(resources.map((resource) => ({ op: 'upsert', resource })), undefined);
      expect(dp.violations).toEqual([]);
      const { snapshot } = buildSnapshot(resources);
      // Peers: mostly endpoints that exist (by id, name or address), sometimes anything.
      const peers = [
        ...snapshot.workloadEndpoints.map((w) => w.id),
        ...snapshot.hostEndpoints.map((h) => h.name),
        ...snapshot.workloadEndpoints.flatMap((w) => w.addresses.map((a) => a.split('/')[0]!)),
        ...OUTSIDE_ADDRESSES,
      ];
      const flows = specs.map(([f, s, d, free]) => (free ? f : { ...f, src: peers[s % peers.length]!, dst: peers[d % peers.length]! }));
      for (const flow of flows) {
        // Forwarded flows (via) compare the node's host endpoint checks too.
        let expected: { allowed: boolean; egress: boolean; ingress: boolean; in?: boolean; out?: boolean } | 'throws';
        try {
          const r = evaluate(snapshot, flow);
          expected = { allowed: r.allowed, egress: r.trace.egress.allowed, ingress: r.trace.ingress.allowed, in: r.trace.via?.in?.allowed, out: r.trace.via?.out?.allowed };
        } catch {
          expected = 'throws';
        }
        let actual: typeof expected;
        try {
          const m = modelVerdict(dp.state, flow);
          actual = { allowed: m.allowed, egress: m.egress.allowed, ingress: m.ingress.allowed, in: m.via?.in?.allowed, out: m.via?.out?.allowed };
        } catch {
          actual = 'throws';
        }
        expect({ flow, verdict: actual }).toEqual({ flow, verdict: expected });
      }
    },
  );

  test.prop([arbUpdateStream, arbNode], { numRuns: 200 })(
    'a flush after a flush sends nothing, and re-applying every batch changes nothing (idempotence)',
    (ops, node) => {
      const dp = new RecordingDataplane();
      const engine = createEngine({ dataplane: dp, ...(node !== undefined ? { node } : {}) });
      for (const o of ops) {
        if (o.op === 'upsert') engine.upsert(o.resource);
        else engine.delete(o.kind, o.namespace, o.name, o.apiVersion);
        engine.flush();
      }
      const batches = dp.batches.length;
      engine.flush();
      expect(dp.batches.length).toBe(batches);
      const replay = emptyDataplaneState();
      for (const m of dp.messages()) applyMessage(replay, m);
      for (const m of dp.messages()) applyMessage(replay, m);
      expect(canonicalDataplaneState(replay)).toEqual(canonicalDataplaneState(dp.state));
    },
  );
});
