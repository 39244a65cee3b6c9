/**
 * Enforcement that outlives the command, as the README runs it in a node's network namespace:
 * with a bpffs mounted on the host before `ip netns exec` (the command's private mount namespace
 * shares it), tc mode enforces the quick-start matrix with real packets AFTER the command
 * exited, a re-run converges (a generation swap, no "Filter already exists"), and `--clean` says
 * what it removed (8 hooks, 4 clsact qdiscs, the pins) and leaves no pin, filter or qdisc; with
 * `nsenter --net` (the network namespace only, this mount namespace) the same holds. (tcx mode
 * under `ip netns exec`: quickstart.kernel.test.ts.)
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCell, probeCells, probeTcp } from '@gingham/dataplane-conformance';
import { canRun, hooksIn, listTree } from './support/kernel-env.js';
import { createQuickstartNode, EXAMPLE, type QuickstartNode } from './support/quickstart-node.js';

describe.skipIf(!canRun)('gingham enforce --dataplane ebpf in a network namespace: enforcement that outlives the command', () => {
  let node: QuickstartNode;
  const cells = (): string[] => node.model.cells.map(formatCell);
  const observed = async (): Promise<string[]> => (await probeCells(node.topo, node.model)).map(formatCell);
  const frontendToDb = (): Promise<boolean> => probeTcp(node.topo, node.topo.pod('shop', 'frontend-0'), node.topo.pod('shop', 'db-0'), 5432, 1000);

  beforeAll(async () => {
    node = await createQuickstartNode('eper');
  });
  afterAll(async () => {
    await node?.destroy();
  });

  it('tc mode: the matrix holds after the command exited; a re-run converges; --clean says what it removed and leaves nothing', async () => {
    const args = node.enforceArgv('-f', EXAMPLE, '--node', 'node-1', '--mode', 'tc');
    const r = node.ipNetnsExec(args);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/node node-1: 4 endpoints.*generation 1, map writes \d+, hooks 8; pinned in /);
    // The command and its mount namespace are gone; the filters and the pins are not.
    const hooks = hooksIn(node.topo.node, node.topo.pods.map((p) => p.iface));
    expect(hooks).toHaveLength(8);
    expect(hooks.every((h) => h.includes(' tc: ') && h.includes('name gingham_tc'))).toBe(true);
    expect(await observed()).toEqual(cells());

    const again = node.ipNetnsExec(args);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/generation 2 \(replaced 1\), map writes \d+, hooks 8/);
    const tree = listTree(join(node.bpffs.path, 'gingham', node.name));
    expect(tree.filter((f) => /^(g\d+|tmp)\/$/.test(f))).toEqual(['g2/']);
    expect(tree.filter((f) => /^tc\/[^/]+\/$/.test(f))).toHaveLength(8);
    expect(tree.filter((f) => f.startsWith('tc/pending-'))).toEqual([]);
    expect(await frontendToDb()).toBe(false);
    expect(await probeTcp(node.topo, node.topo.pod('shop', 'frontend-0'), node.topo.pod('shop', 'backend-0'), 8080, 1000)).toBe(true);

    const clean = node.ipNetnsExec(node.enforceArgv('--clean', '--json'));
    expect(clean.stderr).toBe('');
    expect(clean.status).toBe(0);
    const report = JSON.parse(clean.stdout) as { detached: unknown[]; qdiscsDeleted: string[]; pinsRemoved: number; nothingFound: boolean; orphans: unknown[] };
    expect(report.detached).toHaveLength(8);
    expect(report.qdiscsDeleted.sort()).toEqual(node.topo.pods.map((p) => p.iface).sort());
    expect(report.pinsRemoved).toBeGreaterThan(8);
    expect(report).toMatchObject({ nothingFound: false, orphans: [] });
    expect(node.residue()).toEqual([]);
    expect(await frontendToDb()).toBe(true);

    const twice = node.ipNetnsExec(node.enforceArgv('--clean'));
    expect(twice.status).toBe(0);
    expect(twice.stdout).toMatch(/nothing of Gingham's found for .* \(no pins, no hooks\); nothing was changed/);
  });

  it('nsenter --net (the network namespace only) enforces, and the matrix holds after the command exited', async () => {
    const r = node.nsenter(node.enforceArgv('-f', EXAMPLE, '--node', 'node-1'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(await observed()).toEqual(cells());
    const clean = node.nsenter(node.enforceArgv('--clean'));
    expect(clean.status).toBe(0);
    expect(clean.stdout).toMatch(/cleaned .*:\n {2}detached 8 hooks: /);
    expect(node.residue()).toEqual([]);
  });
});
