import { formatPolicyHit, type FlowDecision, type FlowVerdictEvent, type Snapshot } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { createFlowCollector, type FlowCollectorOptions } from './collector.js';
import { createScriptedFlowSource } from './testing.js';
import { MANIFESTS, snapshotOf, STAGED } from './test-fixtures.js';

const WEB1 = '10.65.0.1';
const WEB2 = '10.65.0.2';
const DB = '10.65.0.3';

function ev(o: Partial<FlowVerdictEvent> & Pick<FlowVerdictEvent, 'src' | 'dst' | 'direction' | 'action' | 'decision'>): FlowVerdictEvent {
  return { tsMs: 1_000_000, family: 4, protocol: 6, srcPort: 40000, dstPort: 5432, bytes: 60, ...o };
}

const DB_IN: FlowDecision = { kind: 'rule', policyId: 'knp/shop/db-in', ruleIndex: 0 };
const PROFILE: FlowDecision = { kind: 'profile', profile: 'kns.shop', ruleIndex: 0 };

function setup(extra: Partial<FlowCollectorOptions> = {}, manifests = MANIFESTS) {
  let t = 1_000_000;
  let snap = snapshotOf(manifests);
  const source = createScriptedFlowSource();
  const collector = createFlowCollector({ source, snapshot: () => snap, timers: false, now: () => t, flushIntervalMs: 15_000, ...extra });
  return {
    source,
    collector,
    advance: (ms: number) => void (t += ms),
    setSnapshot: (s: Snapshot) => void (snap = s),
  };
}

/** web-1 → db:5432, allowed at both ends, with counters. */
function webToDb(source: ReturnType<typeof createScriptedFlowSource>, src = WEB1, srcPort = 40000, packets = 10, closed = false): void {
  source.verdict(ev({ src, dst: DB, srcPort, direction: 'egress', action: 'allow', decision: PROFILE }), ev({ src, dst: DB, srcPort, direction: 'ingress', action: 'allow', decision: DB_IN }));
  source.connection({ family: 4, protocol: 6, src, dst: DB, srcPort, dstPort: 5432, packetsOut: packets, bytesOut: packets * 100, packetsIn: packets - 1, bytesIn: (packets - 1) * 50, closed });
}

