/**
 * The etcd datastore against a real etcd: Calico's key layout and value shape, resourceVersion
 * = mod_revision, libcalico-go's compare-and-swap (create only if absent, update/delete only at
 * the stored revision), the write rules (tiers, ClusterInformation, knp.), `init`, paged lists,
 * and reading values Calico's own tools wrote.
 */
import { buildSnapshot, evaluate, type Resource } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { createEtcdDatastore, resolveEtcdConfig, type EtcdDatastore } from '../src/index.js';
import { CALICO_TOOLS, IGNORED, INVALID, NETWORKING_CALICO, SG_ID } from './fixtures/calico-etcd.js';
import { HAVE_ETCD, useEtcd } from './support/etcd.js';

const gnp = (name: string, spec: Record<string, unknown> = {}): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec: { selector: 'all()', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }], ...spec },
});

const np = (ns: string, name: string, spec: Record<string, unknown> = {}): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec: { selector: "app == 'web'", ingress: [{ action: 'Allow' }], ...spec },
});

describe.skipIf(!HAVE_ETCD)('etcd datastore (real etcd)', () => {
  const etcd = useEtcd();
  const open = async (pageSize?: number): Promise<EtcdDatastore> =>
    createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: etcd.server.endpoint } }), ...(pageSize ? { pageSize } : {}) });
  const rawGet = async (key: string) => {
    const res = await etcd.raw.kv.range({ key: Buffer.from(key) });
    const kv = res.kvs[0];
    return kv ? { value: JSON.parse(kv.value.toString()) as Record<string, any>, modRevision: kv.mod_revision, version: kv.version } : undefined;
  };
  const wipe = () => etcd.raw.delete().prefix('/calico/').exec();

  it('writes Calico keys and values: no resourceVersion, uid and creationTimestamp added, the policy name annotation', async () => {
    await wipe();
    await using ds = await open();
    const created = await ds.create(np('shop', 'web'));
    const stored = await rawGet('/calico/resources/v3/projectcalico.org/networkpolicies/shop/web');
    expect(stored).toBeDefined();
    expect(created.metadata.resourceVersion).toBe(stored!.modRevision);
    expect(Object.keys(stored!.value)).toEqual(['kind', 'apiVersion', 'metadata', 'spec']);
    expect(stored!.value.metadata.resourceVersion).toBeUndefined();
    expect(stored!.value.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(stored!.value.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(stored!.value.metadata.annotations).toEqual({ 'projectcalico.org/metadata': '{"name":"web"}' });
    // Reading strips the annotation again and reports the mod_revision.
    const got = await ds.get({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', namespace: 'shop', name: 'web' });
    expect(got?.metadata.annotations).toBeUndefined();
    expect(got?.metadata.resourceVersion).toBe(stored!.modRevision);
    // Cluster-scoped kinds have no namespace segment.
    await ds.create(gnp('allow-web'));
    expect(await rawGet('/calico/resources/v3/projectcalico.org/globalnetworkpolicies/allow-web')).toBeDefined();
  });

  it('create succeeds only if the key is absent', async () => {
    await wipe();
    await using ds = await open();
    await ds.create(gnp('one'));
    await expect(ds.create(gnp('one', { order: 5 }))).rejects.toMatchObject({ code: 'DS_ALREADY_EXISTS' });
    expect((await rawGet('/calico/resources/v3/projectcalico.org/globalnetworkpolicies/one'))!.value.spec.order).toBeUndefined();
  });

  it('update and delete only at the stored mod_revision (compare-and-swap)', async () => {
    await wipe();
    await using ds = await open();
    const v1 = await ds.create(gnp('cas'));
    const v2 = await ds.update({ ...gnp('cas', { order: 10 }), metadata: { name: 'cas', resourceVersion: v1.metadata.resourceVersion } } as Resource);
    expect(Number(v2.metadata.resourceVersion)).toBeGreaterThan(Number(v1.metadata.resourceVersion));
    expect(v2.metadata.uid).toBe(v1.metadata.uid);
    expect(v2.metadata.creationTimestamp).toBe(v1.metadata.creationTimestamp);
    // A stale resourceVersion is refused and changes nothing.
    await expect(ds.update({ ...gnp('cas', { order: 99 }), metadata: { name: 'cas', resourceVersion: v1.metadata.resourceVersion } } as Resource)).rejects.toMatchObject({ code: 'DS_CONFLICT' });
    await expect(ds.delete({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'cas' }, { resourceVersion: v1.metadata.resourceVersion! })).rejects.toMatchObject({ code: 'DS_CONFLICT' });
    expect((await rawGet('/calico/resources/v3/projectcalico.org/globalnetworkpolicies/cas'))!.value.spec.order).toBe(10);
    // Without a resourceVersion, update is a CAS on the version it just read.
    const v3 = await ds.update(gnp('cas', { order: 20 }));
    expect(v3.spec).toMatchObject({ order: 20 });
    await expect(ds.update(gnp('absent'))).rejects.toMatchObject({ code: 'DS_NOT_FOUND' });
    const deleted = await ds.delete({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'cas' }, { resourceVersion: v3.metadata.resourceVersion! });
    expect(deleted.spec).toMatchObject({ order: 20 });
    expect(await rawGet('/calico/resources/v3/projectcalico.org/globalnetworkpolicies/cas')).toBeUndefined();
    await expect(ds.delete({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'cas' })).rejects.toMatchObject({ code: 'DS_NOT_FOUND' });
  });

  it('validates before any write and refuses what libcalico-go refuses', async () => {
    await wipe();
    await using ds = await open();
    await expect(ds.create(gnp('bad', { selector: 'app ==' }))).rejects.toMatchObject({ code: 'DS_INVALID' });
    await expect(ds.create(np('shop', 'in-missing-tier', { tier: 'security' }))).rejects.toMatchObject({ code: 'DS_REFUSED', message: expect.stringContaining('tier "security" does not exist') });
    await expect(ds.create(np('shop', 'knp.default.web'))).rejects.toMatchObject({ code: 'DS_NOT_SUPPORTED' });
    await expect(ds.create({ apiVersion: 'projectcalico.org/v3', kind: 'ClusterInformation', metadata: { name: 'default' }, spec: {} })).rejects.toMatchObject({ code: 'DS_NOT_SUPPORTED' });
    await expect(ds.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'x' }, spec: {} })).rejects.toMatchObject({ code: 'DS_NOT_SUPPORTED', message: expect.stringContaining('WorkloadEndpoint') });
    expect((await etcd.raw.getAll().prefix('/calico/').keys()).length).toBe(0);
    // Built-in tiers need no Tier resource; a declared tier can be used, and deleted only when empty.
    await ds.create(np('shop', 'in-kube-admin', { tier: 'kube-admin' }));
    await ds.create({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100 } });
    await ds.create(gnp('security.block', { tier: 'security' }));
    const tierKey = { apiVersion: 'projectcalico.org/v3', kind: 'Tier', name: 'security' };
    await expect(ds.delete(tierKey)).rejects.toMatchObject({ code: 'DS_REFUSED', message: expect.stringContaining('GlobalNetworkPolicy security.block') });
    await ds.delete({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'security.block' });
    await ds.delete(tierKey);
    await expect(ds.delete({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', name: 'default' })).rejects.toMatchObject({ code: 'DS_REFUSED' });
  });

  it('init creates ClusterInformation and the default tiers as EnsureInitialized does, and is idempotent', async () => {
    await wipe();
    await using ds = await open();
    expect(await ds.init({ clusterType: 'gingham' })).toEqual([
      { resource: 'ClusterInformation default', action: 'created' },
      { resource: 'Tier default', action: 'created' },
      { resource: 'Tier kube-admin', action: 'created' },
      { resource: 'Tier kube-baseline', action: 'created' },
    ]);
    const info = await rawGet('/calico/resources/v3/projectcalico.org/clusterinformations/default');
    expect(info!.value.spec).toMatchObject({ clusterType: 'gingham', datastoreReady: true, clusterGUID: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect((await rawGet('/calico/resources/v3/projectcalico.org/tiers/default'))!.value.spec).toEqual({ order: 1_000_000, defaultAction: 'Deny' });
    expect((await rawGet('/calico/resources/v3/projectcalico.org/tiers/kube-admin'))!.value.spec).toEqual({ order: 1_000, defaultAction: 'Pass' });
    expect((await rawGet('/calico/resources/v3/projectcalico.org/tiers/kube-baseline'))!.value.spec).toEqual({ order: 10_000_000, defaultAction: 'Pass' });
    expect((await ds.init({ clusterType: 'gingham' })).map((o) => o.action)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    // A second cluster type is merged in, the GUID kept.
    expect((await ds.init({ clusterType: 'openstack' }))[0]!.action).toBe('updated');
    const merged = await rawGet('/calico/resources/v3/projectcalico.org/clusterinformations/default');
    expect(merged!.value.spec.clusterType).toBe('gingham,openstack');
    expect(merged!.value.spec.clusterGUID).toBe(info!.value.spec.clusterGUID);
  });

  it('lists in pages at one revision', async () => {
    await wipe();
    await using ds = await open(3);
    for (let i = 0; i < 10; i++) await ds.create(np(`ns${i % 3}`, `p${i}`));
    const all = await ds.list();
    expect(all.items.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual([
      'ns0/p0', 'ns0/p3', 'ns0/p6', 'ns0/p9', 'ns1/p1', 'ns1/p4', 'ns1/p7', 'ns2/p2', 'ns2/p5', 'ns2/p8',
    ]);
    expect(Number(all.revision)).toBeGreaterThanOrEqual(Math.max(...all.items.map((r) => Number(r.metadata.resourceVersion))));
    const { kindOf } = await import('../src/index.js');
    const ns1 = await ds.list({ kind: kindOf('projectcalico.org/v3', 'NetworkPolicy')!, namespace: 'ns1' });
    expect(ns1.items.map((r) => r.metadata.name)).toEqual(['p1', 'p4', 'p7']);
  });

  it("reads what Calico's tools wrote, as Calico reads it", async () => {
    await wipe();
    for (const f of [...NETWORKING_CALICO, ...CALICO_TOOLS, ...IGNORED, ...INVALID]) await etcd.raw.put(f.key).value(f.value);
    await using ds = await open();
    const { items, problems } = await ds.list();
    const names = items.map((r) => `${r.kind} ${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}`);
    expect(names).toEqual([
      'ClusterInformation default',
      'GlobalNetworkPolicy allow-dns',
      'GlobalNetworkPolicy security.block-telnet',
      'NetworkPolicy openstack/ossg.default.6f1c8a52-0d3e-4b7a-9c21-5e8f0a9b3d47',
      'NetworkPolicy openstack-region-RegionOne/ossg.default.SGID-default',
      // Calico 3.28–3.29 stored "default.web"; the v3 name is "web".
      'NetworkPolicy shop/web',
      'Profile kns.shop',
      'Tier security',
      'WorkloadEndpoint openstack/compute--1-openstack-1c2e3f6a--0b5d--4c1e--9f7a--2b8c9d0e1f23-0a9b8c7d--6e5f--4a3b--2c1d--0e9f8a7b6c5d',
      'WorkloadEndpoint openstack/compute--1-openstack-5d4c3b2a--1908--4e7d--a6b5--c4d3e2f1a0b9-1a2b3c4d--5e6f--4a7b--8c9d--0e1f2a3b4c5d',
      'WorkloadEndpoint openstack-region-RegionOne/felix--host--1-openstack-instance--1-DEADBEEF--1234--5678',
    ]);
    expect(problems.map((p) => p.where).sort()).toEqual(INVALID.map((f) => f.key).sort());
    expect(problems.find((p) => p.where.endsWith('broken-json'))!.message).toMatch(/not valid JSON/);
    expect(problems.find((p) => p.where.endsWith('bad-selector'))!.message).toMatch(/spec\.selector/);
    // The legacy policy is found by its v3 name, and updates stay on the key that holds it.
    const web = await ds.get({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', namespace: 'shop', name: 'web' });
    expect(web?.metadata.uid).toBe('3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f');
    await ds.update({ ...web!, spec: { ...(web!.spec as object), order: 600 } });
    expect((await rawGet('/calico/resources/v3/projectcalico.org/networkpolicies/shop/default.web'))!.value.spec.order).toBe(600);
    expect(await rawGet('/calico/resources/v3/projectcalico.org/networkpolicies/shop/web')).toBeUndefined();
    // The security-group policy admits the group's own members and denies others: Calico's semantics.
    const { snapshot, issues } = buildSnapshot(items.filter((r) => r.kind !== 'ClusterInformation'));
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const wep = (ip: string) => items.find((r) => r.kind === 'WorkloadEndpoint' && JSON.stringify(r.spec).includes(`"${ip}/32"`))!;
    const [a, b] = [wep('10.65.0.2'), wep('10.65.0.3')];
    expect(a.metadata.labels?.[`sg.projectcalico.org/openstack-${SG_ID}`]).toBe('web');
    const flow = { src: `${b.metadata.namespace}/${b.metadata.name}`, dst: `${a.metadata.namespace}/${a.metadata.name}`, protocol: 'TCP', dstPort: 8080 };
    expect(evaluate(snapshot, flow).allowed).toBe(true);
    expect(evaluate(snapshot, { src: '10.9.9.9', dst: flow.dst, protocol: 'TCP', dstPort: 8080 }).allowed).toBe(false);
    expect(evaluate(snapshot, { src: '10.1.2.3', dst: flow.dst, protocol: 'TCP', dstPort: 22 }).allowed).toBe(true);
  });
});
