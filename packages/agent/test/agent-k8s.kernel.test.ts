/**
 * `gingham agent --datastore kubernetes` (issue 12): the agent as a real process in a node
 * namespace, reading the test API server (`@gingham/k8s/testing`, the real list/watch protocol
 * over TLS with a bearer token) through a kubeconfig, enforcing with iptables. Every pod-to-pod
 * TCP verdict on real packets equals `evaluate()` on the same objects, before and after a
 * NetworkPolicy change and a label change. The API server listens on the root namespace's
 * loopback; a socat pair joins it to the node namespace's loopback through a unix socket
 * (nothing is added to the root namespace). Processes are killed by PID.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, evaluate, type Resource } from '@gingham/core';
import { createTestApiServer, type TestApiServer } from '@gingham/k8s/testing';
import { bridgeLoopbackPort, canRun, createTopology, probeTcp, startAgentIn, startServers, stopAgent, type AgentProcess, type Topology } from './support/agent-node.js';

const missing = canRun();
const HEALTH = 19097;
const PODS = [
  { namespace: 'shop', name: 'frontend', ip: '10.67.0.2' },
  { namespace: 'shop', name: 'api', ip: '10.67.0.3' },
  { namespace: 'shop', name: 'batch', ip: '10.67.0.4' },
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(missing.length > 0)('gingham agent --datastore kubernetes, real packets equal evaluate()', () => {
  let topo: Topology;
  let server: TestApiServer;
  let dir: string;
  let agent: AgentProcess | undefined;
  const helpers: ChildProcess[] = [];
  const labels: Record<string, Record<string, string>> = { frontend: { app: 'frontend' }, api: { app: 'api' }, batch: { app: 'batch' } };

  const pod = (p: (typeof PODS)[number]): Record<string, unknown> => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, uid: `uid-${p.name}`, labels: labels[p.name] },
    spec: { nodeName: topo.node, containers: [{ name: 'c', image: 'x' }] },
    status: { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }] },
  });
  const policy = (from: string[]): Record<string, unknown> => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'api-ingress', namespace: 'shop' },
    spec: {
      podSelector: { matchLabels: { app: 'api' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: from }] } }], ports: [{ protocol: 'TCP', port: 80 }] }],
    },
  });

  /** Each pair's verdict on real packets and by evaluate() over what the API server holds. */
  async function verdicts(): Promise<{ kernel: string[]; reference: string[] }> {
    const objects = server.objects().filter((o) => ['Pod', 'Namespace', 'NetworkPolicy'].includes(String(o['kind']))) as unknown as Resource[];
    const { snapshot } = buildSnapshot(objects);
    const kernel: string[] = [];
    const reference: string[] = [];
    for (const from of PODS) {
      for (const to of PODS) {
        if (from === to) continue;
        const ok = await probeTcp(topo, topo.pod(from.namespace, from.name), topo.pod(to.namespace, to.name), 80, 1000);
        kernel.push(`${from.name}->${to.name} ${ok ? 'allow' : 'deny'}`);
        reference.push(`${from.name}->${to.name} ${evaluate(snapshot, { src: from.ip, dst: to.ip, protocol: 'TCP', dstPort: 80 }).allowed ? 'allow' : 'deny'}`);
      }
    }
    return { kernel, reference };
  }
  async function converges(): Promise<string[]> {
    let last = await verdicts();
    for (let i = 0; i < 40 && last.kernel.join() !== last.reference.join(); i++) {
      await sleep(250);
      last = await verdicts();
    }
    expect(last.kernel).toEqual(last.reference);
    return last.kernel;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gingham-agent-k8s-'));
    topo = createTopology(PODS, 'gh-agk');
    await startServers(topo, [80], [], 7000);
    server = await createTestApiServer();
    server.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'shop' } } });
    server.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: topo.node }, spec: {} });
    for (const p of PODS) server.put(pod(p));
    server.put(policy(['frontend']));
    // The API server's port, the same number on the node namespace's loopback.
    const port = new URL(server.url).port;
    helpers.push(...(await bridgeLoopbackPort(topo.node, port, dir)));
    const kubeconfig = join(dir, 'kubeconfig');
    await server.writeKubeconfig(kubeconfig);

    agent = await startAgentIn(topo.node, ['--node', topo.node, '--datastore', 'kubernetes', '--kubeconfig', kubeconfig, '--dataplane', 'iptables', '--metrics-port', '0', '--lock-dir', join(dir, 'locks')], { healthPort: HEALTH });
  });
  afterAll(async () => {
    if (agent) await stopAgent(agent, 'SIGKILL');
    for (const h of helpers) if (h.pid !== undefined && h.exitCode === null) process.kill(h.pid, 'SIGKILL');
    await server?.close();
    await topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('enforces the NetworkPolicy as evaluate() judges it, and follows policy and label changes', async () => {
    expect(await converges()).toContain('batch->api deny');
    server.put(policy(['frontend', 'batch']));
    expect(await converges()).toContain('batch->api allow');
    labels['batch'] = { app: 'stranger' };
    server.put(pod(PODS[2]!));
    expect(await converges()).toContain('batch->api deny');
  });
});
