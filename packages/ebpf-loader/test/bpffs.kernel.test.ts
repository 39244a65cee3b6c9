/**
 * Whether pins at a path outlive the process (`inspectBpffs`, `mountNamespaceFacts`), and that
 * `ensureBpffs` never mounts from a private mount namespace: checked here, in this process's
 * namespace, and inside `ip netns exec` (a private mount namespace that dies with the command),
 * with bpffs mounts this file makes in temporary directories and removes. Never touches the
 * host's /sys/fs/bpf.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpffsMounts, inspectBpffs, mountNamespaceFacts } from '../src/index.js';
import { mountScratchBpffs, type ScratchBpffs } from '../src/testing.js';
import { probeBpfCapabilities } from './support/capabilities.js';

const caps = probeBpfCapabilities([]);
const repo = new URL('../../../', import.meta.url).pathname;

describe.skipIf(!caps.ok && !caps.mustRun)('bpffs persistence across mount namespaces', () => {
  let scratch: ScratchBpffs;
  const netns = `gh-bpffs-${process.pid}`;

  beforeAll(() => {
    scratch = mountScratchBpffs('gh-loader-bpffs-');
    spawnSync('ip', ['netns', 'add', netns]);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', netns]);
    scratch?.release();
  });

  /** Runs `code` (an ES module body with the built loader as `L`) under `ip netns exec`; returns its JSON output. */
  const inPrivateNamespace = (code: string, ...args: string[]): unknown => {
    const script = `import * as L from '@gingham/ebpf-loader';\nconst args = process.argv.slice(1);\n${code}`;
    const r = spawnSync('ip', ['netns', 'exec', netns, process.execPath, '--input-type=module', '-e', script, ...args], { cwd: repo, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`private-namespace script failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  it('this process runs in a long-lived mount namespace, where a mounted bpffs persists', () => {
    expect(mountNamespaceFacts().kind).toBe('long-lived');
    const i = inspectBpffs(scratch.path);
    expect(i).toMatchObject({ exists: true, isBpffs: true, fsType: 'bpf', mountPoint: scratch.path, persistent: true });
  });

  it('an ordinary directory or a missing path is not a bpffs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-loader-plain-'));
    try {
      expect(inspectBpffs(dir)).toMatchObject({ exists: true, isBpffs: false, persistent: false });
      expect(inspectBpffs(join(dir, 'nope'))).toMatchObject({ exists: false, isBpffs: false, persistent: false });
    } finally {
      rmdirSync(dir);
    }
  });

  it('inside ip netns exec: private; a bpffs mounted before is shared and persists, one mounted inside does not, ensureBpffs refuses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-loader-inner-'));
    try {
      const out = inPrivateNamespace(`
spawnSync('mount', ['-t', 'bpf', 'bpffs', args[1]]);
let refused = '';
try { L.ensureBpffs(args[1] + '-absent'); } catch (e) { refused = e.code + ': ' + e.message; }
process.stdout.write(JSON.stringify({ facts: L.mountNamespaceFacts(), before: L.inspectBpffs(args[0]), inside: L.inspectBpffs(args[1]), refused }));
`.replace('spawnSync(', "(await import('node:child_process')).spawnSync("), scratch.path, dir) as {
        facts: { kind: string; self: string };
        before: { persistent: unknown; inReference: unknown };
        inside: { isBpffs: boolean; persistent: unknown; inReference: unknown };
        refused: string;
      };
      expect(out.facts.kind).toBe('private');
      expect(out.facts.self).not.toBe(mountNamespaceFacts().self);
      expect(out.before).toMatchObject({ inReference: true, persistent: true });
      expect(out.inside).toMatchObject({ isBpffs: true, inReference: false, persistent: false });
      expect(out.refused).toMatch(/^BPF_NOT_SUPPORTED: .*from a private mount namespace .*it would vanish when this process exits/);
      // The bpffs mounted inside died with the namespace.
      expect(bpffsMounts()).not.toContain(dir);
    } finally {
      rmdirSync(dir);
    }
  });
});
