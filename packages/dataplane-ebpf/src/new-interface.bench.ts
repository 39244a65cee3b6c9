/**
 * A new local interface, through the eBPF dataplane alone (root only): the agent bench's cluster
 * at a small scale (N workload endpoints, 250 of them local, their interfaces absent; P policies;
 * `GINGHAM_NEW_IFACE_SCALE=large` for 10k × 1k, default 2k × 200) is applied once to a real
 * `createEbpfDataplane` pinned in a scratch bpffs and attached in a scratch namespace; then, per
 * sample, one local endpoint's interface appears (`ip link add` of a veth pair in that namespace)
 * and `syncInterfaces()` attaches its two hooks, told nothing (`all`: it looks up every endpoint
 * interface) or told what the kernel reported (`reported`: both ends of the pair with their
 * ifindexes, as the agent passes its rtnetlink events). Per attach mode (`tcx`, `tc`) and
 * variant: the re-check's wall time and CPU time per sample; beside it, the bare kernel cost of
 * one hook on a fresh interface (`attachTc` alone, unpinned: tcx `BPF_LINK_CREATE`, or the `tc`
 * children). No etcd, no agent, no Engine on the event path.
 * Rows (ms): new_iface_<mode>_<all|reported>_sync_{p50,p99,max,cpu}, then the periodic full
 * re-check over the hooks attached by then (10 runs), new_iface_<mode>_full_recheck_{p50,max},
 * and an empty batch applied 30 times with the rest pending, new_iface_<mode>_empty_apply_{p50,max}
 * (and _pending, their number),
 * new_iface_<mode>_bare_<ingress|egress>_{p50,p99,max}, new_iface_<mode>_bare_pair_{p50,p99}.
 * It must never touch the root namespace or /sys/fs/bpf: everything is under the scratch mount
 * and namespace, removed in `finally`.
 * Run: `npx tsx scripts/bench.ts ebpf-new-interface` after a build; `GINGHAM_NEW_IFACE_SAMPLES`
 * (default 100), `GINGHAM_NEW_IFACE_MODES` (default `tcx,tc`).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createEngine, type Resource } from '@gingham/core';
import { attachTc, createCollection, type TcDirection } from '@gingham/ebpf-loader';
import { mountScratchBpffs } from '@gingham/ebpf-loader/testing';
import { createEbpfDataplane } from './dataplane/index.js';
import { DATAPATH_OBJECT, DATAPATH_PROGRAM } from './datapath.js';
import { loadDatapathSpec } from './dataplane/generations.js';

type Row = { bench: string; metric: string; value: number; unit: string };
type Emit = (row: Row) => void;

const LOCAL = 250;
const WARMUP = 10;
const NODE = 'bench-node';

const ipOf = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const ifaceOf = (i: number): string => `cali${i.toString(16).padStart(11, '0')}`;
const wep = (i: number): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `w${i}`, namespace: `ns${i % 100}`, labels: { app: `app${i % 50}` } },
  spec: { node: i < LOCAL ? NODE : `node${i % 400}`, orchestrator: 'k8s', workload: `w${i}`, endpoint: 'eth0', interfaceName: ifaceOf(i), ipNetworks: [`${ipOf(i)}/32`] },
});
const gnp = (j: number): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `p${j}` },
  spec: { order: j, selector: `app == 'app${j % 50}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == 'app${(j + 1) % 50}'` }, destination: { ports: [1000 + (j % 1000)] } }] },
});

const pct = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

function ifindexOf(ns: string, ifname: string): number {
  const r = spawnSync('ip', ['-n', ns, '-j', 'link', 'show', 'dev', ifname], { encoding: 'utf8' });
  return (JSON.parse(r.stdout) as { ifindex: number }[])[0]!.ifindex;
}

function ip(ns: string, args: readonly string[]): void {
  const r = spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`new-interface bench: ip -n ${ns} ${args.join(' ')}: ${r.stderr.trim()}`);
}

export async function runNewInterfaceBench(emit: Emit): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('new-interface bench needs root (a scratch bpffs and network namespace)');
  const [N, P] = process.env['GINGHAM_NEW_IFACE_SCALE'] === 'large' ? [10_000, 1_000] : [2_000, 200];
  const samples = Number(process.env['GINGHAM_NEW_IFACE_SAMPLES'] ?? 100);
  if (!(samples >= 1 && 2 * (samples + WARMUP) <= LOCAL)) throw new Error(`new-interface bench: GINGHAM_NEW_IFACE_SAMPLES must be 1..${LOCAL / 2 - WARMUP}`);
  const modes = (process.env['GINGHAM_NEW_IFACE_MODES'] ?? 'tcx,tc').split(',') as ('tcx' | 'tc')[];
  const bench = 'ebpf-new-interface';
  for (const mode of modes) {
    const bpffs = mountScratchBpffs('gh-newif-bench-bpffs-');
    const lockDir = mkdtempSync(join(tmpdir(), 'gh-newif-bench-locks-'));
    const ns = `gh-newif-bench-${randomBytes(3).toString('hex')}`;
    if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) throw new Error(`new-interface bench: ip netns add ${ns} failed`);
    try {
      const dp = createEbpfDataplane({ netns: ns, bpffs: bpffs.path, name: `newif-${randomBytes(3).toString('hex')}`, lockDir, mode });
      try {
        const engine = createEngine({ node: NODE, dataplane: dp });
        for (let i = 0; i < N; i++) engine.upsert(wep(i));
        for (let j = 0; j < P; j++) engine.upsert(gnp(j));
        await engine.flush();

        // The dataplane's re-check after one interface appeared: told nothing (it looks up every
        // endpoint interface), or told which interfaces the kernel reported (what the agent
        // passes from its rtnetlink events: both ends of the pair, with their ifindexes).
        let next = 0;
        const cpuIn: NodeJS.CpuUsage[] = [];
        for (const variant of ['all', 'reported'] as const) {
          const sync: number[] = [];
          for (let k = 0; k < WARMUP + samples; k++, next++) {
            const [name, peer] = [ifaceOf(next), `bpeer${next}`];
            ip(ns, ['link', 'add', name, 'type', 'veth', 'peer', 'name', peer]);
            const changed = variant === 'reported' ? [{ name, index: ifindexOf(ns, name) }, { name: peer, index: ifindexOf(ns, peer) }] : undefined;
            const c0 = process.cpuUsage();
            const t = performance.now();
            await dp.syncInterfaces(changed ? { changed } : {});
            const took = performance.now() - t;
            if (k >= WARMUP) cpuIn.push(process.cpuUsage(c0));
            if (dp.stats().pendingInterfaces.includes(name)) throw new Error(`new-interface bench: ${name} still pending`);
            if (k >= WARMUP) sync.push(took);
          }
          const cpu = cpuIn.splice(0).reduce((a, c) => a + c.user + c.system, 0);
          const row = `new_iface_${mode}_${variant}`;
          emit({ bench, metric: `${row}_sync_p50_ms`, value: pct(sync, 50), unit: 'ms' });
          emit({ bench, metric: `${row}_sync_p99_ms`, value: pct(sync, 99), unit: 'ms' });
          emit({ bench, metric: `${row}_sync_max_ms`, value: Math.max(...sync), unit: 'ms' });
          emit({ bench, metric: `${row}_sync_cpu_ms`, value: cpu / 1000 / samples, unit: 'ms' });
        }
        // The periodic full re-check (every pinned hook read back) after those samples.
        const full: number[] = [];
        for (let k = 0; k < 10; k++) {
          const t = performance.now();
          await dp.syncInterfaces({ full: true });
          full.push(performance.now() - t);
        }
        emit({ bench, metric: `new_iface_${mode}_full_recheck_p50_ms`, value: pct(full, 50), unit: 'ms' });
        emit({ bench, metric: `new_iface_${mode}_full_recheck_max_ms`, value: Math.max(...full), unit: 'ms' });
        // A batch that changes no endpoint, with most endpoint interfaces present and the rest
        // pending: what the dataplane's interface part adds to a label change or a new policy.
        const empty: number[] = [];
        for (let k = 0; k < 30; k++) {
          const t = performance.now();
          await dp.apply([]);
          empty.push(performance.now() - t);
        }
        emit({ bench, metric: `new_iface_${mode}_empty_apply_p50_ms`, value: pct(empty, 50), unit: 'ms' });
        emit({ bench, metric: `new_iface_${mode}_empty_apply_max_ms`, value: Math.max(...empty), unit: 'ms' });
        emit({ bench, metric: `new_iface_${mode}_pending`, value: dp.stats().pendingInterfaces.length, unit: 'count' });
        await dp.clean();
      } finally {
        await dp.close();
      }

      // The bare kernel cost of one hook on a fresh interface: a program of the object, attached
      // unpinned and detached at once (its maps in a generation of their own).
      const pinDir = join(bpffs.path, 'bare');
      mkdirSync(pinDir);
      const collection = createCollection(loadDatapathSpec(DATAPATH_OBJECT), { pinPath: pinDir, programs: [DATAPATH_PROGRAM] });
      const program = collection.program(DATAPATH_PROGRAM);
      try {
        const bare: Record<TcDirection, number[]> = { ingress: [], egress: [] };
        const pair: number[] = [];
        for (let k = 0; k < WARMUP + samples; k++) {
          const ifname = `bare${k}`;
          ip(ns, ['link', 'add', ifname, 'type', 'veth', 'peer', 'name', `bpeerb${k}`]);
          const links = [];
          const t0 = performance.now();
          for (const direction of ['ingress', 'egress'] as const) {
            const t = performance.now();
            links.push(attachTc({ program, direction, ifname, netns: ns, mode, pinDir }));
            if (k >= WARMUP) bare[direction].push(performance.now() - t);
          }
          if (k >= WARMUP) pair.push(performance.now() - t0);
          for (const l of links) l.detach();
          ip(ns, ['link', 'del', ifname]);
        }
        for (const d of ['ingress', 'egress'] as const) {
          emit({ bench, metric: `new_iface_${mode}_bare_${d}_p50_ms`, value: pct(bare[d], 50), unit: 'ms' });
          emit({ bench, metric: `new_iface_${mode}_bare_${d}_p99_ms`, value: pct(bare[d], 99), unit: 'ms' });
          emit({ bench, metric: `new_iface_${mode}_bare_${d}_max_ms`, value: Math.max(...bare[d]), unit: 'ms' });
        }
        emit({ bench, metric: `new_iface_${mode}_bare_pair_p50_ms`, value: pct(pair, 50), unit: 'ms' });
        emit({ bench, metric: `new_iface_${mode}_bare_pair_p99_ms`, value: pct(pair, 99), unit: 'ms' });
      } finally {
        collection.close();
      }
    } finally {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      bpffs.release();
      rmSync(lockDir, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runNewInterfaceBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`));
}
