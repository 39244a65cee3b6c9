import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { createEngine, type DataplaneMessage, type DataplaneState, formatIp, modelVerdict, parseIp, RecordingDataplane, type Resource } from '@gingham/core';
import { arbCluster, arbUpdateStream, NODES, propRuns } from '@gingham/testkit';
import { arbSpec, engineStates, nodeFacts, packets, placedPackets } from '../test/support/flows.js';
import { compile, compileInto, computeRegions, type Tables } from './compile/index.js';
import { simulate, type Packet } from './simulate.js';
import { applyWrites, cloneMaps, decodeVerdictValue, emptyMaps, hexKey, type MapWrite, type TableMaps } from './wire.js';

/** Tables with ids renamed away: what a from-scratch compile must equal. */
function logical(t: Tables): unknown {
  const slotKey = new Map([...t.memory.slotIds].map(([k, id]) => [id, k]));
  const fwd = new Map([...t.memory.fwdSlots.values()].map((f) => [f.id, f]));
  const names = new Map([...t.memory.policyNums].map(([n, id]) => [id, n]));
  const versions = new Map<number, number>();
  const slots: string[] = [];
  for (const [k, v] of t.maps.slots) {
    const id = Buffer.from(k, 'hex').readUInt32LE(0);
    versions.set(id, Buffer.from(v).readUInt32LE(0));
    slots.push(`${slotKey.get(id)}=${Buffer.from(v).readUInt32LE(4)}`);
  }
  const endpoints = [...t.maps.endpoints].map(([k, v]) => `${k}=${slotKey.get(Buffer.from(v).readUInt32LE(0))},${slotKey.get(Buffer.from(v).readUInt32LE(4))},${Buffer.from(v).readUInt32LE(8)}`);
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
    const cls = b.readUInt32BE(12);
    const f = fwd.get(id);
    const sig = f ? `${f.classes.S[cls >>> 16]}x${f.classes.D[cls & 0xffff]}` : t.memory.classes.get(cls);
    expect(sig).toBeDefined();
    const d = decodeVerdictValue(v);
    return `${slotKey.get(id)}/${sig}/${b.readUInt32LE(0)}/${b.toString('hex', 16)}=${d.action},${d.flags},${d.tier},${names.get(d.policy)},${d.rule}`;
  });
  const fwdClasses = [...t.maps.fwd_classes].map(([k, v]) => {
    const b = Buffer.from(k, 'hex');
    const id = b.readUInt32BE(4);
    expect(b.readUInt32BE(8)).toBe(versions.get(id));
    return `${slotKey.get(id)}/${b.readUInt32LE(0)}/${b.toString('hex', 12)}=${(b[12]! & 0x10 ? fwd.get(id)?.classes.D : fwd.get(id)?.classes.S)?.[Buffer.from(v).readUInt32LE(0)]}`;
  });
  const ifaces = [...t.maps.ifaces].map(([k, v]) => {
    const b = Buffer.from(v);
    return `${k}=${[0, 4, 8].map((o) => slotKey.get(b.readUInt32LE(o)) ?? 'none').join(',')}`;
  });
  return { slots: slots.sort(), endpoints: endpoints.sort(), classes: classes.sort(), sports: sports.sort(), verdicts: verdicts.sort(), fwdClasses: fwdClasses.sort(), ifaces: ifaces.sort() };
}

/** `t` with every slot's recorded reads made unusable: the next compile rebuilds every program. */
function withoutReuse(t: Tables): Tables {
  const slots = new Map([...t.memory.slots].map(([k, s]) => [k, { ...s, deps: { ...s.deps, endpoint: { id: '<forgotten>' } as unknown as typeof s.deps.endpoint } }]));
  return { maps: t.maps, memory: { ...t.memory, slots } };
}

function sameMaps(a: TableMaps, b: TableMaps): void {
  for (const name of ['endpoints', 'slots', 'classes', 'sports', 'verdicts', 'ifaces', 'fwd_classes'] as const) {
    expect([...a[name]].map(([k, v]) => `${k}=${hexKey(v)}`).sort()).toEqual([...b[name]].map(([k, v]) => `${k}=${hexKey(v)}`).sort());
  }
}

