/**
 * `gingham agent` as a real process in a node namespace, with a real etcd and the iptables
 * dataplane, probed with real packets (issue 11, items 4 and 6):
 *   - a label change in etcd flips a packet's verdict; a recreated interface is enforced;
 *   - etcd stopped for 30 s: enforcement and an established TCP connection survive, /readyz says
 *     the datastore is down, and on return the agent resyncs and converges;
 *   - a compaction past the watcher's revision while it is cut off: relist, converge, no drop;
 *   - kill -9 in the middle of a large apply: a flow both states deny never passes, and a
 *     restarted agent converges to etcd's state.
 * Pods: client (app=client), web (app=web, the only one policy selects), denied (app=denied),
 * other (app=other). Policy: web admits app=client on 80 and 7000.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@gingham/core';
import { canRun, createAgentNode, NAMESPACE_PROFILE, openEcho, probeTcp, stopAgent, wep, type AgentNode, type AgentProcess } from './support/agent-node.js';

const missing = canRun();
const PODS = [
  { namespace: 'default', name: 'client', ip: '10.65.0.2', iface: 'caliclient' },
  { namespace: 'default', name: 'web', ip: '10.65.0.3', iface: 'caliweb' },
  { namespace: 'default', name: 'denied', ip: '10.65.0.4', iface: 'calidenied' },
  { namespace: 'default', name: 'other', ip: '10.65.0.5', iface: 'caliother' },
];
const policy: Resource = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: 'web-from-client' },
  spec: { selector: "app == 'web'", ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: "app == 'client'" }, destination: { ports: [80, 7000] } }] },
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(missing.length > 0)('gingham agent with etcd and iptables, real packets', () => {
  let n: AgentNode;
  let agent: AgentProcess | undefined;
  const weps = (labels: Record<string, Record<string, string>> = {}): Resource[] =>
    PODS.map((p) => wep(n.topo.node, p.name, p.ip, labels[p.name] ?? { app: p.name }, p.iface));
  const probe = (from: string, to: string, port = 80) => probeTcp(n.topo, n.pod(from), n.pod(to), port, 1000);
  const fail = (what: string) => new Error(`${what}\n--- agent output ---\n${agent?.output().slice(-6000)}`);

  beforeAll(async () => {
    n = await createAgentNode(PODS, 'gh-agt');
    await n.apply([NAMESPACE_PROFILE, ...weps(), policy]);
    agent = n.startAgent();
    await n.waitReady(60_000).catch((e: Error) => {
      throw fail(e.message);
    });
  });
  afterAll(async () => {
    if (agent) await stopAgent(agent, 'SIGKILL');
    await n?.destroy();
  });

  it('enforces etcd state and flips a verdict when a label changes in etcd', async () => {
    expect(await probe('client', 'web')).toBe(true);
    expect(await probe('denied', 'web')).toBe(false);
    await n.apply([wep(n.topo.node, 'client', '10.65.0.2', { app: 'stranger' }, 'caliclient')]);
    await expect.poll(() => probe('client', 'web'), { timeout: 10_000, interval: 100 }).toBe(false);
    await n.apply([wep(n.topo.node, 'client', '10.65.0.2', { app: 'client' }, 'caliclient')]);
    await expect.poll(() => probe('client', 'web'), { timeout: 10_000, interval: 100 }).toBe(true);
    const status = n.status()!;
    expect(status).toMatchObject({ ready: true, sync: 'in-sync', engine: { localEndpoints: 4 } });
  });

  it('etcd down for 30 s: enforcement and an established connection survive, /readyz says why, and it converges on return', async () => {
    const echo = openEcho(n.topo, n.pod('client'), n.pod('web'));
    try {
      expect(await echo.roundTrip()).toBe(true);
      await n.etcd.stop();
      await expect.poll(() => n.readyz(), { timeout: 20_000, interval: 250 }).toBe(503);
      const health = n.status()!['health'] as { reporters: { name: string; detail?: string }[] };
      expect(health.reporters.find((r) => r.name === 'datastore')?.detail).toMatch(/datastore down|waiting for the datastore/);
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        expect(await echo.roundTrip()).toBe(true);
        expect(await probe('denied', 'web')).toBe(false);
        await sleep(2000);
      }
      expect(await probe('client', 'web')).toBe(true);
      await n.etcd.start();
      await n.waitReady(60_000).catch((e: Error) => {
        throw fail(e.message);
      });
      await n.apply([wep(n.topo.node, 'other', '10.65.0.5', { app: 'client' }, 'caliother')]);
      await expect.poll(() => probe('other', 'web'), { timeout: 15_000, interval: 200 }).toBe(true);
      expect(await echo.roundTrip()).toBe(true);
    } finally {
      echo.close();
      await n.apply([wep(n.topo.node, 'other', '10.65.0.5', { app: 'other' }, 'caliother')]);
    }
  });

  it('a compaction past the watcher while it is cut off: relist, converge, no drop', async () => {
    await expect.poll(() => probe('other', 'web'), { timeout: 15_000, interval: 200 }).toBe(false);
    const echo = openEcho(n.topo, n.pod('client'), n.pod('web'));
    try {
      expect(await echo.roundTrip()).toBe(true);
      const relistsBefore = ((n.status()!['datastore'] as { counters: Record<string, number> }).counters['relists'] ?? 0);
      n.cutBridge();
      await n.apply([wep(n.topo.node, 'other', '10.65.0.5', { app: 'client' }, 'caliother')]);
      for (let i = 0; i < 20; i++) await n.apply([{ ...policy, metadata: { name: `filler-${i}` }, spec: { selector: "app == 'nobody'" } }]);
      await n.etcd.compact();
      expect(await echo.roundTrip()).toBe(true);
      n.restoreBridge();
      await expect.poll(() => probe('other', 'web'), { timeout: 30_000, interval: 250 }).toBe(true);
      const counters = (n.status()!['datastore'] as { counters: Record<string, number> }).counters;
      expect(counters['relists'] ?? 0).toBeGreaterThan(relistsBefore);
      expect(await echo.roundTrip()).toBe(true);
      await n.waitReady(30_000);
    } finally {
      echo.close();
    }
  });

  it('kill -9 in the middle of a large apply: a doubly-denied flow never passes, and a restart converges', async () => {
    // The large change: 3,000 remote endpoints join the client set, and "other" stays a client.
    const remote: Resource[] = [];
    for (let i = 0; i < 3000; i++) remote.push(wep('elsewhere', `r${i}`, `10.66.${Math.floor(i / 250)}.${(i % 250) + 1}`, { app: 'client' }, `calir${i}`));
    let leaked = 0;
    let probing = true;
    const prober = (async () => {
      while (probing) if (await probe('denied', 'web')) leaked++;
    })();
    try {
      // Written while the agent is cut off, so that it receives them as one catch-up and applies
      // them as one large batch; killed as soon as it has taken them in.
      n.cutBridge();
      await n.apply(remote);
      n.restoreBridge();
      const deadline = Date.now() + 60_000;
      let killed = false;
      while (!killed && Date.now() < deadline) {
        const s = n.status();
        const received = (s?.['engine'] as { entities?: number } | undefined)?.entities ?? 0;
        if (received > 100) {
          process.kill(agent!.pid, 'SIGKILL');
          killed = true;
        } else await sleep(20);
      }
      expect(killed).toBe(true);
      await agent!.exited;
      expect(await probe('denied', 'web')).toBe(false);
      expect(await probe('client', 'web')).toBe(true);
      agent = n.startAgent();
      await n.waitReady(90_000).catch((e: Error) => {
        throw fail(e.message);
      });
      const status = n.status()!;
      expect(status['cluster']).toMatchObject({ workloadEndpoints: 3004 });
      expect(await probe('other', 'web')).toBe(true);
      // The kernel holds the converged set: the client set has every remote endpoint.
      const sets = spawnSync('nsenter', [`--net=/run/netns/${n.topo.node}`, 'ipset', 'list', '-t'], { encoding: 'utf8' }).stdout;
      expect(sets).toMatch(/Number of entries: 3002/);
    } finally {
      probing = false;
      await prober;
    }
    expect(leaked).toBe(0);
  });

  it('SIGTERM stops the agent and leaves enforcement in place', async () => {
    const r = await stopAgent(agent!);
    expect(r.code).toBe(0);
    expect(agent!.output()).toContain('"code":"STOPPED"');
    expect(await probe('denied', 'web')).toBe(false);
    expect(await probe('client', 'web')).toBe(true);
    agent = undefined;
  });

  it('gingham agent --clean removes it all', async () => {
    const r = spawnSync('nsenter', [`--net=/run/netns/${n.topo.node}`, process.execPath, new URL('../../cli/bin/gingham.js', import.meta.url).pathname, 'agent', '--clean', '--node', n.topo.node, '--lock-dir', `${n.dir}/locks`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^gingham agent: iptables: removed \d+ chains/);
    const save = spawnSync('nsenter', [`--net=/run/netns/${n.topo.node}`, 'iptables-save'], { encoding: 'utf8' }).stdout;
    expect(save).not.toMatch(/gh-/);
  });
});
