/**
 * The eBPF dataplane's own lifecycle with real packets between pod namespaces: enforcement
 * outlives the process's objects, a new instance takes over with generation swaps that never
 * let a doubly-denied flow through nor cut a doubly-allowed one, a label change is a handful of
 * map writes, late interfaces get attached, events and counters are readable, tc mode works the
 * same, and clean() leaves no hook and no pin. Pins live in a private bpffs mounted here.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, loadManifests, workloadInterfaceName, type Engine, type Resource } from '@gingham/core';
import { createTopology, probeTcp, startServers, type PodHandle, type Topology } from '@gingham/dataplane-conformance';
import { ACTION_DENY, createEbpfDataplane, type EbpfDataplane, type EbpfDataplaneOptions } from '../src/index.js';
import { canRun, clsactIn, hooksIn, listTree, scratchLockDir, uniqueName } from './support/kernel-env.js';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';

const NODE = 'node-e';
const PODS = [
  { namespace: 'a', name: 'web', ip: '10.65.0.11', labels: { app: 'web' } },
  { namespace: 'a', name: 'db', ip: '10.65.0.12', labels: { app: 'db' } },
  { namespace: 'b', name: 'client', ip: '10.65.0.13', labels: { app: 'client' } },
] as const;

function pod(namespace: string, name: string, ip: string, labels: Record<string, string>): string {
  const lab = Object.entries(labels).map(([k, v]) => `${k}: ${v}`).join(', ');
  return `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: {${lab}}}
spec: {nodeName: ${NODE}, containers: [{name: c, image: i}]}
status: {podIP: ${ip}}
`;
}

const WORLD = `
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
${PODS.map((p) => pod(p.namespace, p.name, p.ip, p.labels)).join('')}`;

/** web admits TCP/80 from pods labelled app=`from` only (8080 is denied to everyone). */
const webFrom = (from: string): string => `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: ${from}}}}], ports: [{port: 80}]}]
`;

