/**
 * Batches that change more than one table, with real packets (issue 15, item 2). State A: the
 * node's eth0 host endpoint (default-allow profile) with an untracked (raw) Deny of TCP 9100;
 * state B: the same Deny as normal (filter) policy. outside → node:9100 is denied in both, by
 * raw in A and by filter in B, and an A → B batch changes raw and filter: without the generation
 * stamp, the packets between the raw and the filter commit met neither deny. outside → node:9101
 * is allowed in both (the profile in A; B's policy allows what it does not deny). Checked with a
 * continuous probe loop while an in-process dataplane flips A ⇄ B (nft and legacy backends), and
 * with `kill -9` of a real `gingham enforce` at the start of each `iptables-restore` child (one
 * per table) of an A → B run, after which the flow must be denied and the next run converge.
 * Everything runs in namespaces this file creates (torn down in afterAll, processes by pid).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Resource } from '@gingham/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIptablesDataplane, type IptablesBackend } from '../src/index.js';
import { createTopology, FLIP_PORT, loadResources, NODE, probeTcp, startProber, WORLD, type PodHandle, type Topology } from '@gingham/dataplane-conformance';

const missing: string[] = [];
if (process.getuid?.() !== 0) missing.push('root');
for (const t of ['ip', 'ipset', 'socat', 'iptables-nft-restore', 'iptables-legacy-restore']) {
  if (spawnSync('which', [t], { stdio: 'ignore' }).status !== 0) missing.push(t);
}
const run = missing.length === 0 || process.env.CI === 'true';
const bin = join(new URL('../../../', import.meta.url).pathname, 'packages/cli/bin/gingham.js');

/** Allowed in both states: the control flow. */
const OPEN_PORT = FLIP_PORT + 1;

const HEP = `
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-eth0, labels: {role: node}}
spec: {node: ${NODE}, interfaceName: eth0, expectedIPs: [192.168.99.1], profiles: [projectcalico-default-allow]}
`;
const denyPolicy = (untracked: boolean): string => `
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: ${untracked ? 'deny-untracked' : 'deny-normal'}}
spec:
  selector: role == 'node'
  ${untracked ? 'doNotTrack: true\n  applyOnForward: true' : 'order: 10'}
  types: [Ingress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [${FLIP_PORT}]}}${untracked ? '' : ', {action: Allow}'}]
`;
const STATES = { A: `${WORLD}${HEP}${denyPolicy(true)}`, B: `${WORLD}${HEP}${denyPolicy(false)}` } as const;
type State = keyof typeof STATES;

const SERVER = `const net = require('node:net');
for (const port of process.argv.slice(1)) net.createServer((s) => { s.on('error', () => {}); s.end('ok\\n'); }).listen(Number(port));`;

