/**
 * A node for agent kernel tests: the conformance topology (a node namespace with pods on veths,
 * built by the dataplane package; imported here only), a real etcd started on loopback, a
 * bridge that lets processes inside the node namespace reach it (a socat in the node namespace
 * on its 127.0.0.1, joined to the root namespace's loopback through a unix socket: nothing is
 * added to the root namespace), and `gingham agent` as a real child process entered into the
 * node namespace with nsenter, killed by PID. Everything is removed in `destroy()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEtcdDatastore, resolveEtcdConfig, writeResources, type EtcdDatastore } from '@gingham/datastore';
import { startEtcd, type EtcdServer } from '@gingham/datastore/testing';
import type { Resource } from '@gingham/core';
// The one import of the conformance topology.
import { createTopology, probeTcp, startServers, type PodHandle, type Topology, type TopologyPod } from '@gingham/dataplane-conformance';

export { createTopology, probeTcp, startServers, type PodHandle, type Topology, type TopologyPod };

export const CLI = new URL('../../../cli/bin/gingham.js', import.meta.url).pathname;
/** The etcd endpoint as seen from inside the node namespace (the bridge's port). */
export const BRIDGE_PORT = 23790;
export const HEALTH_PORT = 19099;

export function canRun(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const [t, a] of [['socat', '-V'], ['nsenter', '--version'], ['curl', '--version'], ['etcd', '--version'], ['ipset', 'version']] as const) {
    if (spawnSync(t, [a], { stdio: 'ignore' }).status !== 0) missing.push(t);
  }
  if (missing.length > 0 && process.env['CI'] === 'true') throw new Error(`agent kernel tests need ${missing.join(', ')} (CI=true: not skipping)`);
  return missing;
}

export interface AgentProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** stdout and stderr so far (JSON log lines). */
  output(): string;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface AgentNode {
  readonly topo: Topology;
  readonly etcd: EtcdServer;
  readonly ds: EtcdDatastore;
  readonly dir: string;
  pod(name: string): PodHandle;
  /** Writes resources to etcd (apply), throwing on any refusal. */
  apply(resources: readonly Resource[]): Promise<void>;
  /** Starts `gingham agent` in the node namespace. */
  startAgent(extra?: readonly string[]): AgentProcess;
  /** The agent's /readyz status code (0 when nothing answers). */
  readyz(): number;
  /** `GET /status` through the node namespace. */
  status(): Record<string, unknown> | undefined;
  waitReady(timeoutMs?: number): Promise<void>;
  /** Cuts (and restores) the bridge: the agent loses etcd while etcd keeps running. */
  cutBridge(): void;
  restoreBridge(): void;
  destroy(): Promise<void>;
}

export const wep = (node: string, name: string, ip: string, labels: Record<string, string>, iface = `cali${name}`): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name, namespace: 'default', labels },
  spec: { node, orchestrator: 'k8s', workload: name, endpoint: 'eth0', interfaceName: iface, ipNetworks: [`${ip}/32`], profiles: ['kns.default'] },
});

