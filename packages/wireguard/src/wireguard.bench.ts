/**
 * WireGuard benchmarks (root only; everything happens in two scratch network namespaces joined
 * by a veth pair, removed afterwards, processes stopped by pid):
 *  - computing and applying a 1,000-peer configuration on a fresh interface;
 *  - one node joining (and leaving) that 1,000-peer mesh: peer operations, commands and time,
 *    against the goal of one peer operation in at most 1/100 of the full apply;
 *  - TCP throughput through the tunnel vs. the plain underlay (iperf3, same run).
 * Run: `npx tsx packages/wireguard/src/wireguard.bench.ts` (prints JSON lines) or through
 * `npm run bench:wireguard`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NodeInfo } from '@gingham/core';
import { createNetnsRunner } from '@gingham/host';
import type { DesiredWireguardState } from './apply/desired.js';
import { createWireguard, type Wireguard } from './apply/wireguard.js';
import { findWireguardGo, stopProcess } from './apply/userspace.js';
import { generateKeyPair, type KeyPair } from './keys.js';
import { computeWireguardConfig } from './peers.js';

type Row = { bench: string; metric: string; value: number; unit: string };

const PEERS = 1000;

function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}

function available(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function syntheticNode(i: number, key: KeyPair): NodeInfo {
  // 10.<i/256>.<i%256>.0/24 pod CIDRs and 172.20/16 node addresses never collide with the pair.
  return {
    name: `node-${String(i).padStart(4, '0')}`,
    addresses: [`172.20.${i >> 8}.${i & 255}`],
    podCIDRs: [`10.${100 + (i >> 8)}.${i & 255}.0/24`],
    labels: {},
    wireguardInterfaceIPv4Address: `100.64.${i >> 8}.${i & 255}`,
    wireguardPublicKey: key.publicKey,
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

async function iperf(clientNs: string, serverNs: string, ip: string, seconds: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', ip], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const r = spawnSync('ip', ['netns', 'exec', clientNs, 'iperf3', '-c', ip, '-t', String(seconds), '-J'], { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
    const json = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
    if (json.error) throw new Error(`iperf3: ${json.error}`);
    return (json.end?.sum_received?.bits_per_second ?? 0) / 1e6;
  } finally {
    if (server.exitCode === null && server.pid !== undefined) {
      try {
        process.kill(server.pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
  }
}

/** Runs the benchmarks and emits one row per figure. */
export async function runWireguardBench(emit: (row: Row) => void): Promise<void> {
  const missing = [
    process.getuid?.() === 0 ? undefined : 'root',
    available('wg', ['--version']) ? undefined : 'wg',
    available('iperf3', ['--version']) ? undefined : 'iperf3',
    available('wireguard-go', ['--version']) || available('genl', ['ctrl', 'get', 'name', 'wireguard']) ? undefined : 'wireguard',
  ].filter((m): m is string => m !== undefined);
  if (missing.length > 0) {
    process.stderr.write(`bench wireguard: skipped, missing ${missing.join(', ')}\n`);
    return;
  }
  const id = randomBytes(3).toString('hex');
  const nsA = `ghwg-bench-${id}-a`;
  const nsB = `ghwg-bench-${id}-b`;
  const ifA = `gwb${id}a`;
  const ifB = `gwb${id}b`;
  const dir = mkdtempSync(join(tmpdir(), `ghwg-bench-${id}-`));
  const stateDir = join(dir, 'state');
  const created: string[] = [];
  const handles: Wireguard[] = [];
  try {
    for (const ns of [nsA, nsB]) {
      sh(['ip', 'netns', 'add', ns]);
      created.push(ns);
      sh(['ip', '-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    }
    sh(['ip', '-n', nsA, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', nsB]);
    sh(['ip', '-n', nsA, 'addr', 'add', '192.168.88.1/24', 'dev', 'ul0']);
    sh(['ip', '-n', nsB, 'addr', 'add', '192.168.88.2/24', 'dev', 'ul0']);
    sh(['ip', '-n', nsA, 'link', 'set', 'dev', 'ul0', 'up']);
    sh(['ip', '-n', nsB, 'link', 'set', 'dev', 'ul0', 'up']);

    const keys = Array.from({ length: PEERS + 2 }, () => generateKeyPair());
    const a: NodeInfo = { name: 'a', addresses: ['192.168.88.1'], podCIDRs: [], labels: {}, wireguardInterfaceIPv4Address: '10.99.0.1', wireguardPublicKey: keys[0]!.publicKey };
    const b: NodeInfo = { name: 'b', addresses: ['192.168.88.2'], podCIDRs: [], labels: {}, wireguardInterfaceIPv4Address: '10.99.0.2', wireguardPublicKey: keys[1]!.publicKey };
    const others = Array.from({ length: PEERS - 1 }, (_, i) => syntheticNode(i, keys[i + 2]!));
    const joiner = syntheticNode(PEERS, keys[PEERS + 1]!);
    const mesh = [a, b, ...others];

    const computed = await timed(async () => computeWireguardConfig({ nodes: mesh, localNode: 'a' }));
    const config = computed.value;
    if (!config.ok || config.peers.length !== PEERS) throw new Error(`bench config has ${config.peers.length} peers, issues: ${JSON.stringify(config.issues.slice(0, 3))}`);
    emit({ bench: 'wireguard.peers', metric: `compute-${PEERS}-peers`, value: computed.ms, unit: 'ms' });

    const wgA = createWireguard({ interfaceName: ifA, runner: createNetnsRunner(nsA), stateDir });
    const wgB = createWireguard({ interfaceName: ifB, runner: createNetnsRunner(nsB), stateDir });
    handles.push(wgA, wgB);
    const desiredA = (nodes: NodeInfo[]): DesiredWireguardState => ({ ...computeWireguardConfig({ nodes, localNode: 'a' }), privateKey: keys[0]!.privateKey });

    // Desired states are computed outside the timed sections (computation is reported above).
    const dMesh = desiredA(mesh);
    const dJoined = desiredA([...mesh, joiner]);
    const dAlone = desiredA([a]);
    const full = await timed(() => wgA.apply(dMesh));
    emit({ bench: 'wireguard.apply', metric: `full-${PEERS}-peers-fresh-interface`, value: full.ms, unit: 'ms' });
    emit({ bench: 'wireguard.apply', metric: `full-${PEERS}-peers-commands`, value: full.value.commands, unit: 'commands' });
    emit({ bench: 'wireguard.apply', metric: `implementation-is-kernel`, value: full.value.mode === 'kernel' ? 1 : 0, unit: 'bool' });

    // The same 1,000 peers onto an existing, emptied interface (no daemon start).
    await wgA.apply(dAlone);
    const refill = await timed(() => wgA.apply(dMesh));
    emit({ bench: 'wireguard.apply', metric: `full-${PEERS}-peers-existing-interface`, value: refill.ms, unit: 'ms' });

    const noop = await timed(() => wgA.apply(dMesh));
    emit({ bench: 'wireguard.apply', metric: `noop-${PEERS}-peers-cached`, value: noop.ms, unit: 'ms' });
    const noopRead = await timed(() => createWireguard({ interfaceName: ifA, runner: createNetnsRunner(nsA), stateDir }).apply(dMesh));
    emit({ bench: 'wireguard.apply', metric: `noop-${PEERS}-peers-read-back`, value: noopRead.ms, unit: 'ms' });

    // One node joins: a long-lived handle, told the change (`applyChanges`, cost ∝ the change) ...
    const joinerPeer = dJoined.peers.find((p) => p.node === joiner.name)!;
    if (dJoined.peers.length !== PEERS + 1) throw new Error('the joiner changed other peers');
    const join1 = await timed(() => wgA.applyChanges({ upsert: [joinerPeer] }));
    emit({ bench: 'wireguard.join', metric: `one-node-joins-${PEERS}-peer-mesh`, value: join1.ms, unit: 'ms' });
    emit({ bench: 'wireguard', metric: 'join_uapi_ms', value: join1.value.durationMs.wireguard ?? NaN, unit: 'ms' });
    emit({ bench: 'wireguard', metric: 'join_ip_batch_ms', value: join1.value.durationMs.routes ?? NaN, unit: 'ms' });
    emit({ bench: 'wireguard.join', metric: 'validate-and-liveness-ms', value: join1.value.durationMs.read, unit: 'ms' });
    emit({ bench: 'wireguard.join', metric: 'peer-operations', value: join1.value.peerOperations, unit: 'ops' });
    emit({ bench: 'wireguard.join', metric: 'route-operations', value: join1.value.routes.added + join1.value.routes.removed, unit: 'ops' });
    emit({ bench: 'wireguard.join', metric: 'mutating-commands', value: join1.value.commands, unit: 'commands' });
    emit({ bench: 'wireguard.join', metric: 'uapi-sets', value: join1.value.writes.uapiSets, unit: 'requests' });
    emit({ bench: 'wireguard.join', metric: 'ip-session-batches', value: join1.value.writes.ipSessionBatches, unit: 'batches' });
    emit({ bench: 'wireguard.join', metric: 'processes-spawned', value: join1.value.writes.processes, unit: 'processes' });
    emit({ bench: 'wireguard.join', metric: 'read-back', value: join1.value.readBack ? 1 : 0, unit: 'bool' });
    // The goal's figure: the join against the full apply measured in this same run.
    emit({ bench: 'wireguard', metric: 'join_over_full_apply', value: join1.ms / full.ms, unit: 'ratio' });
    emit({ bench: 'wireguard.join', metric: 'join/full-apply-fresh', value: join1.ms / full.ms, unit: 'ratio' });
    emit({ bench: 'wireguard.join', metric: 'join/full-apply-existing', value: join1.ms / refill.ms, unit: 'ratio' });
    const leave = await timed(() => wgA.applyChanges({ remove: [joinerPeer.publicKey] }));
    emit({ bench: 'wireguard.join', metric: `one-node-leaves-${PEERS}-peer-mesh`, value: leave.ms, unit: 'ms' });
    emit({ bench: 'wireguard.join', metric: 'leave-peer-operations', value: leave.value.peerOperations, unit: 'ops' });
    // Steady state: the median of 9 more join/leave cycles.
    const joins: number[] = [];
    for (let i = 0; i < 9; i++) {
      joins.push((await timed(() => wgA.applyChanges({ upsert: [joinerPeer] }))).ms);
      await wgA.applyChanges({ remove: [joinerPeer.publicKey] });
    }
    joins.sort((x, y) => x - y);
    emit({ bench: 'wireguard.join', metric: 'join-median-of-9', value: joins[4]!, unit: 'ms' });
    // ... the same handle given the full 1,001-peer list (`apply`: O(mesh) fingerprints and checks) ...
    const joinFull = await timed(() => wgA.apply(dJoined));
    emit({ bench: 'wireguard.join', metric: `one-node-joins-${PEERS}-peer-mesh-full-list`, value: joinFull.ms, unit: 'ms' });
    emit({ bench: 'wireguard.join', metric: 'full-list-join/full-apply-fresh', value: joinFull.ms / full.ms, unit: 'ratio' });
    await wgA.apply(dMesh);
    // ... and a fresh handle that reads the 1,000 peers back first (what each CLI run does).
    const cliStyle = createWireguard({ interfaceName: ifA, runner: createNetnsRunner(nsA), stateDir });
    const join2 = await timed(() => cliStyle.apply(dJoined));
    emit({ bench: 'wireguard.join', metric: `one-node-joins-${PEERS}-peer-mesh-read-back`, value: join2.ms, unit: 'ms' });
    emit({ bench: 'wireguard.join', metric: 'read-back-peer-operations', value: join2.value.peerOperations, unit: 'ops' });
    emit({ bench: 'wireguard.join', metric: 'read-back-join/full-apply-fresh', value: join2.ms / full.ms, unit: 'ratio' });
    await cliStyle.apply(dMesh);

    // Throughput: b only knows a; a keeps its 1,000 peers (lookups included).
    await wgB.apply({ ...computeWireguardConfig({ nodes: [a, b], localNode: 'b' }), privateKey: keys[1]!.privateKey });
    const seconds = 4;
    const plain = await iperf(nsA, nsB, '192.168.88.2', seconds);
    const tunnel = await iperf(nsA, nsB, '10.99.0.2', seconds);
    emit({ bench: 'wireguard.throughput', metric: 'tcp-underlay-veth', value: plain, unit: 'Mbit/s' });
    emit({ bench: 'wireguard.throughput', metric: `tcp-tunnel-${full.value.mode}`, value: tunnel, unit: 'Mbit/s' });
    emit({ bench: 'wireguard.throughput', metric: 'tunnel/underlay', value: tunnel / plain, unit: 'ratio' });

    await wgA.down();
    await wgB.down();
  } finally {
    // Ends the handles' persistent ip sessions (by pid) even when a step above failed.
    for (const h of handles) await h.close().catch(() => undefined);
    for (const name of [ifA, ifB]) for (const p of await findWireguardGo(name)) await stopProcess(p.pid, name);
    for (const ns of created.reverse()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runWireguardBench((row) => process.stdout.write(`${JSON.stringify({ ...row, value: Number(row.value.toPrecision(6)) })}\n`));
}