describe('collector: attribution and records', () => {
  it('a connection allowed at both ends gives one record per reporter, with the rule that decided and the tiers passed before it', async () => {
    const { source, collector } = setup();
    webToDb(source);
    await collector.poll({ counters: true });
    const w = await collector.flush();
    const dst = w.records.find((r) => r.reporter === 'dst')!;
    const src = w.records.find((r) => r.reporter === 'src')!;
    expect(dst).toMatchObject({ source_name: 'web-7f9c4d5b6-*', source_namespace: 'shop', source_type: 'wep', dest_name: 'db-0', dest_port: 5432, proto: 'tcp', action: 'allow' });
    expect(dst.policies.enforced.map(formatPolicyHit)).toEqual(['0|security|gnp:security.guard|pass|-1', '1|default|knp:shop/db-in|allow|0']);
    expect(src.policies.enforced.map(formatPolicyHit)).toEqual(['0|__PROFILE__|pro:kns.shop|allow|0']);
    // The destination's view: in = initiator → responder.
    expect(dst).toMatchObject({ packets_in: 10, bytes_in: 1000, packets_out: 9, bytes_out: 450, num_connections_started: 1, num_connections_live: 1, num_connections_completed: 0 });
    expect(src).toMatchObject({ packets_out: 10, bytes_out: 1000, packets_in: 9, bytes_in: 450 });
    expect(w.summary).toMatchObject({ type: 'window', flows: 2, events: 2, overflow_events: 0, lost_events: 0 });
  });

  it('pending hits carry a staged policy; after the staged policy goes, re-evaluation brings them back to the enforced ones', async () => {
    const { source, collector, setSnapshot } = setup({}, MANIFESTS + STAGED);
    webToDb(source);
    await collector.poll({ counters: true });
    setSnapshot(snapshotOf(MANIFESTS));
    expect(collector.reevaluate()).toBeGreaterThan(0);
    const w1 = await collector.flush();
    expect(w1.records.find((r) => r.reporter === 'src')!.policies.pending.map(formatPolicyHit)).toEqual(['0|__PROFILE__|pro:kns.shop|allow|0']);

    const staged = setup({}, MANIFESTS + STAGED);
    webToDb(staged.source);
    await staged.collector.poll({ counters: true });
    const w2 = await staged.collector.flush();
    const src = w2.records.find((r) => r.reporter === 'src')!;
    expect(src.action).toBe('allow');
    expect(src.policies.pending.map(formatPolicyHit)).toEqual(['0|default|snp:shop/web-lockdown|deny|-1']);
  });

  it('when the kernel names another rule than evaluate() would, the record carries the kernel hit alone and the mismatch is counted', async () => {
    const { source, collector } = setup();
    source.verdict(ev({ src: WEB1, dst: DB, direction: 'ingress', action: 'deny', decision: { kind: 'rule', policyId: 'gnp/security.guard', ruleIndex: 0 } }));
    await collector.poll();
    const w = await collector.flush();
    expect(w.records[0]!.policies.enforced.map(formatPolicyHit)).toEqual(['0|security|gnp:security.guard|deny|0']);
    expect(collector.stats().mismatches).toBe(1);
    expect(collector.metrics()).toMatch(/gingham_flowlogs_trace_mismatches_total\{source="scripted"\} 1/);
  });

  it('a denied flow counts each denied packet, and each distinct tuple once as a connection', async () => {
    const { source, collector } = setup();
    const deny = (srcPort: number) => ev({ src: WEB1, dst: DB, dstPort: 80, srcPort, direction: 'ingress', action: 'deny', decision: { kind: 'end-of-tier' } });
    source.verdict(deny(40000), deny(40000), deny(40000), deny(40001));
    await collector.poll();
    const w = await collector.flush();
    // Denied flows aggregate at level 1 by default: addresses kept, source ports merged.
    expect(w.records).toHaveLength(1);
    expect(w.records[0]).toMatchObject({ action: 'deny', source_name: 'web-7f9c4d5b6-x2x7q', source_ip: WEB1, dest_ip: DB, packets_in: 4, bytes_in: 240, num_connections_started: 2 });
    expect(w.records[0]!.policies.enforced.map(formatPolicyHit)).toEqual(['0|security|gnp:security.guard|pass|-1', '1|default|knp:shop/db-in|deny|-1']);
    expect('source_port' in w.records[0]!).toBe(false);
  });
});

