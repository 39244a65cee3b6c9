/**
 * Runs of a command under kill -9: one run killed at a child start (through the shims) or after
 * a delay (by PID), the kill points of a counted run, reproducible random delays, and a campaign
 * that runs the command once per point and lets the children a kill left running finish before
 * its checks. Processes are killed by PID only; a run that hangs is killed after two minutes.
 */
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import type { KillPoint, Shims } from './shims.js';

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
