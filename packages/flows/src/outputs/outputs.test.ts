import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowRecord } from '@gingham/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createFlowCollector, type FlowWindow } from '../collector.js';
import { filterFromParams, filterToParams, matchesFilter } from '../filter.js';
import { readFlowFiles, readFlowStream, rotatedFiles, type FlowLine } from '../client.js';
import { createScriptedFlowSource } from '../testing.js';
import { MANIFESTS, snapshotOf } from '../test-fixtures.js';
import { createFileOutput } from './file-output.js';
import { createFlowHttpServer } from './http-server.js';
import { createStreamServer } from './stream-server.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-flows-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (o: Partial<FlowRecord> = {}): FlowRecord => ({
  source_name: 'web-*', source_namespace: 'shop', source_type: 'wep', dest_name: 'db-0', dest_namespace: 'shop', dest_type: 'wep',
  dest_port: 5432, proto: 'tcp', reporter: 'dst', action: 'allow',
  policies: { enforced: [{ kind: 'NetworkPolicy', name: 'db-in', namespace: 'shop', tier: 'default', action: 'allow', policy_index: 0, rule_index: 0 }], pending: [] },
  start_time: 100, end_time: 115, source_labels: ['app=web'], dest_labels: ['app=db'],
  packets_in: 1, packets_out: 1, bytes_in: 1, bytes_out: 1, num_connections_started: 1, num_connections_completed: 0, num_connections_live: 1,
  ...o,
});

const window = (records: FlowRecord[], start = 100): FlowWindow => ({
  records,
  summary: { type: 'window', start_time: start, end_time: start + 15, flows: records.length, events: records.length, overflow_events: 0, lost_events: 0, untracked_connections: 0 },
});

describe('JSON lines files', () => {
  it('rotate by size: the current file never passes maxBytes once it has content, and only `keep` old files stay', async () => {
    const path = join(dir, 'size', 'flows.jsonl');
    const out = createFileOutput({ path, maxBytes: 2000, maxAgeMs: 0, keep: 2 });
    for (let i = 0; i < 12; i++) await out.write(window([record({ start_time: i }), record({ start_time: i, reporter: 'src' })], i));
    await out.close();
    expect(out.rotations).toBeGreaterThan(2);
    expect(statSync(path).size).toBeLessThanOrEqual(2000);
    expect(existsSync(`${path}.1`) && existsSync(`${path}.2`) && !existsSync(`${path}.3`)).toBe(true);
    const lines: FlowLine[] = [];
    await readFlowFiles(rotatedFiles(path), (l) => lines.push(l));
    const starts = lines.filter((l) => l.kind === 'record').map((l) => (l.kind === 'record' ? l.record.start_time : -1));
    expect(starts).toEqual([...starts].sort((a, b) => a - b)); // oldest file first, in order
    expect(lines.some((l) => l.kind === 'window')).toBe(true);
    expect(lines.some((l) => l.kind === 'invalid')).toBe(false);
  });

  it('rotate by age', async () => {
    let t = 0;
    const path = join(dir, 'age', 'flows.jsonl');
    const out = createFileOutput({ path, maxAgeMs: 60_000, now: () => t });
    await out.write(window([record()]));
    t += 30_000;
    await out.write(window([record()]));
    expect(out.rotations).toBe(0);
    t += 31_000;
    await out.write(window([record()]));
    await out.close();
    expect(out.rotations).toBe(1);
    expect(readFileSync(`${path}.1`, 'utf8').split('\n').filter(Boolean)).toHaveLength(4);
  });
});

