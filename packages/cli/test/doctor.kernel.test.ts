// The real `gingham doctor`, as root on this host: it answers for every dataplane and leaves the
// host as it found it (no module loaded, no bpffs mounted, no pin, no rule, no interface).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBin } from './run-bin.js';

const isRoot = process.getuid?.() === 0;

/** Loaded modules (none on a kernel built without module support, which has no /proc/modules). */
function loadedModules(): Set<string> {
  if (!existsSync('/proc/modules')) return new Set();
  return new Set(readFileSync('/proc/modules', 'utf8').split('\n').map((l) => l.split(' ')[0]!).filter((m) => m !== ''));
}

function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [`${e.name}/`, ...listTree(join(dir, e.name)).map((c) => `${e.name}/${c}`)] : [e.name]));
}

/** What doctor could change if it did more than look: bpffs at /sys/fs/bpf and its pins, our rules, this namespace's links. */
function hostState() {
  const bpffs = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/sys/fs/bpf');
  return {
    bpffs,
    pins: listTree('/sys/fs/bpf'),
    links: execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map((l) => l.split(':')[1]?.trim()).filter(Boolean).sort(),
    rules: execFileSync('iptables-save', [], { encoding: 'utf8' }).split('\n').filter((l) => !l.startsWith('#')).join('\n'),
  };
}

describe.skipIf(!isRoot)('gingham doctor on this host (root)', () => {
  it('reports every dataplane and changes nothing', async () => {
    const modulesBefore = loadedModules();
    const before = hostState();
    const r = await runBin(['doctor', '--json']);
    expect(r.stderr).toBe('');
    expect([0, 1]).toContain(r.code);
    const report = JSON.parse(r.stdout) as { ready: boolean; host: { uid: number; capabilities: string[] }; dataplanes: { name: string; ready: boolean; checks: { id: string; status: string }[] }[] };
    expect(report.host.uid).toBe(0);
    expect(report.host.capabilities).toContain('CAP_NET_ADMIN');
    expect(report.dataplanes.map((d) => d.name)).toEqual(['iptables', 'ebpf', 'wireguard']);
    expect(r.code).toBe(report.ready ? 0 : 1);
    // Root on a CI host: the bpf() syscall works (the probe loads and closes a two-instruction program).
    expect(report.dataplanes[1]!.checks.find((c) => c.id === 'bpf-syscall')!.status).toBe('ok');
    expect(hostState()).toEqual(before);
    // Modules doctor asks about are looked up in /sys and /lib/modules, never loaded.
    for (const m of ['wireguard', 'ip_set', 'sch_ingress']) if (!modulesBefore.has(m)) expect(loadedModules().has(m)).toBe(false);
  });
});
