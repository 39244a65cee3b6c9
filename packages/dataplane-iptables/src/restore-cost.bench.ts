/**
 * `tsx scripts/bench.ts iptables-restore-cost` (root; scratch network namespaces only): what one
 * `iptables-restore --noflush` child costs for the one-chain transaction of a label change,
 * against filter tables of growing size (the label-change bench's state at 10k × 1k and
 * 100k × 10k: ~1k and ~10k chains), against an empty table, and what the same child costs for an
 * empty commit. Each figure is the median of several children run back to back through
 * `nsenter --net` (its own start is the `nsenter_true` row, subtracted from nothing). With
 * `strace` installed, also the syscall count and the bytes the child read from netlink for one
 * transaction at each size (the nft backend's cache fetch). Then the same with the hook rules in
 * place (`_hooked` rows: the rendering reachable from the built-in chains, as in a real apply, so
 * the kernel's commit re-validates every path), through a persistent session too
 * (restore-session.ts: no process start), and the time of the commit's `sendmsg` alone (strace
 * -T). Namespaces are removed in `finally`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { applyMessage, emptyDataplaneState } from '@gingham/core';
import { createNetnsRunner } from '@gingham/host';
import { openRestoreSession } from './apply/restore-session.js';
import { formatChainRules, formatIpsetRestore, formatIptablesRestore } from './render/format.js';
import { resolveRenderOptions } from './render/options.js';
import { renderState } from './render/render.js';
import { labelChangeState } from './label-change.bench.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

function netns(): { name: string; path: string; destroy(): void } {
  const name = `gh-iptinc-rc-${randomBytes(3).toString('hex')}`;
  if (spawnSync('ip', ['netns', 'add', name]).status !== 0) throw new Error(`ip netns add ${name} failed`);
  return { name, path: `/run/netns/${name}`, destroy: () => void spawnSync('ip', ['netns', 'del', name]) };
}

function inNs(path: string, argv: string[], input?: string): void {
  const r = spawnSync('nsenter', [`--net=${path}`, ...argv], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
}

function median(path: string, argv: string[], input: string | undefined, samples: number): number {
  const ts: number[] = [];
  for (let k = 0; k < samples; k++) {
    const t = performance.now();
    inNs(path, argv, input);
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1]!;
}

/** CPU time (ms, user + system, `perf stat -e task-clock`) of one child; undefined without perf. */
function taskClock(path: string, argv: string[], input: string): number | undefined {
  const r = spawnSync('nsenter', [`--net=${path}`, 'perf', 'stat', '-x', ',', '-e', 'task-clock', ...argv], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) return undefined;
  const line = String(r.stderr).split('\n').find((l) => l.includes('task-clock'));
  const v = line ? Number(line.split(',')[0]) : NaN;
  return Number.isFinite(v) ? v : undefined;
}

