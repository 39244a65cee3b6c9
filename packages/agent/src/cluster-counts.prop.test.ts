/**
 * ClusterCounts keeps one set of ids and a number per kind: after any stream of upserts (new or
 * repeated), deletes (of known or unknown resources) and relist markers, its snapshot equals the
 * counts taken from the resources a consumer would hold.
 */
import { formatResourceKey, resourceKey, type Resource, type SourceMessage } from '@gingham/core';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterCounts, type ClusterCountsSnapshot } from './cluster-counts.js';

const KINDS: readonly (readonly [string, string])[] = [
  ['projectcalico.org/v3', 'Node'],
  ['v1', 'Node'],
  ['projectcalico.org/v3', 'WorkloadEndpoint'],
  ['v1', 'Pod'],
  ['projectcalico.org/v3', 'HostEndpoint'],
  ['projectcalico.org/v3', 'GlobalNetworkPolicy'],
  ['projectcalico.org/v3', 'NetworkPolicy'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['projectcalico.org/v3', 'Profile'],
  ['v1', 'Namespace'],
  ['projectcalico.org/v3', 'Tier'],
  ['projectcalico.org/v3', 'GlobalNetworkSet'],
];

const resource = (k: number, name: string, ns: string): Resource => {
  const [apiVersion, kind] = KINDS[k]!;
  return { apiVersion, kind, metadata: { name, ...(ns ? { namespace: ns } : {}) } } as Resource;
};

/** The snapshot, from the resources held (straight from the definition of each gauge). */
function expected(held: ReadonlyMap<string, Resource>): ClusterCountsSnapshot {
  const all = [...held.values()];
  const count = (test: (r: Resource) => boolean) => all.filter(test).length;
  return {
    hosts: new Set(all.filter((r) => r.kind === 'Node').map((r) => r.metadata.name)).size,
    workloadEndpoints: count((r) => r.kind === 'WorkloadEndpoint' || (r.kind === 'Pod' && r.apiVersion === 'v1')),
    hostEndpoints: count((r) => r.kind === 'HostEndpoint'),
    policies: count((r) => r.kind === 'GlobalNetworkPolicy' || r.kind === 'NetworkPolicy'),
    profiles: count((r) => r.kind === 'Profile' || r.kind === 'Namespace'),
    tiers: count((r) => r.kind === 'Tier'),
    resources: all.length,
  };
}

describe('ClusterCounts', () => {
  it('counts what a consumer of the stream holds, by kind, after any stream of upserts, deletes and relists', () => {
    const op = fc.record({
      del: fc.boolean(),
      k: fc.nat(KINDS.length - 1),
      name: fc.constantFrom('a', 'b', 'c'),
      ns: fc.constantFrom('', 'x'),
      marker: fc.constantFrom(undefined, 'resync-started', 'in-sync'),
    });
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 8 }), { maxLength: 12 }), (batches) => {
        const counts = new ClusterCounts();
        const held = new Map<string, Resource>();
        for (const batch of batches) {
          const messages: SourceMessage[] = [];
          for (const o of batch) {
            if (o.marker) messages.push({ kind: o.marker } as SourceMessage);
            const r = resource(o.k, o.name, o.ns);
            const id = formatResourceKey(resourceKey(r));
            if (o.del) {
              messages.push({ kind: 'delete', key: resourceKey(r) });
              held.delete(id);
            } else {
              messages.push({ kind: 'upsert', resource: r });
              held.set(id, r);
            }
          }
          counts.onMessages(messages);
          expect(counts.snapshot()).toEqual(expected(held));
        }
      }),
      { numRuns: propRuns(200) },
    );
  });
});
