/**
 * The applier against real iptables (nft and legacy backends) and ipset, each in its own network
 * namespace: idempotent applies, adoption after restart, stale removal, set deltas and swaps, and
 * `clean()` leaving a foreign ruleset exactly as it was.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataplaneMessage, WorkloadEndpointState } from '@gingham/core';
import { createNetnsRunner, type CommandRunner } from '@gingham/host';
import { createIptablesDataplane, type IptablesBackend, type IptablesDataplane } from '../src/index.js';

const missing: string[] = [];
if (process.getuid?.() !== 0) missing.push('root');
for (const t of ['ip', 'ipset', 'iptables-nft-restore', 'iptables-legacy-restore', 'ip6tables-restore']) {
  if (spawnSync('which', [t], { stdio: 'ignore' }).status !== 0) missing.push(t);
}
const run = missing.length === 0 || process.env.CI === 'true';

const wep = (id: string, iface: string, ip: string, policyIds: string[]): WorkloadEndpointState => ({
  id,
  name: id.split('/')[1]!,
  node: 'n1',
  interfaceName: iface,
  addresses: [ip],
  ingressTiers: policyIds.length > 0 ? [{ name: 'default', defaultAction: 'Deny', policyIds }] : [],
  egressTiers: [],
  profileIds: ['kns.a'],
  stagedPolicyIds: [],
});

const base: DataplaneMessage[] = [
  { kind: 'ipset-replace', id: 's:db', type: 'nets', members: ['10.65.0.12/32', 'fd00::12/128'] },
  { kind: 'ipset-replace', id: 'n:http', type: 'net-port-proto', members: ['10.65.0.11/32,tcp:8080'] },
  { kind: 'profile-upsert', profile: { id: 'kns.a', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } },
  {
    kind: 'policy-upsert',
    policy: {
      id: 'knp/a/web',
      tier: 'default',
      staged: false,
      egress: [],
      ingress: [{ action: 'Allow', protocol: 6, source: { ipSetId: 's:db', nets: ['10.65.0.0/24', '10.66.0.0/24'] }, destination: { namedPortIpSetIds: ['n:http'] } }],
    },
  },
  { kind: 'workload-endpoint-upsert', endpoint: wep('a/web', 'cali0123456789a', '10.65.0.11/32', ['knp/a/web']) },
  { kind: 'workload-endpoint-upsert', endpoint: wep('a/db', 'cali0123456789b', '10.65.0.12/32', []) },
  { kind: 'in-sync' },
];

function ns(ns: string, argv: string[], input?: string): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { input: input ?? '', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * iptables-save without comments and counters, for before/after comparisons; tables holding
 * nothing but empty built-in chains are dropped (the nft backend keeps a table once created).
 */
function saved(netns: string, tool: string): string {
  const text = ns(netns, [tool])
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n');
  return text
    .split(/^(?=\*)/m)
    .filter((section) => section.split('\n').some((l) => l.startsWith('-A') || /^:(?!(INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) )/.test(l)))
    .join('');
}

const hep: DataplaneMessage = {
  kind: 'host-endpoint-upsert',
  endpoint: {
    id: 'n1-eth0',
    node: 'n1',
    binding: { kind: 'interface', interfaceName: 'eth0' },
    expectedIPs: ['192.168.99.1'],
    ingressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/host'] }],
    egressTiers: [],
    untrackedIngressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['gnp/untracked'] }],
    untrackedEgressTiers: [],
    preDnatIngressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['gnp/prednat'] }],
    forwardIngressTiers: [],
    forwardEgressTiers: [],
    profileIds: [],
    stagedPolicyIds: [],
    failsafeInbound: [{ protocol: 'tcp', port: 22 }],
    failsafeOutbound: [{ protocol: 'udp', port: 53 }],
  },
};
const hostPolicy = (id: string, action: 'Allow' | 'Deny'): DataplaneMessage => ({
  kind: 'policy-upsert',
  policy: { id, tier: 'default', staged: false, egress: [], ingress: [{ action, protocol: 6, source: {}, destination: { ports: [{ min: 8080, max: 8080 }] } }] },
});
const hostMessages: DataplaneMessage[] = [hostPolicy('gnp/host', 'Allow'), hostPolicy('gnp/untracked', 'Deny'), hostPolicy('gnp/prednat', 'Deny'), hep];

