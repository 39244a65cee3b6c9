/**
 * The agent runs the flow collector (issue 13): with flow logs on, the collector starts after the
 * dataplane, evaluates flows on a snapshot of the resources the datastore delivered (rebuilt only
 * when they change), and serves records on the local stream (`gingham flows`), `/flows` on the
 * health server and the file; per-rule series join `/metrics`; health and status report it; a
 * stop flushes the last window and removes the socket; a source whose kernel reader (a supervised
 * child) was restarted says so in health, status, metrics and the last error, and the agent stays
 * up. A real directory datastore, a recording dataplane and a scripted flow source (the kernel
 * sources are tested in agent-flows.kernel.test.ts, the iptables relay's restarts in
 * dataplane-iptables' flow-relay.kernel.test.ts).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingDataplane, type FlowRecord } from '@gingham/core';
import { readFlowStream, type FlowLine, type ReaderRequest } from '@gingham/flows';
import { createScriptedFlowSource } from '@gingham/flows/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, put, wep } from './support/dir-fixtures.js';
import { createAgent, fetchAgentStatus, formatAgentStatus, resolveAgentConfig, wrapDataplane, type Agent } from '@gingham/agent';

const RESOURCES = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-from-web}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'web'}, destination: {ports: [5432]}}]
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: db-lockdown}
spec:
  stagedAction: Set
  order: 1
  selector: app == 'db'
  types: [Ingress]
  ingress: [{action: Deny, source: {selector: app == 'web'}}]
`;


async function readStream(path: string, request: ReaderRequest = {}): Promise<FlowRecord[]> {
  const out: FlowRecord[] = [];
  await readFlowStream({ path, request }, (l: FlowLine) => {
    if (l.kind === 'record') out.push(l.record);
  });
  return out;
}

describe('agent with flow logs (directory datastore, recording dataplane, scripted flow source)', () => {
  let dir: string;
  let work: string;
  let agent: Agent;
  let healthPort: number;
  let metricsPort: number;
  const recording = new RecordingDataplane({ keepBatches: false });
  const source = createScriptedFlowSource('scripted');
  // What a source that supervises a kernel reader child adds to its stats (the iptables relay).
  const reader: { restarts: number; problem?: string } = { restarts: 0 };
  const scriptedStats = source.stats;
  source.stats = () => ({ ...scriptedStats(), ...reader });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gingham-agent-flows-dir-'));
    work = await mkdtemp(join(tmpdir(), 'gingham-agent-flows-'));
    await put(dir, 'web.yaml', wep('web-0', 'web', 1));
    await put(dir, 'db.yaml', wep('db-0', 'db', 2));
    await put(dir, 'policies.yaml', RESOURCES);
    healthPort = await freePort();
    metricsPort = await freePort();
    const { config } = await resolveAgentConfig({
      flags: {
        node: 'node-1',
        dir,
        'lock-dir': join(work, 'locks'),
        'health-port': String(healthPort),
        'metrics-port': String(metricsPort),
        'metrics-host': '127.0.0.1',
        'flow-logs': true,
        dataplane: 'ebpf', // replaced by the recording dataplane below
        'flow-logs-socket': join(work, 'flows.sock'),
        'flow-logs-file': join(work, 'log', 'flows.jsonl'),
        'flow-logs-flush-interval-ms': '1000',
        'flow-logs-aggregation-allowed': '0',
      },
      env: {},
    });
    const dataplane = { ...wrapDataplane('recording', recording), createFlowSource: async () => source };
    agent = createAgent({ config, logger: pino({ level: 'silent' }), dataplane, tickMs: 50 });
    await agent.start();
    await agent.whenReady(15_000);
  });
  afterAll(async () => {
    await agent?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('attributes a flow to the enforced policy rule and the staged policy, on every output', async () => {
    const policyId = recording.state.workloadEndpoints.get('shop/db-0')!.ingressTiers[0]!.policyIds[0]!;
    source.verdict({ tsMs: Date.now(), direction: 'ingress', action: 'allow', decision: { kind: 'rule', policyId, ruleIndex: 0 }, family: 4, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2', srcPort: 40000, dstPort: 5432, bytes: 60 });
    const sock = join(work, 'flows.sock');
    let records: FlowRecord[] = [];
    await expect.poll(async () => (records = await readStream(sock, { last: 10 })).length, { timeout: 10_000, interval: 200 }).toBeGreaterThan(0);
    const r = records[0]!;
    expect(r).toMatchObject({ source_name: 'web-0', source_namespace: 'shop', dest_name: 'db-0', dest_port: 5432, proto: 'tcp', reporter: 'dst', action: 'allow' });
    expect(r.policies.enforced.at(-1)).toMatchObject({ kind: 'GlobalNetworkPolicy', name: 'db-from-web', tier: 'default', action: 'allow', rule_index: 0 });
    expect(r.policies.pending.at(-1)).toMatchObject({ kind: 'StagedGlobalNetworkPolicy', name: 'db-lockdown', action: 'deny', rule_index: 0 });

    // /flows on the health server, with the filter as query parameters.
    const http = await fetch(`http://127.0.0.1:${healthPort}/flows?verdict=allowed&port=5432`);
    expect(http.status).toBe(200);
    const lines = (await http.text()).trim().split('\n').map((l) => JSON.parse(l) as { dest_name?: string });
    expect(lines.some((l) => l.dest_name === 'db-0')).toBe(true);
    expect((await (await fetch(`http://127.0.0.1:${healthPort}/flows?verdict=denied`)).text()).trim()).toBe('');

    // The per-rule series join the agent's metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/gingham_policy_rule_connections_total\{[^}]*policy="db-from-web"[^}]*\} 1/);
    expect(metrics).toContain('gingham_active_local_endpoints 2');
    expect(metrics).toMatch(/gingham_flowlogs_events_total\{source="scripted"\} 1/);

    // The file holds the record and the window summaries.
    await expect.poll(async () => (await readFile(join(work, 'log', 'flows.jsonl'), 'utf8').catch(() => '')).includes('"dest_name":"db-0"'), { timeout: 5000 }).toBe(true);
  });

  it('health and status report the collector, its lost events, and a snapshot rebuilt only when resources change', async () => {
    const before = await fetchAgentStatus('127.0.0.1', healthPort);
    expect(before.flowLogs).toMatchObject({ source: 'scripted', socket: join(work, 'flows.sock'), file: join(work, 'log', 'flows.jsonl'), events: 1, lostEvents: 0 });
    const builds = before.flowLogs!.snapshotBuilds;
    // Many events, no resource change: no rebuild.
    for (let i = 0; i < 50; i++) source.verdict({ tsMs: Date.now(), direction: 'egress', action: 'allow', decision: { kind: 'profile', profile: 'kns.shop', ruleIndex: 0 }, family: 4, protocol: 17, src: '10.0.0.1', dst: '10.0.0.9', srcPort: 50000 + i, dstPort: 53, bytes: 60 });
    source.lose(7);
    await expect.poll(async () => (await fetchAgentStatus('127.0.0.1', healthPort)).flowLogs?.lostEvents, { timeout: 5000 }).toBe(7);
    const after = await fetchAgentStatus('127.0.0.1', healthPort);
    expect(after.flowLogs!.events).toBe(51);
    expect(after.flowLogs!.snapshotBuilds).toBe(builds);
    expect(after.ready).toBe(true);
    // The health reporters are refreshed on the agent's health tick, the status's counters live.
    await expect
      .poll(async () => (await fetchAgentStatus('127.0.0.1', healthPort)).health.reporters.find((r) => r.name === 'flow-logs'), { timeout: 10_000 })
      .toMatchObject({ ready: true, live: true, detail: expect.stringMatching(/^7 flow event\(s\) lost/) });
    expect(formatAgentStatus(after)).toMatch(/flow logs \(scripted\): 51 events, 7 lost/);

    // A resource change: events after it see it (the snapshot rebuilt once, not per event).
    await put(dir, 'web.yaml', wep('web-0', 'frontend', 1));
    let port = 41000;
    await expect
      .poll(
        async () => {
          source.verdict({ tsMs: Date.now(), direction: 'egress', action: 'allow', decision: { kind: 'profile', profile: 'kns.shop', ruleIndex: 0 }, family: 4, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2', srcPort: port++, dstPort: 8080, bytes: 60 });
          const recs = await readStream(join(work, 'flows.sock'), { filter: { port: [8080] } });
          return recs.some((r) => r.source_labels.includes('app=frontend'));
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(true);
    expect((await fetchAgentStatus('127.0.0.1', healthPort)).flowLogs!.snapshotBuilds).toBe(builds + 1);
  });

  it("a restart of the source's kernel reader shows in health, status, metrics and the last error; the agent stays up", async () => {
    reader.restarts = 1;
    reader.problem = 'the netlink relay (pid 4242) was killed by SIGABRT: terminate called after throwing an instance of Napi::Error';
    // Health is reported on the agent's tick: wait for the one after the restart.
    const detail = async (): Promise<string | undefined> => (await fetchAgentStatus('127.0.0.1', healthPort)).health.reporters.find((r) => r.name === 'flow-logs')?.detail;
    await expect.poll(detail, { timeout: 5000 }).toContain('restarted');
    const s = await fetchAgentStatus('127.0.0.1', healthPort);
    expect(s.ready).toBe(true);
    expect(s.flowLogs).toMatchObject({ sourceRestarts: 1, sourceProblem: reader.problem });
    expect(s.health.reporters.find((r) => r.name === 'flow-logs')).toMatchObject({ ready: true, live: true, detail: expect.stringContaining('the scripted flow reader was restarted 1 time(s), flows of those moments are missing (last cause: the netlink relay (pid 4242) was killed by SIGABRT') });
    expect(s.lastError).toMatchObject({ component: 'flow-logs', code: 'AGENT_FLOW_SOURCE_RESTARTED', message: expect.stringContaining('1 restart(s) so far') });
    expect(formatAgentStatus(s)).toMatch(/reader restarted 1 time\(s\), last: the netlink relay \(pid 4242\) was killed by SIGABRT/);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/gingham_flowlogs_source_restarts_total\{source="scripted"\} 1/);
  });

  it('stop flushes the last window, closes the source and removes the socket', async () => {
    await agent.stop();
    expect(source.closed).toBe(true);
    expect(existsSync(join(work, 'flows.sock'))).toBe(false);
  });
});