describe('collector: aggregation levels', () => {
  const run = async (level: 0 | 1 | 2 | 3) => {
    const { source, collector } = setup({ aggregation: { allowed: level } });
    webToDb(source, WEB1, 40000);
    webToDb(source, WEB1, 40001);
    webToDb(source, WEB2, 40002);
    source.verdict(ev({ src: WEB1, dst: DB, dstPort: 5433, srcPort: 40003, direction: 'egress', action: 'allow', decision: PROFILE }));
    await collector.poll({ counters: true });
    return (await collector.flush()).records.filter((r) => r.reporter === 'src');
  };

  it('level 0 keeps every 5-tuple', async () => {
    const r = await run(0);
    expect(r.map((x) => `${x.source_ip}:${x.source_port}->${x.dest_ip}:${x.dest_port}`).sort()).toEqual([
      '10.65.0.1:40000->10.65.0.3:5432', '10.65.0.1:40001->10.65.0.3:5432', '10.65.0.1:40003->10.65.0.3:5433', '10.65.0.2:40002->10.65.0.3:5432',
    ]);
    expect(r.every((x) => x.source_name.startsWith('web-7f9c4d5b6-') && !x.source_name.endsWith('*'))).toBe(true);
  });

  it('level 1 merges source ports', async () => {
    const r = await run(1);
    expect(r.map((x) => `${x.source_ip}->${x.dest_port}:${x.num_connections_started}`).sort()).toEqual(['10.65.0.1->5432:2', '10.65.0.1->5433:1', '10.65.0.2->5432:1']);
    expect(r.some((x) => 'source_port' in x)).toBe(false);
  });

  it('level 2 merges pods under their generate-name prefix and intersects their labels', async () => {
    const r = await run(2);
    expect(r.map((x) => `${x.source_name}->${x.dest_name}:${x.dest_port}:${x.num_connections_started}`).sort()).toEqual(['web-7f9c4d5b6-*->db-0:5432:3', 'web-7f9c4d5b6-*->db-0:5433:1']);
    const merged = r.find((x) => x.dest_port === 5432)!;
    expect(merged.source_labels).toEqual(['app=web']);
    expect(merged).toMatchObject({ packets_out: 30, bytes_out: 3000 });
    expect(r.some((x) => 'source_ip' in x)).toBe(false);
  });

  it('level 3 also merges destination ports', async () => {
    const r = await run(3);
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ dest_port: 0, num_connections_started: 4 });
  });

  it('addresses outside the cluster are network sets, pvt or pub', async () => {
    const { source, collector } = setup({ aggregation: { allowed: 2 } });
    for (const dst of ['203.0.113.9', '192.168.1.1', '8.8.8.8']) source.verdict(ev({ src: WEB1, dst, dstPort: 443, direction: 'egress', action: 'allow', decision: PROFILE }));
    await collector.poll();
    const r = (await collector.flush()).records;
    expect(r.map((x) => `${x.dest_type}:${x.dest_name}`).sort()).toEqual(['net:pub', 'net:pvt', 'ns:partners']);
    expect(r.find((x) => x.dest_type === 'ns')!.dest_labels).toEqual(['kind=partner']);
  });
});