for (const backend of ['nft', 'legacy'] as const satisfies readonly IptablesBackend[]) {
  describe.skipIf(!run)(`iptables applier (${backend})`, () => {
    const netns = `gh-ipt-${randomBytes(3).toString('hex')}-a`;
    const save = `iptables-${backend}-save`;
    const save6 = `ip6tables-${backend}-save`;
    const runner = createNetnsRunner(netns);
    // One dataplane object programs the namespace at a time (the instance lock): each new one
    // closes the previous, as a restarted process would find it.
    let current: IptablesDataplane | undefined;
    const make = async (r: CommandRunner = runner): Promise<IptablesDataplane> => {
      await current?.close();
      current = createIptablesDataplane({ runner: r, backend, families: [4, 6] });
      return current;
    };
    let before = '';
    let before6 = '';
    let beforeSets = '';

    beforeAll(() => {
      if (missing.length > 0) throw new Error(`missing capabilities: ${missing.join(', ')}`);
      spawnSync('ip', ['netns', 'add', netns]);
      // A foreign ruleset that must survive everything, including clean().
      ns(netns, [`iptables-${backend}-restore`, '--noflush'], '*filter\n:foreign - [0:0]\n-A foreign -s 1.2.3.4/32 -j DROP\n-A FORWARD -j foreign\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n');
      ns(netns, ['ipset', 'create', 'foreign-set', 'hash:ip']);
      ns(netns, ['ipset', 'add', 'foreign-set', '1.2.3.4']);
      ns(netns, ['ipset', 'create', 'gh-lookalike', 'hash:ip']);
      before = saved(netns, save);
      before6 = saved(netns, save6);
      beforeSets = ns(netns, ['ipset', 'save']);
    });
    afterAll(async () => {
      try {
        await current?.close();
      } finally {
        spawnSync('ip', ['netns', 'del', netns]);
      }
    });

    it('applies, hooks each built-in chain once, and a repeated apply changes nothing', async () => {
      const dp = await make();
      await dp.apply(base);
      await dp.apply(base);
      expect(dp.stats()).toEqual({ chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setsSwapped: 0, setsVersioned: 0, setMembersChanged: 0, setsDestroyed: 0 });
      const text = saved(netns, save);
      expect(text.match(/^-A (FORWARD|INPUT|OUTPUT) .*gh:hook.*$/gm)?.length).toBe(3);
      expect(text.split('\n')[text.split('\n').findIndex((l) => l.startsWith('-A FORWARD'))]).toContain('-j gh-FORWARD');
      expect(text).toContain(':gh-pi-knp/a/web');
      expect(saved(netns, save6)).toContain(':gh-tw-cali0123456789a');
      const sets = ns(netns, ['ipset', 'list', '-n']).split('\n').filter((x) => x.startsWith('gh'));
      expect(sets.filter((x) => x.startsWith('gh40')).length).toBe(3);
      // v6: the derived set of the two v4 nets is not needed (that rule never matches in v6).
      expect(sets.filter((x) => x.startsWith('gh60')).length).toBe(2);
    });

    it('adopts matching chains and sets after a restart, by rule ids', async () => {
      const dp = await make();
      await dp.apply(base);
      expect(dp.stats()).toMatchObject({ chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setsDestroyed: 0, setMembersChanged: 0 });
    });

    it('updates a label change as an IP set delta only', async () => {
      const dp = await make();
      await dp.apply(base);
      await dp.apply([{ kind: 'ipset-add-members', id: 's:db', members: ['10.65.0.13/32'] }]);
      expect(dp.stats()).toEqual({ chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setsSwapped: 0, setsVersioned: 0, setMembersChanged: 1, setsDestroyed: 0 });
      expect(ns(netns, ['ipset', 'list', 'gh40s:db'])).toContain('10.65.0.13');
      const many = Array.from({ length: 200 }, (_, i) => `10.70.${i >> 8}.${i & 255}/32`);
      await dp.apply([{ kind: 'ipset-replace', id: 's:db', type: 'nets', members: many }]);
      expect(dp.stats()).toMatchObject({ chainsWritten: 0, setsSwapped: 1, setsVersioned: 0 });
      expect(ns(netns, ['ipset', 'list', 'gh40s:db'])).toContain('Number of entries: 200');
      expect(ns(netns, ['ipset', 'list', '-n']).split('\n').some((x) => x.startsWith('gh4t'))).toBe(false);
      await dp.apply([{ kind: 'ipset-replace', id: 's:db', type: 'nets', members: ['10.65.0.12/32'] }]);
    });

    it('sends label changes through one persistent ipset session, falls back to one-shot, and close() stops it by PID', async () => {
      const alive = (pid: number): boolean => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const dp = await make();
      await dp.apply(base);
      const pid = dp.ipsetSessionPid();
      expect(pid).toBeTypeOf('number');
      for (let i = 1; i <= 5; i++) await dp.apply([{ kind: 'ipset-add-members', id: 's:db', members: [`10.66.0.${i}/32`] }]);
      expect(dp.ipsetSessionPid()).toBe(pid);
      expect(dp.stats()).toMatchObject({ chainsWritten: 0, setMembersChanged: 1 }); // the v4 set only
      expect(ns(netns, ['ipset', 'list', 'gh40s:db'])).toContain('10.66.0.5');
      // The session dies: the batch runs one-shot and a new session starts.
      process.kill(pid!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 50));
      await dp.apply([{ kind: 'ipset-remove-members', id: 's:db', members: ['10.66.0.1/32'] }]);
      expect(ns(netns, ['ipset', 'list', 'gh40s:db'])).not.toContain('10.66.0.1\n');
      const pid2 = dp.ipsetSessionPid();
      expect(pid2).toBeTypeOf('number');
      expect(pid2).not.toBe(pid);
      await dp.close();
      expect(dp.ipsetSessionPid()).toBeUndefined();
      expect(alive(pid2!)).toBe(false);
      await expect(dp.apply([])).rejects.toMatchObject({ code: 'IPTABLES_CLOSED' });
    });

    it('reports a line ipset rejects inside the session as a failed batch, and recovers', async () => {
      const dp = await make();
      await dp.apply(base);
      const pid = dp.ipsetSessionPid();
      expect(pid).toBeTypeOf('number');
      // Destroy our set behind the dataplane's back (after flushing the chain that references
      // it): the next delta's line fails inside the session.
      ns(netns, [`iptables-${backend}-restore`, '--noflush'], '*filter\n-F gh-pi-knp/a/web\nCOMMIT\n');
      ns(netns, ['ipset', 'destroy', 'gh40s:db']);
      await expect(dp.apply([{ kind: 'ipset-add-members', id: 's:db', members: ['10.66.1.1/32'] }])).rejects.toThrow(/exit 1\): ipset -exist -.*does not exist/s);
      expect(dp.ipsetSessionPid()).toBe(pid);
      await dp.apply([]);
      expect(ns(netns, ['ipset', 'list', 'gh40s:db'])).toContain('10.66.1.1');
      await dp.close();
    });

    it('removes stale chains and sets left by an earlier run', async () => {
      const dp = await make();
      await dp.apply([
        base[2]!,
        { kind: 'workload-endpoint-upsert', endpoint: wep('a/db', 'cali0123456789b', '10.65.0.12/32', []) },
      ]);
      expect(dp.stats().chainsDeleted).toBeGreaterThanOrEqual(3);
      const text = saved(netns, save);
      expect(text).not.toContain('gh-pi-knp/a/web');
      expect(text).not.toContain('cali0123456789a');
      const sets = ns(netns, ['ipset', 'list', '-n']);
      expect(sets).not.toContain('gh40s:db');
      expect(sets).toContain('gh-lookalike');
    });

    it('renders host endpoints into filter, mangle (pre-DNAT) and raw (untracked) with hooks there', async () => {
      const dp = await make();
      await dp.apply([...base.slice(0, -1), ...hostMessages]);
      const text = saved(netns, save);
      for (const [table, chain] of [
        ['raw', 'PREROUTING'],
        ['raw', 'OUTPUT'],
        ['mangle', 'PREROUTING'],
      ]) {
        const section = text.split(/^(?=\*)/m).find((x) => x.startsWith(`*${table}`)) ?? '';
        expect(section.match(new RegExp(`^-A ${chain} .*gh:hook`, 'gm'))?.length, `${table} ${chain}`).toBe(1);
      }
      expect(text).toMatch(/-A gh-fh-eth0 .*-j NOTRACK/);
      await dp.apply([]);
      expect(dp.stats().chainsWritten).toBe(0);
      const again = await make();
      await again.apply([...base.slice(0, -1), ...hostMessages]);
      await again.apply([{ kind: 'host-endpoint-remove', id: 'n1-eth0' }]);
      const after = saved(netns, save);
      expect(after).not.toContain('*raw');
      expect(after).not.toContain('*mangle');
      expect(after).toContain('-A gh-FORWARD');
    });

    it('binds a host endpoint given only by expected IPs to the interface that carries one', async () => {
      ns(netns, ['ip', 'link', 'add', 'ghdummy0', 'type', 'veth', 'peer', 'name', 'ghdummy1']);
      ns(netns, ['ip', 'addr', 'add', '192.168.99.1/24', 'dev', 'ghdummy0']);
      try {
        const dp = await make();
        const byIp = { ...hep, endpoint: { ...hep.endpoint, id: 'n1-by-ip', binding: { kind: 'expected-ips' } } } as DataplaneMessage;
        await dp.apply([...base.slice(0, -1), ...hostMessages.slice(0, -1), byIp]);
        const text = saved(netns, save);
        expect(text).toMatch(/-A gh-from-host-ep -i ghdummy0 .*-g gh-fh-ghdummy0/);
        expect(text).not.toMatch(/-A gh-from-host-ep -i eth0/);
        await dp.apply([{ kind: 'host-endpoint-remove', id: 'n1-by-ip' }]);
        expect(saved(netns, save)).not.toContain('ghdummy0');
      } finally {
        ns(netns, ['ip', 'link', 'del', 'ghdummy0']);
      }
    });

    it('clean() removes everything of ours and nothing else', async () => {
      const dp = await make();
      await dp.apply([...base, ...hostMessages]);
      await dp.clean();
      expect(saved(netns, save)).toBe(before);
      expect(saved(netns, save6)).toBe(before6);
      expect(ns(netns, ['ipset', 'save'])).toBe(beforeSets);
      await (await make()).clean();
      expect(saved(netns, save)).toBe(before);
    });

    it('leaves the kernel untouched when a restore fails, and recovers on the next apply', async () => {
      const failing = await make({
        ...runner,
        run: (argv, o) => (argv[0]!.includes('restore') && argv[0] !== 'ipset' ? Promise.resolve({ code: 2, stdout: '', stderr: 'injected' }) : runner.run(argv, o)),
      });
      await expect(failing.apply(base)).rejects.toThrow(/injected/);
      expect(saved(netns, save)).not.toContain('gh-FORWARD');
      const dp = await make();
      await dp.apply(base);
      await dp.clean();
      expect(saved(netns, save)).toBe(before);
    });
  });
}
