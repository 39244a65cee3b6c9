/**
 * The kernel scenario shared by the iptables and eBPF files ("Done when" for the Kubernetes
 * source): the source on the test API server feeds an Engine that drives a real dataplane for
 * pods in network namespaces made here; pods are created, relabelled and deleted on the server,
 * policies edited, watches reset and expired, and after each step every probe with real TCP
 * packets between the pods present equals `evaluate()` on the same objects. Runs as root
 * (CI=true: must run); cleans up namespaces, processes, pins and servers in afterAll.
 */
import { spawnSync } from 'node:child_process';
import { applySourceMessages, buildSnapshot, createEngine, evaluate, type Dataplane, type Resource } from '@gingham/core';
import { createTopology, probeTcp, startServers, type Topology } from '@gingham/dataplane-conformance';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesSource, type KubernetesSource } from '../../src/index.js';
import { calicoCrdObject, createTestApiServer, type TestApiServer } from '../../src/testing.js';
import { caughtUp, waitFor } from './harness.js';

export const mustRun = process.env.CI === 'true';
const tools = ['ip', 'socat', 'iptables', 'ipset', 'conntrack', 'ss'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
export const canRun = (process.getuid?.() === 0 && tools.length === 0) || mustRun;

const NODE = 'node-1';
const PODS = [
  { namespace: 'shop', name: 'web-0', ip: '10.70.0.1' },
  { namespace: 'shop', name: 'web-1', ip: '10.70.0.2' },
  { namespace: 'shop', name: 'db-0', ip: '10.70.0.3' },
  { namespace: 'other', name: 'client-0', ip: '10.70.0.4' },
];
const PORTS = [5432, 8080];

const podObject = (namespace: string, name: string, labels: Record<string, string>): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { nodeName: NODE, containers: [{ name: 'c', image: 'i', ports: [{ name: 'pg', containerPort: 5432 }] }] },
  status: { phase: 'Running', podIP: PODS.find((p) => p.namespace === namespace && p.name === name)!.ip },
});

export type ScenarioDataplane = Dataplane & { clean(): Promise<unknown>; close?(): unknown };

