/**
 * The directory datastore: where new resources go, compare-and-swap on the content digest,
 * edits of hand-written multi-document, List and JSON files that keep the other documents, files
 * replaced by rename (never rewritten in place), invalid files skipped and named, duplicates,
 * the write lock, and `init`.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '@gingham/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDirDatastore, type DirDatastore } from '../src/index.js';

const gnp = (name: string, order?: number): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec: { ...(order === undefined ? {} : { order }), selector: 'all()', ingress: [{ action: 'Allow' }] },
});
const KEY = (name: string) => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name });

describe('directory datastore', () => {
  let dir: string;
  let ds: DirDatastore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gingham-dirds-'));
    ds = createDirDatastore({ dir, lockTimeoutMs: 300 });
  });
  afterEach(async () => {
    await ds.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes new resources to <plural>/[<namespace>/]<name>.yaml without resourceVersion; resourceVersion is a content digest', async () => {
    const created = await ds.create(gnp('web', 10));
    expect(created.metadata.resourceVersion).toMatch(/^[0-9a-f]{16}$/);
    const text = await readFile(join(dir, 'globalnetworkpolicies/web.yaml'), 'utf8');
    expect(text).toBe('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: web\nspec:\n  order: 10\n  selector: all()\n  ingress:\n    - action: Allow\n');
    await ds.create({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet', metadata: { name: 'n', namespace: 'shop' }, spec: { nets: ['10.0.0.0/8'] } });
    await ds.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'a' } } });
    expect((await stat(join(dir, 'networksets/shop/n.yaml'))).isFile()).toBe(true);
    expect((await stat(join(dir, 'namespaces.core/shop.yaml'))).isFile()).toBe(true);
    await expect(ds.create(gnp('web'))).rejects.toMatchObject({ code: 'DS_ALREADY_EXISTS', message: expect.stringContaining('globalnetworkpolicies/web.yaml:1:1') });
    expect((await ds.get(KEY('web')))?.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
  });

  it('update and delete are compare-and-swap on resourceVersion; files are replaced by rename', async () => {
    const v1 = await ds.create(gnp('cas', 1));
    const ino = (await stat(join(dir, 'globalnetworkpolicies/cas.yaml'))).ino;
    const v2 = await ds.update({ ...gnp('cas', 2), metadata: { name: 'cas', resourceVersion: v1.metadata.resourceVersion } } as Resource);
    expect(v2.metadata.resourceVersion).not.toBe(v1.metadata.resourceVersion);
    expect((await stat(join(dir, 'globalnetworkpolicies/cas.yaml'))).ino).not.toBe(ino);
    await expect(ds.update({ ...gnp('cas', 3), metadata: { name: 'cas', resourceVersion: v1.metadata.resourceVersion } } as Resource)).rejects.toMatchObject({ code: 'DS_CONFLICT' });
    await expect(ds.delete(KEY('cas'), { resourceVersion: v1.metadata.resourceVersion! })).rejects.toMatchObject({ code: 'DS_CONFLICT' });
    await expect(ds.update(gnp('nope'))).rejects.toMatchObject({ code: 'DS_NOT_FOUND' });
    await ds.delete(KEY('cas'), { resourceVersion: v2.metadata.resourceVersion! });
    await expect(stat(join(dir, 'globalnetworkpolicies/cas.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });
    // No temp files or lock left behind.
    expect(await readdir(join(dir, 'globalnetworkpolicies'))).toEqual([]);
    await expect(stat(join(dir, '.gingham.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('edits one document of a hand-written file and keeps the others (List items and JSON too)', async () => {
    await writeFile(
      join(dir, 'policies.yaml'),
      '# my policies\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec: {selector: all(), ingress: [{action: Allow}]}\n---\n# b is important\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: b}\nspec: {selector: all(), ingress: [{action: Allow}]}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicyList\nitems:\n- metadata: {name: c}\n  spec: {selector: all()}\n- metadata: {name: d}\n  spec: {selector: all()}\n',
    );
    await writeFile(join(dir, 'sets.json'), JSON.stringify([{ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: 'g1' }, spec: { nets: ['10.0.0.0/8'] } }, { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: 'g2' }, spec: { nets: ['10.1.0.0/16'] } }]));
    await ds.update(gnp('a', 5));
    await ds.update(gnp('d', 7));
    await ds.delete(KEY('c'));
    await ds.update({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: 'g2' }, spec: { nets: ['10.2.0.0/16'] } });
    const text = await readFile(join(dir, 'policies.yaml'), 'utf8');
    expect(text).toContain('# my policies');
    expect(text).toContain('# b is important');
    const names = (await ds.list()).items.map((r) => `${r.metadata.name}:${JSON.stringify((r.spec as { order?: number; nets?: string[] }).order ?? (r.spec as { nets?: string[] }).nets)}`);
    expect(names).toEqual(['a:5', 'b:undefined', 'd:7', 'g1:["10.0.0.0/8"]', 'g2:["10.2.0.0/16"]']);
    await ds.delete(KEY('a'));
    await ds.delete(KEY('b'));
    await ds.delete(KEY('d'));
    await expect(stat(join(dir, 'policies.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(JSON.parse(await readFile(join(dir, 'sets.json'), 'utf8'))).toHaveLength(2);
  });

  it('skips files with errors (named with file:line:col) and reports duplicates; the first file in path order wins', async () => {
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: dup}\nspec: {selector: all(), order: 1}\n');
    await writeFile(join(dir, 'b.yaml'), 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: dup}\nspec: {selector: all(), order: 2}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: other}\nspec: {selector: all()}\n');
    await writeFile(join(dir, 'broken.yaml'), 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: broken}\nspec:\n  selector: "app =="\n');
    await writeFile(join(dir, '.hidden.yaml'), 'not: [yaml');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const { items, problems } = await ds.list();
    expect(items.map((r) => `${r.metadata.name}:${(r.spec as { order?: number }).order}`)).toEqual(['dup:1', 'other:undefined']);
    expect(problems.map((p) => p.where)).toEqual(['b.yaml', 'broken.yaml']);
    expect(problems[0]!.message).toContain('b.yaml:1:1) is also in a.yaml:1:1');
    expect(problems[1]!.message).toMatch(/broken\.yaml:5:\d+: GlobalNetworkPolicy\/broken spec\.selector/);
    await expect(ds.update(gnp('broken'))).rejects.toMatchObject({ code: 'DS_NOT_FOUND', message: expect.stringContaining('broken.yaml') });
  });

  it('one writer at a time: a live lock holder blocks (DS_LOCKED), a dead one is taken over', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.gingham.lock'), '1\n');
    await expect(ds.create(gnp('x'))).rejects.toMatchObject({ code: 'DS_LOCKED', message: expect.stringContaining('process 1') });
    await writeFile(join(dir, '.gingham.lock'), '2147483646\n');
    await ds.create(gnp('x'));
    // Concurrent writers in one process serialise on the lock too.
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => createDirDatastore({ dir }).create(gnp(`c${i}`))));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect((await ds.list()).items).toHaveLength(5);
  });

  it('init writes the ClusterInformation and the default tiers as files, once', async () => {
    expect((await ds.init()).map((o) => `${o.resource}:${o.action}`)).toEqual(['ClusterInformation default:created', 'Tier default:created', 'Tier kube-admin:created', 'Tier kube-baseline:created']);
    expect(await readFile(join(dir, 'tiers/kube-admin.yaml'), 'utf8')).toContain('order: 1000\n');
    const info = await ds.get({ apiVersion: 'projectcalico.org/v3', kind: 'ClusterInformation', name: 'default' });
    expect(info?.spec).toMatchObject({ datastoreReady: true, clusterGUID: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect((await ds.init()).every((o) => o.action === 'unchanged')).toBe(true);
    await expect(ds.delete({ apiVersion: 'projectcalico.org/v3', kind: 'ClusterInformation', name: 'default' })).rejects.toMatchObject({ code: 'DS_NOT_SUPPORTED' });
    await expect(ds.delete({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', name: 'default' })).rejects.toMatchObject({ code: 'DS_REFUSED' });
  });
});
