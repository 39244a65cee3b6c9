/**
 * `gingham enforce --dataplane iptables` (through `@gingham/cli`'s `runCli`, run inside a node
 * namespace via the runner, and the real bin where processes matter): one-shot enforcement from
 * manifest files, convergence on a second run, `--clean` finding state of both families and both
 * backends, nothing changed for invalid manifests, one run at a time per namespace (the instance
 * lock), and a missing iptables named with its Debian package.
 */
import { spawn, spawnSync } from 'node:child_process';
import { acquireInstanceLock, lockName } from '@gingham/host';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '@gingham/cli';
import { createTopology, NODE, ONLY_DB_TO_WEB, probeTcp, WORLD, WORLD_PODS, type Topology } from '@gingham/dataplane-conformance';
import { iptablesResidue } from './support/residue.js';

const run = process.getuid?.() === 0 || process.env.CI === 'true';
const bin = join(new URL('../../../', import.meta.url).pathname, 'packages/cli/bin/gingham.js');

describe.skipIf(!run)('gingham enforce --dataplane iptables', () => {
  let topo: Topology;
  let dir: string;
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) };
  /** `gingham enforce ARGV` in-process, its commands run in the node namespace; the exit code. */
  const enforce = (argv: string[]): Promise<number> => runCli(['enforce', ...argv], io, { runner: topo.nodeRunner });
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
    expect(await enforce(argv)).toBe(0);
    expect(out.at(-1)).toMatch(/node gh-node-1: 3 endpoints, 1 active policies/);
    expect(await probeTcp(topo, topo.pod('a', 'db'), topo.pod('a', 'web'), 80)).toBe(true);
    expect(await probeTcp(topo, topo.pod('b', 'client'), topo.pod('a', 'web'), 80)).toBe(false);
    expect(await enforce(argv)).toBe(0);
    expect(out.at(-1)).toMatch(/chains written 0, deleted 0; sets created 0, destroyed 0$/);
    expect(await enforce(['--clean', '--dataplane', 'iptables'])).toBe(0);
    expect(out.at(-1)).toMatch(/^gingham enforce: removed \d+ chains, 3 hook rules and \d+ IP sets? \(IPv4; nft\)$/);
    expect(saveNode()).not.toContain('gh-');
    expect(await probeTcp(topo, topo.pod('b', 'client'), topo.pod('a', 'web'), 80)).toBe(true);
  });

  it('changes nothing when the manifests have errors, and rejects unknown dataplanes as usage errors', async () => {
    const bad = join(dir, 'bad', 'x.yaml');
    spawnSync('mkdir', ['-p', join(dir, 'bad')]);
    writeFileSync(bad, 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec: {selector: "app ==", ingress: [{action: Allow}]}\n');
    expect(await enforce(['-f', bad, '--node', NODE])).toBe(1);
    expect(err.at(-1)).toMatch(/nothing was changed/);
    expect(saveNode()).not.toContain('gh-');
    expect(await enforce(['-f', dir, '--node', NODE, '--dataplane', 'nft'])).toBe(2);
    expect(err.at(-1)).toMatch(/unsupported dataplane "nft" \(supported: iptables, ebpf\)/);
    rmSync(join(dir, 'bad'), { recursive: true, force: true });
  });

  const inNode = (argv: string[]) => spawnSync('ip', ['netns', 'exec', topo.node, ...argv], { encoding: 'utf8', timeout: 60_000 });
  const ours = (): string => iptablesResidue(topo.node).join('\n');

  it('--clean finds and removes state created with --ipv6 and with --backend legacy, and says what it removed', async () => {
    const argv = ['-f', dir, '--node', NODE, '--dataplane', 'iptables'];
    expect(await enforce([...argv, '--ipv6'])).toBe(0);
    expect(inNode(['ip6tables-save']).stdout).toContain('gh-FORWARD');
    expect(await enforce(['--clean'])).toBe(0);
    expect(out.at(-1)).toMatch(/removed \d+ chains, 6 hook rules and \d+ IP sets? \(IPv4, IPv6; nft\)/);
    expect(ours()).toBe('');

    expect(await enforce([...argv, '--backend', 'legacy', '--ipv6'])).toBe(0);
    expect(inNode(['iptables-legacy-save']).stdout).toContain('gh-FORWARD');
    expect(await enforce(['--clean'])).toBe(0);
    expect(out.at(-1)).toMatch(/removed \d+ chains, 6 hook rules and \d+ IP sets? \(IPv4, IPv6; legacy\)/);
    expect(ours()).toBe('');
    expect(await enforce(['--clean'])).toBe(0);
    expect(out.at(-1)).toBe("gingham enforce: nothing of Gingham's was found");
  });

  it('refuses while another process holds the instance lock, naming it, and proceeds once it is free', async () => {
    const inode = /\[(\d+)\]/.exec(inNode(['readlink', '/proc/self/ns/net']).stdout)![1]!;
    const held = acquireInstanceLock(lockName('iptables', `netns-${inode}`, 'gh-'), { purpose: 'a test holding the lock' });
    try {
      const argv = ['-f', dir, '--node', NODE, '--dataplane', 'iptables'];
      expect(await enforce([...argv, '--lock-wait', '0.3'])).toBe(1);
      expect(err.at(-1)).toMatch(new RegExp(`is being programmed by process ${process.pid} \\(a test holding the lock\\).*waited 0 s`));
      expect(saveNode()).not.toContain('gh-');
    } finally {
      held.release();
    }
    expect(await enforce(['--clean'])).toBe(0);
  });

  it('gingham enforce runs at once: each waits for the one before, and the result is one run\'s state (no doubled hooks, no stale chain)', async () => {
    const start = () =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn('ip', ['netns', 'exec', topo.node, process.execPath, bin, 'enforce', '-f', dir, '--node', NODE, '--dataplane', 'iptables'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        c.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    // From an empty namespace each time (every run then inserts hooks), two rounds of three.
    for (let round = 0; round < 2; round++) {
      expect(await enforce(['--clean'])).toBe(0);
      const runs = await Promise.all([start(), start(), start()]);
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      const text = saveNode();
      expect(text.match(/^-A (FORWARD|INPUT|OUTPUT) .*gh:hook.*$/gm)?.length, `round ${round}: hook rules`).toBe(3);
    }
    const again = inNode([process.execPath, bin, 'enforce', '-f', dir, '--node', NODE, '--dataplane', 'iptables']);
    expect(again.stdout).toMatch(/chains written 0, deleted 0; sets created 0, destroyed 0/);
    expect(inNode([process.execPath, bin, 'enforce', '--clean']).status).toBe(0);
  });

  it('names the package to install when iptables is missing, and changes nothing', () => {
    const r = inNode(['env', 'PATH=/usr/bin:/bin', process.execPath, bin, 'enforce', '-f', dir, '--node', NODE, '--dataplane', 'iptables']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^gingham enforce: iptables-save is not installed \(not found in PATH\); install it with: apt-get install --no-install-recommends iptables$/);
    expect(saveNode()).not.toContain('gh-');
  });
});
