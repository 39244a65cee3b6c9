/**
 * A burst of 10,000 updates through a real etcd converges to exactly the state a fresh agent
 * computes from the same etcd (issue 11, item 6): the running agent's dataplane state, built
 * from coalesced applies of the watch stream, equals that of an agent started afterwards.
 * The dataplanes are recording ones (the kernel's side is covered by the kernel suites).
 */
import { canonicalDataplaneState, RecordingDataplane, type Resource } from '@gingham/core';
import { createEtcdDatastore, resolveEtcdConfig, type EtcdDatastore } from '@gingham/datastore';
import { etcdAvailable, startEtcd, type EtcdServer } from '@gingham/datastore/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, resolveAgentConfig, wrapDataplane, type Agent, type AgentConfig } from '@gingham/agent';

const WEPS = 400;

const wep = (i: number, app: string, node = i % 4 === 0 ? 'n1' : `n${i % 7}`): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `w${i}`, namespace: `ns${i % 5}`, labels: { app, tier: `t${i % 3}` } },
  spec: { node, orchestrator: 'k8s', workload: `w${i}`, endpoint: 'eth0', interfaceName: `caliw${i}`, ipNetworks: [`10.${(i >> 8) & 255}.${i & 255}.1/32`] },
});
const gnp = (i: number, app: string): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `p${i}` },
  spec: { order: i, selector: `app == '${app}'`, ingress: [{ action: i % 3 === 0 ? 'Deny' : 'Allow', protocol: 'TCP', source: { selector: `tier == 't${i % 3}'` }, destination: { ports: [80 + (i % 5)] } }] },
});

describe.skipIf(!etcdAvailable())('a burst of 10,000 updates', () => {
  let etcd: EtcdServer;
  let ds: EtcdDatastore;
  let locks: string;
  let config: AgentConfig;
  const agents: Agent[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    locks = await mkdtemp(join(tmpdir(), 'gingham-burst-'));
    ds = createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: etcd.endpoint }, env: {} }) });
    config = (await resolveAgentConfig({ flags: { node: 'n1', datastore: 'etcd', 'etcd-endpoints': etcd.endpoint, 'lock-dir': locks, 'health-port': '0', 'metrics-port': '0' }, env: {} })).config;
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await ds?.close();
    await etcd?.close();
    await rm(locks, { recursive: true, force: true });
  });

  const start = async (node: string, dataplane: RecordingDataplane): Promise<Agent> => {
    const a = createAgent({ config: { ...config, node }, logger: pino({ level: 'silent' }), dataplane: wrapDataplane('recording', dataplane), linkEvents: false });
    agents.push(a);
    await a.start();
    await a.whenReady(60_000);
    return a;
  };

  it('converges to exactly what a fresh agent computes', async () => {
    const live = new RecordingDataplane({ keepBatches: false });
    const agent = await start('n1', live);
    // 10,000 puts and deletes, written with many in flight at once (the watch delivers them as
    // fast as etcd commits them): endpoints changing labels and nodes, policies coming and going.
    const ops: (() => Promise<unknown>)[] = [];
    for (let k = 0; k < 10_000; k++) {
      const i = (k * 7919) % WEPS;
      if (k % 10 === 9) ops.push(() => ds.delete({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: `p${k % 40}` }).catch(() => undefined));
      else if (k % 10 === 8) ops.push(() => put(gnp(k % 40, ['web', 'db', 'api'][k % 3]!)));
      else ops.push(() => put(wep(i, ['web', 'db', 'api', 'cache'][k % 4]!, k % 11 === 0 ? 'n1' : undefined)));
    }
    const put = async (r: Resource): Promise<void> => {
      // Two writers may race on one key: whichever way it goes, retry until one write lands.
      for (let attempt = 0; ; attempt++) {
        try {
          await ds.update(r);
          return;
        } catch {
          try {
            await ds.create(r);
            return;
          } catch (e) {
            if (attempt > 5) throw e;
          }
        }
      }
    };
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < ops.length) await ops[next++]!();
    }));
    const revision = await ds.revision();
    await expect.poll(() => agent.status().datastore.revision === revision, { timeout: 60_000, interval: 100 }).toBe(true);
    await agent.settled();
    expect(agent.loop.applies).toBeLessThan(10_000); // coalesced
    // A fresh agent for the same node (its own lock directory: the first one still runs).
    const again = new RecordingDataplane({ keepBatches: false });
    const second = createAgent({ config: { ...config, node: 'n1', lockDir: join(locks, 'second') }, logger: pino({ level: 'silent' }), dataplane: wrapDataplane('recording', again), linkEvents: false });
    agents.push(second);
    await second.start();
    await second.whenReady(60_000);
    expect(canonicalDataplaneState(live.state)).toEqual(canonicalDataplaneState(again.state));
    expect(live.violations).toEqual([]);
    expect(live.state.workloadEndpoints.size).toBeGreaterThan(0);
  });
});