/** Registers the scenario for one dataplane, built in the node namespace by `make`. */
export function testKubernetesScenario(name: string, make: (topo: Topology) => ScenarioDataplane, setup: { before?: () => void; after?: () => void } = {}): void {
describe.skipIf(!canRun)(`the Kubernetes source drives the ${name} dataplane`, () => {
  let topo: Topology;
  const servers: TestApiServer[] = [];

  beforeAll(async () => {
    if (tools.length > 0) throw new Error(`missing tools: ${tools.join(', ')}`);
    setup.before?.();
    topo = createTopology(PODS, 'gh-k8s');
    await startServers(topo, PORTS, [], 7);
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await topo?.destroy();
    setup.after?.();
  });

  it('pods created, relabelled and deleted, policies edited, watches reset and expired: real packets equal evaluate()', async () => {
    const server = await createTestApiServer({ bookmarkIntervalMs: 200 });
    servers.push(server);
    server.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    server.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
    server.put(podObject('shop', 'web-0', { app: 'web' }));
    server.put(podObject('shop', 'db-0', { app: 'db' }));
    server.put(podObject('other', 'client-0', { app: 'client' }));
    // The database takes 5432 from web pods only (Kubernetes NetworkPolicy, named port).
    server.put({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'db', namespace: 'shop' },
      spec: { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'pg' }] }] },
    });
    // A security tier (Calico CRDs) denies the other namespace's 8080 to web pods, and passes the rest.
    server.put(calicoCrdObject({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100 } }));
    server.put(
      calicoCrdObject({
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'security.guard-web' },
        spec: { tier: 'security', order: 1, selector: "app == 'web'", types: ['Ingress'], ingress: [{ action: 'Deny', protocol: 'TCP', source: { namespaceSelector: "projectcalico.org/name == 'other'" }, destination: { ports: [8080] } }, { action: 'Pass' }] },
      }),
    );

    const dataplane = make(topo);
    const engine = createEngine({ node: NODE, dataplane });
    const kc = new KubeConfig();
    kc.loadFromString(await server.kubeconfig());
    const source: KubernetesSource = createKubernetesSource({ kubeConfig: kc, timing: { backoff: { initialMs: 20, maxMs: 200 }, maxIdleMs: 2000, watchdogIntervalMs: 100 } });
    let inSync = false;
    let applied: Promise<void> = Promise.resolve();
    let failure: unknown;
    await source.start((ms) => {
      if (applySourceMessages(engine, ms).inSync) inSync = true;
      // As the agent does: nothing reaches the kernel before the first in-sync, then every batch does.
      if (inSync) applied = applied.then(() => engine.flush()).catch((e: unknown) => void (failure = e));
    });
    try {
      const settle = async (): Promise<void> => {
        await waitFor(() => caughtUp(source, server) && source.status().phase === 'in-sync', 10_000, 'the source caught up');
        await applied;
        expect(failure).toBeUndefined();
        spawnSync('ip', ['netns', 'exec', topo.node, 'conntrack', '-F'], { stdio: 'ignore' });
      };
      const matrix = async (step: string): Promise<void> => {
        const resources: Resource[] = source.resources();
        const present = PODS.filter((p) => resources.some((r) => r.kind === 'Pod' && r.metadata.namespace === p.namespace && r.metadata.name === p.name));
        const { snapshot } = buildSnapshot(resources);
        const cells = present.flatMap((from) => present.filter((to) => to !== from).flatMap((to) => PORTS.map((port) => ({ from, to, port }))));
        const want = cells.map((c) => `${c.from.namespace}/${c.from.name} -> ${c.to.namespace}/${c.to.name}:${c.port} ${evaluate(snapshot, { src: `${c.from.namespace}/${c.from.name}`, dst: `${c.to.namespace}/${c.to.name}`, protocol: 'TCP', dstPort: c.port }).allowed ? 'allow' : 'deny'}`);
        const got: string[] = new Array(cells.length);
        for (let i = 0; i < cells.length; i += 24) {
          await Promise.all(
            cells.slice(i, i + 24).map(async (c, j) => {
              const ok = await probeTcp(topo, topo.pod(c.from.namespace, c.from.name), topo.pod(c.to.namespace, c.to.name), c.port, 800);
              got[i + j] = `${c.from.namespace}/${c.from.name} -> ${c.to.namespace}/${c.to.name}:${c.port} ${ok ? 'allow' : 'deny'}`;
            }),
          );
        }
        expect(got, step).toEqual(want);
        return void want;
      };

      await source.synced(10_000);
      await settle();
      await matrix('first sync');
      // Not vacuous: the policies allow some cells and deny others.
      expect(evaluate(buildSnapshot(source.resources()).snapshot, { src: 'shop/web-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }).allowed).toBe(true);
      expect(evaluate(buildSnapshot(source.resources()).snapshot, { src: 'other/client-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }).allowed).toBe(false);

      server.put(podObject('other', 'client-0', { app: 'web' }));
      await settle();
      await matrix('client-0 relabelled app=web');

      server.put(podObject('shop', 'web-1', { app: 'web' }));
      server.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-0' });
      await settle();
      await matrix('web-1 created, web-0 deleted');

      // Edits while the watches are reset and history compacted: the relist brings them in.
      server.resetWatches();
      server.put(
        calicoCrdObject({
          apiVersion: 'projectcalico.org/v3',
          kind: 'GlobalNetworkPolicy',
          metadata: { name: 'security.guard-web' },
          spec: { tier: 'security', order: 1, selector: "app == 'db'", types: ['Ingress'], ingress: [{ action: 'Deny', protocol: 'TCP', source: { selector: "app == 'web'", namespaceSelector: "projectcalico.org/name == 'other'" } }, { action: 'Pass' }] },
        }),
      );
      server.remove({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'shop', name: 'db' });
      server.compact();
      server.expireWatches();
      await settle();
      await matrix('policies edited across a reset and a 410');
      expect(source.status().counters['gone']).toBeGreaterThan(0);
    } finally {
      await source.close();
      await applied.catch(() => undefined);
      await dataplane.clean();
      await dataplane.close?.();
    }
  });
});
}
