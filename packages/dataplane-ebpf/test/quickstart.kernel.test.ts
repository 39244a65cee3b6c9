/**
 * The quick-start example enforced by the REAL `gingham` command with the eBPF dataplane (the
 * built bin, run with `ip netns exec <node-ns>`, pins in a private bpffs) reproduces the model's
 * matrix with real packets — all 48 cells (4 pods × 3 peers × 8080/TCP, 5432/TCP, 9090/TCP,
 * 53/UDP). A second run converges by swapping in a new generation; `--clean` leaves no pin and
 * no tc/tcx attachment in the node namespace.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, loadManifests, matrix, type MatrixCell } from '@gingham/core';
import { createTopology, probeTcp, probeUdp, startServers, type Topology } from '@gingham/dataplane-iptables/conformance';
import { canRun, hooksIn, listTree, mountPrivateBpffs, uniqueName, type PrivateBpffs } from './kernel-env.js';

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

describe.skipIf(!canRun)('gingham enforce --dataplane ebpf on the quick-start example', () => {
  let topo: Topology | undefined;
  let bpffs: PrivateBpffs | undefined;
  const name = uniqueName('qs');
  const { pods, cells } = model();
  const ebpf = (...args: string[]): string[] => [bin, 'enforce', ...args, '--dataplane', 'ebpf', '--bpffs', bpffs!.path, '--name', name];
  const inNode = (argv: string[]) => inNs(topo!.node, argv);

  beforeAll(async () => {
    bpffs = mountPrivateBpffs();
    topo = createTopology(pods, 'gh-eqs');
    await startServers(topo, [8080, 5432, 9090], [53], 7000);
    // Warm the neighbour tables with one connection per pair before any program is attached, so
    // that no probe's first packet is lost to address resolution and read as a deny.
    const t = topo;
    const warm = await Promise.all(t.pods.flatMap((p) => t.pods.filter((q) => q !== p).map((q) => probeTcp(t, p, q, 8080, 3000))));
    expect(warm.every(Boolean)).toBe(true);
  });
  afterAll(async () => {
    try {
      if (topo && bpffs) inNode(ebpf('--clean'));
    } finally {
      await topo?.destroy();
      bpffs?.release();
    }
  });

  it('the model has the 48 cells of the quick-start matrix, 9 of them allowed', () => {
    expect(pods.map((p) => p.id)).toEqual(['monitoring/prometheus-0', 'shop/backend-0', 'shop/db-0', 'shop/frontend-0']);
    expect(cells).toHaveLength(48);
    expect(cells.filter((c) => c.allowed)).toHaveLength(9);
  });

  it('reproduces every cell of the model matrix with real packets, converges on a second run, then cleans up', async () => {
    const t = topo!;
    const r = inNode(ebpf('-f', example, '--node', 'node-1'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/node node-1: 4 endpoints.*generation 1, map writes \d+, hooks 8/);

    const byId = new Map(pods.map((p) => [p.id, t.pod(p.namespace, p.name)]));
    const probe = async (c: MatrixCell): Promise<boolean> => {
      const from = byId.get(c.from)!;
      const to = byId.get(c.to)!;
      return c.protocol === 'TCP' ? probeTcp(t, from, to, c.port!, 1000) : probeUdp(t, from, to, c.port!, 1000);
    };
    const fmt = (x: MatrixCell): string => `${x.from} -> ${x.to} ${x.port}/${x.protocol}: ${x.allowed ? 'allow' : 'deny'}`;
    const observed = await Promise.all(cells.map(async (c) => ({ ...c, allowed: await probe(c) })));
    expect(observed.map(fmt)).toEqual(cells.map(fmt));

    // The enforcement outlived the command; running again builds generation 2 and swaps it in.
    const again = inNode(ebpf('-f', example, '--node', 'node-1'));
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/generation 2 \(replaced 1\), map writes \d+, hooks 8/);
    expect(listTree(join(bpffs!.path, 'gingham', name)).filter((f) => /^g\d+\/$/.test(f))).toEqual(['g2/']);
    const observedAgain = await Promise.all(cells.map(async (c) => ({ ...c, allowed: await probe(c) })));
    expect(observedAgain.map(fmt)).toEqual(cells.map(fmt));

    const ifaces = t.pods.map((p) => p.iface);
    expect(hooksIn(t.node, ifaces)).toHaveLength(8);
    const clean = inNode(ebpf('--clean'));
    expect(clean.stderr).toBe('');
    expect(clean.status).toBe(0);
    expect(listTree(bpffs!.path)).toEqual([]);
    expect(hooksIn(t.node, ifaces)).toEqual([]);
    // With the programs gone, a flow the model denies flows again.
    expect(await probeTcp(t, byId.get('shop/frontend-0')!, byId.get('shop/db-0')!, 5432, 1000)).toBe(true);
  });
});
