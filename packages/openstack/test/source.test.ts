// The OpenStack source against the test cloud over real HTTP: the first full list, changes
// through changed_since, deletions at the next full list (and at once when an address is
// reused), outages that deliver nothing and are reported with their staleness, invalid objects
// skipped while their last good version stays, agent mode, and close().
import type { SourceMessage } from '@gingham/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenStackSource, type OpenStackSource, type OpenStackSourceOptions } from '@gingham/openstack';
import { createTestCloud, securityGroup, testUuid, vmPort, type TestCloud } from '@gingham/openstack/testing';

const SSH = testUuid('sg:ssh');
const sshGroup = securityGroup(SSH, 'ssh', [{ direction: 'egress' }, { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SSH }]);
const port = (n: number, host = 'compute-1', ip = `10.0.0.${n}`) => vmPort({ id: testUuid(`port:${n}`), host, ip, securityGroups: [SSH] });

const open: { cloud?: TestCloud; source?: OpenStackSource }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.source?.close();
    await o.cloud?.close();
  }
});

async function setup(over: Partial<OpenStackSourceOptions> = {}, cloudOptions: Parameters<typeof createTestCloud>[0] = {}) {
  const cloud = await createTestCloud(cloudOptions);
  cloud.put('securityGroups', sshGroup);
  cloud.put('ports', port(1));
  cloud.put('ports', port(2));
  const batches: SourceMessage[][] = [];
  const source = createOpenStackSource({
    keystone: { authUrl: cloud.authUrl, credentials: { kind: 'password', username: 'admin', password: 'secret', projectName: 'admin' } },
    autoPoll: false,
    ...over,
  });
  open.push({ cloud, source });
  await source.start((ms) => batches.push([...ms]));
  return { cloud, source, batches };
}

