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

  it('tells a Calico NetworkPolicy from a Kubernetes one of the same name', () => {
    const t = new ResyncTracker();
    t.upsert({ ...knp('x', 'p'), apiVersion: 'projectcalico.org/v3' }, '1');
    t.upsert(knp('x', 'p'), '2');
    expect(t.size).toBe(2);
  });
});
