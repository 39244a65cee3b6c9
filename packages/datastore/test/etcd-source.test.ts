/**
 * The etcd source against a real etcd: list then watch from the list revision + 1, one batch
 * per watch response; a compaction past the watcher's revision while it is cut off relists and
 * emits only changes and deletes for what vanished; a server stopped and restarted is
 * reconnected with backoff and missed events are replayed; a long outage relists; invalid
 * values are skipped and reported while everything else applies, and a key that turns invalid
 * keeps its last good version in force.
 */
import type { Resource, SourceMessage } from '@gingham/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createEtcdDatastore, resolveEtcdConfig, type EtcdDatastore, type EtcdSource, type EtcdSourceOptions, type SourceLogEntry } from '../src/index.js';
import { startTcpProxy, type TcpProxy } from '../src/testing.js';
import { CALICO_TOOLS, INVALID, NETWORKING_CALICO } from './fixtures/calico-etcd.js';
import { eventually, HAVE_ETCD, useEtcd } from './support/etcd.js';

const P = '/calico/resources/v3/projectcalico.org';
const gnpValue = (name: string, order: number) =>
  JSON.stringify({ kind: 'GlobalNetworkPolicy', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { order, selector: 'all()', ingress: [{ action: 'Allow' }] } });

/** Collects what a source emits. */
class Recorder {
  readonly batches: SourceMessage[][] = [];
  readonly sink = (messages: readonly SourceMessage[]) => {
    this.batches.push([...messages]);
  };
  get messages(): SourceMessage[] {
    return this.batches.flat();
  }
  /** `upsert GlobalNetworkPolicy a@12`, `delete … b`, `resync-started`, `in-sync@14` since batch `from`. */
  summary(from = 0): string[] {
    return this.batches.slice(from).flat().map((m) => {
      if (m.kind === 'upsert') return `upsert ${m.resource.kind} ${m.resource.metadata.name}`;
      if (m.kind === 'delete') return `delete ${m.key.kind} ${m.key.name}`;
      return m.kind;
    });
  }
  /** Names currently delivered (upserts minus deletes), as a consumer would hold them. */
  held(): Map<string, Resource> {
    const out = new Map<string, Resource>();
    for (const m of this.messages) {
      if (m.kind === 'upsert') out.set(`${m.resource.kind} ${m.resource.metadata.namespace ?? ''}/${m.resource.metadata.name}`, m.resource);
      if (m.kind === 'delete') out.delete(`${m.key.kind} ${m.key.namespace ?? ''}/${m.key.name}`);
    }
    return out;
  }
  inSyncCount(): number {
    return this.messages.filter((m) => m.kind === 'in-sync').length;
  }
}

