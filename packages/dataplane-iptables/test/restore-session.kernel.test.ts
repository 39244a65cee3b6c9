/**
 * The persistent `iptables-restore --noflush -v` session (restore-session.ts) against the real
 * tools, nft and legacy backends, each in a network namespace this file creates and removes:
 * a transaction is reported committed only when it is in the kernel, a failing one ends the
 * session with nothing of it written, a write by someone else between two transactions is seen,
 * and the dataplane's label changes go through the session, give the same tables as one-shot
 * children, and fall back to one-shot when the session's child is killed.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { DataplaneMessage, WorkloadEndpointState } from '@gingham/core';
import { createNetnsRunner } from '@gingham/host';
import { openRestoreSession } from '../src/apply/restore-session.js';
import { createIptablesDataplane, type IptablesBackend } from '../src/index.js';

const missing: string[] = [];
if (process.getuid?.() !== 0) missing.push('root');
for (const t of ['ip', 'ipset', 'iptables-nft-restore', 'iptables-legacy-restore']) {
  if (spawnSync('which', [t], { stdio: 'ignore' }).status !== 0) missing.push(t);
}
const run = missing.length === 0 || process.env.CI === 'true';

function ns(netns: string, argv: string[], input?: string): string {
  const r = spawnSync('ip', ['netns', 'exec', netns, ...argv], { input: input ?? '', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The filter table's rules and chains, without comments and counters. */
const filter = (netns: string, backend: IptablesBackend): string =>
  ns(netns, [`iptables-${backend}-save`, '-t', 'filter'])
    .split('\n')
    .filter((l) => l.startsWith('-A') || l.startsWith(':'))
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const wep = (i: number, policyIds: string[]): WorkloadEndpointState => ({
  id: `a/w${i}`,
  name: `w${i}`,
  node: 'n1',
  interfaceName: `cali0000000000${i}`,
  addresses: [`10.65.0.${10 + i}/32`],
  ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds }],
  egressTiers: [],
  profileIds: ['kns.a'],
  stagedPolicyIds: [],
});
const policy = (n: number): DataplaneMessage => ({
  kind: 'policy-upsert',
  policy: { id: `gnp/p${n}`, tier: 'default', staged: false, egress: [], ingress: [{ action: 'Allow', protocol: 6, source: { ipSetId: `s:app${n}` }, destination: { ports: [{ min: 8000 + n, max: 8000 + n }] } }] },
});
const state: DataplaneMessage[] = [
  { kind: 'ipset-replace', id: 's:app0', type: 'nets', members: ['10.65.0.10/32'] },
  { kind: 'ipset-replace', id: 's:app1', type: 'nets', members: ['10.65.0.11/32', '10.65.0.12/32'] },
  { kind: 'profile-upsert', profile: { id: 'kns.a', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } },
  policy(0),
  policy(1),
  { kind: 'workload-endpoint-upsert', endpoint: wep(0, ['gnp/p0']) },
  { kind: 'workload-endpoint-upsert', endpoint: wep(1, ['gnp/p1']) },
  { kind: 'workload-endpoint-upsert', endpoint: wep(2, ['gnp/p1']) },
  { kind: 'in-sync' },
];
/** Endpoint 2 moves from app 1 to app 0 (its chain jumps to the other policy), and back. */
const move = (to: 0 | 1): DataplaneMessage[] => [
  { kind: 'workload-endpoint-upsert', endpoint: wep(2, [`gnp/p${to}`]) },
  { kind: 'ipset-remove-members', id: `s:app${1 - to}`, members: ['10.65.0.12/32'] },
  { kind: 'ipset-add-members', id: `s:app${to}`, members: ['10.65.0.12/32'] },
];

