/**
 * `gingham enforce --dataplane iptables` (through `runEnforceCommand`, run inside a node
 * namespace via the runner): one-shot enforcement from manifest files, convergence on a second
 * run, `--clean`, and nothing changed for invalid manifests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEnforceCommand } from '../src/index.js';
import { NODE, ONLY_DB_TO_WEB, WORLD, WORLD_PODS } from '../src/conformance/cases.js';
import { createTopology, probeTcp, type Topology } from '../src/conformance/topology.js';

const run = process.getuid?.() === 0 || process.env.CI === 'true';

describe.skipIf(!run)('gingham enforce --dataplane iptables', () => {
  let topo: Topology;
  let dir: string;
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) };
  const saveNode = (): string => spawnSync('ip', ['netns', 'exec', topo.node, 'iptables-save'], { encoding: 'utf8' }).stdout;

  beforeAll(async () => {
    topo = createTopology(WORLD_PODS);
    dir = mkdtempSync(join(tmpdir(), 'gh-enforce-'));
    writeFileSync(join(dir, 'world.yaml'), WORLD);
    writeFileSync(join(dir, 'policy.yaml'), ONLY_DB_TO_WEB);
    writeFileSync(join(dir, 'broken.yml.txt'), 'ignored: not a manifest extension');
    topo.spawnIn(topo.pod('a', 'web').netns, ['socat', 'TCP-LISTEN:80,reuseaddr,fork', 'EXEC:/bin/echo ok']);
    await new Promise((r) => setTimeout(r, 300));
  });
  afterAll(async () => {
    await topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('enforces from a directory of manifests, converges on a second run, and cleans up', async () => {
    const argv = ['-f', dir, '--node', NODE, '--dataplane', 'iptables'];
    expect(await runEnforceCommand(argv, io, { runner: topo.nodeRunner })).toBe(0);
    expect(out.at(-1)).toMatch(/node gh-node-1: 3 endpoints, 1 active policies/);
    expect(await probeTcp(topo, topo.pod('a', 'db'), topo.pod('a', 'web'), 80)).toBe(true);
    expect(await probeTcp(topo, topo.pod('b', 'client'), topo.pod('a', 'web'), 80)).toBe(false);
    expect(await runEnforceCommand(argv, io, { runner: topo.nodeRunner })).toBe(0);
    expect(out.at(-1)).toMatch(/chains written 0, deleted 0; sets created 0, destroyed 0$/);
    expect(await runEnforceCommand(['--clean', '--dataplane', 'iptables'], io, { runner: topo.nodeRunner })).toBe(0);
    expect(saveNode()).not.toContain('gh-');
    expect(await probeTcp(topo, topo.pod('b', 'client'), topo.pod('a', 'web'), 80)).toBe(true);
  });

  it('changes nothing when the manifests have errors, and rejects unknown dataplanes as usage errors', async () => {
    const bad = join(dir, 'bad', 'x.yaml');
    spawnSync('mkdir', ['-p', join(dir, 'bad')]);
    writeFileSync(bad, 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec: {selector: "app ==", ingress: [{action: Allow}]}\n');
    expect(await runEnforceCommand(['-f', bad, '--node', NODE], io, { runner: topo.nodeRunner })).toBe(1);
    expect(err.at(-1)).toMatch(/nothing was changed/);
    expect(saveNode()).not.toContain('gh-');
    expect(await runEnforceCommand(['-f', dir, '--node', NODE, '--dataplane', 'ebpf'], io, { runner: topo.nodeRunner })).toBe(2);
  });
});
