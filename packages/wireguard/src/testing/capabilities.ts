/**
 * Capability probe for kernel tests: root, the tools, and the ability to create a network
 * namespace. Suites `describe.skipIf(!caps.ok && !caps.mustRun)` and, when CI=true, run anyway
 * so that a missing capability FAILS there instead of silently skipping.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface KernelCapabilities {
  readonly ok: boolean;
  readonly missing: readonly string[];
  /** CI=true: never skip; missing capabilities make the suite fail. */
  readonly mustRun: boolean;
  /** The WireGuard kernel module is usable (else wireguard-go). */
  readonly kernelModule: boolean;
}

function runs(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

export function probeKernelCapabilities(tools: readonly string[] = ['ip', 'wg', 'tcpdump', 'socat', 'ss']): KernelCapabilities {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  const versionArgs: Record<string, string[]> = { ip: ['-V'], wg: ['--version'], tcpdump: ['--version'], socat: ['-V'], ss: ['-V'], iperf3: ['--version'] };
  for (const t of tools) if (!runs(t, versionArgs[t] ?? ['--version'])) missing.push(t);
  const kernelModule = runs('genl', ['ctrl', 'get', 'name', 'wireguard']);
  if (!kernelModule && !runs('wireguard-go', ['--version'])) missing.push('wireguard (kernel module or wireguard-go)');
  if (missing.length === 0) {
    const ns = `ghwg-probe-${randomBytes(3).toString('hex')}`;
    if (runs('ip', ['netns', 'add', ns])) runs('ip', ['netns', 'del', ns]);
    else missing.push('network namespaces (ip netns add)');
  }
  return { ok: missing.length === 0, missing, mustRun: process.env.CI === 'true', kernelModule };
}