/** Milliseconds the child spent in `sendmsg` (the nft backend's batch: the kernel's commit is in it), by strace -T; undefined without strace. */
function commitSyscall(path: string, argv: string[], input: string): number | undefined {
  if (spawnSync('strace', ['-V']).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gh-iptlat-strace-'));
  try {
    const out = join(dir, 'trace');
    const r = spawnSync('nsenter', [`--net=${path}`, 'strace', '-f', '-qq', '-T', '-e', 'trace=sendmsg', '-o', out, ...argv], { input, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`strace ${argv.join(' ')} failed: ${r.stderr}`);
    let ms = 0;
    for (const m of readFileSync(out, 'utf8').matchAll(/<(\d+\.\d+)>$/gm)) ms += Number(m[1]) * 1000;
    return ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Syscalls and netlink bytes read by one child (strace -f -c and -e recvmsg sizes). */
function straced(path: string, argv: string[], input: string): { syscalls: number; netlinkBytes: number } | undefined {
  if (spawnSync('strace', ['-V']).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gh-iptinc-strace-'));
  try {
    const out = join(dir, 'trace');
    const r = spawnSync('nsenter', [`--net=${path}`, 'strace', '-f', '-qq', '-e', 'trace=recvmsg,recvfrom,sendmsg,sendto', '-o', out, ...argv], { input, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`strace ${argv.join(' ')} failed: ${r.stderr}`);
    let syscalls = 0;
    let netlinkBytes = 0;
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const m = /^\d+\s+(recvmsg|recvfrom)\(.*\)\s+=\s+(\d+)$/.exec(line);
      if (m) netlinkBytes += Number(m[2]);
      if (/^\d+\s+\w+\(/.test(line)) syscalls++;
    }
    return { syscalls, netlinkBytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runRestoreCostBench(emit: Emit): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the restore-cost bench needs root (it works only inside scratch network namespaces)');
  const samples = Number(process.env['GINGHAM_BENCH_RESTORE_SAMPLES'] ?? 9);
  const restore = ['iptables-nft-restore', '--noflush'];
  const empty = netns();
  try {
    emit({ bench: 'iptables.restore_cost', metric: 'nsenter_true', value: median(empty.path, ['true'], undefined, samples), unit: 'ms' });
    emit({ bench: 'iptables.restore_cost', metric: 'empty_commit_empty_table', value: median(empty.path, restore, '*filter\nCOMMIT\n', samples), unit: 'ms' });
  } finally {
    empty.destroy();
  }
  for (const [scale, endpoints, policies] of [['small', 10_000, 1_000], ['large', 100_000, 10_000]] as const) {
    const state = emptyDataplaneState();
    for (const m of labelChangeState(endpoints, policies)) applyMessage(state, m);
    const o = resolveRenderOptions({});
    const r = renderState(state, 4, o);
    const ns = netns();
    try {
      inNs(ns.path, ['ipset', 'restore'], formatIpsetRestore(r));
      const full = formatIptablesRestore(r);
      const t0 = performance.now();
      inNs(ns.path, restore, full);
      const fullLoad = performance.now() - t0;
      const filter = r.chains.filter((c) => c.table === 'filter');
      const rules = filter.reduce((n, c) => n + c.rules.length, 0);
      const b = `iptables.restore_cost.${scale}`;
      // The first apply's one restore child: every chain and rule of the rendering into an empty table.
      emit({ bench: b, metric: 'full_load', value: fullLoad, unit: 'ms' });
      emit({ bench: b, metric: 'filter_chains', value: filter.length, unit: 'chains' });
      emit({ bench: b, metric: 'filter_rules', value: rules, unit: 'rules' });
      // The label change's transaction: one endpoint chain flushed and rewritten (same rules).
      const ep = filter.find((c) => c.name.startsWith(`${o.chainPrefix}tw-`))!;
      const txOf = (n: number): string => ['*filter', `:${ep.name} - [0:0]`, `-F ${ep.name}`, ...formatChainRules(ep.name, ep.rules.slice(0, n), o.commentTag), 'COMMIT', ''].join('\n');
      const tx = txOf(ep.rules.length);
      emit({ bench: b, metric: 'one_chain_rules', value: ep.rules.length, unit: 'rules' });
      emit({ bench: b, metric: 'one_chain_tx', value: median(ns.path, restore, tx, samples), unit: 'ms' });
      emit({ bench: b, metric: 'empty_commit', value: median(ns.path, restore, '*filter\nCOMMIT\n', samples), unit: 'ms' });
      // Where the child's time goes: its CPU for the transaction and for an empty commit, and the
      // same chain rewritten with fewer of its rules (the cost per rule).
      for (const n of [0, Math.floor(ep.rules.length / 4), Math.floor(ep.rules.length / 2)]) {
        emit({ bench: b, metric: `one_chain_tx_${n}_rules`, value: median(ns.path, restore, txOf(n), samples), unit: 'ms' });
      }
      const cpuTx = taskClock(ns.path, restore, tx);
      const cpuEmpty = taskClock(ns.path, restore, '*filter\nCOMMIT\n');
      if (cpuTx !== undefined) emit({ bench: b, metric: 'one_chain_tx_cpu', value: cpuTx, unit: 'ms' });
      if (cpuEmpty !== undefined) emit({ bench: b, metric: 'empty_commit_cpu', value: cpuEmpty, unit: 'ms' });
      emit({ bench: b, metric: 'save_filter', value: median(ns.path, ['iptables-nft-save', '-t', 'filter'], undefined, Math.min(samples, 3)), unit: 'ms' });
      const st = straced(ns.path, restore, tx);
      if (st) {
        emit({ bench: b, metric: 'one_chain_tx_netlink_syscalls', value: st.syscalls, unit: 'syscalls' });
        emit({ bench: b, metric: 'one_chain_tx_netlink_read', value: st.netlinkBytes, unit: 'bytes' });
      }
      const unhooked = commitSyscall(ns.path, restore, tx);
      if (unhooked !== undefined) emit({ bench: b, metric: 'one_chain_tx_commit_syscall', value: unhooked, unit: 'ms' });
      // The hook rules: now the kernel's commit validates every path from the built-in chains.
      inNs(ns.path, restore, ['*filter', ...r.hooks.filter((h) => h.table === 'filter').map((h) => `-A ${h.chain} ${h.args.join(' ')}`), 'COMMIT', ''].join('\n'));
      emit({ bench: b, metric: 'one_chain_tx_hooked', value: median(ns.path, restore, tx, samples), unit: 'ms' });
      emit({ bench: b, metric: 'empty_commit_hooked', value: median(ns.path, restore, '*filter\nCOMMIT\n', samples), unit: 'ms' });
      const hooked = commitSyscall(ns.path, restore, tx);
      if (hooked !== undefined) emit({ bench: b, metric: 'one_chain_tx_commit_syscall_hooked', value: hooked, unit: 'ms' });
      const session = await openRestoreSession(createNetnsRunner(ns.name), 'iptables-nft-restore');
      if (session) {
        try {
          const lines = tx.trimEnd().split('\n');
          const ts: number[] = [];
          for (let k = 0; k < samples; k++) {
            const t = performance.now();
            if ((await session.run(lines)) !== true) throw new Error('the restore session failed');
            ts.push(performance.now() - t);
          }
          ts.sort((x, y) => x - y);
          emit({ bench: b, metric: 'one_chain_tx_session_hooked', value: ts[ts.length >> 1]!, unit: 'ms' });
        } finally {
          await session.close();
        }
      }
    } finally {
      ns.destroy();
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runRestoreCostBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`));
}
