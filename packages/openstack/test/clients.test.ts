// Keystone and Neutron clients against the test cloud over real HTTP: authentication (password,
// application credential), the catalog, token renewal, pagination, filters, fields,
// changed_since, and each failure as its typed error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeystoneSession, createNeutronClient, keystoneV3Url, type NeutronPort } from '@gingham/openstack';
import { createTestCloud, testUuid, vmPort, type TestCloud } from '@gingham/openstack/testing';

let cloud: TestCloud;
beforeAll(async () => {
  cloud = await createTestCloud({ applicationCredentials: [{ id: 'ac-1', name: 'agent', secret: 's3cret' }], region: 'RegionTwo' });
  for (let i = 0; i < 25; i++) cloud.put('ports', vmPort({ id: testUuid(`p:${i}`), host: `compute-${i % 3}`, ip: `10.0.0.${i + 10}`, securityGroups: [] }));
  cloud.putProject({ id: 'p1', name: 'one', parent_id: 'default', domain_id: 'default' });
});
afterAll(() => cloud?.close());

const password = () => ({ kind: 'password' as const, username: 'admin', password: 'secret', projectName: 'admin' });

describe('Keystone session', () => {
  it('authenticates with a password, finds the network endpoint in the catalog and reuses the token', async () => {
    const s = createKeystoneSession({ authUrl: cloud.authUrl, credentials: password() });
    const before = cloud.authentications;
    expect(await s.endpoint('network')).toBe(cloud.neutronUrl);
    const t = await s.token();
    expect(await s.token()).toBe(t);
    expect(cloud.authentications - before).toBe(1);
    expect(await s.listProjects()).toEqual([{ id: 'p1', name: 'one', parent_id: 'default', domain_id: 'default' }]);
  });

  it('authenticates with an application credential, by id or by name and user', async () => {
    await expect(createKeystoneSession({ authUrl: cloud.authUrl, credentials: { kind: 'application-credential', id: 'ac-1', secret: 's3cret' } }).token()).resolves.toMatch(/^[0-9a-f]{32}$/);
    await expect(createKeystoneSession({ authUrl: cloud.authUrl, credentials: { kind: 'application-credential', name: 'agent', username: 'admin', secret: 's3cret' } }).token()).resolves.toBeTruthy();
  });

  it('renews the token before it expires', async () => {
    let t = Date.now();
    const short = await createTestCloud({ tokenTtlMs: 120_000, now: () => t });
    try {
      const s = createKeystoneSession({ authUrl: short.authUrl, credentials: password(), now: () => t, renewBeforeMs: 60_000 });
      const first = await s.token();
      t += 30_000;
      expect(await s.token()).toBe(first);
      t += 31_000; // 59 s left: renew
      expect(await s.token()).not.toBe(first);
      expect(s.authentications).toBe(2);
    } finally {
      await short.close();
    }
  });

  it('fails with OPENSTACK_AUTH_FAILED on wrong credentials, without the secret in the message', async () => {
    const s = createKeystoneSession({ authUrl: cloud.authUrl, credentials: { ...password(), password: 'hunter2' } });
    const err = (await s.token().then(() => undefined, (e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('OPENSTACK_AUTH_FAILED');
    expect(err.message).toMatch(/POST .*\/v3\/auth\/tokens: HTTP 401/);
    expect(err.message).not.toMatch(/hunter2/);
  });

  it('fails with OPENSTACK_NO_ENDPOINT when the catalog has no network endpoint in the region', async () => {
    const s = createKeystoneSession({ authUrl: cloud.authUrl, credentials: password(), regionName: 'RegionOne' });
    await expect(s.endpoint('network')).rejects.toMatchObject({ code: 'OPENSTACK_NO_ENDPOINT' });
    expect(await createKeystoneSession({ authUrl: cloud.authUrl, credentials: password(), regionName: 'RegionTwo', interface: 'internal' }).endpoint('network')).toBe(cloud.neutronUrl);
  });

  it('normalises the auth URL as networking-calico does', () => {
    expect(keystoneV3Url('http://k:5000')).toBe('http://k:5000/v3');
    expect(keystoneV3Url('http://k:5000/v3/')).toBe('http://k:5000/v3');
    expect(keystoneV3Url('https://k/identity/v3')).toBe('https://k/identity/v3');
  });
});

describe('Neutron client', () => {
  const client = (pageSize = 1000) => createNeutronClient({ session: createKeystoneSession({ authUrl: cloud.authUrl, credentials: password() }), pageSize, timeoutMs: 2000 });

  it('follows the pages to the end', async () => {
    const c = client(4);
    const { items, serverTime } = await c.list<NeutronPort>('ports');
    expect(items).toHaveLength(25);
    expect(new Set(items.map((p) => p.id)).size).toBe(25);
    expect(c.requests).toBe(7);
    expect(Math.abs(serverTime! - Date.now())).toBeLessThan(5000);
  });

  it('filters by attribute and by several ids, and fetches only the fields asked for', async () => {
    const c = client();
    expect((await c.list<NeutronPort>('ports', { filters: { 'binding:host_id': 'compute-1' } })).items).toHaveLength(8);
    const two = await c.list<NeutronPort>('ports', { filters: { id: [testUuid('p:1'), testUuid('p:2')] }, fields: ['id', 'fixed_ips'] });
    expect(two.items).toEqual([
      { id: testUuid('p:1'), fixed_ips: [{ subnet_id: testUuid('subnet:0'), ip_address: '10.0.0.11' }] },
      { id: testUuid('p:2'), fixed_ips: [{ subnet_id: testUuid('subnet:0'), ip_address: '10.0.0.12' }] },
    ].sort((a, b) => (a.id < b.id ? -1 : 1)));
  });

  it('lists only what changed since a second, as changed_since does', async () => {
    let t = Date.parse('2030-01-01T00:00:00Z');
    const c2 = await createTestCloud({ now: () => t });
    try {
      c2.put('ports', vmPort({ id: 'old', host: 'h', ip: '10.0.0.1', securityGroups: [] }));
      t += 10_000;
      c2.put('ports', vmPort({ id: 'new', host: 'h', ip: '10.0.0.2', securityGroups: [] }));
      const c = createNeutronClient({ session: createKeystoneSession({ authUrl: c2.authUrl, credentials: password(), now: () => t }) });
      expect((await c.list<NeutronPort>('ports', { changedSince: '2030-01-01T00:00:10Z' })).items.map((p) => p.id)).toEqual(['new']);
      expect((await c.list<NeutronPort>('ports', { changedSince: '2030-01-01T00:00:00Z' })).items.map((p) => p.id).sort()).toEqual(['new', 'old']);
      expect(c2.requests.at(-1)!.query).toContain('changed_since=2030-01-01T00%3A00%3A00Z');
    } finally {
      await c2.close();
    }
  });

  it('authenticates again once after a 401, then goes on', async () => {
    const c = client();
    await c.list('ports');
    cloud.expireTokens();
    const before = cloud.authentications;
    expect((await c.list('ports')).items).toHaveLength(25);
    expect(cloud.authentications - before).toBe(1);
  });

  it('turns each failure into its typed error', async () => {
    const c = client();
    await c.list('ports');
    cloud.inject({ path: '/network', status: 503 });
    await expect(c.list('ports')).rejects.toMatchObject({ code: 'OPENSTACK_HTTP', status: 503 });
    cloud.inject({ path: '/network', drop: true });
    await expect(c.list('ports')).rejects.toMatchObject({ code: 'OPENSTACK_UNREACHABLE' });
    cloud.inject({ path: '/network', delayMs: 2500 });
    await expect(c.list('ports')).rejects.toThrow(/no answer within 2000 ms/);
    const gone = createNeutronClient({ session: createKeystoneSession({ authUrl: cloud.authUrl, credentials: password() }), endpoint: 'http://127.0.0.1:9' });
    await expect(gone.list('ports')).rejects.toMatchObject({ code: 'OPENSTACK_UNREACHABLE' });
  });
});
