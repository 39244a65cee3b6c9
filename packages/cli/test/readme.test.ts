// The README's `gingham` commands run as written (those that need neither root nor a kernel:
// enforce and wireguard genkey are left to their own kernel tests), and the files they name ship.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root, runBin, STACK_LINE } from './run-bin.js';

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## The `gingham` command'), readme.indexOf('## Host prerequisites'));
const commands = [...section.matchAll(/^npx gingham (.+?)(?:\s{2,}#.*)?$/gm)].map((m) => m[1]!.trim().split(/\s+/));
// enforce and wireguard need root and a kernel; openstack convert and get --datastore kubernetes
// need the user's own cloud exports or cluster; agent and flows need a datastore and a running agent
// (their own tests cover them).
const offline = commands.filter((argv) => !['enforce', 'wireguard', 'openstack', 'agent', 'flows'].includes(argv[0]!) && !argv.includes('kubernetes'));
// The datastore commands write the directory the README names: here a private one.
const store = mkdtempSync(join(tmpdir(), 'gh-readme-store-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
// So do the commands that write a page (/tmp/graph.html, /tmp/report.html).
const inStore = (argv: readonly string[]): string[] => argv.map((a) => (a === '/tmp/store' ? store : a.startsWith('/tmp/') ? join(store, a.slice('/tmp/'.length)) : a));

describe('the README', () => {
  it('lists the commands a new user tries first', () => {
    expect(offline.map((a) => a[0])).toEqual(['lint', 'check', 'check', 'check', 'matrix', 'preview', 'recommend', 'graph', 'report', 'doctor', '--version', 'apply', 'get']);
  });

  it('names only files that ship', () => {
    for (const argv of commands) for (const arg of argv) if (/^examples\//.test(arg)) expect(existsSync(join(root, arg))).toBe(true);
  });

  it.each(offline.filter((a) => a[0] !== 'doctor').map((a) => [a.join(' '), a] as const))('gingham %s runs as written', async (_, argv) => {
    const r = await runBin(inStore(argv), { keepStdout: 200_000 });
    // recommend prints YAML on standard output and its summary on standard error.
    const summaryOnStderr = argv[0] === 'recommend';
    expect({ code: r.code, stderr: summaryOnStderr ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    if (summaryOnStderr) expect(r.stderr).toMatch(/^\d+ record\(s\): .*\ncheck: enforced/s);
    expect(r.stdout).not.toBe('');
    if (argv.includes('--json')) expect(() => JSON.parse(r.stdout)).not.toThrow();
  });

  it('gingham doctor runs as written (exit 0 or 1: it depends on the host), with no stack trace', async () => {
    const r = await runBin(['doctor']);
    expect([0, 1]).toContain(r.code);
    expect(r.stdout).toMatch(/^gingham doctor: Linux /);
    expect(STACK_LINE.test(r.stderr)).toBe(false);
  });
});
