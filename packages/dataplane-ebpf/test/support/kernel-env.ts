/**
 * Shared pieces of the eBPF dataplane's kernel tests: unique names, scratch lock directories and
 * readers of what is pinned or attached in a namespace. Each test file pins into its own bpffs
 * (the loader's `mountScratchBpffs`), never into the host's /sys/fs/bpf. Never touches the root
 * namespace.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOCK_DIR, lockName } from '@gingham/host';
import { queryTcx } from '@gingham/ebpf-loader';

export const mustRun = process.env.CI === 'true';
export const canRun = process.getuid?.() === 0 || mustRun;

/** A dataplane instance name unique to this run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Every file below `dir` (pins), relative; skips the `*.debug` iterators the kernel puts at a bpffs root. */
export function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${f.name}` : f.name;
      if (rel === '' && f.name.endsWith('.debug')) continue;
      if (f.isDirectory()) {
        out.push(`${r}/`);
        walk(join(d, f.name), r);
      } else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** tc filters (`tc filter show`) and tcx programs (`BPF_PROG_QUERY`) on the given interfaces of a namespace. */
export function hooksIn(netns: string, ifnames: readonly string[]): string[] {
  const out: string[] = [];
  for (const ifname of ifnames) {
    for (const direction of ['ingress', 'egress'] as const) {
      const tc = spawnSync('ip', ['netns', 'exec', netns, 'tc', 'filter', 'show', 'dev', ifname, direction], { encoding: 'utf8' });
      if ((tc.stdout ?? '').trim() !== '') out.push(`${ifname} ${direction} tc: ${tc.stdout.trim()}`);
      const q = queryTcx({ ifname, netns, direction });
      for (const id of q.programIds) out.push(`${ifname} ${direction} tcx: program ${id}`);
    }
  }
  return out;
}

/** A directory for the instance locks of in-process dataplanes (`lockDir`), removed by `release()`. */
export function scratchLockDir(): { readonly path: string; release(): void } {
  const path = mkdtempSync(join(tmpdir(), 'gh-ebpf-locks-'));
  return { path, release: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Removes the lock file a `gingham enforce` run left in the default lock directory for this
 * instance (lock files stay by design; tests remove theirs once every process is gone).
 */
export function removeCliLock(bpffs: string, name: string): void {
  rmSync(join(DEFAULT_LOCK_DIR, `${lockName('ebpf', join(bpffs, 'gingham', name))}.lock`), { force: true });
}

/** The clsact qdiscs of a namespace (`tc qdisc show`), one line each. */
export function clsactIn(netns: string): string[] {
  const r = spawnSync('ip', ['netns', 'exec', netns, 'tc', 'qdisc', 'show'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter((l) => /clsact/.test(l));
}

/** The names of every interface in a namespace (`ip -o link`), e.g. to look for hooks left on any of them. */
export function linksIn(netns: string): string[] {
  const r = spawnSync('ip', ['-n', netns, '-o', 'link', 'show'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').flatMap((l) => {
    const m = /^\d+: ([^:@\s]+)/.exec(l);
    return m ? [m[1]!] : [];
  });
}
