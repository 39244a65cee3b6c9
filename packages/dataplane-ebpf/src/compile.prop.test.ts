import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { createEngine, type DataplaneState, formatIp, modelVerdict, parseIp, RecordingDataplane, type Resource } from '@gingham/core';
import { arbCluster, arbUpdateStream, propRuns } from '@gingham/testkit';
import { arbSpec, engineStates, packets } from '../test/support/flows.js';
import { compile, type Tables } from './compile/index.js';
import { simulate, type Packet } from './simulate.js';
import { applyWrites, cloneMaps, decodeVerdictValue, hexKey, type TableMaps } from './wire.js';

/** Tables with ids renamed away: what a from-scratch compile must equal. */
function logical(t: Tables): unknown {
  const slotKey = new Map([...t.memory.slotIds].map(([k, id]) => [id, k]));
  const names = new Map([...t.memory.policyNums].map(([n, id]) => [id, n]));
  const versions = new Map<number, number>();
  const slots: string[] = [];
  for (const [k, v] of t.maps.slots) {
    const id = Buffer.from(k, 'hex').readUInt32LE(0);
    versions.set(id, Buffer.from(v).readUInt32LE(0));
    slots.push(`${slotKey.get(id)}=${Buffer.from(v).readUInt32LE(4)}`);
  }
  const endpoints = [...t.maps.endpoints].map(([k, v]) => `${k}=${slotKey.get(Buffer.from(v).readUInt32LE(0))},${slotKey.get(Buffer.from(v).readUInt32LE(4))}`);
  const classes = [...t.maps.classes].map(([k, v]) => `${k}=${t.memory.classes.get(Buffer.from(v).readUInt32LE(0))}`);
  const sports = [...t.maps.sports].map(([k, v]) => {
    const b = Buffer.from(k, 'hex');
    const id = b.readUInt32BE(4);
    expect(b.readUInt32BE(8)).toBe(versions.get(id));
    return `${slotKey.get(id)}/${b.readUInt32LE(0)}/${b.toString('hex', 12)}=${Buffer.from(v).readUInt32LE(0)}`;
  });
  const verdicts = [...t.maps.verdicts].map(([k, v]) => {
    const b = Buffer.from(k, 'hex');
    const id = b.readUInt32BE(4);
    expect(b.readUInt32BE(8)).toBe(versions.get(id));
    const sig = t.memory.classes.get(b.readUInt32BE(12));
    expect(sig).toBeDefined();
    const d = decodeVerdictValue(v);
    return `${slotKey.get(id)}/${sig}/${b.readUInt32LE(0)}/${b.toString('hex', 16)}=${d.action},${d.flags},${d.tier},${names.get(d.policy)},${d.rule}`;
  });
  return { slots: slots.sort(), endpoints: endpoints.sort(), classes: classes.sort(), sports: sports.sort(), verdicts: verdicts.sort() };
}

/** `t` with every slot's recorded reads made unusable: the next compile rebuilds every program. */
function withoutReuse(t: Tables): Tables {
  const slots = new Map([...t.memory.slots].map(([k, s]) => [k, { ...s, deps: { ...s.deps, endpoint: { id: '<forgotten>' } as unknown as typeof s.deps.endpoint } }]));
  return { maps: t.maps, memory: { ...t.memory, slots } };
}

function sameMaps(a: TableMaps, b: TableMaps): void {
  for (const name of ['endpoints', 'slots', 'classes', 'sports', 'verdicts'] as const) {
    expect([...a[name]].map(([k, v]) => `${k}=${hexKey(v)}`).sort()).toEqual([...b[name]].map(([k, v]) => `${k}=${hexKey(v)}`).sort());
  }
}

