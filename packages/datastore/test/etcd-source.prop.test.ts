/**
 * The source law against a real etcd (DESIGN.md, "How correctness is established" 4): for random
 * puts, invalid puts, deletes, compactions, connection cuts (a proxy between the source and
 * etcd) and etcd restarts, an Engine fed by the etcd source ends in exactly the state of an
 * Engine fed the final objects, where a key whose value turned invalid still holds its last
 * valid version. Sized for a busy 2-core machine (propRuns scales it).
 */
import { applySourceMessages, canonicalDataplaneState, createEngine, RecordingDataplane, type Resource } from '@gingham/core';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEtcdDatastore, encodeValue, etcdKey, kindOf, resolveEtcdConfig } from '../src/index.js';
import { startTcpProxy } from '../src/testing.js';
import { eventually, HAVE_ETCD, useEtcd } from './support/etcd.js';

const wep = (n: number, node: string, app: string, ip: number): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `${node}-k8s-pod${n}-eth0`, namespace: 'ns', labels: { app } },
  spec: { node, orchestrator: 'k8s', workload: `pod${n}`, endpoint: 'eth0', interfaceName: `cali${n}${node}`, ipNetworks: [`10.0.${node === 'n1' ? 1 : 2}.${ip}/32`] },
});
const gnp = (n: number, app: string, port: number): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `g${n}` },
  spec: { selector: `app == '${app}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == '${app === 'web' ? 'db' : 'web'}'` }, destination: { ports: [port] } }] },
});
const netset = (n: number, cidr: string): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkSet',
  metadata: { name: `s${n}`, namespace: 'ns', labels: { app: 'web' } },
  spec: { nets: [cidr] },
});

const arbResource = fc.oneof(
  fc.record({ n: fc.integer({ min: 0, max: 3 }), node: fc.constantFrom('n1', 'n2'), app: fc.constantFrom('web', 'db'), ip: fc.integer({ min: 1, max: 9 }) }).map((p) => wep(p.n, p.node, p.app, p.ip)),
  fc.record({ n: fc.integer({ min: 0, max: 2 }), app: fc.constantFrom('web', 'db'), port: fc.constantFrom(80, 443) }).map((p) => gnp(p.n, p.app, p.port)),
  fc.record({ n: fc.integer({ min: 0, max: 1 }), cidr: fc.constantFrom('192.168.0.0/16', '172.16.0.0/12') }).map((p) => netset(p.n, p.cidr)),
);

type Op =
  | { op: 'put'; r: Resource }
  | { op: 'invalid'; r: Resource }
  | { op: 'del'; r: Resource }
  | { op: 'compact' }
  | { op: 'cut' }
  | { op: 'restore' }
  | { op: 'restart' }
  /** Cut the source off, write and delete meanwhile, compact past its revision, restore. */
  | { op: 'compactWhileCut'; puts: Resource[]; dels: Resource[] };

const arbOps = fc.array(
  fc.oneof(
    { weight: 8, arbitrary: arbResource.map((r): Op => ({ op: 'put', r })) },
    { weight: 1, arbitrary: arbResource.map((r): Op => ({ op: 'invalid', r })) },
    { weight: 3, arbitrary: arbResource.map((r): Op => ({ op: 'del', r })) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'compact' }) },
    { weight: 2, arbitrary: fc.constant<Op>({ op: 'cut' }) },
    { weight: 2, arbitrary: fc.constant<Op>({ op: 'restore' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'restart' }) },
    { weight: 2, arbitrary: fc.record({ puts: fc.array(arbResource, { minLength: 2, maxLength: 3 }), dels: fc.array(arbResource, { maxLength: 2 }) }).map((p): Op => ({ op: 'compactWhileCut', ...p })) },
  ),
  { maxLength: 12 },
);

const keyFor = (r: Resource) => etcdKey(kindOf(r.apiVersion, r.kind)!, { name: r.metadata.name, ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}) });

describe.skipIf(!HAVE_ETCD)('etcd source law (real etcd)', () => {
  const etcd = useEtcd();

  it('an Engine fed by the etcd source ends in the state of an Engine fed the final objects', async () => {
    const port = Number(new URL(etcd.server.endpoint).port);
    await fc.assert(
      fc.asyncProperty(arbOps, fc.boolean(), async (ops, quickOutageRelist) => {
        await etcd.raw.delete().prefix('/calico/').exec();
        const proxy = await startTcpProxy(port);
        const ds = createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: `http://${proxy.address}` } }), requestTimeoutMs: 3000 });
        try {
          const live = new RecordingDataplane({ keepBatches: false });
          const engine = createEngine({ node: 'n1', dataplane: live });
          const source = ds.source({ backoff: { initialMs: 20, maxMs: 200 }, relistAfterOutageMs: quickOutageRelist ? 150 : 60_000 });
          await source.start((messages) => {
            applySourceMessages(engine, messages);
            void engine.flush();
          });
          await eventually('first sync', () => source.status().phase === 'in-sync');

          const caughtUp = async () => {
            const target = await etcd.server.revision();
            await eventually(
              `the source to catch up with revision ${target}`,
              () => {
                const st = source.status();
                return st.phase === 'in-sync' && st.connected && Number(st.revision) >= target;
              },
              20_000,
            );
          };
          /** key → the last valid resource written there (what must be in force). */
          const model = new Map<string, Resource>();
          let restarts = 0;
          const put = async (r: Resource) => {
            await etcd.raw.put(keyFor(r)).value(encodeValue(r, kindOf(r.apiVersion, r.kind)!));
            model.set(keyFor(r), r);
          };
          const del = async (r: Resource) => {
            await etcd.raw.delete().key(keyFor(r)).exec();
            model.delete(keyFor(r));
          };
          for (const o of ops) {
            if (o.op === 'put') {
              await put(o.r);
            } else if (o.op === 'compactWhileCut') {
              proxy.cut();
              for (const r of o.puts) await put(r);
              for (const r of o.dels) await del(r);
              await etcd.server.compact();
              proxy.restore();
            } else if (o.op === 'invalid') {
              // "The last valid version stays in force" presumes the source saw it: let it
              // catch up first (a version overwritten before the source looked was never in force).
              proxy.restore();
              await caughtUp();
              await etcd.raw.put(keyFor(o.r)).value('{"metadata":');
            } else if (o.op === 'del') {
              await del(o.r);
            } else if (o.op === 'compact') {
              await etcd.server.compact();
            } else if (o.op === 'cut') {
              proxy.cut();
            } else if (o.op === 'restore') {
              proxy.restore();
            } else if (restarts++ === 0) {
              await etcd.server.stop();
              await etcd.server.start();
            }
          }
          proxy.restore();
          await caughtUp();

          const fresh = new RecordingDataplane({ keepBatches: false });
          const reference = createEngine({ node: 'n1', dataplane: fresh });
          for (const r of model.values()) reference.upsert(r);
          void reference.flush();
          expect(canonicalDataplaneState(live.state)).toEqual(canonicalDataplaneState(fresh.state));
          expect(source.status().resources).toBe(model.size);
          await source.close();
        } finally {
          await ds.close();
          await proxy.close();
        }
      }),
      { numRuns: propRuns(12) },
    );
  }, 180_000);
});