function resources(text: string): Resource[] {
  const r = loadManifests([{ file: 'dataplane-test.yaml', text }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.resources.map((x) => x.resource);
}

describe.skipIf(!canRun)('eBPF dataplane lifecycle', () => {
  let topo: Topology;
  let bpffs: ScratchBpffs;
  const locks = scratchLockDir();
  const name = uniqueName('dp');
  const made: EbpfDataplane[] = [];
  const make = (o: Partial<EbpfDataplaneOptions> = {}): EbpfDataplane => {
    const dp = createEbpfDataplane({ netns: topo.node, bpffs: bpffs.path, name, lockDir: locks.path, ...o });
    made.push(dp);
    return dp;
  };
  const enforce = async (dp: EbpfDataplane, text: string): Promise<Engine> => {
    const engine = createEngine({ node: NODE, dataplane: dp });
    for (const r of resources(text)) engine.upsert(r);
    await engine.flush();
    return engine;
  };
  const p = (n: string): PodHandle => topo.pod(n.split('/')[0]!, n.split('/')[1]!);
  const tcp = (from: string, to: string, port: number): Promise<boolean> => probeTcp(topo, p(from), p(to), port, 1000);
  const verdicts = async (): Promise<Record<string, boolean>> => ({
    'client->web:80': await tcp('b/client', 'a/web', 80),
    'db->web:80': await tcp('a/db', 'a/web', 80),
    'client->web:8080': await tcp('b/client', 'a/web', 8080),
    'client->db:80': await tcp('b/client', 'a/db', 80),
  });
  const ifaces = (): string[] => [...topo.pods.map((x) => x.iface), workloadInterfaceName('b', 'late')];

  beforeAll(async () => {
    bpffs = mountScratchBpffs('gh-ebpf-bpffs-');
    topo = createTopology(PODS, 'gh-edp');
    await startServers(topo, [80, 8080], [], 7000);
    const warm = await Promise.all(topo.pods.flatMap((a) => topo.pods.filter((b) => b !== a).map((b) => probeTcp(topo, a, b, 80, 3000))));
    expect(warm.every(Boolean)).toBe(true);
  });
  afterAll(async () => {
    try {
      for (const dp of made.reverse()) {
        await dp.clean();
        await dp.close();
      }
    } finally {
      await topo?.destroy();
      bpffs?.release();
      locks.release();
    }
  });

  /**
   * Probe loops in the client namespace for `seconds`, each line "allow" or "deny": one for a
   * flow both states deny, one for a flow both states allow. Bounded in time, tracked by PID.
   */
  const probeLoop = (to: string, port: number, seconds: number): { child: ChildProcess; lines: Promise<string[]> } => {
    const script = `end=$((SECONDS+${seconds})); while [ $SECONDS -lt $end ]; do
  if socat -T0.4 -t0.4 - TCP:${to}:${port},connect-timeout=0.4 </dev/null 2>/dev/null | grep -q ok; then echo allow; else echo deny; fi
done`;
    const child = topo.spawnIn(p('b/client').netns, ['bash', '-c', script]);
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const lines = new Promise<string[]>((resolve) => child.on('exit', () => resolve(out.trim().split('\n').filter(Boolean))));
    return { child, lines };
  };

  let engine: Engine;
  let dp: EbpfDataplane;
  let fullFill = 0;

  it('keeps enforcing after close(), and a new instance takes over by generation swaps without a gap', async () => {
    const first = make();
    await enforce(first, WORLD + webFrom('db'));
    expect(first.stats()).toMatchObject({ generation: 1, fullFill: true, pendingInterfaces: [] });
    expect(first.stats().attached).toHaveLength(6);
    const old = { 'client->web:80': false, 'db->web:80': true, 'client->web:8080': false, 'client->db:80': true };
    expect(await verdicts()).toEqual(old);

    // Drop every fd of this process: the pinned links keep the program and its maps.
    await first.close();
    await expect(first.apply([])).rejects.toMatchObject({ code: 'EBPF_CLOSED' });
    expect(await verdicts()).toEqual(old);

    // Restart many times while probing: each new instance builds a generation and swaps it in.
    const denied = [probeLoop(PODS[0].ip, 8080, 5), probeLoop(PODS[0].ip, 8080, 5)];
    const allowed = probeLoop(PODS[1].ip, 80, 5);
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 8; i++) {
      dp = make();
      engine = await enforce(dp, WORLD + webFrom(i % 2 === 0 ? 'client' : 'db'));
      expect(dp.stats()).toMatchObject({ generation: i + 2, fullFill: true, replacedGeneration: i + 1 });
      if (i < 7) await dp.close();
      await new Promise((r) => setTimeout(r, 300));
    }
    const deniedLines = (await Promise.all(denied.map((l) => l.lines))).flat();
    const allowedLines = await allowed.lines;
    expect(deniedLines.length).toBeGreaterThan(10);
    expect(deniedLines.filter((l) => l !== 'deny')).toEqual([]);
    expect(allowedLines.length).toBeGreaterThan(10);
    expect(allowedLines.filter((l) => l !== 'allow')).toEqual([]);

    // The last instance enforces webFrom('db') (i = 7); one generation is left in the pins.
    expect(await verdicts()).toEqual(old);
    const gens = listTree(join(bpffs.path, 'gingham', name)).filter((f) => /^g\d+\/$/.test(f));
    expect(gens).toEqual(['g9/']);
    expect(dp.stats().attached).toHaveLength(6);
    fullFill = dp.stats().mapWrites;
  });

  it('a label change is a handful of map writes on the live maps', async () => {
    for (const r of resources(pod('b', 'client', '10.65.0.13', { app: 'db' }))) engine.upsert(r);
    await engine.flush();
    const s = dp.stats();
    expect(s.fullFill).toBe(false);
    expect(s.generation).toBe(9);
    expect(s.mapWrites).toBeGreaterThan(0);
    expect(s.mapWrites).toBeLessThanOrEqual(12);
    expect(s.mapWrites * 3).toBeLessThan(fullFill);
    expect(await tcp('b/client', 'a/web', 80)).toBe(true);
  });

  it('an endpoint interface that does not exist yet is reported, and attached once it appears', async () => {
    const late = workloadInterfaceName('b', 'late');
    for (const r of resources(pod('b', 'late', '10.65.0.20', { app: 'late' }))) engine.upsert(r);
    await engine.flush();
    expect(dp.stats().pendingInterfaces).toEqual([late]);
    const made = spawnSync('ip', ['-n', topo.node, 'link', 'add', late, 'type', 'veth', 'peer', 'name', 'ghlate0'], { encoding: 'utf8' });
    expect(made.stderr).toBe('');
    await dp.apply([]); // any batch retries pending interfaces
    expect(dp.stats().pendingInterfaces).toEqual([]);
    expect(dp.stats().attached.filter((a) => a.ifname === late).map((a) => a.direction).sort()).toEqual(['egress', 'ingress']);
    expect(hooksIn(topo.node, [late])).toHaveLength(2);

    // Recreated under the same name (a restarted pod), with no endpoint change: syncInterfaces() re-attaches.
    spawnSync('ip', ['-n', topo.node, 'link', 'del', late]);
    spawnSync('ip', ['-n', topo.node, 'link', 'add', late, 'type', 'veth', 'peer', 'name', 'ghlate0']);
    expect(hooksIn(topo.node, [late])).toEqual([]);
    await dp.syncInterfaces();
    expect(hooksIn(topo.node, [late])).toHaveLength(2);

    // Drift this process cannot see (a tcx link detached by hand; same ifindex): the default
    // re-check touches only hooks it has not confirmed, so it leaves it; the full one (the
    // agent's periodic safety net) probes every pinned hook and repairs it.
    if (dp.stats().attached.some((a) => a.ifname === late && a.kind === 'tcx')) {
      const link = join(bpffs.path, 'gingham', name, 'links', `ingress-${late}`);
      expect(spawnSync('bpftool', ['link', 'detach', 'pinned', link], { encoding: 'utf8' }).stderr).toBe('');
      expect(hooksIn(topo.node, [late])).toHaveLength(1);
      await dp.syncInterfaces();
      expect(hooksIn(topo.node, [late])).toHaveLength(1);
      await dp.syncInterfaces({ full: true });
      expect(hooksIn(topo.node, [late])).toHaveLength(2);
    }
  });

  it('a re-check of reported interfaces (the agent passes its rtnetlink events) looks at those alone', async () => {
    const late = workloadInterfaceName('b', 'late');
    const ip = (...args: string[]): void => {
      expect(spawnSync('ip', ['-n', topo.node, ...args], { encoding: 'utf8' }).stderr).toBe('');
    };
    const index = (ifname: string): number => (JSON.parse(spawnSync('ip', ['-n', topo.node, '-j', 'link', 'show', 'dev', ifname], { encoding: 'utf8' }).stdout) as { ifindex: number }[])[0]!.ifindex;
    const attachedTo = (ifname: string): string[] => dp.stats().attached.filter((a) => a.ifname === ifname).map((a) => a.direction).sort();
    expect(hooksIn(topo.node, [late])).toHaveLength(2);

    // Recreated (a restarted pod): a report naming only its peer changes nothing; naming it re-attaches.
    ip('link', 'del', late);
    ip('link', 'add', late, 'type', 'veth', 'peer', 'name', 'ghlate0');
    await dp.syncInterfaces({ changed: [{ name: 'ghlate0', index: index('ghlate0') }] });
    expect(hooksIn(topo.node, [late])).toEqual([]);
    await dp.syncInterfaces({ changed: [{ name: 'ghlate0', index: index('ghlate0') }, { name: late, index: index(late) }] });
    expect(hooksIn(topo.node, [late])).toHaveLength(2);
    expect(dp.stats().pendingInterfaces).toEqual([]);

    // Renamed away (the event names the new name, at the same ifindex): the old name's hooks are
    // taken off the renamed interface and the name is pending; renamed back, attached again.
    const renamed = 'ghlate1';
    ip('link', 'set', 'dev', late, 'name', renamed);
    await dp.syncInterfaces({ changed: [{ name: renamed, index: index(renamed) }] });
    expect(hooksIn(topo.node, [renamed])).toEqual([]);
    expect(dp.stats().pendingInterfaces).toEqual([late]);
    expect(attachedTo(late)).toEqual([]);
    ip('link', 'set', 'dev', renamed, 'name', late);
    await dp.syncInterfaces({ changed: [{ name: late, index: index(late) }] });
    expect(hooksIn(topo.node, [late])).toHaveLength(2);
    expect(attachedTo(late)).toEqual(['egress', 'ingress']);

    // Deleted: pending, its pins removed; created again: attached.
    const gone = index(late);
    ip('link', 'del', late);
    await dp.syncInterfaces({ changed: [{ name: late, index: gone }] });
    expect(dp.stats().pendingInterfaces).toEqual([late]);
    expect(attachedTo(late)).toEqual([]);
    ip('link', 'add', late, 'type', 'veth', 'peer', 'name', 'ghlate0');
    await dp.syncInterfaces({ changed: [{ name: late, index: index(late) }] });
    expect(hooksIn(topo.node, [late])).toHaveLength(2);
    expect(dp.stats().pendingInterfaces).toEqual([]);
    // The other interfaces' hooks were left alone throughout.
    expect(hooksIn(topo.node, topo.pods.map((x) => x.iface))).toHaveLength(6);
  });

  it('denies show up as decoded events and decided flows in the counters', async () => {
    dp.readEvents(); // drain
    expect(await tcp('b/client', 'a/web', 8080)).toBe(false);
    const events = dp.readEvents();
    expect(events.some((e) => e.action === ACTION_DENY && e.src === '10.65.0.13' && e.dst === '10.65.0.11' && e.dstPort === 8080 && e.protocol === 6)).toBe(true);
    expect(await tcp('a/web', 'a/db', 80)).toBe(true);
    const counters = dp.counters();
    expect(counters.some((c) => c.packets > 0n)).toBe(true);

    // The polling iterator delivers the next deny, and stops when aborted.
    const ac = new AbortController();
    const stream = dp.events({ intervalMs: 20, signal: ac.signal });
    const next = stream.next();
    const [, first] = await Promise.all([tcp('b/client', 'a/web', 8080), Promise.race([next, new Promise((r) => setTimeout(() => r(undefined), 5000))])]);
    ac.abort();
    expect(first).toMatchObject({ done: false, value: { action: ACTION_DENY, dst: '10.65.0.11', dstPort: 8080 } });
    expect(await stream.next()).toMatchObject({ done: true });
  });

  it('clean() detaches every hook and removes every pin (idempotent), and traffic flows freely again', async () => {
    await dp.clean();
    expect(listTree(bpffs.path)).toEqual([]);
    expect(hooksIn(topo.node, ifaces())).toEqual([]);
    await dp.clean();
    expect(await tcp('b/client', 'a/web', 8080)).toBe(true);
  });

  it('tc mode: cls_bpf filters, swapped with tc filter replace, removed by clean()', async () => {
    const tcName = uniqueName('tc');
    const one = make({ name: tcName, mode: 'tc' });
    await enforce(one, WORLD + webFrom('db'));
    expect(one.stats().attached.map((a) => a.kind)).toEqual(Array(6).fill('tc'));
    expect(await tcp('b/client', 'a/web', 80)).toBe(false);
    expect(await tcp('a/db', 'a/web', 80)).toBe(true);
    await one.close();
    const two = make({ name: tcName, mode: 'tc' });
    await enforce(two, WORLD + webFrom('client'));
    expect(two.stats()).toMatchObject({ generation: 2, replacedGeneration: 1 });
    expect(hooksIn(topo.node, ifaces()).filter((h) => h.includes(' tc: '))).toHaveLength(6);
    expect(await tcp('b/client', 'a/web', 80)).toBe(true);
    expect(await tcp('a/db', 'a/web', 80)).toBe(false);

    // Drift by hand at the same ifindex (the filter on web's egress hook deleted): the markers
    // still say it is there; the quick re-check leaves it, the full one reads the hooks back and
    // attaches it anew, and both verdicts hold again.
    const web = topo.pods.find((p) => p.name === 'web')!.iface;
    const del = spawnSync('ip', ['netns', 'exec', topo.node, 'tc', 'filter', 'del', 'dev', web, 'egress', 'prio', '1', 'handle', '1', 'bpf'], { encoding: 'utf8' });
    expect(del.stderr).toBe('');
    expect(hooksIn(topo.node, [web])).toHaveLength(1);
    await two.syncInterfaces();
    expect(hooksIn(topo.node, [web])).toHaveLength(1);
    await two.syncInterfaces({ full: true });
    expect(hooksIn(topo.node, [web])).toHaveLength(2);
    expect(await tcp('a/db', 'a/web', 80)).toBe(false);
    expect(await tcp('b/client', 'a/web', 80)).toBe(true);
    expect(two.stats().attached.filter((a) => a.ifname === web).map((a) => a.kind)).toEqual(['tc', 'tc']);

    await two.clean();
    expect(listTree(bpffs.path)).toEqual([]);
    expect(hooksIn(topo.node, ifaces())).toEqual([]);
    expect(clsactIn(topo.node)).toEqual([]);
  });
});