/** What Calico gives a namespace's pods: allowed unless a policy selects them. */
export const NAMESPACE_PROFILE: Resource = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'Profile',
  metadata: { name: 'kns.default' },
  spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function createAgentNode(pods: readonly (TopologyPod & { iface: string })[], prefix: string): Promise<AgentNode> {
  const dir = mkdtempSync(join(tmpdir(), 'gingham-agent-kt-'));
  const procs = new Set<ChildProcess>();
  const track = (c: ChildProcess): ChildProcess => {
    procs.add(c);
    c.on('exit', () => procs.delete(c));
    return c;
  };
  let topo: Topology | undefined;
  let etcd: EtcdServer | undefined;
  let ds: EtcdDatastore | undefined;
  let inner: ChildProcess | undefined;
  let outer: ChildProcess | undefined;
  const sock = join(dir, 'etcd.sock');
  const killAll = () => {
    for (const p of procs) if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) process.kill(p.pid, 'SIGKILL');
  };
  try {
    topo = createTopology(pods, prefix);
    etcd = await startEtcd();
    const port = Number(new URL(etcd.endpoint).port);
    outer = track(spawn('socat', [`UNIX-LISTEN:${sock},fork,unlink-early`, `TCP:127.0.0.1:${port}`], { stdio: 'ignore' }));
    const startInner = () => {
      inner = track(spawn('nsenter', [`--net=/run/netns/${topo!.node}`, 'socat', `TCP-LISTEN:${BRIDGE_PORT},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`], { stdio: 'ignore' }));
    };
    startInner();
    ds = createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: etcd.endpoint }, env: {} }) });
    await startServers(topo, [80], [], 7000);
    const t = topo;
    const e = etcd;
    const d = ds;
    const inNode = (argv: readonly string[]) => spawnSync('nsenter', [`--net=/run/netns/${t.node}`, ...argv], { encoding: 'utf8', timeout: 10_000 });
    const node: AgentNode = {
      topo: t,
      etcd: e,
      ds: d,
      dir,
      pod: (name) => t.pod('default', name),
      async apply(resources) {
        const out = await writeResources(d, resources.map((resource) => ({ resource })), 'apply');
        const bad = out.filter((o) => o.action === 'refused' || o.action === 'skipped');
        if (bad.length > 0) throw new Error(`etcd refused: ${JSON.stringify(bad.slice(0, 3))}`);
      },
      startAgent(extra = []) {
        const child = track(
          spawn(
            'nsenter',
            [
              `--net=/run/netns/${t.node}`,
              process.execPath,
              CLI,
              'agent',
              '--node',
              t.node,
              '--datastore',
              'etcd',
              '--etcd-endpoints',
              `http://127.0.0.1:${BRIDGE_PORT}`,
              '--health-port',
              String(HEALTH_PORT),
              '--metrics-port',
              '0',
              '--lock-dir',
              join(dir, 'locks'),
              '--apply-retry-initial-ms',
              '100',
              '--apply-retry-max-ms',
              '2000',
              ...extra,
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          ),
        );
        let out = '';
        child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
        child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
        return { pid: child.pid!, child, output: () => out, exited };
      },
      readyz() {
        const r = inNode(['curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', `http://127.0.0.1:${HEALTH_PORT}/readyz`]);
        return Number(r.stdout) || 0;
      },
      status() {
        const r = inNode(['curl', '-s', '-m', '2', `http://127.0.0.1:${HEALTH_PORT}/status`]);
        try {
          return JSON.parse(r.stdout) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      },
      async waitReady(timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          if (node.readyz() === 200) return;
          await sleep(200);
        }
        throw new Error(`the agent was not ready within ${timeoutMs} ms: ${JSON.stringify(node.status()?.['health'])}`);
      },
      cutBridge() {
        if (inner?.pid !== undefined && inner.exitCode === null) process.kill(inner.pid, 'SIGKILL');
        // socat's forked children carry open connections: end them too (they are ours, by PID).
        const r = spawnSync('pgrep', ['-P', String(outer!.pid)], { encoding: 'utf8' });
        for (const pid of r.stdout.split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      },
      restoreBridge() {
        startInner();
      },
      async destroy() {
        killAll();
        await d.close().catch(() => undefined);
        await e.close();
        await t.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return node;
  } catch (err) {
    killAll();
    await ds?.close().catch(() => undefined);
    await etcd?.close();
    await topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Stops an agent with SIGTERM (SIGKILL after 10 s) and waits for it. */
export async function stopAgent(a: AgentProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (a.child.exitCode === null && a.child.signalCode === null) {
    process.kill(a.pid, signal);
    const t = setTimeout(() => a.child.exitCode === null && process.kill(a.pid, 'SIGKILL'), 10_000);
    const r = await a.exited;
    clearTimeout(t);
    return r;
  }
  return a.exited;
}

/**
 * A long-lived TCP connection from `from` to `to`'s echo port: `roundTrip()` sends a line and
 * resolves true when it comes back within `timeoutMs`.
 */
export function openEcho(topo: Topology, from: PodHandle, to: PodHandle, port = 7000): { roundTrip(timeoutMs?: number): Promise<boolean>; close(): void } {
  const child = topo.spawnIn(from.netns, ['socat', '-', `TCP:${to.ip}:${port}`]);
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => (buf += c.toString()));
  let n = 0;
  return {
    async roundTrip(timeoutMs = 2000) {
      const token = `ping-${++n}`;
      child.stdin!.write(`${token}\n`);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (buf.includes(token)) return true;
        if (child.exitCode !== null) return false;
        await sleep(20);
      }
      return false;
    },
    close() {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    },
  };
}

/**
 * `gingham agent ARGS --health-port PORT` as a real process in network namespace NETNS (nsenter),
 * resolved once its /readyz answers 200; on failure it is killed by PID and the error carries
 * its output.
 */
export async function startAgentIn(netns: string, args: readonly string[], options: { readonly healthPort: number; readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number }): Promise<AgentProcess> {
  const child = spawn('nsenter', [`--net=/run/netns/${netns}`, process.execPath, CLI, 'agent', ...args, '--health-port', String(options.healthPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-100_000)));
  child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-100_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const agent: AgentProcess = { pid: child.pid!, child, output: () => out, exited };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const r = spawnSync('nsenter', [`--net=/run/netns/${netns}`, 'curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', `http://127.0.0.1:${options.healthPort}/readyz`], { encoding: 'utf8' });
    if (r.stdout === '200') return agent;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopAgent(agent, 'SIGKILL');
      throw new Error(`the agent did not become ready:\n${out.slice(-6000)}`);
    }
    await sleep(200);
  }
}

/**
 * Makes 127.0.0.1:PORT of the root namespace (a test server) reachable at 127.0.0.1:PORT inside
 * NETNS: a socat on each side joined by a unix socket in DIR; nothing is added to the root
 * namespace. Returns the two processes (kill them by PID).
 */
export async function bridgeLoopbackPort(netns: string, port: number | string, dir: string): Promise<ChildProcess[]> {
  const sock = join(dir, `bridge-${port}.sock`);
  const outer = spawn('socat', [`UNIX-LISTEN:${sock},fork,unlink-early`, `TCP:127.0.0.1:${port}`], { stdio: 'ignore' });
  await sleep(200);
  const inner = spawn('nsenter', [`--net=/run/netns/${netns}`, 'socat', `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`], { stdio: 'ignore' });
  return [outer, inner];
}
