/**
 * Instance locks across processes: a second holder is refused with the first one's PID and
 * purpose, a waiter gets the lock when the holder releases it, and `kill -9` of the holder frees
 * it (the kernel drops the flock with the last descriptor); a release leaves no file behind, and
 * a waiter that opened the file before the holder removed it ends up holding the file that is
 * there now, not the removed one. Children use the built package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireInstanceLock, InstanceLockedError, lockName } from '../src/index.js';
import { lockHolder } from '../src/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-lock-'));
const dist = new URL('../dist/index.js', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) {
    try {
      if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A child process that takes the lock, says so, and holds it until killed or `holdMs` passes. */
async function holder(name: string, holdMs: number): Promise<ChildProcess> {
  const script = `import { acquireInstanceLock } from ${JSON.stringify(dist)};
const l = acquireInstanceLock(${JSON.stringify(name)}, { dir: ${JSON.stringify(dir)}, purpose: 'test holder' });
process.stdout.write('held\\n');
setTimeout(() => { l.release(); process.exit(0); }, ${holdMs});`;
  const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  await new Promise<void>((resolve, reject) => {
    c.stdout!.on('data', (b: Buffer) => b.toString().includes('held') && resolve());
    c.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  return c;
}

describe('instance locks', () => {
  it('refuses a second holder and names the first', async () => {
    const c = await holder('a', 30_000);
    const err = (() => {
      try {
        acquireInstanceLock('a', { dir });
      } catch (e) {
        return e;
      }
    })() as InstanceLockedError;
    expect(err).toBeInstanceOf(InstanceLockedError);
    expect(err.holder).toMatchObject({ pid: c.pid, purpose: 'test holder' });
    expect(err.message).toMatch(new RegExp(`^gingham: a is being programmed by process ${c.pid} \\(test holder\\) since `));
    expect(lockHolder('a', { dir })?.pid).toBe(c.pid);
    process.kill(c.pid!, 'SIGKILL');
  });

  it('kill -9 of the holder frees the lock at once', async () => {
    const c = await holder('b', 30_000);
    expect(() => acquireInstanceLock('b', { dir })).toThrow(InstanceLockedError);
    process.kill(c.pid!, 'SIGKILL');
    await new Promise((r) => c.on('exit', r));
    const l = acquireInstanceLock('b', { dir });
    expect(lockHolder('b', { dir })?.pid).toBe(process.pid);
    l.release();
    expect(lockHolder('b', { dir })).toBeUndefined();
  });

  it('a waiter gets the lock when the holder releases it, on the file that is there', async () => {
    await holder('c', 300);
    // The waiter opens c.lock now; the holder removes that file as it releases it.
    const l = acquireInstanceLock('c', { dir, waitMs: 10_000 });
    expect(l.path).toBe(join(dir, 'c.lock'));
    expect(existsSync(l.path)).toBe(true);
    expect(() => acquireInstanceLock('c', { dir })).toThrow(InstanceLockedError);
    expect(lockHolder('c', { dir })?.pid).toBe(process.pid);
    l.release();
  });

  it('a release leaves no lock file; a killed holder\'s file is reused', async () => {
    const l = acquireInstanceLock('d', { dir });
    expect(existsSync(l.path)).toBe(true);
    l.release();
    expect(existsSync(join(dir, 'd.lock'))).toBe(false);
    const c = await holder('e', 30_000);
    process.kill(c.pid!, 'SIGKILL');
    await new Promise((r) => c.on('exit', r));
    expect(existsSync(join(dir, 'e.lock'))).toBe(true);
    acquireInstanceLock('e', { dir }).release();
    expect(existsSync(join(dir, 'e.lock'))).toBe(false);
  });

  it('lock names keep only safe characters', () => {
    expect(lockName('ebpf', '/sys/fs/bpf/gingham/default')).toBe('ebpf:sys_fs_bpf_gingham_default');
    expect(() => acquireInstanceLock('../x', { dir })).toThrow(/invalid lock name/);
  });
});
