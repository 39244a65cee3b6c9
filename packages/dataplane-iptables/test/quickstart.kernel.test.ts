/**
 * The "Done when": the quick-start example of `npm start`, enforced by the REAL `gingham`
 * command (the built bin, run with `ip netns exec <node-ns>`) in a node namespace with one
 * namespace per pod wired as Calico wires them, reproduces the model's matrix with real packets —
 * all 48 cells (4 pods × 3 peers × 8080/TCP, 5432/TCP, 9090/TCP, 53/UDP). Then
 * `gingham enforce --clean` leaves nothing of ours in the node namespace.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, probeTcp, startServers, type Topology } from '../src/conformance/topology.js';
import { formatCell, probeCells, quickstartModel } from '../src/conformance/quickstart.js';

const run = process.getuid?.() === 0 || process.env.CI === 'true';
const root = new URL('../../../', import.meta.url).pathname;
const example = join(root, 'examples/quickstart');
const bin = join(root, 'node_modules/.bin/gingham');
const inNs = (netns: string, argv: string[]) => spawnSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8', timeout: 60_000 });

describe.skipIf(!run)('gingham enforce on the quick-start example', () => {
  let topo: Topology;
  const model = quickstartModel(example);
  const { pods, cells } = model;
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

    expect((await probeCells(topo, model)).map(formatCell)).toEqual(cells.map(formatCell));

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
    expect(await probeTcp(topo, topo.pod('shop', 'frontend-0'), topo.pod('shop', 'db-0'), 5432, 1000)).toBe(true);
  });
});
