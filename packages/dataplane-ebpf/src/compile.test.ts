import { describe, expect, it } from 'vitest';
import { type CompiledRule, createEngine, type DataplaneState, emptyDataplaneState, modelVerdict, RecordingDataplane, type Resource, type TierRef } from '@gingham/core';
import { compile } from './compile/index.js';
import { simulate, type Packet } from './simulate.js';
import { applyWrites, emptyMaps, FLAG_LOG, hexKey, MAP_NAMES } from './wire.js';

const side = {};
function state(tiers: TierRef[], policies: Record<string, CompiledRule[]>, profile: CompiledRule[] = [], sets: Record<string, string[]> = {}): DataplaneState {
  const s = emptyDataplaneState();
  for (const [id, members] of Object.entries(sets)) s.ipSets.set(id, { type: id.startsWith('np') ? 'net-port-proto' : 'nets', members: new Set(members) });
  for (const [id, ingress] of Object.entries(policies)) s.policies.set(id, { id, tier: 't', ingress, egress: [], staged: false });
  s.profiles.set('prof', { id: 'prof', ingress: profile, egress: [{ action: 'Allow', source: side, destination: side }] });
  s.workloadEndpoints.set('n/a', { id: 'n/a', name: 'a', node: 'x', interfaceName: 'cali1', addresses: ['10.0.0.1/32'], ingressTiers: tiers, egressTiers: [], profileIds: ['prof'], stagedPolicyIds: [] });
  return s;
}
const tcp = (src: string, dstPort: number, srcPort = 40000): Packet => ({ src, dst: '10.0.0.1', protocol: 6, srcPort, dstPort });
const check = (s: DataplaneState, p: Packet): boolean => {
  const got = simulate(compile(s).tables.maps, p);
  expect(got.ingress.allowed).toBe(modelVerdict(s, p).ingress.allowed);
  return got.ingress.allowed;
};
const tier = (name: string, policyIds: string[], defaultAction: 'Deny' | 'Pass' = 'Deny'): TierRef => ({ name, defaultAction, policyIds });

