/**
 * Issue 15, as a new user met it: `ip netns exec NODE gingham enforce -f examples/quickstart
 * --node node-1 --dataplane ebpf` (the README's command, the built CLI) used to exit 0 and then
 * enforce nothing once the command's private mount namespace (and the bpffs gingham had mounted
 * in it) was gone, and `--clean` reported removing pins that never existed. Pinned here: such a
 * run refuses before any change with the commands that fix it (in tcx and tc mode); `--clean`
 * there refuses instead of reporting; `--bpffs` naming an ordinary directory, or a bpffs mounted
 * only inside the private namespace, is refused and nothing is mounted; an unprivileged user is
 * told what is needed. Each refusal leaves no pin, hook or qdisc, and a denied flow still flows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTcp } from '@gingham/dataplane-conformance';
import { bpffsMounts } from '@gingham/ebpf-loader';
import { canRun } from './support/kernel-env.js';
import { createQuickstartNode, EXAMPLE, GINGHAM, IP, README_ARGS, type QuickstartNode } from './support/quickstart-node.js';

describe.skipIf(!canRun)('gingham enforce --dataplane ebpf refuses, changing nothing, when its pins would not outlive it', () => {
  let node: QuickstartNode;
  const frontendToDb = (): Promise<boolean> => probeTcp(node.topo, node.topo.pod('shop', 'frontend-0'), node.topo.pod('shop', 'db-0'), 5432, 1000);

  beforeAll(async () => {
    node = await createQuickstartNode('eref');
  });
  afterAll(async () => {
    await node?.destroy();
  });

  it('ip netns exec without a persistent bpffs refuses with the commands that fix it, and changes nothing (tcx and tc)', async () => {
    const mountsBefore = bpffsMounts();
    for (const mode of [[], ['--mode', 'tc']]) {
      const r = node.ipNetnsExec([...README_ARGS, ...mode]);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/cannot enforce with pins under \/sys\/fs\/bpf: this process runs in a private mount namespace/);
      expect(r.stderr).toContain('Nothing was changed.');
      expect(r.stderr).toContain(`nsenter --net=/run/netns/${node.topo.node} `);
      expect(r.stderr).toContain('mount -t bpf bpffs /run/gingham/bpffs');
      expect(r.stderr).toContain(`ip netns exec ${node.topo.node} `);
      expect(node.residue()).toEqual([]);
    }
    expect(bpffsMounts()).toEqual(mountsBefore);
    // Nothing enforces: a flow the model denies still flows.
    expect(await frontendToDb()).toBe(true);
  });

  it('--clean inside ip netns exec without a bpffs refuses instead of reporting removals', () => {
    const r = node.ipNetnsExec(['enforce', '--clean', '--dataplane', 'ebpf']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cannot clean pins under \/sys\/fs\/bpf/);
    expect(r.stderr).not.toMatch(/removed/);
  });

  it('--bpffs naming an ordinary directory is refused inside and outside ip netns exec, and nothing is mounted there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-ebpf-plain-'));
    try {
      const inside = node.ipNetnsExec([...README_ARGS, '--bpffs', dir]);
      expect(inside.status).toBe(1);
      expect(inside.stderr).toContain(`cannot enforce with pins under ${dir}: it is on a filesystem of type`);
      expect(inside.stderr).toContain(`mount -t bpf bpffs ${dir}`);
      const outside = spawnSync(process.execPath, [GINGHAM, ...README_ARGS, '--bpffs', dir, '--mode', 'tc'], { encoding: 'utf8' });
      expect(outside.status).toBe(1);
      expect(outside.stderr).toContain('--bpffs must name a mounted bpffs');
      expect(readdirSync(dir)).toEqual([]);
      expect(spawnSync('mountpoint', ['-q', dir]).status).not.toBe(0);
      expect(node.residue()).toEqual([]);
    } finally {
      rmdirSync(dir);
    }
  });

  it('a bpffs mounted inside the private namespace itself is refused (it would die with the command)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-ebpf-private-bpffs-'));
    try {
      const script = `mount -t bpf bpffs "$1" && exec "$2" "$3" ${README_ARGS.map((a) => `'${a}'`).join(' ')} --bpffs "$1"`;
      const r = spawnSync(IP, ['netns', 'exec', node.topo.node, 'sh', '-c', script, 'sh', dir, process.execPath, GINGHAM], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`cannot enforce with pins under ${dir}: it is a bpffs mounted only in this process's private mount namespace`);
      expect(node.residue()).toEqual([]);
      // The private namespace and its bpffs are gone with the command.
      expect(bpffsMounts()).not.toContain(dir);
    } finally {
      rmdirSync(dir);
    }
  });

  it('without privileges it is told what is needed, and nothing changes', () => {
    const inNode = (identity: readonly string[], args: readonly string[]) =>
      spawnSync(IP, ['netns', 'exec', node.topo.node, 'setpriv', ...identity, process.execPath, GINGHAM, ...args], { encoding: 'utf8', timeout: 60_000 });
    const noCaps = ['--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all'];
    const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
    // uid 65534 needs to read the built CLI: true unless the checkout is under a private home.
    const nobodyReads = spawnSync('setpriv', [...nobody, process.execPath, GINGHAM, '--help'], { stdio: 'ignore' }).status === 0;
    const cases: Array<[string, readonly string[], RegExp]> = [
      ['root without capabilities', noCaps, /this process \(uid 0\) lacks CAP_BPF and CAP_NET_ADMIN\. Nothing was changed\. Run it with its capabilities/],
      ...(nobodyReads ? [
        ['uid 65534', [...nobody, ...noCaps], /this process \(uid 65534\) lacks CAP_BPF and CAP_NET_ADMIN\. Nothing was changed\. Run it as root: sudo /],
        // With CAP_BPF and CAP_NET_ADMIN the check passes; the lock directory (root's) refuses.
        ['uid 65534 with CAP_BPF and CAP_NET_ADMIN', [...nobody, '--inh-caps=+bpf,+net_admin', '--ambient-caps=+bpf,+net_admin'],
          /refused permission to take the instance lock of .*EACCES.*; it needs write access to the lock directory \/run\/gingham\/locks \(root owns it\)\. Run it as root: sudo /],
      ] as Array<[string, readonly string[], RegExp]> : []),
    ];
    for (const [who, identity, message] of cases) {
      for (const args of [node.enforceArgv('-f', EXAMPLE, '--node', 'node-1'), node.enforceArgv('--clean')]) {
        const r = inNode(identity, args);
        expect(r.status, `${who}: ${r.stderr}`).toBe(1);
        expect(r.stderr, who).toMatch(/^gingham enforce: the eBPF dataplane /);
        expect(r.stderr, who).toMatch(message);
        expect(r.stderr, who).not.toMatch(/failed: EPERM/);
      }
    }
    expect(node.residue()).toEqual([]);
    expect(existsSync(join(node.bpffs.path, 'gingham'))).toBe(false);
  });
});