describe.skipIf(!run)('several tables in one batch: a flow both states deny stays denied (real packets)', () => {
  let topo: Topology;
  let node: PodHandle;
  let dir: string;
  const procs = new Set<ChildProcess>();
  // Only ever a real child's pid: process.kill(0) would signal this whole process group (the
  // test runner and whatever started it), and a negative pid a whole group.
  const kill = (pid: number): void => {
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`refusing to kill pid ${pid}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`missing capabilities: ${missing.join(', ')}`);
    topo = createTopology([], 'gh-tb');
    node = { namespace: '', name: 'node', ip: topo.nodeIp, netns: topo.node, iface: 'eth0' };
    topo.spawnIn(topo.node, [process.execPath, '-e', SERVER, String(FLIP_PORT), String(OPEN_PORT)]);
    for (let i = 0; ; i++) {
      const r = spawnSync('ip', ['netns', 'exec', topo.node, 'ss', '-Hltn'], { encoding: 'utf8' });
      if ((r.stdout ?? '').includes(`:${OPEN_PORT}`) && r.stdout.includes(`:${FLIP_PORT}`)) break;
      if (i > 100) throw new Error('node servers did not start');
      await new Promise((res) => setTimeout(res, 50));
    }
    dir = mkdtempSync(join(tmpdir(), 'gh-tb-'));
  });
  afterAll(async () => {
    try {
      for (const p of procs) if (p.pid !== undefined && p.exitCode === null) kill(p.pid);
      if (topo) {
        for (const backend of ['nft', 'legacy'] as const) {
          const dp = createIptablesDataplane({ runner: topo.nodeRunner, backend, lock: { waitMs: 10_000 } });
          await dp.clean().finally(() => dp.close());
        }
      }
    } finally {
      await topo?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  const probe = async (port: number): Promise<boolean> => probeTcp(topo, topo.external, node, port, 800);

  it.each(['nft', 'legacy'] as const)('probe loop while a batch over raw and filter flips A ⇄ B (%s)', async (backend: IptablesBackend) => {
    const dp = createIptablesDataplane({ runner: topo.nodeRunner, backend, lock: { waitMs: 10_000 } });
    const engine = createEngine({ node: NODE, dataplane: dp });
    const resources: Record<State, Resource[]> = { A: loadResources(STATES.A), B: loadResources(STATES.B) };
    const key = (r: Resource): string => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
    let cur: Resource[] = [];
    const enter = async (s: State): Promise<void> => {
      const next = resources[s];
      const keep = new Set(next.map(key));
      for (const r of next) engine.upsert(r);
      for (const r of cur) if (!keep.has(key(r))) engine.delete(r.kind, r.metadata.namespace ?? '', r.metadata.name, r.apiVersion);
      await engine.flush();
      cur = next;
    };
    try {
      await enter('A');
      expect([await probe(FLIP_PORT), await probe(OPEN_PORT)]).toEqual([false, true]);
      const generations = new Set<number>();
      const denied = await startProber(topo, topo.external, node, FLIP_PORT, { everyMs: 1, timeoutMs: 400 });
      let failure: unknown;
      try {
        const started = Date.now();
        for (let i = 0; i < 10 || Date.now() - started < 3000; i++) {
          await enter(i % 2 === 0 ? 'B' : 'A');
          generations.add(dp.rendered(4)?.stamp?.generation ?? 0);
          await new Promise((r) => setTimeout(r, 40));
        }
      } catch (e) {
        failure = e;
      }
      const counts = await denied.stop();
      if (failure) throw failure;
      // Every flip changed raw and filter: the generation moved each time (two values alternate).
      expect([...generations].sort()).toEqual([1, 2]);
      expect(counts.fail).toBeGreaterThan(100);
      expect(counts.ok, 'outside → node:9100 is denied in A (raw) and in B (filter): no connection may get through').toBe(0);
      expect([await probe(FLIP_PORT), await probe(OPEN_PORT)]).toEqual([false, true]);
    } finally {
      await dp.clean().finally(() => dp.close());
    }
  }, 120_000);

  it('kill -9 of gingham enforce before each table commit of an A → B run: denied throughout, the next run converges', async () => {
    for (const s of ['A', 'B'] as const) {
      spawnSync('mkdir', ['-p', join(dir, s)]);
      writeFileSync(join(dir, s, 'world.yaml'), STATES[s]);
    }
    // A PATH shim for iptables-restore: counts its starts, and at the chosen one reports its pid
    // and waits (doing nothing) so the test kills gingham and then the shim. The pid file appears
    // whole (written aside, then renamed): a poll that saw `>` create it empty read pid 0, and
    // kill(0) took down the whole CI run (exit 137).
    const shims = join(dir, 'shims');
    spawnSync('mkdir', ['-p', shims]);
    const real = spawnSync('sh', ['-c', 'command -v iptables-restore'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(
      join(shims, 'iptables-restore'),
      `#!/bin/sh
n=$(cat "${shims}/count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "${shims}/count"
if [ "$n" = "$(cat "${shims}/kill-at" 2>/dev/null)" ]; then echo "$$" > "${shims}/hit.tmp"; mv "${shims}/hit.tmp" "${shims}/hit"; while :; do sleep 0.05; done; fi
exec ${real} "$@"
`,
    );
    chmodSync(join(shims, 'iptables-restore'), 0o755);
    const enforce = (s: State, killAt = 0): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> => {
      for (const f of ['count', 'hit', 'hit.tmp']) rmSync(join(shims, f), { force: true });
      writeFileSync(join(shims, 'kill-at'), String(killAt));
      const child = spawn('ip', ['netns', 'exec', topo.node, 'env', `PATH=${shims}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, process.execPath, bin, 'enforce', '-f', join(dir, s), '--node', NODE, '--dataplane', 'iptables'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      procs.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      let killed = false;
      const poll = setInterval(() => {
        if (!existsSync(join(shims, 'hit'))) return;
        clearInterval(poll);
        killed = true;
        kill(child.pid!);
        kill(Number(readFileSync(join(shims, 'hit'), 'utf8').trim()));
      }, 2);
      return new Promise((resolve) => {
        child.on('exit', (code) => {
          clearInterval(poll);
          procs.delete(child);
          resolve({ code, stdout, stderr, killed });
        });
      });
    };
    const full = async (s: State): Promise<string> => {
      const r = await enforce(s);
      expect(r.code, `enforce ${s}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };

    await full('A');
    expect([await probe(FLIP_PORT), await probe(OPEN_PORT)]).toEqual([false, true]);
    await full('B');
    const restores = Number(readFileSync(join(shims, 'count'), 'utf8').trim());
    // One child per table: raw, mangle, filter (the generation moves, so all three are written).
    expect(restores).toBe(3);
    for (let k = 1; k <= restores; k++) {
      await full('A');
      const r = await enforce('B', k);
      const at = `killed before iptables-restore ${k} of ${restores}`;
      expect(r.killed, `${at}: the run ended first: ${r.stderr}`).toBe(true);
      expect(await probe(FLIP_PORT), `${at}: outside → node:${FLIP_PORT} is denied in A and in B`).toBe(false);
      await full('B');
      expect([await probe(FLIP_PORT), await probe(OPEN_PORT)], `${at}, then a full run`).toEqual([false, true]);
    }
    expect(await full('B'), 'a further run writes nothing').toMatch(/chains written 0, deleted 0; sets created 0, destroyed 0/);
  }, 300_000);
});
