/**
 * Kernel test topology, entirely inside network namespaces created here: one node namespace and
 * pod namespaces wired as Calico wires them (host-side veth named like core's
 * `workloadInterfaceName`, a /32 route per pod, pod default route via 169.254.1.1 answered by
 * proxy ARP, ip_forward on). Never touches the root namespace: links are created with `ip -n`,
 * sysctls and servers run under `ip netns exec`. Processes are tracked and killed by pid, and
 * `destroy()` (also run when creation fails half-way) deletes every namespace made here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { workloadInterfaceName } from '@gingham/core';
import { type CommandRunner, createNetnsRunner } from '@gingham/host';

export interface TopologyPod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  /** The host-side interface (default: core's `workloadInterfaceName`, as Calico names pods' veths). */
  readonly iface?: string;
}

export interface PodHandle extends TopologyPod {
  readonly netns: string;
  readonly iface: string;
}

export interface Topology {
  readonly node: string;
  /**
   * An "outside" namespace joined to the node by a veth: node side `eth0` 192.168.99.1/24,
   * outside 192.168.99.2/24 — for host endpoint cases.
   */
  readonly external: PodHandle;
  /**
   * A second outside namespace on the node's `eth1` (node 192.168.98.1/24, outside
   * 192.168.98.2/24). Both outside namespaces route the pod network (10.65.0.0/16) and each
   * other's subnet through the node, so traffic between them is forwarded by the node.
   */
  readonly external2: PodHandle;
  readonly nodeIp: string;
  /** The node's address on `eth1`. */
  readonly nodeIp2: string;
  readonly pods: readonly PodHandle[];
  /** Runs commands inside the node namespace. */
  readonly nodeRunner: CommandRunner;
  pod(namespace: string, name: string): PodHandle;
  /** Starts a process inside a pod namespace, tracked for `destroy`. */
  spawnIn(netns: string, argv: readonly string[]): ChildProcess;
  destroy(): Promise<void>;
}

function sh(argv: readonly string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function createTopology(pods: readonly TopologyPod[], prefix = 'gh-ipt'): Topology {
  const id = randomBytes(3).toString('hex');
  const node = `${prefix}-${id}-n`;
  const created: string[] = [];
  const procs = new Set<ChildProcess>();
  const handles: PodHandle[] = [];
  const destroySync = (): void => {
    for (const p of procs) {
      if (p.pid !== undefined && p.exitCode === null) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    procs.clear();
    for (const ns of created.reverse()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    created.length = 0;
  };
  const destroy = async (): Promise<void> => {
    destroySync();
  };
  try {
    sh(['ip', 'netns', 'add', node]);
    created.push(node);
    const inNode = (argv: readonly string[]): string => sh(['ip', 'netns', 'exec', node, ...argv]);
    sh(['ip', '-n', node, 'link', 'set', 'lo', 'up']);
    inNode(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // A default route so that 169.254.1.1 is routable and proxy ARP answers for it.
    // (a veth pair inside the node namespace stands in for the uplink; no dummy module needed).
    sh(['ip', '-n', node, 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1']);
    sh(['ip', '-n', node, 'link', 'set', 'uplink0', 'up']);
    sh(['ip', '-n', node, 'link', 'set', 'uplink1', 'up']);
    sh(['ip', '-n', node, 'route', 'add', 'default', 'dev', 'uplink0']);
    // The outside namespaces: each on a node veth (named like a host interface), `eth0` inside.
    const outside = (ns: string, nodeIf: string, nodeAddr: string, addr: string): void => {
      sh(['ip', 'netns', 'add', ns]);
      created.push(ns);
      sh(['ip', '-n', node, 'link', 'add', nodeIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh(['ip', '-n', node, 'addr', 'add', nodeAddr, 'dev', nodeIf]);
      sh(['ip', '-n', node, 'link', 'set', nodeIf, 'up']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', addr, 'dev', 'eth0']);
      sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    };
    const ext = `${prefix}-${id}-x`;
    const ext2 = `${prefix}-${id}-y`;
    outside(ext, 'eth0', '192.168.99.1/24', '192.168.99.2/24');
    outside(ext2, 'eth1', '192.168.98.1/24', '192.168.98.2/24');
    for (const [ns, gw, other] of [[ext, '192.168.99.1', '192.168.98.0/24'], [ext2, '192.168.98.1', '192.168.99.0/24']] as const) {
      sh(['ip', '-n', ns, 'route', 'add', '10.65.0.0/16', 'via', gw]);
      sh(['ip', '-n', ns, 'route', 'add', other, 'via', gw]);
    }
    pods.forEach((p, i) => {
      const netns = `${prefix}-${id}-p${i}`;
      const iface = p.iface ?? workloadInterfaceName(p.namespace, p.name);
      sh(['ip', 'netns', 'add', netns]);
      created.push(netns);
      sh(['ip', '-n', node, 'link', 'add', iface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      sh(['ip', '-n', node, 'link', 'set', iface, 'up']);
      inNode(['sysctl', '-qw', `net.ipv4.conf.${iface}.proxy_arp=1`]);
      inNode(['sysctl', '-qw', `net.ipv4.neigh.${iface}.proxy_delay=0`]);
      sh(['ip', '-n', node, 'route', 'add', `${p.ip}/32`, 'dev', iface]);
      sh(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', netns, 'addr', 'add', `${p.ip}/32`, 'dev', 'eth0']);
      sh(['ip', '-n', netns, 'link', 'set', 'eth0', 'up']);
      sh(['ip', '-n', netns, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0', 'onlink']);
      handles.push({ ...p, netns, iface });
    });
  } catch (e) {
    destroySync();
    throw e;
  }
  return {
    node,
    nodeIp: '192.168.99.1',
    nodeIp2: '192.168.98.1',
    external: { namespace: '', name: 'external', ip: '192.168.99.2', netns: `${prefix}-${id}-x`, iface: 'eth0' },
    external2: { namespace: '', name: 'external2', ip: '192.168.98.2', netns: `${prefix}-${id}-y`, iface: 'eth1' },
    pods: handles,
    nodeRunner: createNetnsRunner(node),
    pod(namespace, name) {
      const h = handles.find((p) => p.namespace === namespace && p.name === name);
      if (!h) throw new Error(`no pod ${namespace}/${name}`);
      return h;
    },
    spawnIn(netns, argv) {
      const child = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      procs.add(child);
      child.on('exit', () => procs.delete(child));
      return child;
    },
    destroy,
  };
}