describe('filters', () => {
  it('match the way hubble observe does: pod name prefixes, namespaces, verdicts, ports, policies in either form', () => {
    const r = record();
    expect(matchesFilter(r, { from: ['shop/web'] })).toBe(true);
    expect(matchesFilter(r, { from: ['other/web'] })).toBe(false);
    expect(matchesFilter(r, { to: ['db-0'], namespace: ['shop'], verdict: 'allow', port: [5432] })).toBe(true);
    expect(matchesFilter(r, { verdict: 'deny' })).toBe(false);
    for (const p of ['db-in', 'shop/db-in', 'knp:shop/db-in', 'default.db-in']) expect(matchesFilter(r, { policy: [p] }), p).toBe(true);
    expect(matchesFilter(r, { policy: ['other'] })).toBe(false);
    expect(matchesFilter(r, { pendingChanges: true })).toBe(true); // pending [] differs from enforced
    expect(matchesFilter(r, { pendingVerdict: 'allow' })).toBe(true);
  });

  it('round-trip through query parameters and reject bad values with the field named', () => {
    const f = { from: ['shop/web'], verdict: 'deny' as const, port: [80, 443], policy: ['db-in'], since: 10 };
    expect(filterFromParams(filterToParams(f))).toEqual(f);
    expect(() => filterFromParams(new URLSearchParams('verdict=maybe'))).toThrow(/verdict must be allowed or denied/);
    expect(() => filterFromParams(new URLSearchParams('port=99999'))).toThrow(/port must be 0-65535/);
  });
});

describe('the local stream and HTTP', () => {
  const snap = snapshotOf(MANIFESTS);
  const ev = (dstPort: number, action: 'allow' | 'deny') =>
    ({ tsMs: 0, family: 4, protocol: 6, src: '10.65.0.1', dst: '10.65.0.3', srcPort: 40000, dstPort, bytes: 60, direction: 'ingress', action, decision: { kind: 'unknown' } }) as const;

  it('a stream reader gets the matching history, then follows new windows', async () => {
    const source = createScriptedFlowSource();
    const collector = createFlowCollector({ source, snapshot: () => snap, timers: false });
    source.verdict(ev(5432, 'allow'), ev(80, 'deny'));
    await collector.poll();
    await collector.flush();
    const server = await createStreamServer({ collector, path: join(dir, 'flows.sock') });
    try {
      const once: FlowLine[] = [];
      await readFlowStream({ path: server.path, request: { filter: { verdict: 'deny' } } }, (l) => once.push(l));
      expect(once.map((l) => (l.kind === 'record' ? `${l.record.action}:${l.record.dest_port}` : l.kind))).toEqual(['deny:80']);

      const followed: FlowLine[] = [];
      const ac = new AbortController();
      const reading = readFlowStream({ path: server.path, request: { follow: true, noHistory: true, summaries: true }, signal: ac.signal }, (l) => {
        followed.push(l);
        if (l.kind === 'window') ac.abort();
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(server.clients()).toBe(1);
      source.verdict(ev(443, 'deny'));
      await collector.poll();
      await collector.flush();
      await reading;
      expect(followed.map((l) => (l.kind === 'record' ? l.record.dest_port : l.kind))).toEqual([443, 'window']);
      await expect(createStreamServer({ collector, path: server.path })).rejects.toThrow(/another flow collector serves/);
    } finally {
      await server.close();
    }
    expect(existsSync(join(dir, 'flows.sock'))).toBe(false);
    await expect(readFlowStream({ path: join(dir, 'flows.sock'), request: {} }, () => undefined)).rejects.toThrow(/is the agent running/);
  });

  it('HTTP serves filtered records as JSON lines, Prometheus metrics, and 400 for a bad filter', async () => {
    const source = createScriptedFlowSource();
    const collector = createFlowCollector({ source, snapshot: () => snap, timers: false });
    source.verdict(ev(5432, 'allow'), ev(80, 'deny'));
    await collector.poll();
    await collector.flush();
    const http = await createFlowHttpServer({ collector, port: 0 });
    try {
      const body = await (await fetch(`${http.url}/flows?verdict=denied&port=80`)).text();
      const lines = body.trim().split('\n').map((l) => JSON.parse(l) as FlowRecord);
      expect(lines.map((r) => `${r.action}:${r.dest_port}`)).toEqual(['deny:80']);
      const metrics = await fetch(`${http.url}/metrics`);
      expect(metrics.headers.get('content-type')).toMatch(/text\/plain/);
      expect(await metrics.text()).toMatch(/# TYPE gingham_policy_rule_packets_total counter/);
      const bad = await fetch(`${http.url}/flows?verdict=maybe`);
      expect(bad.status).toBe(400);
      expect((await fetch(`${http.url}/nope`)).status).toBe(404);
    } finally {
      await http.close();
      await collector.close();
    }
    expect(source.closed).toBe(true);
  });
});
