import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { formatResourceKey, resourceKey } from './resource-key.js';
import { ResyncTracker } from './resync-tracker.js';

const gnp = (name: string, order = 1): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec: { order, selector: 'all()' },
});
const knp = (ns: string, name: string): Resource => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec: {} });

describe('ResyncTracker', () => {
  it('drops a watch event whose revision was delivered already, and a delete of something never delivered', () => {
    const t = new ResyncTracker();
    expect(t.upsert(gnp('a'), '5')).toEqual({ kind: 'upsert', resource: gnp('a'), revision: '5' });
    expect(t.upsert(gnp('a'), '5')).toBeUndefined();
    expect(t.upsert(gnp('a', 2), '6')?.kind).toBe('upsert');
    expect(t.delete({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'b' })).toBeUndefined();
    expect(t.delete({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'a' }, '7')).toEqual({
      kind: 'delete',
      key: { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'a' },
      revision: '7',
    });
    expect(t.size).toBe(0);
  });

  it('compares content when the datastore has no revisions', () => {
    const t = new ResyncTracker();
    expect(t.upsert(gnp('a'))).toBeDefined();
    expect(t.upsert(gnp('a'))).toBeUndefined();
    expect(t.upsert(gnp('a', 3))).toBeDefined();
  });

  it('a relist emits only what changed, and deletes for what vanished, then in-sync', () => {
    const t = new ResyncTracker();
    t.upsert(gnp('keep'), '1');
    t.upsert(gnp('change'), '2');
    t.upsert(knp('x', 'gone'), '3');
    expect(t.beginResync()).toEqual({ kind: 'resync-started' });
    expect(t.resyncing).toBe(true);
    expect(t.upsert(gnp('keep'), '1')).toBeUndefined();
    expect(t.upsert(gnp('change', 9), '8')?.kind).toBe('upsert');
    expect(t.upsert(gnp('new'), '9')?.kind).toBe('upsert');
    expect(t.endResync('9')).toEqual([
      { kind: 'delete', key: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'x', name: 'gone' } },
      { kind: 'in-sync', revision: '9' },
    ]);
    expect(t.resyncing).toBe(false);
    expect(t.keys().map((k) => k.name).sort()).toEqual(['change', 'keep', 'new']);
  });

  it('keeps the key and id a source passes (no copy of its own), and keep() lists an unchanged resource again without a message', () => {
    const t = new ResyncTracker();
    const key = resourceKey(gnp('a'));
    const id = formatResourceKey(key);
    t.upsert(gnp('a'), '1', { key, id });
    t.upsert(gnp('b'), '2');
    t.beginResync();
    expect(t.keep(id)).toBe(true);
    expect(t.keep(formatResourceKey(resourceKey(gnp('never'))))).toBe(false);
    const [deleted, inSync] = t.endResync('3');
    expect(deleted).toEqual({ kind: 'delete', key: resourceKey(gnp('b')) });
    expect(inSync).toEqual({ kind: 'in-sync', revision: '3' });
    expect(t.keys()).toEqual([key]);
    expect(t.keys()[0]).toBe(key);
  });

  it("a source's own ids (its datastore keys) work for upsert, keep and delete; each relist deletes what it alone did not list", () => {
    const t = new ResyncTracker();
    const a = { key: resourceKey(gnp('a')), id: '/calico/resources/v3/projectcalico.org/globalnetworkpolicies/a' };
    const b = { key: resourceKey(gnp('b')), id: '/calico/resources/v3/projectcalico.org/globalnetworkpolicies/b' };
    t.upsert(gnp('a'), '1', a);
    t.upsert(gnp('b'), '2', b);
    expect(t.upsert(gnp('a'), '1', a)).toBeUndefined();
    // The first relist lists both, the second only a: b goes in the second.
    t.beginResync();
    expect(t.keep(a.id)).toBe(true);
    expect(t.keep(b.id)).toBe(true);
    expect(t.endResync('3')).toEqual([{ kind: 'in-sync', revision: '3' }]);
    t.beginResync();
    expect(t.upsert(gnp('a'), '1', a)).toBeUndefined();
    expect(t.endResync('4')).toEqual([{ kind: 'delete', key: b.key }, { kind: 'in-sync', revision: '4' }]);
    // Deleted (and upserted again) within a relist: listed by the upsert after the delete.
    t.beginResync();
    expect(t.delete(a.key, '5', a.id)).toEqual({ kind: 'delete', key: a.key, revision: '5' });
    expect(t.delete(a.key, '5', a.id)).toBeUndefined();
    expect(t.upsert(gnp('a', 2), '6', a)?.kind).toBe('upsert');
    expect(t.endResync('6')).toEqual([{ kind: 'in-sync', revision: '6' }]);
    expect(t.keys()).toEqual([a.key]);
    // An in-sync without a relist open deletes everything (as before: nothing was listed).
    expect(t.endResync('7')).toEqual([{ kind: 'delete', key: a.key }, { kind: 'in-sync', revision: '7' }]);
  });

  it('tells a Calico NetworkPolicy from a Kubernetes one of the same name', () => {
    const t = new ResyncTracker();
    t.upsert({ ...knp('x', 'p'), apiVersion: 'projectcalico.org/v3' }, '1');
    t.upsert(knp('x', 'p'), '2');
    expect(t.size).toBe(2);
  });
});
