/**
 * One suite, both datastores (the directory and a real etcd): calicoctl's apply / create /
 * replace / delete over several resources, reported per resource; everything checked before the
 * first write; tiers ordered before the policies that use them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '@gingham/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirDatastore, createEtcdDatastore, resolveEtcdConfig, writeResources, type Datastore, type WriteOutcome } from '../src/index.js';
import { freePort } from '../src/testing.js';
import { HAVE_ETCD, useEtcd } from './support/etcd.js';

const tier: Resource = { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100 } };
const pol = (name: string, order = 1, tierName = 'security'): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `${tierName}.${name}` },
  spec: { tier: tierName, order, selector: 'all()', ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [23] } }] },
});
const set: Resource = { apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet', metadata: { name: 'office', namespace: 'shop' }, spec: { nets: ['192.0.2.0/24'] } };
const summary = (outs: WriteOutcome[]) => outs.map((o) => `${o.action} ${o.key.kind} ${o.key.namespace ? `${o.key.namespace}/` : ''}${o.key.name}${o.error ? ` [${o.error.code}]` : ''}`);

function suite(name: string, open: () => Promise<Datastore>, wipe: () => Promise<void>) {
  describe(`writeResources (${name})`, () => {
    it('apply creates, leaves identical content alone, updates changes; tiers go first', async () => {
      await wipe();
      await using ds = await open();
      const items = [{ resource: pol('block'), where: 'p.yaml:1:1' }, { resource: tier, where: 'p.yaml:9:1' }, { resource: set }];
      expect(summary(await writeResources(ds, items, 'apply'))).toEqual(['created GlobalNetworkPolicy security.block', 'created Tier security', 'created NetworkSet shop/office']);
      const again = await writeResources(ds, items, 'apply');
      expect(summary(again)).toEqual(['unchanged GlobalNetworkPolicy security.block', 'unchanged Tier security', 'unchanged NetworkSet shop/office']);
      expect(again[0]!.where).toBe('p.yaml:1:1');
      const changed = await writeResources(ds, [{ resource: pol('block', 5) }, { resource: tier }], 'apply');
      expect(summary(changed)).toEqual(['updated GlobalNetworkPolicy security.block', 'unchanged Tier security']);
      expect((await ds.get({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'security.block' }))?.spec).toMatchObject({ order: 5 });
    });

    it('create refuses what exists, replace what is missing or stale, and the others still go through', async () => {
      await wipe();
      await using ds = await open();
      await writeResources(ds, [{ resource: tier }], 'create');
      expect(summary(await writeResources(ds, [{ resource: tier }, { resource: pol('a') }], 'create'))).toEqual(['refused Tier security [DS_ALREADY_EXISTS]', 'created GlobalNetworkPolicy security.a']);
      const stored = await ds.get({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'security.a' });
      const stale = { ...pol('a', 9), metadata: { name: 'security.a', resourceVersion: stored!.metadata.resourceVersion } } as Resource;
      expect(summary(await writeResources(ds, [{ resource: pol('a', 2) }, { resource: pol('missing') }], 'replace'))).toEqual(['updated GlobalNetworkPolicy security.a', 'refused GlobalNetworkPolicy security.missing [DS_NOT_FOUND]']);
      expect(summary(await writeResources(ds, [{ resource: stale }], 'replace'))).toEqual(['refused GlobalNetworkPolicy security.a [DS_CONFLICT]']);
      expect(summary(await writeResources(ds, [{ resource: tier }, { resource: pol('a') }, { resource: pol('gone') }], 'delete'))).toEqual([
        'deleted Tier security',
        'deleted GlobalNetworkPolicy security.a',
        'refused GlobalNetworkPolicy security.gone [DS_NOT_FOUND]',
      ]);
    });

    it('writes nothing when any resource is refused before writing', async () => {
      await wipe();
      await using ds = await open();
      const bad = { ...pol('bad'), spec: { tier: 'security', selector: 'app ==' } } as Resource;
      const outs = await writeResources(ds, [{ resource: tier }, { resource: bad, where: 'x.yaml:3:1' }], 'apply');
      expect(summary(outs)).toEqual(['skipped Tier security [NOT_ATTEMPTED]', 'refused GlobalNetworkPolicy security.bad [DS_INVALID]']);
      expect((await ds.list()).items).toEqual([]);
    });
  });
}

describe('dir', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gingham-write-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  suite('dir', async () => createDirDatastore({ dir }), () => rm(dir, { recursive: true, force: true }));
});

describe.skipIf(!HAVE_ETCD)('etcd', () => {
  const etcd = useEtcd();
  const open = async () => createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: etcd.server.endpoint } }) });
  suite('etcd', open, async () => {
    await etcd.raw.delete().prefix('/calico/').exec();
  });

  it('refuses a Kubernetes kind for etcd, and stops at an unreachable etcd (the rest is skipped)', async () => {
    await using ds = await open();
    const pod: Resource = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, spec: {} };
    expect(summary(await writeResources(ds, [{ resource: tier }, { resource: pod }], 'apply'))).toEqual(['skipped Tier security [NOT_ATTEMPTED]', 'refused Pod shop/p [DS_NOT_SUPPORTED]']);
    await using down = createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: `http://127.0.0.1:${await freePort()}` } }), requestTimeoutMs: 1000, dialTimeoutMs: 1000 });
    expect(summary(await writeResources(down, [{ resource: tier }, { resource: set }], 'apply'))).toEqual(['refused Tier security [DS_UNAVAILABLE]', 'skipped NetworkSet shop/office [NOT_ATTEMPTED]']);
  });
});
