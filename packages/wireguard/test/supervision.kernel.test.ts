/**
 * wireguard-go lifecycle: an attached daemon is restarted by its handle and re-configured; a
 * detached one found dead is restarted by the next apply; stopping is by pid.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeInfo } from '@gingham/core';
import { createNetnsRunner, type CommandRunner } from '@gingham/host';
import { computeWireguardConfig, createWireguard, generateKeyPair, parseWgDump, type KeyPair, type Wireguard, type WireguardEvent } from '../src/index.js';
import { isAlive } from '../src/apply/userspace.js';
import { createTopology, nsExec, probeKernelCapabilities, ProcessTracker, run, tcpTransfer, type Topology } from '../src/testing.js';

// wireguard-go is forced (mode: 'userspace') so this runs with or without the kernel module.
const caps = probeKernelCapabilities(['ip', 'wg', 'socat', 'ss', 'wireguard-go']);

describe.skipIf(!caps.ok && !caps.mustRun)('wireguard-go supervision', () => {
  let topo: Topology;
  const tracker = new ProcessTracker();
  let keys: KeyPair[];
  let nodes: NodeInfo[];
  const handles: Wireguard[] = [];
  let port = 8100;

  const desired = (i: number) => ({ ...computeWireguardConfig({ nodes, localNode: nodes[i]!.name }), privateKey: keys[i]!.privateKey });
  const reachable = async (): Promise<boolean> => {
    const [a, b] = topo.nodes;
    return (await tcpTransfer(tracker, a!.pods[0]!.ns, b!.pods[0]!.ns, b!.pods[0]!.ip, port++, 'ping-through-tunnel')).ok;
  };
  const pidOf = async (iface: string): Promise<number> => Number((await readFile(join(topo.dir, 'state', `${iface}.pid`), 'utf8')).trim());

  beforeAll(() => {
    if (!caps.ok) throw new Error(`kernel capabilities missing (CI=true, not skipping): ${caps.missing.join(', ')}`);
    topo = createTopology({ podsPerNode: [1, 1] });
    keys = topo.nodes.map(() => generateKeyPair());
    nodes = topo.nodes.map((n, i) => ({
      name: n.name,
      addresses: [n.underlayIp],
      podCIDRs: [n.podCidr],
      labels: {},
      wireguardInterfaceIPv4Address: n.wgAddress,
      wireguardPublicKey: keys[i]!.publicKey,
    }));
  });

  afterAll(async () => {
    for (const h of handles) await h.close().catch(() => undefined);
    await tracker.stopAll();
    await topo?.destroy();
  });

  it('restarts a crashed attached wireguard-go and re-applies the last state', async () => {
    const events: WireguardEvent[] = [];
    const [a, b] = topo.nodes;
    const wgA = createWireguard({ interfaceName: a!.iface, runner: createNetnsRunner(a!.ns), stateDir: join(topo.dir, 'state'), mode: 'userspace', detach: false, restart: { backoffMs: 100 }, onEvent: (e) => events.push(e) });
    const wgB = createWireguard({ interfaceName: b!.iface, runner: createNetnsRunner(b!.ns), stateDir: join(topo.dir, 'state'), mode: 'userspace' });
    handles.push(wgA, wgB);
    const first = await wgA.apply(desired(0));
    await wgB.apply(desired(1));
    expect(first).toMatchObject({ mode: 'userspace', created: true });
    expect(await reachable()).toBe(true);

    process.kill(first.pid!, 'SIGKILL');
    for (let i = 0; i < 100 && !events.some((e) => e.kind === 'daemon-restarted'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(events.map((e) => e.kind)).toEqual(['daemon-started', 'daemon-exited', 'daemon-started', 'daemon-restarted']);
    const restartedPid = (events[3] as { pid: number }).pid;
    expect(restartedPid).not.toBe(first.pid);
    expect(await pidOf(a!.iface)).toBe(restartedPid);
    expect(await reachable()).toBe(true);

    await wgA.close();
    expect((await run(nsExec(a!.ns, ['ip', 'link', 'show', a!.iface]))).code).not.toBe(0);
    expect((await run(nsExec(a!.ns, ['ip', 'rule', 'show']))).stdout).not.toContain('lookup 1');
  });

  it('the next apply restarts a detached wireguard-go found dead', async () => {
    const [a] = topo.nodes;
    const wgA = createWireguard({ interfaceName: a!.iface, runner: createNetnsRunner(a!.ns), stateDir: join(topo.dir, 'state'), mode: 'userspace' });
    handles.push(wgA);
    const first = await wgA.apply(desired(0));
    expect(first.created).toBe(true);
    expect(await reachable()).toBe(true);
    process.kill(first.pid!, 'SIGKILL');
    for (let i = 0; i < 100 && (await run(nsExec(a!.ns, ['ip', 'link', 'show', a!.iface]))).code === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await reachable()).toBe(false);
    const again = await wgA.apply(desired(0));
    expect(again).toMatchObject({ created: true, restarted: true, peers: { added: 1 } });
    expect(again.pid).not.toBe(first.pid);
    expect(await reachable()).toBe(true);
    const down = await wgA.down();
    expect(down).toMatchObject({ removedInterface: true, stoppedPid: again.pid, removedRules: 1 });
  });

  it('a node joining through a long-lived handle is one UAPI set and one ip session batch, no process', async () => {
    const [a, b] = topo.nodes;
    const base = createNetnsRunner(a!.ns);
    const spawned: string[] = [];
    const sessions: number[] = [];
    const runner: CommandRunner = {
      description: base.description,
      run: (argv, o) => (spawned.push(argv.join(' ')), base.run(argv, o)),
      spawn: (argv, o) => (spawned.push(argv.join(' ')), base.spawn(argv, o)),
      open: async (argv) => {
        const p = await base.open(argv);
        sessions.push(p.pid);
        return p;
      },
    };
    const wgA = createWireguard({ interfaceName: a!.iface, runner, stateDir: join(topo.dir, 'state'), mode: 'userspace' });
    const wgB = createWireguard({ interfaceName: b!.iface, runner: createNetnsRunner(b!.ns), stateDir: join(topo.dir, 'state'), mode: 'userspace' });
    handles.push(wgA, wgB);
    await wgA.apply(desired(0));
    await wgB.apply(desired(1));
    expect(await reachable()).toBe(true);
    const dumpA = async () => parseWgDump((await run(nsExec(a!.ns, ['wg', 'show', a!.iface, 'dump']))).stdout);
    const before = (await dumpA()).peers.find((p) => p.publicKey === keys[1]!.publicKey)!;
    expect(before.latestHandshake).toBeGreaterThan(0);

    const joiner: NodeInfo = { name: 'joiner', addresses: ['192.0.2.77'], podCIDRs: ['10.123.0.0/24'], labels: {}, wireguardInterfaceIPv4Address: '100.64.77.1', wireguardPublicKey: generateKeyPair().publicKey };
    const withJoiner = { ...computeWireguardConfig({ nodes: [...nodes, joiner], localNode: nodes[0]!.name }), privateKey: keys[0]!.privateKey };
    spawned.length = 0;
    const join1 = await wgA.apply(withJoiner);
    expect(join1).toMatchObject({ readBack: false, peerOperations: 1, peers: { added: 1 }, routes: { added: 2, removed: 0 }, commands: 2, writes: { uapiSets: 1, ipSessionBatches: 1, processes: 0 } });
    expect(spawned).toEqual([]);
    expect(sessions).toHaveLength(1);
    const routes = (await run(nsExec(a!.ns, ['ip', 'route', 'show', 'table', '1']))).stdout;
    expect(routes).toContain('10.123.0.0/24');
    const after = await dumpA();
    expect(after.peers.map((p) => p.publicKey)).toContain(joiner.wireguardPublicKey);
    // The existing session was left alone: same handshake, counters only grew.
    const kept = after.peers.find((p) => p.publicKey === keys[1]!.publicKey)!;
    expect(kept.latestHandshake).toBe(before.latestHandshake);
    expect(kept.rxBytes).toBeGreaterThanOrEqual(before.rxBytes);

    // The joiner leaves: the same session again, still no process.
    const leave = await wgA.apply(desired(0));
    expect(leave).toMatchObject({ peers: { removed: 1 }, routes: { removed: 2 }, writes: { uapiSets: 1, ipSessionBatches: 1, processes: 0 } });
    expect(spawned).toEqual([]);
    expect(sessions).toHaveLength(1);
    expect((await run(nsExec(a!.ns, ['ip', 'route', 'show', 'table', '1']))).stdout).not.toContain('10.123.0.0/24');
    expect(await reachable()).toBe(true);

    // down() ends the ip session (by pid) along with everything else.
    expect(await isAlive(sessions[0]!)).toBe(true);
    await wgA.down();
    expect(await isAlive(sessions[0]!)).toBe(false);
    await wgB.down();
  });

  it('applyChanges: a join is one UAPI set and one ip batch, validated first, other sessions untouched', async () => {
    const [a, b] = topo.nodes;
    const base = createNetnsRunner(a!.ns);
    const spawned: string[] = [];
    const runner: CommandRunner = {
      description: base.description,
      run: (argv, o) => (spawned.push(argv.join(' ')), base.run(argv, o)),
      spawn: (argv, o) => (spawned.push(argv.join(' ')), base.spawn(argv, o)),
      open: (argv) => base.open(argv),
    };
    const wgA = createWireguard({ interfaceName: a!.iface, runner, stateDir: join(topo.dir, 'state'), mode: 'userspace' });
    const wgB = createWireguard({ interfaceName: b!.iface, runner: createNetnsRunner(b!.ns), stateDir: join(topo.dir, 'state'), mode: 'userspace' });
    handles.push(wgA, wgB);
    await expect(wgA.applyChanges({ upsert: [] })).rejects.toMatchObject({ code: 'WG_INVALID_ARGUMENT' });
    await wgA.apply(desired(0));
    await wgB.apply(desired(1));
    expect(await reachable()).toBe(true);
    const dumpA = async () => parseWgDump((await run(nsExec(a!.ns, ['wg', 'show', a!.iface, 'dump']))).stdout);
    const routesA = async () => (await run(nsExec(a!.ns, ['ip', 'route', 'show', 'table', '1']))).stdout;
    const before = (await dumpA()).peers.find((p) => p.publicKey === keys[1]!.publicKey)!;
    expect(before.latestHandshake).toBeGreaterThan(0);

    const joinerKey = generateKeyPair().publicKey;
    const joiner = { node: 'joiner', publicKey: joinerKey, endpoint: '192.0.2.77:51820', allowedIPs: ['10.123.0.0/24', '100.64.77.1/32'], persistentKeepalive: 0 };
    spawned.length = 0;
    const join1 = await wgA.applyChanges({ upsert: [joiner] });
    expect(join1).toMatchObject({ readBack: false, peerOperations: 1, peers: { added: 1, unchanged: 1 }, routes: { added: 2, removed: 0 }, commands: 2, writes: { uapiSets: 1, ipSessionBatches: 1, processes: 0 } });
    expect(spawned).toEqual([]);
    expect(await routesA()).toContain('10.123.0.0/24');
    const after = await dumpA();
    expect(after.peers.map((p) => p.publicKey).sort()).toEqual([keys[1]!.publicKey, joinerKey].sort());
    const kept = after.peers.find((p) => p.publicKey === keys[1]!.publicKey)!;
    expect(kept.latestHandshake).toBe(before.latestHandshake);
    expect(kept.endpoint).toBe(before.endpoint);

    // Bad changes are refused before anything is written: a prefix of node b, our own key, a bad key.
    const snapshot = async () => [JSON.stringify((await dumpA()).peers.map((p) => [p.publicKey, p.endpoint, p.allowedIPs]).sort()), await routesA()].join('\n');
    const snap = await snapshot();
    const bPrefix = desired(0).peers[0]!.allowedIPs[0]!;
    await expect(wgA.applyChanges({ upsert: [{ ...joiner, node: 'thief', publicKey: generateKeyPair().publicKey, allowedIPs: [bPrefix] }] })).rejects.toMatchObject({ code: 'WG_INVALID_ARGUMENT', message: expect.stringContaining('is claimed by peers') });
    await expect(wgA.applyChanges({ upsert: [{ ...joiner, node: 'me', publicKey: keys[0]!.publicKey, allowedIPs: [] }] })).rejects.toMatchObject({ code: 'WG_INVALID_ARGUMENT' });
    await expect(wgA.applyChanges({ upsert: [{ ...joiner, publicKey: 'AAAA' }] })).rejects.toMatchObject({ code: 'WG_INVALID_KEY' });
    expect(spawned).toEqual([]);
    expect(await snapshot()).toBe(snap);

    // The indexes match the kernel: a full apply of the same state changes nothing, even read back.
    const same = { ...desired(0), peers: [...desired(0).peers, joiner] };
    expect(await wgA.apply(same)).toMatchObject({ commands: 0 });
    expect(await createWireguard({ interfaceName: a!.iface, runner: base, stateDir: join(topo.dir, 'state') }).apply(same)).toMatchObject({ readBack: true, commands: 0 });

    // Leave: one UAPI set, one batch removing its routes.
    const leave = await wgA.applyChanges({ remove: [joinerKey] });
    expect(leave).toMatchObject({ peers: { removed: 1 }, routes: { removed: 2 }, writes: { uapiSets: 1, ipSessionBatches: 1, processes: 0 } });
    expect(await routesA()).not.toContain('10.123.0.0/24');
    expect((await dumpA()).peers.find((p) => p.publicKey === keys[1]!.publicKey)!.latestHandshake).toBe(before.latestHandshake);
    expect(await reachable()).toBe(true);

    // Someone removes a route behind the handle's back: the next change falls back to a read-back apply.
    await wgA.applyChanges({ upsert: [joiner] });
    await run(nsExec(a!.ns, ['ip', 'route', 'del', '10.123.0.0/24', 'table', '1']));
    await run(nsExec(a!.ns, ['wg', 'set', a!.iface, 'peer', joinerKey, 'remove']));
    const other = { ...joiner, node: 'other', publicKey: generateKeyPair().publicKey, allowedIPs: ['10.124.0.0/24'] };
    const r = await wgA.applyChanges({ upsert: [other], remove: [joinerKey] });
    // (The UAPI set went through; the batch's `route del` of the vanished route failed.)
    expect(r).toMatchObject({ readBack: true });
    expect(await routesA()).toContain('10.124.0.0/24');
    expect((await dumpA()).peers.map((p) => p.publicKey).sort()).toEqual([keys[1]!.publicKey, other.publicKey].sort());
    await wgA.down();
    await wgB.down();
  });
});
