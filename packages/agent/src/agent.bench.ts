/**
 * `npm run bench:agent` (root): the agent against a real etcd on loopback, both inside a network
 * namespace this bench creates (it re-runs itself there with `ip netns exec`, so the agent's
 * rtnetlink socket, iptables and etcd are all in that namespace) and removes. iptables dataplane.
 * Default scale 10,000 endpoints × 1,000 policies with 250 local endpoints;
 * GINGHAM_BENCH_AGENT_SCALE=large for 100,000 × 10,000. Rows:
 *  - initial_sync_ms: agent start to ready (first complete sync and first successful apply);
 *  - etcd_to_kernel_label_change_p50/p99_ms, etcd_to_kernel_new_policy_p50/p99_ms: from the
 *    etcd put to the dataplane apply that carries it having returned (50 samples, 10 warm-up);
 *  - new_interface_to_enforced_p50/p99_ms: from `ip link add` of a local endpoint's interface to
 *    the agent's interface re-check (triggered by the rtnetlink event) having returned. With
 *    iptables a workload's rules match by interface name and exist before the link does, so this
 *    is the agent's reaction time; the eBPF dataplane attaches its programs in that re-check;
 *  - relist_ms: after a compaction past the cut-off watcher (1% of endpoints changed meanwhile),
 *    from reconnecting to the relist applied; agent_rss_mb (this process: agent + etcd writer).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '@gingham/core';
import { encodeValue, etcdKey, kindOf } from '@gingham/datastore';
import { startEtcd, startTcpProxy } from '@gingham/datastore/testing';
import { createIptablesDataplane } from '@gingham/dataplane-iptables';
import { createLocalRunner } from '@gingham/host';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { createAgent } from './agent.js';
import { resolveAgentConfig } from './config.js';
import { wrapDataplane } from './dataplane-adapter.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

const WEP = kindOf('projectcalico.org/v3', 'WorkloadEndpoint')!;
const GNP = kindOf('projectcalico.org/v3', 'GlobalNetworkPolicy')!;
const LOCAL = 250;

const wepIface = (i: number) => `cali${i.toString(16).padStart(11, '0')}`;
const wep = (i: number, gen = 0): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `w${i}`, namespace: `ns${i % 100}`, labels: { app: `app${i % 50}`, gen: String(gen) } },
  spec: {
    node: i < LOCAL ? 'bench-node' : `node${i % 400}`,
    orchestrator: 'k8s',
    workload: `w${i}`,
    endpoint: 'eth0',
    interfaceName: wepIface(i),
    ipNetworks: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`],
  },
});
const gnp = (j: number, extra = ''): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `p${j}${extra}` },
  spec: { order: j, selector: `app == 'app${j % 50}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == 'app${(j + 1) % 50}'` }, destination: { ports: [1000 + (j % 1000)] } }] },
});
const keyOf = (r: Resource) => etcdKey(r.kind === 'WorkloadEndpoint' ? WEP : GNP, { name: r.metadata.name, namespace: r.metadata.namespace ?? '' });

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench: timed out');
    await new Promise((r) => setImmediate(r));
  }
}

const INSIDE = 'GINGHAM_BENCH_AGENT_NETNS';

/** Runs the bench in a fresh network namespace (this same command, re-run inside it). */
export async function runAgentBench(emit: Emit): Promise<void> {
  if (process.env[INSIDE]) return runInside(emit);
  const ns = `gh-bench-agent-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) throw new Error(`bench: cannot create network namespace ${ns} (root needed)`);
  try {
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      env: { ...process.env, [INSIDE]: ns },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    for await (const line of createInterface({ input: child.stdout! })) if (line.trim()) emit(JSON.parse(line) as Parameters<Emit>[0]);
    const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
    if (code !== 0) throw new Error(`bench: the agent bench in ${ns} exited with ${code}`);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

async function runInside(emit: Emit): Promise<void> {
  const large = process.env['GINGHAM_BENCH_AGENT_SCALE'] === 'large';
  const n = large ? 100_000 : 10_000;
  const p = large ? 10_000 : 1_000;
  const scale = `${n / 1000}k_x_${p / 1000}k`;
  const dir = mkdtempSync(join(tmpdir(), 'gingham-bench-agent-'));
  const server = await startEtcd({ extraArgs: ['--quota-backend-bytes=4294967296'] });
  const raw = new Etcd3({ hosts: [server.endpoint] });
  const proxy = await startTcpProxy(Number(new URL(server.endpoint).port));
  try {
    process.stderr.write(`bench: writing ${n} endpoints and ${p} policies\n`);
    const all = [...Array.from({ length: n }, (_, i) => wep(i)), ...Array.from({ length: p }, (_, j) => gnp(j))];
    for (let i = 0; i < all.length; i += 100) {
      const puts = all.slice(i, i + 100).map((r) => raw.put(keyOf(r)).value(encodeValue(r, r.kind === 'WorkloadEndpoint' ? WEP : GNP)));
      await raw.if('/bench/none', 'Version', '==', 0).then(...puts).commit();
    }
    const { config } = await resolveAgentConfig({
      flags: { node: 'bench-node', datastore: 'etcd', 'etcd-endpoints': `http://${proxy.address}`, 'lock-dir': join(dir, 'locks'), 'health-port': '0', 'metrics-port': '0' },
      env: {},
    });
    const dataplane = createIptablesDataplane({ runner: createLocalRunner(), lock: { dir: join(dir, 'locks') } });
    const agent = createAgent({ config, logger: pino({ level: 'silent' }), dataplane: wrapDataplane('iptables', dataplane), linkEvents: true });
    const t0 = performance.now();
    await agent.start();
    await agent.whenReady(600_000);
    emit({ bench: 'agent', metric: `initial_sync_ms_${scale}`, value: performance.now() - t0, unit: 'ms' });

    // End to end, and the dataplane's own share (the apply that carried the change): the rest is
    // etcd's watch delivery, the Engine and the agent.
    const measure = async (what: string, write: (k: number) => Promise<unknown>): Promise<number[]> => {
      const out: number[] = [];
      const applyMs: number[] = [];
      for (let k = 0; k < 60; k++) {
        const before = agent.loop.applies;
        const t = performance.now();
        await write(k);
        await until(() => agent.loop.applies > before, 30_000);
        await agent.settled();
        if (k < 10) continue; // the first ten warm up
        out.push(performance.now() - t);
        applyMs.push(agent.loop.lastApply?.durationMs ?? NaN);
      }
      emit({ bench: 'agent', metric: `${what}_dataplane_apply_p50_ms_${scale}`, value: pct(applyMs, 50), unit: 'ms' });
      return out;
    };
    const label = await measure('label_change', (k) => raw.put(keyOf(wep(k % LOCAL))).value(encodeValue({ ...wep(k % LOCAL, k + 1), metadata: { ...wep(k % LOCAL).metadata, labels: { app: `app${(k * 7) % 50}`, gen: String(k + 1) } } }, WEP)).exec());
    emit({ bench: 'agent', metric: `etcd_to_kernel_label_change_p50_ms_${scale}`, value: pct(label, 50), unit: 'ms' });
    emit({ bench: 'agent', metric: `etcd_to_kernel_label_change_p99_ms_${scale}`, value: pct(label, 99), unit: 'ms' });
    const policy = await measure('new_policy', (k) => raw.put(keyOf(gnp(k, '-new'))).value(encodeValue(gnp(k, '-new'), GNP)).exec());
    emit({ bench: 'agent', metric: `etcd_to_kernel_new_policy_p50_ms_${scale}`, value: pct(policy, 50), unit: 'ms' });
    emit({ bench: 'agent', metric: `etcd_to_kernel_new_policy_p99_ms_${scale}`, value: pct(policy, 99), unit: 'ms' });

    // A local endpoint's interface appears (as a CNI plugin would create it).
    const links: number[] = [];
    for (let k = 0; k < 60; k++) {
      const before = agent.loop.applies;
      const t = performance.now();
      const made = spawnSync('ip', ['link', 'add', wepIface(k), 'type', 'veth', 'peer', 'name', `bpeer${k}`]);
      if (made.status !== 0) throw new Error(`bench: ip link add: ${made.stderr.toString()}`);
      await until(() => agent.loop.applies > before && agent.loop.lastApply?.interfaceSync === true, 30_000);
      await agent.settled();
      if (k >= 10) links.push(performance.now() - t);
    }
    emit({ bench: 'agent', metric: `new_interface_to_enforced_p50_ms_${scale}`, value: pct(links, 50), unit: 'ms' });
    emit({ bench: 'agent', metric: `new_interface_to_enforced_p99_ms_${scale}`, value: pct(links, 99), unit: 'ms' });

    proxy.cut();
    await until(() => !agent.status().datastore.connected, 30_000);
    for (let i = 0; i < n / 100; i++) await raw.put(keyOf(wep((i * 97) % n))).value(encodeValue(wep((i * 97) % n, 1000), WEP));
    await server.compact();
    const relists = agent.status().datastore.counters['relists'] ?? 0;
    const t1 = performance.now();
    proxy.restore();
    await until(() => (agent.status().datastore.counters['relists'] ?? 0) > relists, 600_000);
    await agent.settled();
    emit({ bench: 'agent', metric: `relist_ms_${scale}`, value: performance.now() - t1, unit: 'ms' });
    emit({ bench: 'agent', metric: `agent_rss_mb_${scale}`, value: process.memoryUsage().rss / 1048576, unit: 'MiB' });
    emit({ bench: 'agent', metric: `applies_during_run_${scale}`, value: agent.loop.applies, unit: 'count' });
    // stop() closes the dataplane and leaves its rules; they go with the namespace.
    await agent.stop();
  } finally {
    raw.close();
    proxy.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