describe.skipIf(!run)('persistent iptables-restore session (real tools)', () => {
  const made: string[] = [];
  const fresh = (): string => {
    const name = `gh-rs-${randomBytes(3).toString('hex')}`;
    const r = spawnSync('ip', ['netns', 'add', name]);
    if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    made.push(name);
    return name;
  };
  afterAll(() => {
    for (const n of made) spawnSync('ip', ['netns', 'del', n]);
  });

  for (const backend of ['nft', 'legacy'] as const) {
    it(`${backend}: commits each transaction before it answers; a failing one ends the session with nothing written`, async () => {
      const n = fresh();
      const s = (await openRestoreSession(createNetnsRunner(n), `iptables-${backend}-restore`))!;
      try {
        expect(s).toBeDefined();
        expect(await s.run(['*filter', ':gh-a - [0:0]', '-A gh-a -j ACCEPT', 'COMMIT'])).toBe(true);
        expect(filter(n, backend)).toContain('-A gh-a -j ACCEPT');
        // Someone else writes between two transactions: the session's next one sees it.
        ns(n, [`iptables-${backend}`, '-N', 'gh-b']);
        ns(n, [`iptables-${backend}`, '-A', 'gh-a', '-j', 'REJECT']);
        expect(await s.run(['*filter', ':gh-a - [0:0]', ':gh-b - [0:0]', '-F gh-a', '-F gh-b', '-A gh-a -j DROP', '-X gh-b', 'COMMIT'])).toBe(true);
        const after = filter(n, backend);
        expect(after).toContain('-A gh-a -j DROP');
        expect(after).not.toContain('REJECT');
        expect(after).not.toContain(':gh-b');
        // A transaction the kernel refuses (a set that does not exist): no answer, the child exits, nothing of it is in force.
        expect(await s.run(['*filter', ':gh-c - [0:0]', '-F gh-a', '-A gh-c -j ACCEPT', '-A gh-a -m set --match-set gh-nosuchset src -j ACCEPT', 'COMMIT'])).toBeUndefined();
        expect(s.alive()).toBe(false);
        expect(filter(n, backend)).toBe(after);
        expect(await s.run(['*filter', '-A gh-a -j ACCEPT', 'COMMIT'])).toBeUndefined();
      } finally {
        await s.close();
      }
      expect(alive(s.pid)).toBe(false);
    });
  }

  it('refuses transactions that are not safe to run twice (hook edits)', async () => {
    const n = fresh();
    const s = (await openRestoreSession(createNetnsRunner(n), 'iptables-nft-restore'))!;
    try {
      await expect(s.run(['*filter', '-I FORWARD 1 -j gh-FORWARD', 'COMMIT'])).rejects.toThrow(/restore session/);
    } finally {
      await s.close();
    }
  });

  for (const backend of ['nft', 'legacy'] as const) {
    it(`${backend}: label changes go through the session, equal one-shot children, and fall back when its child is killed`, async () => {
      const a = fresh();
      const b = fresh();
      const lock = { dir: `/tmp/gh-rs-locks-${randomBytes(3).toString('hex')}` };
      const session = createIptablesDataplane({ runner: createNetnsRunner(a), backend, lock, ipsetSession: false, restoreSession: true });
      // restoreSession follows ipsetSession unless given (gingham enforce turns both off).
      const oneShot = createIptablesDataplane({ runner: createNetnsRunner(b), backend, lock, ipsetSession: false });
      let pid: number | undefined;
      try {
        for (const dp of [session, oneShot]) await dp.apply(state);
        pid = session.restoreSessionPid(4);
        expect(pid).toBeGreaterThan(1);
        expect(oneShot.restoreSessionPid(4)).toBeUndefined();
        for (const to of [0, 1, 0] as const) {
          for (const dp of [session, oneShot]) await dp.apply(move(to));
          expect(session.stats().chainsWritten).toBeGreaterThan(0);
          expect(session.restoreSessionPid(4)).toBe(pid);
          expect(filter(a, backend)).toBe(filter(b, backend));
        }
        // The session's child dies between applies: the next transaction runs one-shot.
        if (!Number.isInteger(pid) || pid! <= 1) throw new Error(`refusing to kill pid ${pid}`);
        process.kill(pid!, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 100));
        for (const dp of [session, oneShot]) await dp.apply(move(1));
        expect(filter(a, backend)).toBe(filter(b, backend));
        expect(filter(a, backend)).toContain('gh-pi-gnp/p1');
        await session.clean();
        await oneShot.clean();
      } finally {
        await session.close();
        await oneShot.close();
        spawnSync('rm', ['-rf', lock.dir]);
      }
      expect(alive(pid!)).toBe(false);
    });
  }
});
