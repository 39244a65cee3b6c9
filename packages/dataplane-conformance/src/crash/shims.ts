/**
 * PATH shims for the kill -9 campaigns: the command under test (`gingham enforce`) runs
 * unmodified — no test hooks in production code — with shims in front of the programs it starts
 * (`tc`, `ip`, `iptables-restore`, `ipset`, `flock`, …). Each shim logs the child's start and, at
 * the chosen start, SIGKILLs its parent (the command under test), then either exits or still
 * runs the real program (a child that finishes its change after its parent died).
 *
 * Safety: a shim only ever kills its own parent, the process under test (a child of the test);
 * the shims live in a temporary directory of their own, removed by `release()`.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where to kill: at the `index`-th child start (1-based), or `ms` after the start. */
export type KillPoint =
  | { readonly kind: 'child'; readonly index: number; readonly then: 'exit' | 'run' }
  | { readonly kind: 'delay'; readonly ms: number };

export function describePoint(p: KillPoint | undefined): string {
  if (!p) return 'no kill';
  return p.kind === 'child' ? `kill -9 at child start #${p.index} (child then ${p.then === 'exit' ? 'exits' : 'runs on'})` : `kill -9 after ${p.ms} ms`;
}

export interface Shims {
  readonly dir: string;
  /** Environment for the command under test: the shims first on PATH, and the kill point. */
  env(point?: KillPoint): NodeJS.ProcessEnv;
  /** The child starts of the last run, in order: `<n> <pid> <epoch ms> <tool> <args…>`. */
  starts(): string[];
  /** Waits until every child the last run started has exited (a killed run's children may run on). */
  settle(timeoutMs?: number): Promise<void>;
  release(): void;
}

/** PATH shims for `tools`, logging every start into a directory of their own. */
export function createShims(tools: readonly string[]): Shims {
  const dir = mkdtempSync(join(tmpdir(), 'gh-kill9-'));
  const bin = join(dir, 'bin');
  const realPath = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
  mkdirSync(bin);
  for (const tool of tools) {
    const script = `#!/bin/bash
# kill -9 test shim for ${tool}: log the start; at start #GH_KILL9_AT kill the parent (the command under test).
d="$GH_KILL9_DIR"
n=$(( $(cat "$d/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$d/count"
echo "$n $$ $(date +%s%3N) ${tool} $*" >> "$d/starts"
if [ "$n" = "\${GH_KILL9_AT:-0}" ]; then
  kill -9 "$PPID"
  [ "$GH_KILL9_THEN" = exit ] && exit 137
fi
real=$(PATH="$GH_KILL9_REAL_PATH" command -v ${tool}) || exit 127
exec "$real" "$@"
`;
    writeFileSync(join(bin, tool), script);
    chmodSync(join(bin, tool), 0o755);
  }
  const alive = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^\d+ \(.*\) [ZX]/.test(stat);
    } catch {
      return false;
    }
  };
  const starts = (): string[] => (existsSync(join(dir, 'starts')) ? readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n').filter(Boolean) : []);
  return {
    dir,
    env(point) {
      rmSync(join(dir, 'count'), { force: true });
      rmSync(join(dir, 'starts'), { force: true });
      return {
        ...process.env,
        PATH: `${bin}:${realPath}`,
        GH_KILL9_DIR: dir,
        GH_KILL9_REAL_PATH: realPath,
        GH_KILL9_AT: point?.kind === 'child' ? String(point.index) : '0',
        GH_KILL9_THEN: point?.kind === 'child' ? point.then : 'run',
      };
    },
    starts,
    async settle(timeoutMs = 15_000) {
      const pids = starts().map((l) => Number(l.split(' ')[1]));
      const until = Date.now() + timeoutMs;
      while (pids.some(alive)) {
        if (Date.now() > until) throw new Error(`children of the killed run still running: ${pids.filter(alive).join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    release: () => rmSync(dir, { recursive: true, force: true }),
  };
}
