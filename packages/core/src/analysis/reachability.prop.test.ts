import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { propRuns } from '@gingham/testkit';
import type { Snapshot } from '../model/types.js';
import { evaluate } from '../evaluate/evaluate.js';
import { indexSnapshot } from '../evaluate/snapshot-index.js';
import { parseSelector } from '../selector/index.js';
import { reachability } from './reachability.js';
import type { PeerQuery } from './types.js';
import { type BrutePeer, bruteFlows, coveringChanges, snapshotArb } from './test-fixtures.js';

const queryArb: fc.Arbitrary<PeerQuery> = fc.oneof(
  fc.constantFrom('all()', 'app == "a"', 'has(tier)', 'role == "node"', '!has(app)').map((selector): PeerQuery => ({ selector })),
  fc.constantFrom('n1', 'n2').map((namespace): PeerQuery => ({ namespace })),
  fc.record({ selector: fc.constantFrom('app == "b"', 'tier == "x"'), outside: fc.constant(true) }),
  fc.constant<PeerQuery>({ outside: ['0.0.0.0/1', '203.0.113.0/25'] }),
);

/** Whether a brute-force peer is one the query names (computed without the analysis). */
function inQuery(s: Snapshot, q: PeerQuery, peer: BrutePeer): boolean {
  if (peer.endpoint === undefined) {
    if (q.outside === true) return true;
    if (!Array.isArray(q.outside) || !peer.addr || peer.addr.version !== 4) return false;
    const v = peer.addr.value;
    return (q.outside as string[]).some((c) => (c === '0.0.0.0/1' ? v < 0x80000000 : v >>> 7 === 0xcb007100 >>> 7));
  }
  const e = [...s.workloadEndpoints, ...s.hostEndpoints].find((x) => (x.kind === 'WorkloadEndpoint' ? x.id : x.name) === peer.endpoint)!;
  const byLabels = q.selector !== undefined || q.namespace !== undefined;
  if (!byLabels) return false;
  if (q.namespace !== undefined && (e.kind !== 'WorkloadEndpoint' || e.namespace !== q.namespace)) return false;
  return q.selector === undefined || parseSelector(q.selector).matches(indexSnapshot(s).effectiveLabels(e));
}

describe('reachability is exact', () => {
  test.prop([snapshotArb, queryArb, queryArb, fc.integer()], { numRuns: propRuns(30) })(
    'a flow from `from` to `to` is allowed iff exactly one path covers it (brute force), and the witnesses are allowed',
    (s, from, to, seed) => {
      const result = reachability(s, { from, to });
      let allowed = 0;
      for (const { src, dst, l4 } of bruteFlows([s], seed, 2000)) {
        if (!inQuery(s, from, src) || !inQuery(s, to, dst)) continue;
        const verdict = evaluate(s, { src: src.ref, dst: dst.ref, ...l4 });
        const covering = coveringChanges(result.paths, src, dst, l4);
        if (!verdict.allowed) {
          if (covering.length > 0) expect.fail(`denied flow ${src.ref} -> ${dst.ref} ${JSON.stringify(l4)} reported reachable`);
          continue;
        }
        allowed++;
        if (covering.length !== 1) expect.fail(`allowed flow ${src.ref} -> ${dst.ref} ${JSON.stringify(l4)} covered by ${covering.length} paths`);
        expect(covering[0]!.verdict).toEqual({ allowed: true, egress: verdict.trace.egress.decision, ingress: verdict.trace.ingress.decision });
      }
      if (allowed > 0) expect(result.reachable).toBe(true);
      for (const p of result.paths) expect(evaluate(s, p.witness).allowed).toBe(true);
    },
  );

  test.prop([snapshotArb, queryArb, queryArb, fc.constantFrom(80, 8080, 5432, 53)], { numRuns: propRuns(30) })(
    'limiting to ports keeps exactly the paths of those ports',
    (s, from, to, port) => {
      const all = reachability(s, { from, to });
      const limited = reachability(s, { from, to, ports: [{ protocol: 'TCP', port }] });
      const tcpAt = all.paths.filter((p) => p.protocol.number === 6 && p.dstPorts!.some((r) => r.from <= port && port <= r.to));
      expect(limited.reachable).toBe(tcpAt.length > 0);
      for (const p of limited.paths) {
        expect(p.protocol.number).toBe(6);
        expect(p.dstPorts).toEqual([{ from: port, to: port }]);
        expect(evaluate(s, p.witness).allowed).toBe(true);
      }
    },
  );
});
