/**
 * `gingham agent --datastore openstack` (issue 12): the agent as a real process on a compute
 * host (a node namespace with VMs behind `tap…` interfaces named as Nova names them), reading
 * the test Keystone + Neutron (`@gingham/openstack/testing`) with the `OS_*` variables of an
 * openrc, enforcing with iptables and Calico's OpenStack interface prefix (`tap`, the default for
 * this datastore). Every VM-to-VM TCP verdict on real packets equals `evaluate()` on what the
 * OpenStack source delivers for the same cloud, before and after a port leaves a security group
 * (picked up at the source's next poll). The cloud listens on the root namespace's loopback and
 * is bridged into the node namespace through a unix socket. Processes are killed by PID.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, evaluate, formatResourceKey, resourceKey, type Resource } from '@gingham/core';
import { createOpenStackSource, endpointName, tapInterfaceName } from '@gingham/openstack';
import { createTestCloud, securityGroup, testUuid, vmPort, type TestCloud } from '@gingham/openstack/testing';
import { bridgeLoopbackPort, canRun, createTopology, probeTcp, startAgentIn, startServers, stopAgent, type AgentProcess, type Topology } from './support/agent-node.js';

const missing = canRun();
const HEALTH = 19096;
const HOST = 'compute-agent';
const SSH = testUuid('agent-sg:ssh');
const VMS = ['a', 'b', 'c'].map((key, i) => ({ key, portId: testUuid(`agent-port:${key}`), deviceId: testUuid(`agent-vm:${key}`), ip: `10.68.0.${11 + i}` }));
type Vm = (typeof VMS)[number];
const wepName = (vm: Vm) => endpointName(HOST, vm.deviceId, vm.portId);
const portOf = (vm: Vm, groups: string[]) => vmPort({ id: vm.portId, deviceId: vm.deviceId, host: HOST, ip: vm.ip, securityGroups: groups });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(missing.length > 0)('gingham agent --datastore openstack, real packets equal evaluate()', () => {
  let topo: Topology;
  let cloud: TestCloud;
  let dir: string;
  let agent: AgentProcess | undefined;
  const helpers: ChildProcess[] = [];
  const credentials = { username: 'admin', password: 'secret', projectName: 'admin' };

  /** What the OpenStack source (agent mode for HOST) delivers for the cloud as it is now. */
  async function delivered(): Promise<Resource[]> {
    const got = new Map<string, Resource>();
    const source = createOpenStackSource({ keystone: { authUrl: cloud.authUrl, credentials: { kind: 'password', ...credentials } }, host: HOST, autoPoll: false });
    await source.start((ms) => {
      for (const m of ms) {
        if (m.kind === 'upsert') got.set(formatResourceKey(resourceKey(m.resource)), m.resource);
        else if (m.kind === 'delete') got.delete(formatResourceKey(m.key));
      }
    });
    try {
      expect(await source.pollNow()).toBe(true); // one complete listing
    } finally {
      await source.close();
    }
    return [...got.values()];
  }
  async function verdicts(): Promise<{ kernel: string[]; reference: string[] }> {
    const { snapshot } = buildSnapshot(await delivered());
    const kernel: string[] = [];
    const reference: string[] = [];
    for (const from of VMS) {
      for (const to of VMS) {
        if (from === to) continue;
        const ok = await probeTcp(topo, topo.pod('openstack', wepName(from)), topo.pod('openstack', wepName(to)), 22, 1000);
        kernel.push(`${from.key}->${to.key} ${ok ? 'allow' : 'deny'}`);
        const allowed = evaluate(snapshot, { src: `openstack/${wepName(from)}`, dst: `openstack/${wepName(to)}`, protocol: 'TCP', dstPort: 22 }).allowed;
        reference.push(`${from.key}->${to.key} ${allowed ? 'allow' : 'deny'}`);
      }
    }
    return { kernel, reference };
  }
  async function converges(timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let last = await verdicts();
    while (last.kernel.join() !== last.reference.join() && Date.now() < deadline) {
      await sleep(500);
      last = await verdicts();
    }
    expect(last.kernel).toEqual(last.reference);
    return last.kernel;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gingham-agent-os-'));
    cloud = await createTestCloud();
    cloud.put('securityGroups', securityGroup(SSH, 'ssh', [{ direction: 'egress' }, { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SSH }]));
    cloud.put('ports', portOf(VMS[0]!, [SSH]));
    cloud.put('ports', portOf(VMS[1]!, [SSH]));
    cloud.put('ports', portOf(VMS[2]!, []));
    topo = createTopology(
      VMS.map((vm) => ({ namespace: 'openstack', name: wepName(vm), ip: vm.ip, iface: tapInterfaceName(vm.portId) })),
      'gh-ago',
    );
    await startServers(topo, [22], [], 7);
    const port = new URL(cloud.authUrl).port;
    helpers.push(...(await bridgeLoopbackPort(topo.node, port, dir)));

    const env = { ...process.env, OS_AUTH_URL: cloud.authUrl, OS_USERNAME: credentials.username, OS_PASSWORD: credentials.password, OS_PROJECT_NAME: credentials.projectName, OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default' };
    agent = await startAgentIn(topo.node, ['--node', HOST, '--datastore', 'openstack', '--dataplane', 'iptables', '--metrics-port', '0', '--lock-dir', join(dir, 'locks')], { healthPort: HEALTH, env });
  });
  afterAll(async () => {
    if (agent) await stopAgent(agent, 'SIGKILL');
    for (const h of helpers) if (h.pid !== undefined && h.exitCode === null) process.kill(h.pid, 'SIGKILL');
    await cloud?.close();
    await topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('enforces the security groups as evaluate() judges them, and follows a port leaving its group', async () => {
    const before = await converges(10_000);
    expect(before).toContain('a->b allow');
    expect(before).toContain('c->b deny');
    cloud.put('ports', portOf(VMS[0]!, []));
    const after = await converges(30_000); // the source polls Neutron every 5 s
    expect(after).toContain('a->b deny');
  });
});
