/**
 * A kill -9 harness for any command that programs the kernel (written for `gingham enforce
 * --dataplane ebpf`, with nothing eBPF-specific in it, so that the shared fail-closed harness of
 * the conformance suite can take it over): the command runs unmodified — no test hooks in
 * production code — with PATH shims in front of the tools it runs (`tc`, `ip`, `flock`, …). Each
 * shim logs the child's start and, at the chosen start, SIGKILLs its parent (the command under
 * test), then either exits or still runs the real tool (a child that finishes its change after
 * its parent died). Runs can also be killed after a delay. Continuous probes record every
 * attempt of flows that must never pass.
 *
 * Safety: shims only ever kill their own parent (the process under test, a child of the test);
 * probes run inside pod namespaces of the test's topology and are stopped by a file, then killed
 * by PID with the topology.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';

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

export interface KillableResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** It died of SIGKILL. */
  readonly killed: boolean;
  /** When it started (epoch ms) and how long it ran. */
  readonly startedAt: number;
  readonly durationMs: number;
}

/** Runs `argv` with `env` to its end, or kills it (by PID) `point.ms` after the start. */
export function runKillable(argv: readonly string[], env: NodeJS.ProcessEnv, point?: KillPoint): Promise<KillableResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = point?.kind === 'delay' ? setTimeout(() => child.pid !== undefined && child.kill('SIGKILL'), point.ms) : undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ status, signal, stdout, stderr, killed: signal === 'SIGKILL', startedAt: started, durationMs: Date.now() - started });
    });
  });
}

/**
 * Kill points: at each child start of `starts` (a counted run's `Shims.starts()`), the child
 * exiting, and the child running on unless `readOnly` says it changes nothing (then both are the
 * same case); then the `delays` (ms after the start).
 */
export function killPoints(starts: readonly string[], delays: readonly number[], readOnly: (start: string) => boolean = () => false): KillPoint[] {
  const out: KillPoint[] = [];
  starts.forEach((start, i) => {
    out.push({ kind: 'child', index: i + 1, then: 'exit' });
    if (!readOnly(start.split(' ').slice(3).join(' '))) out.push({ kind: 'child', index: i + 1, then: 'run' });
  });
  for (const ms of delays) out.push({ kind: 'delay', ms });
  return out;
}

/**
 * The part of an uninterrupted run worth killing in, in ms after its start: from its first child
 * start (before it, the process is only starting up) to its end.
 */
export function workWindow(run: KillableResult, starts: readonly string[]): { readonly from: number; readonly to: number } {
  const first = Number(starts[0]?.split(' ')[2] ?? run.startedAt);
  return { from: Math.max(0, first - run.startedAt), to: run.durationMs };
}

/** `n` delays in [min, max] ms, reproducible from `seed`. */
export function randomDelays(seed: number, n: number, min: number, max: number): number[] {
  return fc.sample(fc.integer({ min, max: Math.max(min, max) }), { seed, numRuns: n });
}

/** A flow that must never pass: TCP from a namespace to an address and port. */
export interface GuardedFlow {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
  readonly port: number;
}

export interface ProbeLoops {
  /** Stops the loops and returns every attempt's outcome per flow. */
  stop(): Promise<Map<string, { allow: number; deny: number }>>;
}

/**
 * Probes each flow over and over (a new TCP connection each time, 0.4 s timeout) until stopped.
 * `spawnIn` starts a process in a namespace, tracked by the caller for cleanup.
 */
export function startProbeLoops(spawnIn: (netns: string, argv: readonly string[]) => ChildProcess, flows: readonly GuardedFlow[]): ProbeLoops {
  const dir = mkdtempSync(join(tmpdir(), 'gh-kill9-probes-'));
  const stop = join(dir, 'stop');
  const loops = flows.map((f) => {
    const script = `while [ ! -e '${stop}' ]; do
  if socat -T0.4 -t0.4 - TCP:${f.ip}:${f.port},connect-timeout=0.4 </dev/null 2>/dev/null | grep -q ok; then echo allow; else echo deny; fi
done`;
    const child = spawnIn(f.netns, ['bash', '-c', script]);
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const done = new Promise<string[]>((resolve) => child.on('close', () => resolve(out.trim().split('\n').filter(Boolean))));
    return { f, done };
  });
  return {
    async stop() {
      writeFileSync(stop, '');
      const out = new Map<string, { allow: number; deny: number }>();
      for (const { f, done } of loops) {
        const lines = await done;
        out.set(f.name, { allow: lines.filter((l) => l === 'allow').length, deny: lines.filter((l) => l === 'deny').length });
      }
      rmSync(dir, { recursive: true, force: true });
      return out;
    },
  };
}

export interface CampaignStep {
  readonly point: KillPoint;
  readonly result: KillableResult;
}

/**
 * Runs the command once per kill point (`run` composes the command and its environment), lets
 * the children a kill left running finish, and calls `after` (checks, cleanup) after each.
 */
export async function killCampaign(o: {
  readonly points: readonly KillPoint[];
  readonly shims: Shims;
  run(point: KillPoint, i: number): Promise<KillableResult>;
  after?(step: CampaignStep, i: number): Promise<void> | void;
}): Promise<CampaignStep[]> {
  const steps: CampaignStep[] = [];
  for (const [i, point] of o.points.entries()) {
    const result = await o.run(point, i);
    await o.shims.settle();
    const step = { point, result };
    steps.push(step);
    await o.after?.(step, i);
  }
  return steps;
}
