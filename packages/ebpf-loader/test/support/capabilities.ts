/**
 * Capability probe for the loader's kernel tests: root, the native binding, a working bpf(2)
 * (create and close an array map), bpffs, and network namespaces. Suites use
 * `describe.skipIf(!caps.ok && !caps.mustRun)`; with CI=true they run anyway so that a missing
 * capability FAILS there instead of silently skipping.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BpfMap, getBpfBinding } from '../../src/index.js';
import { mountScratchBpffs } from '../../src/testing.js';

export interface BpfCapabilities {
  readonly ok: boolean;
  readonly missing: readonly string[];
  readonly mustRun: boolean;
}

function runs(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

export function probeBpfCapabilities(tools: readonly string[] = []): BpfCapabilities {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  try {
    getBpfBinding();
    try {
      BpfMap.create({ name: 'gh_probe', type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, pinning: 'none' }).close();
    } catch (e) {
      missing.push(`bpf(2) map create (${(e as Error).message})`);
    }
  } catch (e) {
    missing.push(`native binding (${(e as Error).message})`);
  }
  try {
    mountScratchBpffs().release();
  } catch (e) {
    missing.push(`bpffs (${(e as Error).message})`);
  }
  for (const t of tools) if (!runs(t, t === 'socat' ? ['-V'] : ['-V'])) missing.push(t);
  if (missing.length === 0) {
    const ns = `gh-bpf-probe-${randomBytes(3).toString('hex')}`;
    if (runs('ip', ['netns', 'add', ns])) runs('ip', ['netns', 'del', ns]);
    else missing.push('network namespaces (ip netns add)');
  }
  return { ok: missing.length === 0, missing, mustRun: process.env.CI === 'true' };
}