// Sized for a busy 2-core machine (each property under 20 s there with two CPU hogs running);
// GINGHAM_PROP_SCALE=5 gives a deeper run (2,000 / 150 / 200 cases).
describe('eBPF policy compiler properties', () => {
  test.prop([arbCluster, fc.array(arbSpec, { minLength: 1, maxLength: 15 }), fc.constantFrom(...NODES)], { numRuns: propRuns(400) })(
    "the simulated datapath of one node, wherever it sees a packet (from the host, on arrival, forwarded), gives the model dataplane's verdict for the flow through that node",
    (resources, specs, node) => {
      const { dp } = engineStates(resources, [], node);
      expect(dp.violations).toEqual([]);
      const known = [...dp.state.workloadEndpoints.values(), ...dp.state.hostEndpoints.values()].some((e) => e.node === node) || dp.state.hosts.has(node);
      if (!known) return;
      const { tables } = compile(dp.state, undefined, nodeFacts(node));
      for (const { packet, ctx, flow, from, to } of placedPackets(dp.state, node, specs)) {
        const m = modelVerdict(dp.state, flow);
        const s = simulate(tables.maps, packet, ctx);
        for (const d of [s.egress, s.ingress, s.via?.in, s.via?.out]) expect(d?.stage).not.toBe('miss');
        const view = (v: { allowed: boolean; egress: { allowed: boolean }; ingress: { allowed: boolean }; via?: { in?: { allowed: boolean }; out?: { allowed: boolean } } }) => ({
          allowed: v.allowed,
          egress: v.egress.allowed,
          ingress: v.ingress.allowed,
          in: v.via?.in?.allowed ?? true,
          out: v.via?.out?.allowed ?? true,
        });
        expect({ flow, from, to, ctx, ...view(s) }).toEqual({ flow, from, to, ctx, ...view(m) });
        for (const d of [s.egress, s.ingress, s.via?.in, s.via?.out]) expect(d?.lookups ?? 0).toBeLessThanOrEqual(5);
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
            const pick = (v: ReturnType<typeof simulate>, dir: 'egress' | 'ingress' | 'in' | 'out') => (dir === 'in' ? v.via?.in : dir === 'out' ? v.via?.out : v[dir]);
            const show = (x: ReturnType<typeof pick>): string => (x ? JSON.stringify({ a: x.allowed, st: x.stage, v: x.verdict && { ...x.verdict, policy: 0 } }) : 'none');
            for (const dir of ['egress', 'ingress', 'in', 'out'] as const) {
              const got = show(pick(s, dir));
              const o = pick(olds[j]!, dir);
              const n = pick(news[j]!, dir);
              const ok = [o, n].some((x) => show(x) === got);
              expect(ok ? 'old-or-new' : { p, dir, got, o, n, w }).toBe('old-or-new');
            }
          });
        }
        tables = r.tables;
      }
    },
  );

  test.prop([arbCluster, arbUpdateStream, fc.constantFrom(...NODES)], { numRuns: propRuns(40) })(
    'compileInto hands its sink exactly the writes compile returns, in order, for a full fill and for every update of a chain, and its tables hold the same maps',
    (resources, ops, node) => {
      const dp = new RecordingDataplane({ keepBatches: false });
      const engine = createEngine({ node, dataplane: dp });
      for (const r of resources) engine.upsert(r);
      engine.flush();
      const into = (prev: Tables | undefined): { tables: Tables; writes: MapWrite[] } => {
        const writes: MapWrite[] = [];
        const r = compileInto(dp.state, (map, op, key, value) => void writes.push(op === 'update' ? { map, op, key, value: value! } : { map, op, key }), prev, nodeFacts(node));
        expect(r.writes).toBe(writes.length);
        return { tables: r.tables, writes };
      };
      const full = into(undefined);
      const spec = compile(dp.state, undefined, nodeFacts(node));
      expect(full.writes).toEqual(spec.writes);
      sameMaps(full.tables.maps, spec.tables.maps);
      sameMaps(applyWrites(emptyMaps(), full.writes), spec.tables.maps);
      // The streamed tables are a compile's previous tables like any other (their maps derived from memory).
      let tables = full.tables;
      for (const o of ops) {
        if (o.op === 'upsert') engine.upsert(o.resource);
        else engine.delete(o.kind, o.namespace, o.name, o.apiVersion);
        engine.flush();
        const next = into(tables);
        const want = compile(dp.state, tables, nodeFacts(node));
        expect(next.writes).toEqual(want.writes);
        sameMaps(next.tables.maps, want.tables.maps);
        tables = next.tables;
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

  test.prop([arbCluster, arbUpdateStream, fc.option(fc.constantFrom(...NODES), { nil: undefined })], { numRuns: propRuns(40) })(
    'compiled incrementally with the IP sets (and their members), policies and profiles each batch touched (as the dataplane passes them), a chain of updates gives exactly the tables, map contents and regions a fresh full compile gives',
    (resources, ops, node) => {
      // As the dataplane keeps it: one live state, and the ids of the IP sets each batch touched.
      const dp = new RecordingDataplane({ keepBatches: false });
      const dirty = new Set<string>();
      const dirtyPolicies = new Set<string>();
      const dirtyProfiles = new Set<string>();
      // Members added or removed per set; null once the set was replaced or deleted (compared in full).
      const dirtyMembers = new Map<string, Set<string> | null>();
      const hints = () => ({
        dirtySets: new Set(dirty),
        dirtyMembers: new Map([...dirtyMembers].filter((e): e is [string, Set<string>] => e[1] !== null).map(([k, v]) => [k, new Set(v)])),
        dirtyPolicies: new Set(dirtyPolicies),
        dirtyProfiles: new Set(dirtyProfiles),
      });
      const engine = createEngine({
        ...(node !== undefined ? { node } : {}),
        dataplane: {
          apply(messages: readonly DataplaneMessage[]) {
            for (const m of messages) {
              if (m.kind === 'ipset-replace' || m.kind === 'ipset-add-members' || m.kind === 'ipset-remove-members' || m.kind === 'ipset-delete') {
                dirty.add(m.id);
                const touched = dirtyMembers.get(m.id);
                if (m.kind === 'ipset-replace' || m.kind === 'ipset-delete') dirtyMembers.set(m.id, null);
                else if (touched !== null) dirtyMembers.set(m.id, new Set([...(touched ?? []), ...m.members]));
              } else if (m.kind === 'policy-upsert') dirtyPolicies.add(m.policy.id);
              else if (m.kind === 'policy-remove') dirtyPolicies.add(m.id);
              else if (m.kind === 'profile-upsert') dirtyProfiles.add(m.profile.id);
              else if (m.kind === 'profile-remove') dirtyProfiles.add(m.id);
            }
            dp.apply(messages);
          },
        },
      });
      for (const r of resources) engine.upsert(r);
      engine.flush();
      const clearHints = (): void => [dirty, dirtyMembers, dirtyPolicies, dirtyProfiles].forEach((x) => x.clear());
      let tables = compile(dp.state, undefined, {}, hints()).tables;
      clearHints();
      for (const o of ops) {
        if (o.op === 'upsert') engine.upsert(o.resource);
        else engine.delete(o.kind, o.namespace, o.name, o.apiVersion);
        engine.flush();
        const r = compile(dp.state, tables, {}, hints());
        clearHints();
        sameMaps(applyWrites(tables.maps, r.writes), r.tables.maps);
        const fresh = compile(dp.state).tables;
        expect(logical(r.tables)).toEqual(logical(fresh));
        sameMaps(r.tables.maps, applyWrites(tables.maps, compile(dp.state, tables).writes));
        // The regions are those the specification computes over the keys the programs reference.
        const keys = new Set<string>();
        const named = new Set<string>();
        for (const sl of r.tables.memory.slots.values()) {
          for (const k of sl.conds.keys) keys.add(k);
          for (const id of sl.conds.namedSets) named.add(id);
        }
        const regions = (m: ReadonlyMap<string, { sig: string }>): string[] => [...m].map(([id, x]) => `${id}=${x.sig}`).sort();
        expect(regions(r.tables.memory.regions)).toEqual(regions(computeRegions(dp.state, keys, named)));
        tables = r.tables;
      }
    },
  );
});