describe('collector: windows, bounds and losses', () => {
  it('a live connection is in every window it lives in, with the counter deltas of that window, until it completes', async () => {
    const { source, collector, advance } = setup();
    webToDb(source, WEB1, 40000, 10);
    await collector.poll({ counters: true });
    const w1 = await collector.flush();
    advance(15_000);
    source.connection({ family: 4, protocol: 6, src: WEB1, dst: DB, srcPort: 40000, dstPort: 5432, packetsOut: 25, bytesOut: 2500, packetsIn: 24, bytesIn: 1200, closed: true });
    const w2 = await collector.flush();
    const a = w1.records.find((r) => r.reporter === 'dst')!;
    const b = w2.records.find((r) => r.reporter === 'dst')!;
    expect(a).toMatchObject({ packets_in: 10, num_connections_started: 1, num_connections_live: 1, num_connections_completed: 0 });
    expect(b).toMatchObject({ packets_in: 15, bytes_in: 1500, num_connections_started: 0, num_connections_live: 1, num_connections_completed: 1 });
    expect(b.start_time).toBe(a.end_time);
    advance(15_000);
    expect((await collector.flush()).records).toHaveLength(0);
    expect(collector.stats().liveConnections).toBe(0);
  });

  it('past maxConnections a connection is recorded as started without counters; a completed one frees its place and its tuple starts afresh', async () => {
    const { source, collector, advance } = setup({ maxConnections: 2, aggregation: { allowed: 0 } });
    for (const port of [40000, 40001, 40002]) webToDb(source, WEB1, port, 10, port === 40000);
    await collector.poll({ counters: true });
    const w1 = await collector.flush();
    expect(w1.summary.untracked_connections).toBe(2); // 40002, reported at both ends
    const untracked = w1.records.filter((r) => r.source_port === 40002);
    expect(untracked.map((r) => r.num_connections_started)).toEqual([1, 1]);
    expect(untracked.every((r) => r.packets_in === 0 && r.packets_out === 0)).toBe(true);
    expect(w1.records.find((r) => r.source_port === 40000 && r.reporter === 'dst')).toMatchObject({ packets_in: 10, num_connections_completed: 1 });
    expect(collector.stats().liveConnections).toBe(1);

    // The same tuple again after it completed: a new connection, counted from its own first packet.
    advance(15_000);
    webToDb(source, WEB1, 40000, 3);
    await collector.poll({ counters: true });
    const w2 = await collector.flush();
    expect(w2.records.find((r) => r.source_port === 40000 && r.reporter === 'src')).toMatchObject({ packets_out: 3, num_connections_started: 1 });
    expect(collector.stats().liveConnections).toBe(2);
  });

  it('an ICMP echo is one connection whatever its type and code; allowed first packets without counters expire after a minute', async () => {
    const { source, collector, advance } = setup({ aggregation: { allowed: 0 } });
    const ping = (dstPort: number, tsMs: number) => ev({ tsMs, protocol: 1, src: WEB1, dst: DB, srcPort: 7, dstPort, direction: 'egress', action: 'allow', decision: PROFILE });
    source.verdict(ping(0x0800, 1_000_000));
    source.connection({ family: 4, protocol: 1, src: WEB1, dst: DB, srcPort: 7, dstPort: 0x0000, packetsOut: 4, bytesOut: 400, packetsIn: 4, bytesIn: 400, closed: false });
    source.verdict(ev({ tsMs: 1_000_000, src: WEB2, dst: DB, srcPort: 41000, direction: 'egress', action: 'allow', decision: PROFILE }));
    await collector.poll({ counters: true });
    const w = await collector.flush();
    const echo = w.records.find((r) => r.proto === 'icmp')!;
    expect(echo).toMatchObject({ packets_out: 4, packets_in: 4, num_connections_started: 1 });
    expect(collector.stats().liveConnections).toBe(2);
    advance(61_000);
    await collector.flush();
    // The TCP connection never got counters (the other end never answered): it is gone.
    expect(collector.stats().liveConnections).toBe(1);
  });

  it('past maxFlows a window counts the overflow instead of growing, and says so in its summary and metrics', async () => {
    const { source, collector } = setup({ maxFlows: 2, aggregation: { denied: 0 } });
    for (let i = 0; i < 5; i++) source.verdict(ev({ src: WEB1, dst: DB, srcPort: 40000 + i, dstPort: 80, direction: 'ingress', action: 'deny', decision: { kind: 'end-of-tier' } }));
    source.lose(7);
    await collector.poll();
    const w = await collector.flush();
    expect(w.records).toHaveLength(2);
    expect(w.summary).toMatchObject({ flows: 2, events: 5, overflow_events: 3, lost_events: 7 });
    const m = collector.metrics();
    expect(m).toMatch(/gingham_flowlogs_overflow_events_total\{source="scripted"\} 3/);
    expect(m).toMatch(/gingham_flowlogs_lost_events_total\{source="scripted"\} 7/);
  });

  it('addresses are held only while a connection, the window or the trace cache uses them', async () => {
    const { source, collector, setSnapshot } = setup({ maxConnections: 100 });
    // 300 sources, one connection each, a third of them past the connection cap (untracked).
    for (let i = 0; i < 300; i++) webToDb(source, `10.66.${i >> 8}.${i & 255}`, 40000 + i, 3, i % 2 === 0);
    source.verdict(ev({ src: '198.51.100.1', dst: DB, direction: 'ingress', action: 'deny', decision: { kind: 'end-of-tier' } }));
    await collector.poll();
    expect(collector.stats()).toMatchObject({ liveConnections: 100, addresses: 302 });
    // Counters close half of the tracked connections.
    await collector.poll({ counters: true });
    await collector.flush();
    await collector.flush();
    // The open connections' sources and DB stay; the trace cache still holds every pair it resolved.
    expect(collector.stats()).toMatchObject({ liveConnections: 50, addresses: 302 });
    setSnapshot(snapshotOf(MANIFESTS));
    await collector.flush();
    expect(collector.stats().addresses).toBe(51);
    for (let i = 0; i < 300; i += 2) webToDb(source, `10.66.${i >> 8}.${i & 255}`, 40000 + i, 3, true);
    for (let i = 1; i < 300; i += 2) webToDb(source, `10.66.${i >> 8}.${i & 255}`, 40000 + i, 3, true);
    await collector.poll({ counters: true });
    setSnapshot(snapshotOf(MANIFESTS));
    await collector.flush();
    await collector.flush();
    expect(collector.stats()).toMatchObject({ liveConnections: 0, addresses: 0 });
  });

  it('preallocated (the default), the connection table commits its storage at creation and gives the same records as one that grows page by page', async () => {
    const runs = await Promise.all(
      [true, false].map(async (preallocate) => {
        const { source, collector, advance } = setup({ maxConnections: 1000, preallocate });
        const bytesAtCreation = collector.stats().connectionBytes;
        for (let i = 0; i < 50; i++) webToDb(source, i % 2 ? WEB1 : WEB2, 40000 + i, 3 + i, i % 5 === 0);
        await collector.poll({ counters: true });
        advance(15_000);
        const w1 = await collector.flush();
        for (let i = 0; i < 20; i++) webToDb(source, WEB1, 41000 + i, 4, true);
        await collector.poll({ counters: true });
        const w2 = await collector.flush();
        return { bytesAtCreation, windows: [w1, w2], stats: { ...collector.stats(), connectionBytes: 0 } };
      }),
    );
    const [pre, grown] = runs;
    // 1,000 entries of 97 B (key, verdicts, counters, live flag, free list) and 2,048 slots of 8 B.
    expect(pre!.bytesAtCreation).toBe(1000 * 97 + 2048 * 8);
    expect(grown!.bytesAtCreation).toBe(0);
    expect(pre!.windows).toEqual(grown!.windows);
    expect(pre!.stats).toEqual(grown!.stats);
  });

  it('a window of 100 000 aggregated flows stays within 300 bytes a flow in its table', async () => {
    const { source, collector } = setup({ maxFlows: 100_000, aggregation: { denied: 0 } });
    for (let i = 0; i < 100_000; i++) {
      source.verdict(ev({ src: WEB1, dst: DB, srcPort: i & 0xffff, dstPort: 80 + (i >> 16), direction: 'ingress', action: 'deny', decision: { kind: 'unknown' } }));
    }
    await collector.poll();
    const s = collector.stats();
    expect(s.aggregatedFlows).toBe(100_000);
    expect(s.tableBytes / s.aggregatedFlows).toBeLessThan(300);
  });
});

