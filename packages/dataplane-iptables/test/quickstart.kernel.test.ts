/**
 * The "Done when": the quick-start example of `npm start`, enforced by the REAL `gingham`
 * command (the built bin, run with `ip netns exec <node-ns>`) in a node namespace with one
 * namespace per pod wired as Calico wires them, reproduces the model's matrix with real packets —
 * all 48 cells (4 pods × 3 peers × 8080/TCP, 5432/TCP, 9090/TCP, 53/UDP). Then
 * `gingham enforce --clean` leaves nothing of ours in the node namespace.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, loadManifests, matrix, type MatrixCell } from '@gingham/core';
import { createTopology, probeTcp, probeUdp, startServers, type Topology } from '../src/conformance/topology.js';

const run = process.getuid?.() === 0 || process.env.CI === 'true';
const root = new URL('../../../', import.meta.url).pathname;
const example = join(root, 'examples/quickstart');
const bin = join(root, 'node_modules/.bin/gingham');
const PORTS = [
  { port: 8080, protocol: 'TCP' },
  { port: 5432, protocol: 'TCP' },
  { port: 9090, protocol: 'TCP' },
  { port: 53, protocol: 'UDP' },
] as const;

function model(): { pods: { namespace: string; name: string; ip: string; id: string }[]; cells: MatrixCell[] } {
  const inputs = readdirSync(example)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => ({ file: join(example, f), text: readFileSync(join(example, f), 'utf8') }));
  const loaded = loadManifests(inputs);
  if (!loaded.ok) throw new Error('the quick-start manifests do not load');
  const { snapshot } = buildSnapshot(loaded.resources.map((r) => r.resource));
  const pods = snapshot.workloadEndpoints
    .map((w) => ({ namespace: w.namespace, name: w.name, ip: w.addresses[0]!.replace(/\/32$/, ''), id: w.id }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  return { pods, cells: matrix(snapshot, pods.map((p) => p.id), PORTS) };
}

const inNs = (netns: string, argv: string[]) => spawnSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8', timeout: 60_000 });

describe.skipIf(!run)('gingham enforce on the quick-start example', () => {
  let topo: Topology;
  const { pods, cells } = model();
  const inNode = (argv: string[]) => inNs(topo.node, argv);

  beforeAll(async () => {
    topo = createTopology(pods, 'gh-qs');
    await startServers(topo, [8080, 5432, 9090], [53], 7000);
    // Warm the neighbour tables (proxy ARP for 169.254.1.1, the node's ARP for each pod) with one
    // connection per pair before any rule exists, so that no probe's first packet is lost to
    // address resolution and read as a deny.
    const warm = await Promise.all(topo.pods.flatMap((p) => topo.pods.filter((q) => q !== p).map((q) => probeTcp(topo, p, q, 8080, 3000))));
    expect(warm.every(Boolean)).toBe(true);
  });
  afterAll(async () => {
    if (topo) inNode([bin, 'enforce', '--clean', '--dataplane', 'iptables']);
    await topo?.destroy();
  });

  it('the model has the 48 cells of the quick-start matrix, 9 of them allowed', () => {
    expect(pods.map((p) => p.id)).toEqual(['monitoring/prometheus-0', 'shop/backend-0', 'shop/db-0', 'shop/frontend-0']);
    expect(cells).toHaveLength(48);
    expect(cells.filter((c) => c.allowed)).toHaveLength(9);
  });

  it('reproduces every cell of the model matrix with real packets, then cleans up', async () => {
    const r = inNode([bin, 'enforce', '-f', example, '--node', 'node-1', '--dataplane', 'iptables']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/node node-1: 4 endpoints/);

    const byId = new Map(pods.map((p) => [p.id, topo.pod(p.namespace, p.name)]));
    // Every cell at once: a denied cell costs one timeout (two for UDP, which retries once).
    const probe = async (c: MatrixCell): Promise<boolean> => {
      const from = byId.get(c.from)!;
      const to = byId.get(c.to)!;
      return c.protocol === 'TCP' ? probeTcp(topo, from, to, c.port!, 1000) : probeUdp(topo, from, to, c.port!, 1000);
    };
    const observed = await Promise.all(cells.map(async (c) => ({ ...c, allowed: await probe(c) })));
    const fmt = (x: MatrixCell): string => `${x.from} -> ${x.to} ${x.port}/${x.protocol}: ${x.allowed ? 'allow' : 'deny'}`;
    expect(observed.map(fmt)).toEqual(cells.map(fmt));

    // Running again converges without rewriting anything.
    const again = inNode([bin, 'enforce', '-f', example, '--node', 'node-1', '--dataplane', 'iptables']);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/chains written 0, deleted 0; sets created 0, destroyed 0/);

    const clean = inNode([bin, 'enforce', '--clean', '--dataplane', 'iptables']);
    expect(clean.status).toBe(0);
    const saved = inNode(['iptables-save']).stdout;
    expect(saved).not.toMatch(/gh-|gingham/i);
    expect(inNode(['ipset', 'list', '-n']).stdout.split('\n').filter((l) => l.startsWith('gh'))).toEqual([]);
    // With our rules gone, a flow the model denies flows again.
    expect(await probeTcp(topo, byId.get('shop/frontend-0')!, byId.get('shop/db-0')!, 5432, 1000)).toBe(true);
  });
});