const RANK: Record<SourceMessage['kind'], number> = { 'resync-started': 0, upsert: 1, delete: 2, 'in-sync': 3 };
/** A batch as lines: markers where they belong, upserts then deletes, each sorted (Neutron lists in id order). */
const describeBatch = (ms: readonly SourceMessage[]): string[] =>
  [...ms]
    .map((m) => ({ rank: RANK[m.kind], text: m.kind === 'upsert' ? `upsert ${m.resource.kind} ${m.resource.metadata.name}` : m.kind === 'delete' ? `delete ${m.key.kind} ${m.key.name}` : m.kind }))
    .sort((a, b) => a.rank - b.rank || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
    .map((x) => x.text);
const batch = (...lines: string[]): string[] => [...lines].sort((a, b) => rankOf(a) - rankOf(b) || (a < b ? -1 : a > b ? 1 : 0));
const rankOf = (line: string): number => RANK[line.split(' ')[0] as SourceMessage['kind']];
const wep = (n: number, host = 'compute-1') => `${host.replaceAll('-', '--')}-openstack-${testUuid(`vm:${testUuid(`port:${n}`)}`).replaceAll('-', '--')}-${testUuid(`port:${n}`).replaceAll('-', '--')}`;

describe('OpenStack source', () => {
  it('delivers the first full list as one batch between resync-started and in-sync', async () => {
    const { source, batches } = await setup();
    expect(source.status().phase).toBe('waiting');
    expect(await source.pollNow()).toBe(true);
    expect(batches.map(describeBatch)).toEqual([batch('resync-started', `upsert NetworkPolicy ossg.default.${SSH}`, `upsert WorkloadEndpoint ${wep(1)}`, `upsert WorkloadEndpoint ${wep(2)}`, 'in-sync')]);
    const st = source.status();
    expect(st).toMatchObject({ phase: 'in-sync', connected: true, resources: 3, problems: [] });
    expect(st.stalenessMs).toBeLessThan(1000);
    expect(st.counters).toMatchObject({ fullSyncs: 1, authentications: 1 });
  });

  it('then delivers only what changed, asking Neutron with changed_since', async () => {
    const { cloud, source, batches } = await setup();
    await source.pollNow();
    await source.pollNow();
    expect(batches).toHaveLength(1); // nothing changed: nothing delivered
    cloud.put('ports', port(3));
    cloud.put('securityGroups', { ...sshGroup, security_group_rules: [...sshGroup.security_group_rules!, { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' }] });
    await source.pollNow();
    expect(describeBatch(batches[1]!)).toEqual(batch(`upsert NetworkPolicy ossg.default.${SSH}`, `upsert WorkloadEndpoint ${wep(3)}`));
    const polls = cloud.requests.filter((r) => r.path === '/network/v2.0/ports');
    expect(polls.at(-1)!.query).toMatch(/changed_since=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ/);
    expect(source.status().counters).toMatchObject({ fullSyncs: 1, incrementalPolls: 2 });
  });

  it('relabels endpoints when a group is renamed, and moves an endpoint when its port moves host', async () => {
    const { cloud, source, batches } = await setup();
    await source.pollNow();
    cloud.put('securityGroups', { ...sshGroup, name: 'admins' });
    cloud.put('ports', port(2, 'compute-7'));
    await source.pollNow();
    const b = batches[1]!;
    expect(describeBatch(b)).toEqual(batch(`upsert WorkloadEndpoint ${wep(1)}`, `upsert WorkloadEndpoint ${wep(2, 'compute-7')}`, `delete WorkloadEndpoint ${wep(2)}`));
    const upsert = b.find((m) => m.kind === 'upsert' && m.resource.metadata.name === wep(1)) as Extract<SourceMessage, { kind: 'upsert' }>;
    expect(upsert.resource.metadata.labels).toMatchObject({ [`sg.projectcalico.org/openstack-${SSH}`]: 'admins', 'sg-name.projectcalico.org/openstack-admins': SSH });
  });

  it('learns of a deletion at the next full list, which delivers only the delete', async () => {
    const { cloud, source, batches } = await setup();
    await source.pollNow();
    cloud.remove('ports', testUuid('port:2'));
    await source.pollNow();
    expect(batches).toHaveLength(1); // Neutron does not list what it deleted
    await source.pollNow({ full: true });
    expect(describeBatch(batches[1]!)).toEqual(batch('resync-started', `delete WorkloadEndpoint ${wep(2)}`, 'in-sync'));
  });

  it('drops a deleted port at once when a new port takes its address', async () => {
    const { cloud, source, batches } = await setup();
    await source.pollNow();
    cloud.remove('ports', testUuid('port:2'));
    cloud.put('ports', port(9, 'compute-2', '10.0.0.2'));
    await source.pollNow();
    expect(describeBatch(batches[1]!)).toEqual(batch(`upsert WorkloadEndpoint ${wep(9, 'compute-2')}`, `delete WorkloadEndpoint ${wep(2)}`));
    expect(source.status().counters).toMatchObject({ staleAddressChecks: 1 });
  });

  it('delivers nothing from a failed poll, says how stale it is, and lists everything once Neutron is back', async () => {
    let t = Date.parse('2030-06-01T00:00:00Z');
    const { cloud, source, batches } = await setup({ now: () => t }, { now: () => t });
    await source.pollNow();
    cloud.put('ports', port(3));
    cloud.inject({ path: '/network/v2.0/ports', status: 500 });
    t += 7000;
    expect(await source.pollNow()).toBe(false);
    expect(batches).toHaveLength(1);
    const st = source.status();
    expect(st).toMatchObject({ phase: 'waiting', connected: false, stalenessMs: 7000, resources: 3 });
    expect(st.lastError).toMatchObject({ code: 'OPENSTACK_HTTP' });
    expect(st.lastError!.message).toMatch(/HTTP 500/);
    cloud.remove('ports', testUuid('port:1'));
    t += 1000;
    expect(await source.pollNow()).toBe(true);
    expect(describeBatch(batches[1]!)).toEqual(batch('resync-started', `upsert WorkloadEndpoint ${wep(3)}`, `delete WorkloadEndpoint ${wep(1)}`, 'in-sync'));
    expect(source.status()).toMatchObject({ phase: 'in-sync', connected: true, stalenessMs: 0 });
  });

  it('authenticates again when the token is revoked, and reports refused credentials as failed', async () => {
    const { cloud, source } = await setup();
    await source.pollNow();
    cloud.expireTokens();
    expect(await source.pollNow()).toBe(true);
    expect(source.status().counters).toMatchObject({ authentications: 2 });

    const bad = createOpenStackSource({ keystone: { authUrl: cloud.authUrl, credentials: { kind: 'password', username: 'admin', password: 'wrong', projectName: 'admin' } }, autoPoll: false });
    open.push({ source: bad });
    await bad.start(() => undefined);
    expect(await bad.pollNow()).toBe(false);
    expect(bad.status()).toMatchObject({ phase: 'failed', lastError: { code: 'OPENSTACK_AUTH_FAILED' } });
  });

  it('skips an invalid endpoint with a problem, and keeps its last good version in force', async () => {
    const { cloud, source, batches } = await setup();
    cloud.put('ports', { ...port(5), mac_address: 'not-a-mac' });
    await source.pollNow();
    expect(describeBatch(batches[0]!)).not.toContain(`upsert WorkloadEndpoint ${wep(5)}`);
    expect(source.status().problems).toEqual([
      expect.objectContaining({ where: `port ${testUuid('port:5')}`, message: expect.stringMatching(/spec\.mac: invalid MAC address "not-a-mac"/) }),
    ]);
    cloud.put('ports', port(5));
    await source.pollNow();
    expect(describeBatch(batches[1]!)).toEqual(batch(`upsert WorkloadEndpoint ${wep(5)}`));
    expect(source.status().problems).toEqual([]);
    cloud.put('ports', { ...port(5, 'compute-1', '10.0.0.55'), mac_address: 'still-not-a-mac' });
    await source.pollNow({ full: true });
    expect(describeBatch(batches[2]!)).toEqual(batch('resync-started', 'in-sync')); // 10.0.0.5 stays in force
    expect(source.status().resources).toBe(4);
  });

  it('in agent mode, lists this host in full and the rest with the fields membership needs', async () => {
    const { cloud, source, batches } = await setup({ host: 'compute-1' });
    cloud.put('qosPolicies', { id: 'q', rules: [{ type: 'bandwidth_limit', direction: 'egress', max_kbps: 1000, max_burst_kbps: 0 }] });
    cloud.put('ports', { ...port(1), qos_policy_id: 'q' });
    cloud.put('ports', { ...port(3, 'compute-2'), qos_policy_id: 'q' });
    await source.pollNow();
    const ports = cloud.requests.filter((r) => r.path === '/network/v2.0/ports').map((r) => decodeURIComponent(r.query));
    expect(ports).toEqual([expect.stringContaining('binding:host_id=compute-1'), expect.stringContaining('fields=id&fields=device_id')]);
    const weps = new Map(batches[0]!.flatMap((m) => (m.kind === 'upsert' && m.resource.kind === 'WorkloadEndpoint' ? [[m.resource.metadata.name, m.resource] as const] : [])));
    expect(weps.size).toBe(3);
    expect((weps.get(wep(1))!.spec as { qosControls?: unknown }).qosControls).toEqual({ egressBandwidth: 1_000_000, egressBurst: 4294967296 });
    expect((weps.get(wep(3, 'compute-2'))!.spec as { qosControls?: unknown }).qosControls).toBeUndefined();
    // A port that moves away is seen to move (the slim listing's newer revision wins).
    cloud.put('ports', port(2, 'compute-3'));
    await source.pollNow();
    expect(describeBatch(batches[1]!)).toEqual(batch(`upsert WorkloadEndpoint ${wep(2, 'compute-3')}`, `delete WorkloadEndpoint ${wep(2)}`));
  });

  it('carries on without project names when Keystone refuses to list projects', async () => {
    const { source, batches } = await setup({}, { projectsForbidden: true });
    expect(await source.pollNow()).toBe(true);
    const wep1 = batches[0]!.find((m) => m.kind === 'upsert' && m.resource.kind === 'WorkloadEndpoint') as Extract<SourceMessage, { kind: 'upsert' }>;
    expect(Object.keys(wep1.resource.metadata.labels ?? {})).not.toContain('projectcalico.org/openstack-project-name');
    expect(source.status()).toMatchObject({ phase: 'in-sync', lastError: { code: 'OPENSTACK_HTTP' }, counters: { projectListErrors: 1 } });
  });

  it('polls on its own, backs off while Neutron fails, and delivers nothing after close()', async () => {
    const { cloud, source, batches } = await setup({ autoPoll: true, pollIntervalMs: 20, retry: { initialMs: 20, maxMs: 40 } });
    for (let i = 0; i < 100 && batches.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(batches).toHaveLength(1);
    cloud.inject(...Array.from({ length: 3 }, () => ({ path: '/network', status: 502 })));
    cloud.put('ports', port(4));
    for (let i = 0; i < 200 && batches.length === 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(describeBatch(batches[1]!)).toEqual(batch('resync-started', `upsert WorkloadEndpoint ${wep(4)}`, 'in-sync'));
    expect(source.status().counters.pollErrors).toBeGreaterThanOrEqual(1);
    cloud.inject({ path: '/network', delayMs: 300 });
    cloud.put('ports', port(6));
    await new Promise((r) => setTimeout(r, 50));
    await source.close();
    const after = batches.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(batches.length).toBe(after);
    expect(source.status().phase).toBe('stopped');
    await expect(source.start(() => undefined)).rejects.toMatchObject({ code: 'SOURCE_ALREADY_STARTED' });
  });

  it('refuses a region that cannot name a namespace', () => {
    expect(() => createOpenStackSource({ keystone: { authUrl: 'http://x', credentials: { kind: 'password', username: 'a', password: 'b' } }, region: 'Region One' })).toThrow(/invalid region "Region One"/);
  });
});