describe.skipIf(!HAVE_ETCD)('etcd source (real etcd)', () => {
  const etcd = useEtcd();
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const open = async (endpoint = etcd.server.endpoint): Promise<EtcdDatastore> => {
    const ds = createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: endpoint } }), requestTimeoutMs: 2000 });
    cleanups.push(() => ds.close());
    return ds;
  };
  const startSource = async (ds: EtcdDatastore, options: EtcdSourceOptions = {}) => {
    const rec = new Recorder();
    const log: SourceLogEntry[] = [];
    const source: EtcdSource = ds.source({ backoff: { initialMs: 50, maxMs: 400 }, log: (e) => log.push(e), ...options });
    await source.start(rec.sink);
    await eventually('the first in-sync', () => rec.inSyncCount() >= 1);
    return { source, rec, log };
  };
  const wipe = async () => {
    await etcd.raw.delete().prefix('/calico/').exec();
  };
  const put = (name: string, order = 1) => etcd.raw.put(`${P}/globalnetworkpolicies/${name}`).value(gnpValue(name, order));
  const del = (name: string) => etcd.raw.delete().key(`${P}/globalnetworkpolicies/${name}`).exec();

  it('lists, then watches from the list revision + 1: one batch per watch response', async () => {
    await wipe();
    await put('a');
    await put('b');
    const listedAt = await etcd.server.revision();
    const ds = await open();
    const { source, rec } = await startSource(ds);
    expect(rec.summary()).toEqual(['resync-started', 'upsert GlobalNetworkPolicy a', 'upsert GlobalNetworkPolicy b', 'in-sync']);
    const inSync = rec.messages.at(-1) as { revision?: string };
    expect(inSync.revision).toBe(String(listedAt));
    const upA = rec.messages[1] as { revision?: string; resource: Resource };
    expect(upA.revision).toBe((upA.resource.metadata as { resourceVersion?: string }).resourceVersion);

    const mark = rec.batches.length;
    await put('c');
    await put('a', 2);
    await del('b');
    // A transaction's events arrive as one response, hence one batch.
    await etcd.raw.if(`${P}/globalnetworkpolicies/d`, 'Version', '==', 0).then(etcd.raw.put(`${P}/globalnetworkpolicies/d`).value(gnpValue('d', 1)), etcd.raw.put(`${P}/globalnetworkpolicies/e`).value(gnpValue('e', 1))).commit();
    await eventually('the watch events', () => rec.summary(mark).length >= 5);
    expect(rec.summary(mark)).toEqual(['upsert GlobalNetworkPolicy c', 'upsert GlobalNetworkPolicy a', 'delete GlobalNetworkPolicy b', 'upsert GlobalNetworkPolicy d', 'upsert GlobalNetworkPolicy e']);
    expect(rec.batches.at(-1)!.map((m) => m.kind)).toEqual(['upsert', 'upsert']);
    const status = source.status();
    expect(status).toMatchObject({ phase: 'in-sync', connected: true, resources: 4, revision: String(await etcd.server.revision()) });
    expect(status.counters['relists']).toBe(1);
  });

  it('compaction past the watcher while it is cut off: relist, deletes for what vanished, no re-delivery of unchanged keys', async () => {
    await wipe();
    for (const n of ['keep', 'change', 'vanish']) await put(n);
    const port = Number(new URL(etcd.server.endpoint).port);
    const proxy: TcpProxy = await startTcpProxy(port);
    cleanups.push(() => proxy.close());
    const ds = await open(`http://${proxy.address}`);
    const { source, rec, log } = await startSource(ds, { relistAfterOutageMs: 60_000 });
    const mark = rec.batches.length;

    proxy.cut();
    await eventually('the source to notice the cut', () => !source.status().connected);
    await put('change', 2);
    await del('vanish');
    await put('new');
    await etcd.server.compact();
    proxy.restore();

    await eventually('a relist after the compaction', () => rec.inSyncCount() >= 2, 20_000);
    expect(rec.summary(mark).sort()).toEqual(['delete GlobalNetworkPolicy vanish', 'in-sync', 'resync-started', 'upsert GlobalNetworkPolicy change', 'upsert GlobalNetworkPolicy new'].sort());
    expect(rec.summary(mark)[0]).toBe('resync-started');
    expect(rec.summary(mark).at(-1)).toBe('in-sync');
    expect(source.status().counters['watchCanceled']).toBeGreaterThanOrEqual(1);
    expect(log.some((e) => e.code === 'WATCH_CANCELED')).toBe(true);
    expect([...rec.held().keys()].sort()).toEqual(['GlobalNetworkPolicy /change', 'GlobalNetworkPolicy /keep', 'GlobalNetworkPolicy /new']);
    // And the watch goes on after the relist.
    await put('after');
    await eventually('events after the relist', () => rec.held().has('GlobalNetworkPolicy /after'));
  });

  it('lists a page at a time (decoding each as it arrives): the first list emitted page by page, an invalid value still skipped, a relist re-delivers nothing unchanged and comes in one batch', async () => {
    await wipe();
    const names = Array.from({ length: 9 }, (_, i) => `p${i}`);
    for (const n of names) await put(n);
    await etcd.raw.put(`${P}/globalnetworkpolicies/p4x`).value('{not json');
    const port = Number(new URL(etcd.server.endpoint).port);
    const proxy: TcpProxy = await startTcpProxy(port);
    cleanups.push(() => proxy.close());
    const ds = createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: `http://${proxy.address}` } }), requestTimeoutMs: 2000, pageSize: 2 });
    cleanups.push(() => ds.close());
    const { source, rec, log } = await startSource(ds, { relistAfterOutageMs: 60_000 });
    expect(rec.summary()).toEqual(['resync-started', ...names.map((n) => `upsert GlobalNetworkPolicy ${n}`), 'in-sync']);
    expect(source.status().problems.map((p) => p.where)).toEqual([`${P}/globalnetworkpolicies/p4x`]);
    expect(log.find((e) => e.code === 'LISTED')?.message).toMatch(/^listed and decoded 10 key\(s\) at revision \d+ in \d+ ms$/);
    // The first list (nothing enforced from the source yet) is emitted a page at a time: five
    // pages of two keys (one of them invalid), then the in-sync.
    expect(rec.batches.map((b) => b.length)).toEqual([3, 2, 1, 2, 2, 1]);
    expect(rec.batches[0]![0]!.kind).toBe('resync-started');
    expect(rec.batches.at(-1)!.map((m) => m.kind)).toEqual(['in-sync']);

    const mark = rec.batches.length;
    proxy.cut();
    await eventually('the source to notice the cut', () => !source.status().connected);
    await put('p3', 2);
    await del('p7');
    await etcd.server.compact();
    proxy.restore();
    await eventually('a relist after the compaction', () => rec.inSyncCount() >= 2, 20_000);
    expect(rec.summary(mark)).toEqual(['resync-started', 'upsert GlobalNetworkPolicy p3', 'delete GlobalNetworkPolicy p7', 'in-sync']);
    // A relist (the first list's state is in force) is emitted in one batch once the list is complete.
    expect(rec.batches.length).toBe(mark + 1);
    expect(source.status().problems.map((p) => p.where)).toEqual([`${P}/globalnetworkpolicies/p4x`]);
    expect([...rec.held().keys()].sort()).toEqual(names.filter((n) => n !== 'p7').map((n) => `GlobalNetworkPolicy /${n}`).sort());
  });

  it('a relist reads keys only, then the values of the few new or changed keys one by one: the same changes, the new values', async () => {
    await wipe();
    const names = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    for (const n of names) await put(n);
    const port = Number(new URL(etcd.server.endpoint).port);
    const proxy: TcpProxy = await startTcpProxy(port);
    cleanups.push(() => proxy.close());
    const ds = await open(`http://${proxy.address}`);
    const { source, rec } = await startSource(ds, { relistAfterOutageMs: 60_000 });
    const mark = rec.batches.length;
    proxy.cut();
    await eventually('the source to notice the cut', () => !source.status().connected);
    await put('k05', 7);
    await del('k09');
    await put('knew', 3);
    await etcd.server.compact();
    proxy.restore();
    await eventually('a relist after the compaction', () => rec.inSyncCount() >= 2, 20_000);
    expect(rec.summary(mark)).toEqual(['resync-started', 'upsert GlobalNetworkPolicy k05', 'upsert GlobalNetworkPolicy knew', 'delete GlobalNetworkPolicy k09', 'in-sync']);
    const held = rec.held();
    expect((held.get('GlobalNetworkPolicy /k05')?.spec as { order?: number }).order).toBe(7);
    expect((held.get('GlobalNetworkPolicy /knew')?.spec as { order?: number }).order).toBe(3);
    expect(held.size).toBe(30);
    expect(source.status().resources).toBe(30);
  });

  it('a short cut resumes the watch from the last processed revision: missed events are replayed without a relist', async () => {
    await wipe();
    await put('x');
    const proxy = await startTcpProxy(Number(new URL(etcd.server.endpoint).port));
    cleanups.push(() => proxy.close());
    const ds = await open(`http://${proxy.address}`);
    const { source, rec } = await startSource(ds);
    const mark = rec.batches.length;
    proxy.cut();
    await eventually('disconnected', () => !source.status().connected);
    await put('y');
    await del('x');
    proxy.restore();
    await eventually('replayed', () => rec.summary(mark).length >= 2, 20_000);
    expect(rec.summary(mark)).toEqual(['upsert GlobalNetworkPolicy y', 'delete GlobalNetworkPolicy x']);
    expect(source.status().counters['relists']).toBe(1);
    expect(source.status().counters['reconnects']).toBeGreaterThanOrEqual(1);
  });

  it('etcd stopped and restarted: waits, reconnects with backoff, converges; a long outage relists', async () => {
    await wipe();
    await put('before');
    const ds = await open();
    const { source, rec, log } = await startSource(ds, { relistAfterOutageMs: 1500 });
    await etcd.server.stop();
    await eventually('waiting while etcd is down', () => source.status().phase === 'waiting' && !source.status().connected);
    await new Promise((r) => setTimeout(r, 2000));
    await etcd.server.start();
    await put('during-recovery');
    await eventually('converged after the restart', () => rec.held().has('GlobalNetworkPolicy /during-recovery') && source.status().phase === 'in-sync', 30_000);
    expect(source.status().connected).toBe(true);
    expect(log.some((e) => e.code === 'DISCONNECTED')).toBe(true);
    // Down longer than relistAfterOutageMs: the source relisted rather than trusting a replay.
    expect(source.status().counters['relist.outage']).toBe(1);
    expect(rec.held().has('GlobalNetworkPolicy /before')).toBe(true);
  }, 60_000);

  it('skips invalid values with a problem and a log line while the rest applies; a key turning invalid keeps its last good version', async () => {
    await wipe();
    for (const f of [...NETWORKING_CALICO, ...CALICO_TOOLS, ...INVALID]) await etcd.raw.put(f.key).value(f.value);
    const proxy = await startTcpProxy(Number(new URL(etcd.server.endpoint).port));
    cleanups.push(() => proxy.close());
    const ds = await open(`http://${proxy.address}`);
    const { source, rec, log } = await startSource(ds);
    const status = source.status();
    expect(status.problems.map((p) => p.where).sort()).toEqual(INVALID.map((f) => f.key).sort());
    expect(status.counters['invalid']).toBe(2);
    expect(log.filter((e) => e.code === 'INVALID_VALUE' && e.level === 'error').map((e) => e.where).sort()).toEqual(INVALID.map((f) => f.key).sort());
    // Everything valid arrived (ClusterInformation is not for the Engine).
    expect(status.resources).toBe(NETWORKING_CALICO.length - 2 + CALICO_TOOLS.length);
    expect(rec.held().has('NetworkPolicy shop/web')).toBe(true);

    const mark = rec.batches.length;
    await etcd.raw.put(`${P}/globalnetworkpolicies/allow-dns`).value('{"oops"');
    await eventually('the problem', () => source.status().problems.some((p) => p.where.endsWith('/allow-dns')));
    expect(rec.summary(mark)).toEqual([]);
    expect(rec.held().has('GlobalNetworkPolicy /allow-dns')).toBe(true);
    // A relist keeps it too: nothing is emitted for it, nothing deleted.
    const before = rec.batches.length;
    proxy.cut();
    await eventually('cut off', () => !source.status().connected);
    // Two writes, so the compaction lands past the watcher's next revision.
    await put('written-while-cut');
    await put('written-while-cut', 2);
    await etcd.server.compact();
    proxy.restore();
    await eventually('the relist', () => rec.inSyncCount() >= 2, 20_000);
    expect(rec.summary(before)).toEqual(['resync-started', 'upsert GlobalNetworkPolicy written-while-cut', 'in-sync']);
    expect(rec.held().has('GlobalNetworkPolicy /allow-dns')).toBe(true);
    expect(source.status().problems.some((p) => p.where.endsWith('/allow-dns'))).toBe(true);
    const [fixed] = INVALID;
    await etcd.raw.put(fixed!.key).value(gnpValue('broken-json', 3));
    await eventually('the fixed key', () => rec.held().has('GlobalNetworkPolicy /broken-json'));
    expect(source.status().problems.some((p) => p.where === fixed!.key)).toBe(false);
    await etcd.raw.delete().key(`${P}/globalnetworkpolicies/allow-dns`).exec();
    await eventually('the delete of the invalid key', () => !rec.held().has('GlobalNetworkPolicy /allow-dns'));
    expect(source.status().problems.some((p) => p.where.endsWith('/allow-dns'))).toBe(false);
  });

  it('closes cleanly: no message after close resolves', async () => {
    await wipe();
    const ds = await open();
    const { source, rec } = await startSource(ds);
    await source.close();
    const n = rec.batches.length;
    await put('late');
    await new Promise((r) => setTimeout(r, 300));
    expect(rec.batches.length).toBe(n);
    expect(source.status().phase).toBe('stopped');
  });
});