describe('eBPF verdict tables', () => {
  it('an undecided tier ends in Deny, and Pass skips the rest of the tier', () => {
    const s = state([tier('t1', ['p1', 'p2']), tier('t2', ['p3'])], {
      p1: [{ action: 'Pass', protocol: 6, source: side, destination: { ports: [{ min: 80, max: 80 }] } }],
      p2: [{ action: 'Deny', source: side, destination: side }],
      p3: [{ action: 'Allow', source: side, destination: side }],
    });
    expect(check(s, tcp('10.1.0.1', 80))).toBe(true);
    expect(check(s, tcp('10.1.0.1', 81))).toBe(false);
  });
  it('a default-Pass tier falls through to profiles; Log continues and is flagged', () => {
    const s = state([tier('t1', ['p1'], 'Pass')], { p1: [{ action: 'Log', source: side, destination: side }] }, [
      { action: 'Allow', source: { nets: ['10.1.0.0/16'] }, destination: { ports: [{ min: 1000, max: 2000 }] } },
    ]);
    expect(check(s, tcp('10.1.2.3', 1500))).toBe(true);
    expect(check(s, tcp('10.1.2.3', 2001))).toBe(false);
    expect(check(s, tcp('10.2.2.3', 1500))).toBe(false);
    expect(simulate(compile(s).tables.maps, tcp('10.1.2.3', 1500)).ingress.verdict!.flags & FLAG_LOG).toBe(FLAG_LOG);
  });
  it('notNets, notSelector, source ports and named ports', () => {
    const s = state(
      [tier('t1', ['p1'])],
      {
        p1: [
          { action: 'Deny', source: { notNets: ['10.9.0.0/16'], notIpSetId: 'sel' }, destination: { ports: [{ min: 22, max: 22 }] } },
          { action: 'Allow', source: { ports: [{ min: 53, max: 53 }] }, destination: side },
          { action: 'Allow', source: side, destination: { namedPortIpSetIds: ['np1'] } },
        ],
      },
      [],
      { sel: ['10.5.0.0/16'], np1: ['10.0.0.1/32,tcp:8080'] },
    );
    expect(check(s, tcp('10.1.0.1', 22, 53))).toBe(false);
    expect(check(s, tcp('10.9.0.1', 22, 53))).toBe(true);
    expect(check(s, tcp('10.5.0.1', 22, 53))).toBe(true);
    expect(check(s, tcp('10.5.0.1', 8080))).toBe(true);
    expect(check(s, tcp('10.5.0.1', 8081))).toBe(false);
  });
  it('ICMP type/code and other protocols', () => {
    const s = state([tier('t1', ['p1'])], { p1: [{ action: 'Allow', protocol: 1, icmp: { type: 8 }, source: side, destination: side }] });
    expect(check(s, { src: '10.1.0.1', dst: '10.0.0.1', protocol: 1, icmp: { type: 8, code: 3 } })).toBe(true);
    expect(check(s, { src: '10.1.0.1', dst: '10.0.0.1', protocol: 1, icmp: { type: 0, code: 0 } })).toBe(false);
    expect(check(s, { src: '10.1.0.1', dst: '10.0.0.1', protocol: 47 })).toBe(false);
  });
  it('a slot keeps its program while what it read holds, with IP sets edited in place', () => {
    const s = state(
      [tier('t1', ['p1'])],
      {
        p1: [
          { action: 'Allow', protocol: 6, source: side, destination: { ipSetId: 'sel', ports: [{ min: 22, max: 22 }] } },
          { action: 'Allow', protocol: 6, source: side, destination: { namedPortIpSetIds: ['np1'] } },
          { action: 'Allow', protocol: 6, source: { namedPortIpSetIds: ['np2'] }, destination: { ports: [{ min: 9000, max: 9000 }] } },
        ],
      },
      [],
      { sel: ['10.0.0.0/24'], np1: ['10.0.0.1/32,tcp:8080'], np2: ['10.1.0.1/32,tcp:53'], other: ['10.7.0.0/16'] },
    );
    const probes = [tcp('10.1.0.1', 22), tcp('10.1.0.1', 8080), tcp('10.1.0.1', 8081), tcp('10.1.0.1', 9000, 53), tcp('10.1.0.2', 9000, 99), tcp('10.1.0.2', 9000, 98)];
    let tables = compile(s).tables;
    const step = (change: () => void, reused: number): boolean[] => {
      change();
      const r = compile(s, tables);
      expect(r.stats.reused).toBe(reused);
      const scratch = compile(s).tables.maps;
      const got = probes.map((p) => {
        const v = simulate(r.tables.maps, p).ingress.allowed;
        expect(v).toBe(simulate(scratch, p).ingress.allowed);
        expect(v).toBe(modelVerdict(s, p).ingress.allowed);
        return v;
      });
      tables = r.tables;
      return got;
    };
    const set = (id: string): Set<string> => s.ipSets.get(id)!.members;
    // Two slots (ingress, egress); only the ingress one reads sel, np1 and np2.
    expect(step(() => set('other').add('10.8.0.0/16'), 2)).toEqual([true, true, false, true, false, false]);
    expect(step(() => set('sel').delete('10.0.0.0/24'), 1)).toEqual([false, true, false, true, false, false]);
    expect(step(() => set('np1').add('10.0.0.1/32,tcp:8081'), 1)).toEqual([false, true, true, true, false, false]);
    expect(step(() => set('np1').add('10.0.0.5/32,tcp:7000'), 2)).toEqual([false, true, true, true, false, false]);
    expect(step(() => set('np2').add('10.1.0.2/32,tcp:99'), 1)).toEqual([false, true, true, true, true, false]);
    expect(step(() => set('sel').add('10.0.0.1/32'), 1)).toEqual([true, true, true, true, true, false]);
    // A policy object replaced by an equal one: kept (compared structurally); by another: rebuilt.
    expect(step(() => s.policies.set('p1', structuredClone(s.policies.get('p1')!)), 2)).toEqual([true, true, true, true, true, false]);
    expect(step(() => s.policies.set('p1', { ...s.policies.get('p1')!, ingress: s.policies.get('p1')!.ingress.slice(1) }), 1)).toEqual([false, true, true, true, true, false]);
  });
  it('10,000 port rules cost the same number of lookups as one', () => {
    const rules: CompiledRule[] = Array.from({ length: 10_000 }, (_, i) => ({ action: 'Allow', protocol: 6, source: side, destination: { ports: [{ min: 10_000 + i, max: 10_000 + i }] } }));
    const s = state([tier('t1', ['p1'])], { p1: rules });
    const v = simulate(compile(s).tables.maps, tcp('10.1.0.1', 19_999));
    expect(v.ingress.allowed).toBe(true);
    expect(v.ingress.lookups).toBe(4);
  });

  it("a local endpoint's label change writes its own slot's rows and one LPM entry: no transition class, no other slot touched", () => {
    // The agent bench's shape, small: 40 endpoints in 5 apps (10 local, two per app), policy j selects app j%5 and allows TCP from app (j+1)%5.
    const wep = (i: number, app: number): Resource => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name: `w${i}`, namespace: 'ns', labels: { app: `app${app}` } },
      spec: { node: i < 10 ? 'here' : 'there', orchestrator: 'k8s', workload: `w${i}`, endpoint: 'eth0', interfaceName: `cali${i}`, ipNetworks: [`10.0.0.${i + 1}/32`] },
    });
    const gnp = (j: number): Resource => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `p${j}` },
      spec: { order: j, selector: `app == 'app${j % 5}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == 'app${(j + 1) % 5}'` }, destination: { ports: [1000 + j] } }] },
    });
    const dp = new RecordingDataplane({ keepBatches: false });
    const engine = createEngine({ node: 'here', dataplane: dp });
    for (let i = 0; i < 40; i++) engine.upsert(wep(i, i % 5));
    for (let j = 0; j < 10; j++) engine.upsert(gnp(j));
    engine.flush();
    const first = compile(dp.state);
    // Memory held once: local endpoints with the same policies (w0 and w5, both app0) share one
    // program object and text; each remote /32 is one region, keyed by its address bits, whose class
    // is its signature's.
    const slotOf = (t: typeof first.tables, i: number, dir = 'ingress'): { program: object; print: string } =>
      [...t.memory.slots.values()].find((sl) => sl.key === `${dir}|w:ns/w${i}|10.0.0.${i + 1}`)!;
    expect(slotOf(first.tables, 5).program).toBe(slotOf(first.tables, 0).program);
    expect(slotOf(first.tables, 5).print).toBe(slotOf(first.tables, 0).print);
    expect(slotOf(first.tables, 1).program).not.toBe(slotOf(first.tables, 0).program);
    const bits = (ip: string): string => ip.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
    const peer = first.tables.memory.regions.get(`4/${bits('10.0.0.12')}`)!;
    expect(peer).toMatchObject({ prefix: 32, addr: { family: 4, bytes: new Uint8Array([10, 0, 0, 12, ...new Array(12).fill(0)]) } });
    expect(peer.classId).toBe(first.tables.memory.classIds.get(peer.sig));
    expect(first.tables.memory.regions.get('4/')!.prefix).toBe(0);
    engine.upsert(wep(3, 1)); // app3 -> app1
    engine.flush();
    const r = compile(dp.state, first.tables);
    expect(r.stats).toMatchObject({ flipped: 1, transitions: 0 });
    // w3's new program is app1's, the object w1's slot already had.
    expect(slotOf(r.tables, 3).program).toBe(slotOf(r.tables, 1).program);
    const flippedId = [...r.tables.memory.slots.values()].find((sl) => sl.version === 2)!.id;
    const byMap = Object.fromEntries(MAP_NAMES.map((m) => [m, r.writes.filter((w) => w.map === m)]));
    expect(byMap.classes).toHaveLength(1);
    expect(byMap.slots).toHaveLength(1);
    expect(byMap.endpoints).toHaveLength(0);
    // Every verdict write is a row of the flipped slot (new version written, old one deleted).
    expect(byMap.verdicts!.every((w) => Buffer.from(w.key).readUInt32BE(4) === flippedId)).toBe(true);
    const rows = [...r.tables.memory.slots.values()].find((sl) => sl.id === flippedId)!.rows;
    expect(byMap.verdicts!.filter((w) => w.op === 'update')).toHaveLength([...rows.values()].reduce((n, x) => n + x.length, 0));
    // Neither tables' maps were read before the second compile, so r's are derived from its memory
    // alone (the dataplane keeps no mirror of the kernel maps): they are what both diffs leave.
    const written = applyWrites(applyWrites(emptyMaps(), first.writes), r.writes);
    for (const m of MAP_NAMES) {
      expect([...r.tables.maps[m]].map(([k, v]) => `${k}=${hexKey(v)}`).sort(), m).toEqual([...written[m]].map(([k, v]) => `${k}=${hexKey(v)}`).sort());
    }
    // The peer moved: w3 (10.0.0.4) is now allowed where app1 peers are, and no longer where app3 ones are.
    const to = (dst: string, port: number): Packet => ({ src: '10.0.0.4', dst, protocol: 6, srcPort: 40000, dstPort: port });
    expect(simulate(r.tables.maps, to('10.0.0.1', 1000)).ingress.allowed).toBe(true); // w0 (app0) allows app1 on p0's port
    expect(simulate(first.tables.maps, to('10.0.0.1', 1000)).ingress.allowed).toBe(false);
  });
});
