/**
 * The agent's wiring, with a real directory datastore and a recording dataplane: readiness only
 * after the first complete sync and the first successful apply, changes to the files reaching
 * the dataplane, an invalid file logged at warn with where and why while the last good state
 * stays, health and status over HTTP, one agent per node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { RecordingDataplane } from '@gingham/core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, put, wep } from './support/dir-fixtures.js';
import { createAgent, fetchAgentStatus, formatAgentStatus, resolveAgentConfig, wrapDataplane, type Agent } from '@gingham/agent';

const policy = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-from-web}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'web'}, destination: {ports: [5432]}}]
`;


describe('agent wiring (directory datastore, recording dataplane)', () => {
  let dir: string;
  let locks: string;
  let agent: Agent;
  const recording = new RecordingDataplane({ keepBatches: false });
  const logs: Record<string, unknown>[] = [];
  let healthPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gingham-agent-dir-'));
    locks = await mkdtemp(join(tmpdir(), 'gingham-agent-locks-'));
    await put(dir, 'web.yaml', wep('web-0', 'web', 1));
    await put(dir, 'db.yaml', wep('db-0', 'db', 2));
    await put(dir, 'policy.yaml', policy);
    healthPort = await freePort();
    const { config } = await resolveAgentConfig({ flags: { node: 'node-1', dir, 'lock-dir': locks, 'health-port': String(healthPort), 'metrics-port': '0', 'log-level': 'debug' }, env: {} });
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, done) => (logs.push(JSON.parse(String(chunk))), done()) }));
    agent = createAgent({ config, logger, dataplane: wrapDataplane('recording', recording), tickMs: 50 });
  });
  afterAll(async () => {
    await agent?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(locks, { recursive: true, force: true });
  });

  it('is ready only after the first complete sync has been applied', async () => {
    await agent.start();
    await agent.whenReady(15_000);
    expect(recording.state.inSync).toBe(true);
    expect([...recording.state.workloadEndpoints.keys()].sort()).toEqual(['shop/db-0', 'shop/web-0']);
    const readyAt = logs.findIndex((l) => l['code'] === 'READY');
    const appliedAt = logs.findIndex((l) => l['code'] === 'APPLIED');
    expect(appliedAt).toBeGreaterThanOrEqual(0);
    expect(readyAt).toBeGreaterThan(appliedAt);
    expect(logs.find((l) => l['code'] === 'STARTING')).toMatchObject({ config: { node: 'node-1', dir } });
  });

  it('serves /readyz, /livez and /status', async () => {
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    expect(ready.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${healthPort}/livez`)).status).toBe(200);
    const status = await fetchAgentStatus('127.0.0.1', healthPort);
    expect(status).toMatchObject({ node: 'node-1', ready: true, sync: 'in-sync', engine: { localEndpoints: 2 }, cluster: { workloadEndpoints: 2, policies: 1 } });
    expect(formatAgentStatus(status)).toMatch(/^agent for node node-1 \(pid \d+, up \d+ s\): ready\n/);
  });

  it('applies a label change written to the directory', async () => {
    const before = agent.loop.applies;
    await put(dir, 'web.yaml', wep('web-0', 'db', 1));
    await expect.poll(() => agent.loop.applies, { timeout: 10_000 }).toBeGreaterThan(before);
    await agent.settled();
    const web = recording.state.workloadEndpoints.get('shop/web-0');
    expect(web?.ingressTiers.flatMap((t) => t.policyIds).join()).toContain('db-from-web');
  });

  it('logs an invalid file at warn with where and why, and keeps its last good content in force', async () => {
    await put(dir, 'db.yaml', wep('db-0', 'db', 2).replace('10.0.0.2/32', '10.0.0.999/32'));
    await expect.poll(() => logs.find((l) => l['level'] === 40 && l['code'] === 'INVALID_FILE'), { timeout: 10_000 }).toBeDefined();
    const warn = logs.find((l) => l['code'] === 'INVALID_FILE')!;
    expect(String(warn['where'] ?? warn['msg'])).toContain('db.yaml');
    expect(recording.state.workloadEndpoints.has('shop/db-0')).toBe(true);
    expect(agent.health().ready).toBe(true);
  });

  it('refuses a second agent for the same node', async () => {
    const { config } = await resolveAgentConfig({ flags: { node: 'node-1', dir, 'lock-dir': locks, 'health-port': '0', 'metrics-port': '0' }, env: {} });
    const second = createAgent({ config, logger: pino({ level: 'silent' }), dataplane: wrapDataplane('recording', new RecordingDataplane()) });
    await expect(second.start()).rejects.toMatchObject({ code: 'AGENT_LOCKED', message: expect.stringContaining('another agent runs for node node-1') });
  });
});
