/**
 * The quick-start example enforced by the REAL `gingham` command with the eBPF dataplane (the
 * built bin, run with `ip netns exec <node-ns>`, pins in a private bpffs mounted here before, so
 * shared with the command's private mount namespace) reproduces the model's matrix with real
 * packets after the command exited — all 48 cells (4 pods × 3 peers × 8080/TCP, 5432/TCP,
 * 9090/TCP, 53/UDP). A second run converges by swapping in a new generation; `--clean` says what
 * it removed and leaves no pin and no tc/tcx attachment in the node namespace; a second
 * `--clean` finds nothing.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, formatCell, probeCells, probeTcp, quickstartModel, startServers, type Topology } from '@gingham/dataplane-iptables/conformance';
import { canRun, hooksIn, listTree, removeCliLock, uniqueName } from './kernel-env.js';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';

const root = new URL('../../../', import.meta.url).pathname;
const example = join(root, 'examples/quickstart');
const bin = join(root, 'node_modules/.bin/gingham');
const inNs = (netns: string, argv: string[]) => spawnSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8', timeout: 60_000 });

describe.skipIf(!canRun)('gingham enforce --dataplane ebpf on the quick-start example', () => {
  let topo: Topology | undefined;
  let bpffs: ScratchBpffs | undefined;
  const name = uniqueName('qs');
  const model = quickstartModel(example);
  const { pods, cells } = model;
  const ebpf = (...args: string[]): string[] => [bin, 'enforce', ...args, '--dataplane', 'ebpf', '--bpffs', bpffs!.path, '--name', name];
  const inNode = (argv: string[]) => inNs(topo!.node, argv);

  beforeAll(async () => {
    bpffs = mountScratchBpffs('gh-ebpf-bpffs-');
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
      if (bpffs) removeCliLock(bpffs.path, name);
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

    expect((await probeCells(t, model)).map(formatCell)).toEqual(cells.map(formatCell));

    // The enforcement outlived the command; running again builds generation 2 and swaps it in.
    const again = inNode(ebpf('-f', example, '--node', 'node-1'));
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/generation 2 \(replaced 1\), map writes \d+, hooks 8/);
    expect(listTree(join(bpffs!.path, 'gingham', name)).filter((f) => /^g\d+\/$/.test(f))).toEqual(['g2/']);
    expect((await probeCells(t, model)).map(formatCell)).toEqual(cells.map(formatCell));

    const ifaces = t.pods.map((p) => p.iface);
    expect(hooksIn(t.node, ifaces)).toHaveLength(8);
    const clean = inNode(ebpf('--clean'));
    expect(clean.stderr).toBe('');
    expect(clean.status).toBe(0);
    expect(clean.stdout).toMatch(/^gingham enforce: cleaned \S+:\n {2}detached 8 hooks: .*\((tcx|tc)\).*\n {2}deleted \d clsact qdiscs?(: .*)?\n {2}removed \d+ pins\n$/);
    expect(listTree(bpffs!.path)).toEqual([]);
    expect(hooksIn(t.node, ifaces)).toEqual([]);
    const twice = inNode(ebpf('--clean'));
    expect(twice.status).toBe(0);
    expect(twice.stdout).toMatch(/nothing of Gingham's found/);
    // With the programs gone, a flow the model denies flows again.
    expect(await probeTcp(t, t.pod('shop', 'frontend-0'), t.pod('shop', 'db-0'), 5432, 1000)).toBe(true);
  });
});
