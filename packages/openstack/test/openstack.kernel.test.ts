/**
 * Three VMs on one compute host, for real: network namespaces behind `tap…` interfaces named as
 * Nova names them, a test Keystone + Neutron serving their ports and security groups, the
 * OpenStack source (agent mode) feeding an Engine that drives a real dataplane in the host
 * namespace. A security group that allows TCP 22 from its own members lets exactly the right
 * packets through; every probe equals `evaluate()` on the objects the source delivered; moving
 * a VM out of the group closes its door at the next poll. Runs with the iptables dataplane
 * (`workloadInterfacePrefixes: ['tap']`, as OpenStack deployments set Felix's InterfacePrefix)
 * and the eBPF dataplane (pins in a scratch bpffs). Root only; CI=true fails instead of skipping.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { applySourceMessages, buildSnapshot, createEngine, evaluate, formatResourceKey, resourceKey, type Dataplane, type Engine, type Resource } from '@gingham/core';
import { createIptablesDataplane } from '@gingham/dataplane-iptables';
import { createTopology, probeTcp, startServers, type PodHandle, type Topology } from '@gingham/dataplane-conformance';
import { createEbpfDataplane } from '@gingham/dataplane-ebpf';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { createOpenStackSource, endpointName, tapInterfaceName, type OpenStackSource } from '@gingham/openstack';
import { createTestCloud, securityGroup, testUuid, vmPort, type TestCloud } from '@gingham/openstack/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const mustRun = process.env.CI === 'true';
const tools = [['ip', '-V'], ['socat', '-V'], ['ipset', 'version'], ['conntrack', '--version'], ['ss', '-V']] as const;
const canRun = mustRun || (process.getuid?.() === 0 && tools.every(([t, a]) => spawnSync(t, [a], { stdio: 'ignore' }).status === 0));

const HOST = 'compute-1';
const SSH = testUuid('kernel-sg:ssh');
const WEB = testUuid('kernel-sg:web');
const PORTS = [22, 80];

interface Vm {
  readonly key: string;
  readonly portId: string;
  readonly deviceId: string;
  readonly ip: string;
}
const VMS: readonly Vm[] = ['a', 'b', 'c'].map((key, i) => {
  const portId = testUuid(`kernel-port:${key}`);
  return { key, portId, deviceId: testUuid(`kernel-vm:${key}`), ip: `10.70.0.${11 + i}` };
});
const vmPortOf = (vm: Vm, groups: readonly string[]) => vmPort({ id: vm.portId, deviceId: vm.deviceId, host: HOST, ip: vm.ip, securityGroups: groups });
const wepName = (vm: Vm): string => endpointName(HOST, vm.deviceId, vm.portId);

interface Flavour {
  readonly name: string;
  setup(topo: Topology): Promise<Dataplane & { clean(): Promise<unknown>; close?(): unknown }>;
  teardown?(): void;
}

const flavours: Flavour[] = [
  { name: 'iptables', setup: async (topo) => createIptablesDataplane({ runner: topo.nodeRunner, workloadInterfacePrefixes: ['tap'] }) },
  (() => {
    let bpffs: ScratchBpffs | undefined;
    return {
      name: 'ebpf',
      async setup(topo: Topology) {
        bpffs = mountScratchBpffs('gh-os-bpffs-');
        return createEbpfDataplane({ netns: topo.node, bpffs: bpffs.path, name: `os-${randomBytes(3).toString('hex')}` });
      },
      teardown() {
        bpffs?.release();
      },
    };
  })(),
];

describe.skipIf(!canRun).each(flavours)('OpenStack security groups enforced by the $name dataplane', (flavour) => {
  let cloud: TestCloud | undefined;
  let topo: Topology | undefined;
  let source: OpenStackSource | undefined;
  let dp: (Dataplane & { clean(): Promise<unknown>; close?(): unknown }) | undefined;
  let engine: Engine;
  /** What the source delivered, by key: the objects evaluate() is asked about. */
  const delivered = new Map<string, Resource>();

  beforeAll(async () => {
    cloud = await createTestCloud();
    cloud.put('securityGroups', securityGroup(SSH, 'ssh', [{ direction: 'egress' }, { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SSH }]));
    cloud.put('securityGroups', securityGroup(WEB, 'web', [{ direction: 'egress' }, { protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '0.0.0.0/0' }]));
    cloud.put('ports', vmPortOf(VMS[0]!, [SSH]));
    cloud.put('ports', vmPortOf(VMS[1]!, [SSH, WEB]));
    cloud.put('ports', vmPortOf(VMS[2]!, [WEB]));

    topo = createTopology(
      VMS.map((vm) => ({ namespace: 'openstack', name: wepName(vm), ip: vm.ip, iface: tapInterfaceName(vm.portId) })),
      'gh-os',
    );
    await startServers(topo, PORTS, [], 7);
    // Warm the neighbour tables before any program or rule is in place, so that no probe's first
    // packet is lost to address resolution and read as a deny.
    const t = topo;
    const warm = await Promise.all(t.pods.flatMap((p) => t.pods.filter((q) => q !== p).map((q) => probeTcp(t, p, q, 22, 3000))));
    expect(warm.every(Boolean)).toBe(true);

    dp = await flavour.setup(topo);
    engine = createEngine({ node: HOST, dataplane: dp });
    source = createOpenStackSource({
      keystone: { authUrl: cloud.authUrl, credentials: { kind: 'password', username: 'admin', password: 'secret', projectName: 'admin' } },
      host: HOST,
      autoPoll: false,
    });
    await source.start((ms) => {
      for (const m of ms) {
        if (m.kind === 'upsert') delivered.set(formatResourceKey(resourceKey(m.resource)), m.resource);
        else if (m.kind === 'delete') delivered.delete(formatResourceKey(m.key));
      }
      applySourceMessages(engine, ms);
    });
  });
  afterAll(async () => {
    try {
      await source?.close();
      await dp?.clean();
      await dp?.close?.();
    } finally {
      await topo?.destroy();
      flavour.teardown?.();
      await cloud?.close();
    }
  });

  const vmPod = (vm: Vm): PodHandle => topo!.pod('openstack', wepName(vm));

  /** Every ordered pair of VMs on every port: the kernel's verdict next to evaluate()'s. */
  const matrix = async (): Promise<{ kernel: string[]; model: string[] }> => {
    const { snapshot, issues } = buildSnapshot([...delivered.values()]);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const cells = VMS.flatMap((from) => VMS.filter((to) => to !== from).flatMap((to) => PORTS.map((port) => ({ from, to, port }))));
    const verdict = (allowed: boolean): string => (allowed ? 'allow' : 'deny');
    const model = cells.map(({ from, to, port }) => {
      const allowed = evaluate(snapshot, { src: `openstack/${wepName(from)}`, dst: `openstack/${wepName(to)}`, protocol: 'TCP', dstPort: port }).allowed;
      return `${from.key} -> ${to.key} TCP/${port}: ${verdict(allowed)}`;
    });
    // Probes are independent connections between different namespaces: run them together.
    const probes = await Promise.all(cells.map(({ from, to, port }) => probeTcp(topo!, vmPod(from), vmPod(to), port, 1000)));
    const kernel = cells.map(({ from, to, port }, i) => `${from.key} -> ${to.key} TCP/${port}: ${verdict(probes[i]!)}`);
    return { kernel, model };
  };

  it('lets TCP 22 in only from members of the group, and TCP 80 from anywhere to the web group', async () => {
    expect(await source!.pollNow()).toBe(true);
    await engine.flush();
    expect(source!.status()).toMatchObject({ phase: 'in-sync', resources: 5, problems: [] });
    const { kernel, model } = await matrix();
    expect(model).toEqual([
      'a -> b TCP/22: allow', // both in ssh
      'a -> b TCP/80: allow', // b is in web
      'a -> c TCP/22: deny', // c is not in ssh
      'a -> c TCP/80: allow',
      'b -> a TCP/22: allow',
      'b -> a TCP/80: deny', // a is not in web
      'b -> c TCP/22: deny',
      'b -> c TCP/80: allow',
      'c -> a TCP/22: deny', // c is not a member of ssh
      'c -> a TCP/80: deny',
      'c -> b TCP/22: deny',
      'c -> b TCP/80: allow',
    ]);
    expect(kernel).toEqual(model);
  });

  it('closes the door at the next poll when a VM leaves the group, and opens it when one joins', async () => {
    cloud!.put('ports', vmPortOf(VMS[0]!, [WEB]));
    cloud!.put('ports', vmPortOf(VMS[2]!, [WEB, SSH]));
    expect(await source!.pollNow()).toBe(true);
    await engine.flush();
    const { kernel, model } = await matrix();
    expect(model.filter((c) => c.endsWith('allow') && c.includes('TCP/22'))).toEqual(['b -> c TCP/22: allow', 'c -> b TCP/22: allow']);
    expect(kernel).toEqual(model);
  });
});
