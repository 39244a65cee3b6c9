/**
 * Test topology, entirely inside network namespaces this helper creates and destroys:
 *
 *            underlay namespace  <prefix>-ul:  bridge br0 (192.168.77.0/24 on the nodes' ul0)
 *              |            |            |
 *   <prefix>-n1 (ul0 .1)  <prefix>-n2 (.2)  <prefix>-n3 (.3)      node namespaces, ip_forward on
 *     |   |                  |                 |
 *   pods: <prefix>-n1p1 10.244.1.11/32, <prefix>-n1p2 10.244.1.12/32, <prefix>-n2p1 10.244.2.11 ...
 *
 * Pods reach their node through a veth (pod: default via 169.254.1.1; node: /32 route per pod),
 * as Calico does. Nodes have NO routes to each other's pods: only the WireGuard table provides
 * them. IPv6 is disabled everywhere so the underlay capture holds nothing unexpected.
 * Every process started here is tracked and killed by pid; nothing touches the root namespace
 * (links are created with `ip -n NS`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TopoPod {
  readonly ns: string;
  readonly ip: string;
}

export interface TopoNode {
  readonly name: string;
  readonly ns: string;
  readonly underlayIp: string;
  readonly podCidr: string;
  readonly wgAddress: string;
  /** Unique per test run (wireguard-go socket names are machine-wide). */
  readonly iface: string;
  readonly pods: readonly TopoPod[];
}

export interface Topology {
  readonly id: string;
  readonly underlay: string;
  readonly nodes: readonly TopoNode[];
  /** A temporary directory for keys, manifests, state and captures. */
  readonly dir: string;
  destroy(): Promise<void>;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Synchronous command (setup only), throws on failure. */
export function sh(argv: readonly string[], input?: string): string {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd!, args, { input: input ?? '', encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Asynchronous command, never throws. */
export function run(argv: readonly string[], input?: string, timeoutMs = 30_000, env?: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout: '', stderr: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 137, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

export function nsExec(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** Processes started by tests, killed by pid on cleanup. */
export class ProcessTracker {
  private readonly children = new Set<ChildProcess>();

  start(argv: readonly string[]): ChildProcess {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  async stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(child.pid, signal);
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, 3000);
    await exited;
    clearTimeout(t);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c)));
  }
}

/** Kills wireguard-go processes serving the given interface names (by pid, after checking argv). */
export function killWireguardGo(ifaces: readonly string[]): void {
  const names = new Set(ifaces);
  for (const pid of readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (argv[0]?.endsWith('wireguard-go') && names.has(argv[argv.length - 1] ?? '')) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const n of names) rmSync(`/var/run/wireguard/${n}.sock`, { force: true });
}

export interface TopologyOptions {
  /** Pods per node, e.g. [2, 1, 1]. */
  readonly podsPerNode: readonly number[];
}

export function createTopology(options: TopologyOptions): Topology {
  const id = randomBytes(3).toString('hex');
  const prefix = `ghwg-${id}`;
  const underlay = `${prefix}-ul`;
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const namespaces: string[] = [];
  const nodes: TopoNode[] = [];
  const addNs = (name: string): void => {
    sh(['ip', 'netns', 'add', name]);
    namespaces.push(name);
    sh(nsExec(name, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']));
    sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  };
  const destroy = async (): Promise<void> => {
    killWireguardGo(nodes.map((n) => n.iface));
    for (const ns of [...namespaces].reverse()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    addNs(underlay);
    sh(['ip', '-n', underlay, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', underlay, 'link', 'set', 'br0', 'up']);
    options.podsPerNode.forEach((podCount, idx) => {
      const i = idx + 1;
      const ns = `${prefix}-n${i}`;
      addNs(ns);
      sh(nsExec(ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
      sh(['ip', '-n', ns, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', `n${i}`, 'netns', underlay]);
      sh(['ip', '-n', underlay, 'link', 'set', 'dev', `n${i}`, 'master', 'br0', 'up']);
      const underlayIp = `192.168.77.${i}`;
      sh(['ip', '-n', ns, 'addr', 'add', `${underlayIp}/24`, 'dev', 'ul0']);
      sh(['ip', '-n', ns, 'link', 'set', 'ul0', 'up']);
      const pods: TopoPod[] = [];
      for (let j = 1; j <= podCount; j++) {
        const podNs = `${prefix}-n${i}p${j}`;
        addNs(podNs);
        const ip = `10.244.${i}.${10 + j}`;
        sh(['ip', '-n', ns, 'link', 'add', `p${j}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs]);
        sh(['ip', '-n', ns, 'addr', 'add', '169.254.1.1/32', 'dev', `p${j}`]);
        sh(['ip', '-n', ns, 'link', 'set', `p${j}`, 'up']);
        sh(['ip', '-n', ns, 'route', 'add', `${ip}/32`, 'dev', `p${j}`]);
        sh(['ip', '-n', podNs, 'addr', 'add', `${ip}/32`, 'dev', 'eth0']);
        sh(['ip', '-n', podNs, 'link', 'set', 'eth0', 'up']);
        sh(['ip', '-n', podNs, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
        sh(['ip', '-n', podNs, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
        pods.push({ ns: podNs, ip });
      }
      nodes.push({
        name: `node${i}`,
        ns,
        underlayIp,
        podCidr: `10.244.${i}.0/24`,
        wgAddress: `10.99.0.${i}`,
        iface: `gw${id}n${i}`,
        pods,
      });
    });
  } catch (e) {
    void destroy();
    throw e;
  }
  return { id, underlay, nodes, dir, destroy };
}

/** Sends `payload` over TCP from one namespace to `ip:port` served by `serverNs`; returns what the server received. */
export async function tcpTransfer(tracker: ProcessTracker, clientNs: string, serverNs: string, ip: string, port: number, payload: string, timeoutMs = 3000): Promise<{ ok: boolean; received: string; error?: string }> {
  const server = tracker.start(nsExec(serverNs, ['socat', '-u', `TCP-LISTEN:${port},reuseaddr`, 'STDOUT']));
  const received: Buffer[] = [];
  server.stdout?.on('data', (b: Buffer) => received.push(b));
  const serverDone = new Promise<void>((r) => server.once('exit', () => r()));
  try {
    // Wait until the server listens.
    for (let i = 0; i < 100; i++) {
      const ss = await run(nsExec(serverNs, ['ss', '-Hltn', `sport = :${port}`]));
      if (ss.stdout.trim() !== '') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const secs = Math.max(1, Math.round(timeoutMs / 1000));
    const client = await run(nsExec(clientNs, ['socat', '-u', 'STDIN', `TCP:${ip}:${port},connect-timeout=${secs}`]), payload, timeoutMs + 5000);
    if (client.code !== 0) return { ok: false, received: '', error: client.stderr.trim() || `socat exit ${client.code}` };
    await Promise.race([serverDone, new Promise((r) => setTimeout(r, timeoutMs))]);
    const text = Buffer.concat(received).toString('utf8');
    return { ok: text === payload, received: text };
  } finally {
    await tracker.stop(server);
  }
}
