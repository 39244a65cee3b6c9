/**
 * Runs the dataplane's `gingham enforce` as a user runs it in a node's network namespace:
 * `ip netns exec NODE <argv>`, with `ip` by its absolute path so that a PATH of shims handed to
 * the command never shims the launcher itself.
 */
import { spawnSync } from 'node:child_process';
import { runKillable, type KillableResult } from '../crash/kill-runs.js';
import type { KillPoint } from '../crash/shims.js';
import type { ConformanceEnv } from './options.js';

let ipPath: string | undefined;

function ip(): string {
  if (ipPath === undefined) {
    const r = spawnSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' });
    ipPath = (r.stdout ?? '').trim();
    if (!ipPath) throw new Error('ip (iproute2) is not installed');
  }
  return ipPath;
}

/** One run of `argv` inside the node namespace, to its end or killed at `point`. */
export function runInNode(env: ConformanceEnv, argv: readonly string[], processEnv: NodeJS.ProcessEnv = process.env, point?: KillPoint): Promise<KillableResult> {
  return runKillable([ip(), 'netns', 'exec', env.nodeNamespace, ...argv], processEnv, point);
}

/** A run's outcome for an assertion message. */
export function describeRun(r: KillableResult): string {
  return `exit ${r.status ?? r.signal}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`;
}