// Sized for a busy 2-core machine (each property under 20 s there with two CPU hogs running);
// GINGHAM_PROP_SCALE=5 gives a deeper run (2,000 / 150 / 200 cases).
describe('eBPF policy compiler properties', () => {
  test.prop([arbCluster, fc.array(arbSpec, { minLength: 1, maxLength: 15 })], { numRuns: propRuns(400) })(
    'the simulated datapath over compiled tables gives every flow the model dataplane verdict',
    (resources, specs) => {
      const { dp } = engineStates(resources);
      expect(dp.violations).toEqual([]);
      const { tables } = compile(dp.state);
      for (const p of packets(dp.state, specs)) {
        const m = modelVerdict(dp.state, { ...p, protocol: p.protocol });
        const s = simulate(tables.maps, p);
        expect(s.egress.stage).not.toBe('miss');
        expect(s.ingress.stage).not.toBe('miss');
        expect({ p, e: s.egress.allowed, i: s.ingress.allowed }).toEqual({ p, e: m.egress.allowed, i: m.ingress.allowed });
        expect(s.egress.lookups).toBeLessThanOrEqual(5);
        expect(s.ingress.lookups).toBeLessThanOrEqual(5);
      }
    },
  );

  test.prop([arbCluster, arbUpdateStream, fc.array(arbSpec, { minLength: 1, maxLength: 6 })], { numRuns: propRuns(30) })(
    'incremental diffs equal a from-scratch compile, and every intermediate state gives each direction its old or new verdict',
    (resources, ops, specs) => {
      const { states } = engineStates(resources, ops.slice(0, 4));
      let tables = compile(states[0]!).tables;
      for (let i = 1; i < states.length; i++) {
        const before = states[i - 1]!;
        const after = states[i]!;
        const r = compile(after, tables);
        sameMaps(applyWrites(tables.maps, r.writes), r.tables.maps);
        expect(logical(r.tables)).toEqual(logical(compile(after).tables));
        const pkts = packets(after, specs).concat(packets(before, specs));
        const olds = pkts.map((p) => simulate(tables.maps, p));
        const news = pkts.map((p) => simulate(r.tables.maps, p));
        const work = cloneMaps(tables.maps);
        for (const w of r.writes) {
          applyWrites(work, [w], true);
          pkts.forEach((p, j) => {
            const s = simulate(work, p);
            for (const dir of ['egress', 'ingress'] as const) {
              const got = JSON.stringify({ a: s[dir].allowed, st: s[dir].stage, v: s[dir].verdict && { ...s[dir].verdict, policy: 0 } });
              const o = olds[j]![dir];
              const n = news[j]![dir];
              const ok = [o, n].some((x) => JSON.stringify({ a: x.allowed, st: x.stage, v: x.verdict && { ...x.verdict, policy: 0 } }) === got);
              expect(ok ? 'old-or-new' : { p, dir, got, o, n, w }).toBe('old-or-new');
            }
          });
        }
        tables = r.tables;
      }
    },
  );

  test.prop([arbCluster, arbUpdateStream], { numRuns: propRuns(40) })(
    'a chain of updates compiled incrementally on the live state (objects kept, IP sets edited in place) equals compiling from scratch, and reuse changes no write',
    (resources, ops) => {
      // As the dataplane keeps it: one state, policy/endpoint objects replaced on upsert, IP set
      // member Sets edited in place by add/remove messages.
      const dp = new RecordingDataplane({ keepBatches: false });
      const engine = createEngine({ dataplane: dp });
      for (const r of resources) engine.upsert(r);
      engine.flush();
      let tables = compile(dp.state).tables;
      for (const o of ops) {
        if (o.op === 'upsert') engine.upsert(o.resource);
        else engine.delete(o.kind, o.namespace, o.name, o.apiVersion);
        engine.flush();
        const r = compile(dp.state, tables);
        sameMaps(applyWrites(tables.maps, r.writes), r.tables.maps);
        expect(logical(r.tables)).toEqual(logical(compile(dp.state).tables));
        // Every program rebuilt instead of reused: the same writes, in the same order.
        const rebuilt = compile(dp.state, withoutReuse(tables));
        expect(rebuilt.stats.reused).toBe(0);
        expect(rebuilt.writes).toEqual(r.writes);
        sameMaps(rebuilt.tables.maps, r.tables.maps);
        // No object shared with the previous state (reuse by structural comparison): the same writes.
        expect(compile(structuredClone(dp.state), tables).writes).toEqual(r.writes);
        tables = r.tables;
      }
      // Nothing changed: every slot reused, no write.
      const idle = compile(dp.state, tables);
      expect(idle.writes).toEqual([]);
      expect(idle.stats.reused).toBe(idle.stats.slots);
    },
  );
});