describe('collector: metrics', () => {
  it('per-rule counters are summed into every enforced hit; denied traffic per deciding hit; series expire', async () => {
    let t = 1_000_000;
    const snap = snapshotOf(MANIFESTS);
    const source = createScriptedFlowSource('ebpf');
    const collector = createFlowCollector({ source, snapshot: () => snap, timers: false, now: () => t, metricsExpiryMs: 60_000 });
    webToDb(source);
    source.verdict(ev({ src: WEB1, dst: DB, dstPort: 23, direction: 'ingress', action: 'deny', decision: { kind: 'rule', policyId: 'gnp/security.guard', ruleIndex: 0 } }));
    await collector.poll({ counters: true });
    await collector.flush();
    const m = collector.metrics();
    expect(m).toContain(
      'gingham_policy_rule_packets_total{tier="default",policy="db-in",namespace="shop",rule_index="0",action="allow",rule_direction="ingress",traffic_direction="inbound"} 10',
    );
    expect(m).toContain(
      'gingham_policy_rule_connections_total{tier="security",policy="security.guard",namespace="",rule_index="-1",action="pass",rule_direction="ingress",traffic_direction="inbound"} 1',
    );
    expect(m).toContain('gingham_denied_packets_total{policy="security|gnp:security.guard|deny|0"} 1');
    expect(m).toContain('gingham_flowlogs_events_total{source="ebpf"} 3');
    t += 61_000;
    expect(collector.metrics()).not.toContain('gingham_policy_rule_packets_total{');
  });
});
