/**
 * The namespace runner against a real network namespace: commands run inside it, and a program
 * missing there is a ToolMissingError (from `ip netns exec`'s own message), not a result.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsRunner, runChecked, ToolMissingError } from '../src/index.js';

const run = process.getuid?.() === 0 || process.env.CI === 'true';

describe.skipIf(!run)('network namespace runner', () => {
  const ns = `gh-host-${randomBytes(3).toString('hex')}`;
  beforeAll(() => {
    expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
  });

  it('runs commands inside the namespace', async () => {
    const r = await runChecked(createNetnsRunner(ns), ['ip', '-j', 'link', 'show']);
    const links = (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname);
    expect(links).toEqual(['lo']);
  });

  it('a program missing inside the namespace is a ToolMissingError', async () => {
    await expect(createNetnsRunner(ns).run(['no-such-tool-xyz'])).rejects.toBeInstanceOf(ToolMissingError);
  });

  it('refuses a namespace name that is not one', () => {
    expect(() => createNetnsRunner('a b;c')).toThrow(/invalid network namespace name/);
  });
});
