/**
 * `gingham flows` against a real collector: a scripted flow source (the kernel sources have their
 * own tests), the collector's unix-socket stream and its JSON lines file, read back through the
 * CLI with filters, tables, JSON lines and --follow.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, loadManifests, type FlowDecision, type FlowVerdictEvent } from '@gingham/core';
import { createFileOutput, createFlowCollector, createStreamServer, type FlowCollector, type StreamServer } from '@gingham/flows';
import { createScriptedFlowSource } from '@gingham/flows/testing';
import { flowsCommand } from '../src/commands/flows.js';
import { run } from './run-cli.js';

const MANIFESTS = `
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.65.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.65.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]}
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: web-lockdown, namespace: shop}
spec: {stagedAction: Set, selector: app == 'web', types: [Egress], egress: [{action: Allow, protocol: UDP, destination: {ports: [53]}}]}
`;

const loaded = loadManifests([{ file: 'm.yaml', text: MANIFESTS }]);
if (!loaded.ok) throw new Error('fixture');
const snapshot = buildSnapshot(loaded.resources.map((r) => r.resource)).snapshot;

const ev = (o: Partial<FlowVerdictEvent> & Pick<FlowVerdictEvent, 'direction' | 'action' | 'decision' | 'dstPort'>): FlowVerdictEvent => ({
  tsMs: Date.now(), family: 4, protocol: 6, src: '10.65.0.1', dst: '10.65.0.3', srcPort: 40000, bytes: 60, ...o,
});
const PROFILE: FlowDecision = { kind: 'profile', profile: 'kns.shop', ruleIndex: 0 };

let dir: string;
let collector: FlowCollector;
let server: StreamServer;
const source = createScriptedFlowSource();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gh-flows-cli-'));
  collector = createFlowCollector({ source, snapshot: () => snapshot, timers: false, outputs: [createFileOutput({ path: join(dir, 'flows.jsonl') })] });
  server = await createStreamServer({ collector, path: join(dir, 'flows.sock') });
  // Allowed web -> db:5432 (the policy at db, the profile at web; the staged policy would deny it at web).
  source.verdict(ev({ dstPort: 5432, direction: 'egress', action: 'allow', decision: PROFILE }), ev({ dstPort: 5432, direction: 'ingress', action: 'allow', decision: { kind: 'rule', policyId: 'knp/shop/db-in', ruleIndex: 0 } }));
  // Denied web -> db:22 at db (the end of the default tier).
  source.verdict(ev({ dstPort: 22, srcPort: 40001, direction: 'egress', action: 'allow', decision: PROFILE }), ev({ dstPort: 22, srcPort: 40001, direction: 'ingress', action: 'deny', decision: { kind: 'end-of-tier' } }));
  await collector.poll();
  await collector.flush();
});
afterAll(async () => {
  await server?.close();
  await collector?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gingham flows', () => {
  it('prints a table of what the stream holds, with the deciding rule and the staged verdict', async () => {
    const r = await run(['flows', '--socket', join(dir, 'flows.sock')]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+REPORTER\s+SOURCE\s+DESTINATION\s+PORT\s+VERDICT\s+DECIDED BY\s+STAGED/);
    const denied = lines.find((l) => l.includes('tcp/22') && l.includes(' dst '))!;
    expect(denied).toContain('DENIED');
    expect(denied).toContain('default|knp:shop/db-in|deny|-1');
    const atWeb = lines.find((l) => l.includes('tcp/5432') && l.includes(' src '))!;
    expect(atWeb).toContain('ALLOWED');
    expect(atWeb).toContain('shop/web-1');
    expect(atWeb).toMatch(/DENIED default\|sknp:shop\/web-lockdown\|deny\|-1|DENIED .*web-lockdown/);
  });

  it('filters with hubble-like flags and prints JSON lines for machines', async () => {
    const r = await run(['flows', '--socket', join(dir, 'flows.sock'), '--verdict', 'denied', '-o', 'json']);
    expect(r.code, r.err).toBe(0);
    const records = r.out.trim().split('\n').map((l) => JSON.parse(l) as { action: string; dest_port: number; reporter: string });
    expect(records).toEqual([expect.objectContaining({ action: 'deny', dest_port: 22, reporter: 'dst' })]);
    const pending = await run(['flows', '--socket', join(dir, 'flows.sock'), '--pending', '--port', '5432', '-o', 'json']);
    expect(pending.out.trim().split('\n').map((l) => (JSON.parse(l) as { reporter: string }).reporter)).toEqual(['src']);
    const policy = await run(['flows', '--socket', join(dir, 'flows.sock'), '--policy', 'shop/db-in', '--reporter', 'dst', '-o', 'json']);
    expect(policy.out.trim().split('\n')).toHaveLength(2);
  });

  it('reads the JSON lines files the same way', async () => {
    const r = await run(['flows', '--file', join(dir, 'flows.jsonl'), '-n', 'shop', '--port', '22', '-o', 'json']);
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(2);
  });

  it('follows: each new window as it closes', async () => {
    let out = '';
    const controller = new AbortController();
    const io = { stdout: (s: string) => void (out += `${s}\n`), stderr: () => undefined, env: {} };
    const done = flowsCommand(['--socket', join(dir, 'flows.sock'), '--follow', '--port', '443', '-o', 'json'], io, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 200));
    source.verdict(ev({ dstPort: 443, srcPort: 40002, direction: 'egress', action: 'allow', decision: PROFILE }));
    await collector.poll();
    await collector.flush();
    for (let i = 0; i < 50 && !out.includes('"dest_port":443'); i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    expect(await done).toBe(0);
    expect(out.trim().split('\n').map((l) => (JSON.parse(l) as { dest_port: number }).dest_port)).toEqual([443]);
  });

  it('says what is wrong with its flags, and where the stream is missing', async () => {
    const bad = await run(['flows', '--verdict', 'maybe']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--verdict takes allowed or denied');
    const follow = await run(['flows', '--file', 'x.jsonl', '--follow']);
    expect(follow.code).toBe(2);
    const missing = await run(['flows', '--socket', join(dir, 'nothing.sock')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('is the agent running with --flow-logs');
  });
});
