/**
 * The law every live source must keep (DESIGN.md, "How correctness is established" 4): whatever
 * the datastore did (adds, updates, deletes, relists with vanished objects), an Engine fed the
 * tracker's messages ends in exactly the state of an Engine fed the final objects.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { canonicalDataplaneState, RecordingDataplane } from '../dataplane/index.js';
import { createEngine } from '../engine/engine.js';
import type { Resource } from '../model/resources.js';
import { applySourceMessages } from './engine-sink.js';
import { resourceKey } from './resource-key.js';
import { ResyncTracker } from './resync-tracker.js';
import type { SourceMessage } from './source.js';

const NS = ['a', 'b'];
const pod = (ns: string, name: string, app: string, ip: number): Resource => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels: { app } },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] },
  status: { podIP: `10.0.0.${ip}` },
});
const policy = (name: string, app: string, port: number): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec: { selector: `app == '${app}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == '${app === 'web' ? 'db' : 'web'}'` }, destination: { ports: [port] } }] },
});

const arbObject = fc.oneof(
  fc.record({ ns: fc.constantFrom(...NS), n: fc.integer({ min: 0, max: 4 }), app: fc.constantFrom('web', 'db'), ip: fc.integer({ min: 1, max: 9 }) }).map((p) => pod(p.ns, `p${p.n}`, p.app, p.ip)),
  fc.record({ n: fc.integer({ min: 0, max: 3 }), app: fc.constantFrom('web', 'db'), port: fc.constantFrom(80, 443) }).map((p) => policy(`g${p.n}`, p.app, p.port)),
);
type Op = { op: 'put'; r: Resource } | { op: 'del'; r: Resource } | { op: 'relist' };
const arbOps = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: arbObject.map((r): Op => ({ op: 'put', r })) },
    { weight: 2, arbitrary: arbObject.map((r): Op => ({ op: 'del', r })) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'relist' }) },
  ),
  { maxLength: 40 },
);

const id = (r: Resource): string => JSON.stringify(resourceKey(r));

describe('sources', () => {
  test.prop([arbOps, fc.boolean()], { numRuns: 300 })(
    'an Engine fed through the ResyncTracker ends in the state of an Engine fed the final objects',
    (ops, revisions) => {
      const store = new Map<string, { r: Resource; rev: number }>();
      let rev = 0;
      const tracker = new ResyncTracker();
      const live = new RecordingDataplane({ keepBatches: false });
      const engine = createEngine({ node: 'n1', dataplane: live });
      const feed = (ms: readonly (SourceMessage | undefined)[]): void => {
        applySourceMessages(engine, ms.filter((m): m is SourceMessage => m !== undefined));
        void engine.flush();
      };
      feed([tracker.beginResync(), ...tracker.endResync()]);
      for (const o of ops) {
        if (o.op === 'put') {
          store.set(id(o.r), { r: o.r, rev: ++rev });
          feed([tracker.upsert(o.r, revisions ? String(rev) : undefined)]);
        } else if (o.op === 'del') {
          // A watch can miss this delete (e.g. during an outage): only relists must catch it.
          const had = store.delete(id(o.r));
          if (had && rev % 2 === 0) feed([tracker.delete(resourceKey(o.r), revisions ? String(++rev) : undefined)]);
        } else {
          feed([tracker.beginResync(), ...[...store.values()].map((e) => tracker.upsert(e.r, revisions ? String(e.rev) : undefined)), ...tracker.endResync()]);
        }
      }
      feed([tracker.beginResync(), ...[...store.values()].map((e) => tracker.upsert(e.r, revisions ? String(e.rev) : undefined)), ...tracker.endResync()]);

      const fresh = new RecordingDataplane({ keepBatches: false });
      const reference = createEngine({ node: 'n1', dataplane: fresh });
      for (const e of store.values()) reference.upsert(e.r);
      void reference.flush();
      expect(canonicalDataplaneState(live.state)).toEqual(canonicalDataplaneState(fresh.state));
      expect(tracker.size).toBe(store.size);
    },
  );
});
