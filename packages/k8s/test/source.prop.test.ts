/**
 * The law every source keeps (DESIGN.md, "How correctness is established" 4), for the
 * Kubernetes source against the test API server: for random streams of adds, updates, deletes,
 * lost events, connection resets, silent stalls, graceful ends, 410s after compaction and failed
 * requests, in random orders, the Engine fed by the source ends (after the periodic
 * relist-and-diff) in exactly the state of an Engine fed the final objects as files.
 */
import { fc, test } from '@fast-check/vitest';
import { loadManifests, type Resource } from '@gingham/core';
import { propRuns } from '@gingham/testkit';
import { describe, expect } from 'vitest';
import { autoHostEndpoint, calicoNodeFromKubernetesNode, nodeFacts } from '../src/reduce/calico-node.js';
import { calicoCrdObject } from '../src/testing.js';
import { caughtUp, feed, referenceState, startServer, waitFor } from './support/harness.js';

const NAMESPACES = ['a', 'b'];
const APPS = ['web', 'db'];

const arbNamespace = fc.record({ name: fc.constantFrom(...NAMESPACES), env: fc.constantFrom('prod', 'dev') }).map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.name, labels: { env: n.env } } }));
const arbPod = fc
  .record({ ns: fc.constantFrom(...NAMESPACES), n: fc.integer({ min: 0, max: 3 }), app: fc.constantFrom(...APPS), ip: fc.integer({ min: 1, max: 30 }), node: fc.constantFrom('n1', 'n2'), phase: fc.constantFrom('Running', 'Running', 'Running', 'Succeeded') })
  .map((p) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p${p.n}`, namespace: p.ns, labels: { app: p.app } },
    spec: { nodeName: p.node, containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: p.phase, podIP: `10.0.0.${p.ip}` },
  }));
const arbKnp = fc
  .record({ ns: fc.constantFrom(...NAMESPACES), n: fc.integer({ min: 0, max: 1 }), app: fc.constantFrom(...APPS), from: fc.constantFrom(...APPS), port: fc.constantFrom(80, 8080, 'http') })
  .map((k) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `np${k.n}`, namespace: k.ns },
    spec: { podSelector: { matchLabels: { app: k.app } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: k.from } } }], ports: [{ port: k.port }] }] },
  }));
const arbGnp = fc
  .record({ n: fc.integer({ min: 0, max: 2 }), tier: fc.constantFrom('default', 'security'), app: fc.constantFrom(...APPS), action: fc.constantFrom('Allow', 'Deny', 'Pass'), legacy: fc.boolean() })
  .map((g) => ({
    v3: {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: g.tier === 'default' ? `g${g.n}` : `security.g${g.n}` },
      spec: { tier: g.tier, order: 10 + g.n, selector: `app == '${g.app}'`, types: ['Ingress'], ingress: [{ action: g.action, source: { selector: `app != '${g.app}'` } }] },
    } as Resource,
    legacy: g.legacy,
  }));
const arbNode = fc.record({ n: fc.constantFrom('n1', 'n2'), zone: fc.constantFrom('z1', 'z2'), bgp: fc.boolean() }).map((n) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: n.n, labels: { zone: n.zone }, ...(n.bgp ? { annotations: { 'projectcalico.org/IPv4Address': '172.16.0.9/24' } } : {}) },
  spec: { podCIDR: '10.0.0.0/24' },
  status: { addresses: [{ type: 'InternalIP', address: n.n === 'n1' ? '172.16.0.1' : '172.16.0.2' }] },
}));

type Op =
  | { op: 'put'; object: Record<string, unknown>; v3?: Resource; silent: boolean }
  | { op: 'del'; object: Record<string, unknown>; silent: boolean }
  | { op: 'reset' | 'stall' | 'end' | 'gone' | 'failList' | 'failWatch' };

const arbObject = fc.oneof(
  arbNamespace.map((o) => ({ object: o as Record<string, unknown> })),
  arbPod.map((o) => ({ object: o as Record<string, unknown> })),
  arbPod.map((o) => ({ object: o as Record<string, unknown> })),
  arbKnp.map((o) => ({ object: o as Record<string, unknown> })),
  arbGnp.map((g) => ({ object: calicoCrdObject(g.v3, { policyNames: g.legacy ? 'legacy' : 'annotation' }), v3: g.v3 })),
  arbNode.map((o) => ({ object: o as Record<string, unknown> })),
);
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: arbObject.map((o): Op => ({ op: 'put', ...o, silent: false })) },
  { weight: 1, arbitrary: arbObject.map((o): Op => ({ op: 'put', ...o, silent: true })) },
  { weight: 3, arbitrary: arbObject.map((o): Op => ({ op: 'del', object: o.object, silent: false })) },
  { weight: 1, arbitrary: arbObject.map((o): Op => ({ op: 'del', object: o.object, silent: true })) },
  { weight: 2, arbitrary: fc.constantFrom<Op>({ op: 'reset' }, { op: 'stall' }, { op: 'end' }, { op: 'gone' }, { op: 'failList' }, { op: 'failWatch' }) },
);

describe('the Kubernetes source law', () => {
  test.prop([fc.array(arbOp, { maxLength: 25 }), fc.boolean()], { numRuns: propRuns(12), endOnFailure: true })(
    'an Engine fed by the source ends in the state of an Engine fed the final objects as files',
    async (ops, autoHep) => {
      const server = await startServer({ bookmarkIntervalMs: 40 });
      const v3ByName = new Map<string, Resource>();
      const f = await feed(server, { autoHostEndpoints: autoHep, timing: { maxIdleMs: 200, pageSize: 2 } }, 'n1');
      try {
        let step = 0;
        for (const o of ops) {
          if (++step % 4 === 0) await new Promise((r) => setTimeout(r, 5));
          switch (o.op) {
            case 'put':
              if (o.v3) v3ByName.set(String((o.object['metadata'] as { name: string }).name), o.v3);
              server.put(o.object, { silent: o.silent });
              break;
            case 'del': {
              const m = o.object['metadata'] as { name: string; namespace?: string };
              server.remove({ apiVersion: String(o.object['apiVersion']), kind: String(o.object['kind']), name: m.name, ...(m.namespace ? { namespace: m.namespace } : {}) }, { silent: o.silent });
              break;
            }
            case 'reset':
              server.resetWatches();
              break;
            case 'stall':
              server.stallWatches();
              break;
            case 'end':
              server.endWatches();
              break;
            case 'gone':
              server.compact();
              server.expireWatches();
              break;
            case 'failList':
              server.fail({ verb: 'list', status: 500 });
              break;
            case 'failWatch':
              server.fail({ verb: 'watch', status: 503 });
              break;
          }
        }
        await f.source.synced(10_000);
        await waitFor(() => caughtUp(f.source, server), 10_000, 'caught up before the resync');
        // The periodic relist-and-diff (here on demand) repairs events the watch never carried.
        f.source.resync();
        await waitFor(() => caughtUp(f.source, server) && f.source.status().phase === 'in-sync', 10_000, 'caught up after the resync');

        const finals: Resource[] = [];
        for (const o of server.objects()) {
          if (o.apiVersion === 'crd.projectcalico.org/v1') {
            finals.push(v3ByName.get(String(o.metadata['name']))!);
            continue;
          }
          finals.push(o as unknown as Resource);
          if (o.kind === 'Node') {
            const calico = calicoNodeFromKubernetesNode(nodeFacts(o));
            finals.push(calico);
          }
        }
        const text = finals.map((r) => JSON.stringify(r)).join('\n---\n');
        const loaded = loadManifests([{ file: 'final.yaml', text: finals.length ? text : '' }]);
        expect(loaded.issues.filter((i) => i.severity === 'error')).toEqual([]);
        const resources = loaded.resources.map((r) => r.resource);
        if (autoHep) {
          for (const r of resources.filter((x) => x.apiVersion === 'projectcalico.org/v3' && x.kind === 'Node')) resources.push(autoHostEndpoint(r));
        }
        expect(await f.state()).toEqual(await referenceState(resources, 'n1'));
        expect(f.source.status().problems).toEqual([]);
      } finally {
        await f.close();
        await server.close();
      }
    },
  );
});
