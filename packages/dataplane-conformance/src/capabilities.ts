/**
 * What a kernel suite needs from the machine, and whether it may skip without it: root and the
 * programs it runs. Locally a missing capability skips the suite (and says what is missing);
 * with `CI=true` it fails instead, so CI can never go green by skipping. Reads only: it runs
 * each tool's version flag and never changes the host.
 */
import { spawnSync } from 'node:child_process';

/** The programs every kernel suite of this package runs (namespaces, servers, probes, conntrack flushes). */
export const BASE_TOOLS: readonly string[] = ['ip', 'socat', 'ss', 'conntrack'];

export interface KernelCapabilities {
  /** Root (`root`) and the programs not found on PATH. */
  readonly missing: readonly string[];
  /** CI=true (or an explicit request): a missing capability fails the suite instead of skipping it. */
  readonly mustRun: boolean;
  /** Register the suite: everything is there, or it must run (and then fails, naming what is missing). */
  readonly run: boolean;
}

export interface DetectCapabilitiesOptions {
  /** Programs needed besides root (found with `command -v`). Default: `BASE_TOOLS`. */
  readonly tools?: readonly string[];
  /** Fail instead of skipping when something is missing (default: `process.env.CI === 'true'`). */
  readonly mustRun?: boolean;
}

/** Root and `tools`: what is missing, and whether the suite runs. */
export function detectCapabilities(options: DetectCapabilitiesOptions = {}): KernelCapabilities {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const tool of options.tools ?? BASE_TOOLS) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status !== 0) missing.push(tool);
  }
  const mustRun = options.mustRun ?? process.env.CI === 'true';
  return { missing, mustRun, run: missing.length === 0 || mustRun };
}

/** Throws naming what is missing (call it in `beforeAll`, so a suite that must run fails there). */
export function requireCapabilities(caps: KernelCapabilities): void {
  if (caps.missing.length > 0) throw new Error(`missing capabilities: ${caps.missing.join(', ')}${caps.mustRun ? ' (CI=true: kernel suites must run, not skip)' : ''}`);
}
