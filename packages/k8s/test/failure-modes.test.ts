/**
 * The informer failure modes users report for the JavaScript client, each driven against the
 * test API server with short timings (no real-time waits of minutes):
 *   - a reset connection that leaves the client's informer dead → re-watch from the last RV;
 *   - a watch that stalls silently → the idle watchdog restarts it;
 *   - 410 Gone → relist with deletes for what vanished;
 *   - stop() raising an abort → never restarts anything;
 * plus backoff on errors, a request that never answers, expired continue tokens, hot-loop
 * guards, auth failures, periodic relist-and-diff, and readiness that means "in sync".
 */
import type { SourceMessage } from '@gingham/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestApiServer } from '../src/testing.js';
import { caughtUp, feed, pod, startServer, waitFor, type Fed } from './support/harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(podCount = 3, serverOptions: Parameters<typeof startServer>[0] = {}, sourceOptions: Parameters<typeof feed>[1] = {}): Promise<{ server: TestApiServer; f: Fed }> {
  const server = await startServer(serverOptions);
  cleanup.push(() => server.close());
  for (let i = 0; i < podCount; i++) server.put(pod('ns', `p${i}`, { app: 'a' }, `10.0.0.${i + 1}`));
  const f = await feed(server, { resources: ['pods'], ...sourceOptions });
  cleanup.push(() => f.close());
  await f.source.synced(5000);
  await waitFor(() => server.openWatches('pods') === 1, 5000, 'the watch');
  return { server, f };
}

const podNames = (f: Fed): string[] => f.source.resources().map((r) => r.metadata.name).sort();
const counters = (f: Fed): Record<string, number> => f.source.informers()[0]!.counters as unknown as Record<string, number>;

describe('a reset connection', () => {
  it('is re-watched from the last resourceVersion (no relist), and events made meanwhile arrive', async () => {
    const { server, f } = await setup();
    const lists = server.count({ verb: 'list' });
    expect(server.resetWatches('pods')).toBe(1);
    server.put(pod('ns', 'p9', { app: 'a' }, '10.0.0.9'));
    await waitFor(() => podNames(f).includes('p9'), 5000, 'p9 after reset');
    await waitFor(() => server.openWatches('pods') === 1);
    expect(server.count({ verb: 'list' })).toBe(lists);
    expect(counters(f)['watchErrors']).toBeGreaterThanOrEqual(1);
    expect(counters(f)['relists']).toBe(0);
    expect(f.source.status().phase).toBe('in-sync');
  });

  it('repeated resets never leave two watches open at once', async () => {
    const { server, f } = await setup();
    for (let i = 0; i < 8; i++) {
      await waitFor(() => server.openWatches('pods') === 1, 5000, `watch ${i}`);
      server.resetWatches('pods');
      server.put(pod('ns', `r${i}`, { app: 'a' }, `10.0.1.${i + 1}`));
      expect(server.openWatches('pods')).toBeLessThanOrEqual(1);
    }
    await waitFor(() => caughtUp(f.source, server), 5000, 'caught up');
    expect(podNames(f)).toHaveLength(11);
    expect(server.openWatches('pods')).toBe(1);
  });
});

describe('a watch that stalls silently', () => {
  it('is restarted by the idle watchdog, and what happened during the stall is delivered', async () => {
    const { server, f } = await setup(3, { bookmarkIntervalMs: 0 }, { timing: { maxIdleMs: 150, watchdogIntervalMs: 20 } });
    expect(server.stallWatches('pods')).toBe(1);
    server.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p0' });
    await waitFor(() => !podNames(f).includes('p0'), 5000, 'p0 deleted after the stall');
    expect(counters(f)['watchdogRestarts']).toBeGreaterThanOrEqual(1);
    expect(f.source.informers()[0]!.lastError?.code).toBe('K8S_TIMEOUT');
  });

  it('bookmarks keep a quiet but healthy watch from being restarted', async () => {
    const { f } = await setup(1, { bookmarkIntervalMs: 25 }, { timing: { maxIdleMs: 500, watchdogIntervalMs: 20 } });
    await new Promise((r) => setTimeout(r, 1000));
    expect(counters(f)['watchdogRestarts']).toBe(0);
    expect(counters(f)['bookmarks']).toBeGreaterThan(3);
  });

  it('a watch request that is never answered (no headers) is abandoned and retried', async () => {
    const { server, f } = await setup(1, {}, { timing: { maxIdleMs: 150, watchdogIntervalMs: 20 } });
    server.fail({ verb: 'watch', resource: 'pods', hang: true });
    server.endWatches('pods');
    server.put(pod('ns', 'late', { app: 'a' }, '10.0.0.7'));
    await waitFor(() => podNames(f).includes('late'), 5000, 'late pod');
    expect(server.requests.some((r) => r.verb === 'watch' && r.status === 0)).toBe(true);
    expect(counters(f)['watchdogRestarts']).toBeGreaterThanOrEqual(1);
  });
});

describe('410 Gone', () => {
  it('an expired watch relists: one batch with the changes and deletes for what vanished while it was away', async () => {
    const { server, f } = await setup(3, { bookmarkIntervalMs: 0 }, { timing: { maxIdleMs: 60_000 } });
    server.stallWatches('pods');
    server.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p1' });
    server.put(pod('ns', 'p2', { app: 'b' }, '10.0.0.3'));
    server.compact();
    const n = f.batches.length;
    server.expireWatches('pods');
    server.resetWatches('pods');
    await waitFor(() => !podNames(f).includes('p1'), 5000, 'p1 gone');
    const relist = f.batches.slice(n).find((b) => b[0]?.kind === 'resync-started')!;
    expect(relist.map((m) => m.kind)).toEqual(['resync-started', 'upsert', 'delete', 'in-sync']);
    expect(relist[2]).toMatchObject({ kind: 'delete', key: { kind: 'Pod', namespace: 'ns', name: 'p1' } });
    expect(counters(f)['gone']).toBe(1);
    expect(counters(f)['relists']).toBe(1);
  });

  it('a resume from a compacted resourceVersion after a reset gets 410 and relists', async () => {
    const { server, f } = await setup(2);
    server.fail({ verb: 'watch', resource: 'pods', status: 503, count: 1 });
    server.resetWatches('pods');
    server.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p0' });
    server.compact();
    await waitFor(() => !podNames(f).includes('p0'), 5000, 'p0 gone');
    expect(counters(f)['gone']).toBe(1);
  });

  it('an expired continue token restarts the list from the start', async () => {
    const server = await startServer();
    cleanup.push(() => server.close());
    for (let i = 0; i < 7; i++) server.put(pod('ns', `p${i}`, { app: 'a' }, `10.0.0.${i + 1}`));
    // The second page is answered 410 (as after a compaction between pages).
    server.fail({ verb: 'list', resource: 'pods', status: 410, count: 1, message: 'The provided continue parameter is too old' });
    server.fail({ verb: 'list', resource: 'pods', status: 200, count: 0 });
    const f = await feed(server, { resources: ['pods'], timing: { pageSize: 3 } });
    cleanup.push(() => f.close());
    await f.source.synced(5000);
    expect(podNames(f)).toHaveLength(7);
  });
});

describe('stop', () => {
  it('close() aborts the watch without restarting it: no request, no message, no error afterwards', async () => {
    const logs: string[] = [];
    const { server, f } = await setup(1, {}, { log: (e) => logs.push(e.message) });
    await f.close();
    const requests = server.requests.length;
    const messages = f.messages.length;
    server.put(pod('ns', 'after', { app: 'a' }, '10.0.0.8'));
    await new Promise((r) => setTimeout(r, 300));
    expect(server.requests.length).toBe(requests);
    expect(f.messages.length).toBe(messages);
    expect(server.openWatches()).toBe(0);
    expect(logs.filter((l) => /abort/i.test(l))).toEqual([]);
    expect(f.source.status().phase).toBe('stopped');
  });
});

describe('errors and backoff', () => {
  it('a failing list is retried with growing, jittered delays; the source waits meanwhile and recovers', async () => {
    const server = await startServer();
    cleanup.push(() => server.close());
    server.put(pod('ns', 'p0', { app: 'a' }, '10.0.0.1'));
    server.fail({ verb: 'list', resource: 'pods', status: 500, count: 4 });
    const f = await feed(server, { resources: ['pods'], timing: { backoff: { initialMs: 20, maxMs: 1000, factor: 2, jitter: 0.5 } } });
    cleanup.push(() => f.close());
    await waitFor(() => f.source.status().lastError !== undefined);
    expect(f.source.status()).toMatchObject({ phase: 'waiting', connected: false, lastError: { code: 'K8S_SERVER' } });
    expect(f.source.ready()).toBe(false);
    await f.source.synced(5000);
    const lists = server.requests.filter((r) => r.verb === 'list');
    expect(lists.map((r) => r.status)).toEqual([500, 500, 500, 500, 200]);
    expect(f.source.status()).toMatchObject({ phase: 'in-sync', connected: true });
    expect(f.source.status().lastError).toBeUndefined();
  });

  it('refused credentials make the source failed (and say so), and it keeps trying', async () => {
    const server = await startServer();
    cleanup.push(() => server.close());
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromString(await server.kubeconfig({ token: 'wrong' }));
    const { createKubernetesSource } = await import('../src/index.js');
    const source = createKubernetesSource({ kubeConfig: kc, resources: ['pods'], timing: { backoff: { initialMs: 10, maxMs: 40 } } });
    cleanup.push(() => source.close());
    await source.start(() => undefined);
    await expect(source.synced(500)).rejects.toMatchObject({ code: 'K8S_UNAUTHORIZED' });
    expect(source.status()).toMatchObject({ phase: 'failed', lastError: { code: 'K8S_UNAUTHORIZED' } });
    expect(server.count({ verb: 'discovery' })).toBeGreaterThan(2);
  });

  it('RBAC refusing one API marks the source failed with the server message', async () => {
    const server = await startServer();
    cleanup.push(() => server.close());
    server.fail({ verb: 'list', resource: 'pods', status: 403, count: 1000, message: 'pods is forbidden: User "system:serviceaccount:gingham:agent" cannot list resource "pods"' });
    const f = await feed(server, { resources: ['pods'] });
    cleanup.push(() => f.close());
    await waitFor(() => f.source.status().phase === 'failed');
    expect(f.source.status().lastError).toMatchObject({ code: 'K8S_FORBIDDEN', message: expect.stringContaining('cannot list resource "pods"') });
  });

  it('a refusal that passes (RBAC fixed, token renewed) leaves failed for in-sync', async () => {
    const { server, f } = await setup(1, {}, { timing: { backoff: { initialMs: 50, maxMs: 100 } } });
    server.fail({ verb: 'watch', resource: 'pods', status: 403, count: 2 });
    server.resetWatches('pods');
    await waitFor(() => f.source.status().phase === 'failed', 5000, 'failed');
    await waitFor(() => f.source.status().phase === 'in-sync', 5000, 'in-sync again');
    server.put(pod('ns', 'after', { app: 'a' }, '10.0.0.8'));
    await waitFor(() => podNames(f).includes('after'));
  });

  it('a server that ends every watch at once is not hammered (backoff after three short watches)', async () => {
    const { server } = await setup(1, {}, { timing: { shortWatchMs: 1000, backoff: { initialMs: 100, maxMs: 400 } } });
    server.fail({ verb: 'watch', resource: 'pods', status: 200, count: 0 });
    const start = server.count({ verb: 'watch' });
    const stop = setInterval(() => server.endWatches('pods'), 2);
    await new Promise((r) => setTimeout(r, 700));
    clearInterval(stop);
    // Without the guard this is hundreds of watches; with it a handful.
    expect(server.count({ verb: 'watch' }) - start).toBeLessThan(20);
  });
});

describe('periodic relist-and-diff', () => {
  it('repairs a lost event, and emits nothing when nothing changed', async () => {
    const { server, f } = await setup(2, {}, { timing: { resyncPeriodMs: 150 } });
    const n = f.batches.length;
    await waitFor(() => (counters(f)['resyncs'] ?? 0) >= 1, 5000, 'a resync');
    expect(f.batches.slice(n)).toEqual([]);
    server.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p1' }, { silent: true });
    server.put(pod('ns', 'p0', { app: 'changed' }, '10.0.0.1'), { silent: true });
    await waitFor(() => !podNames(f).includes('p1'), 5000, 'the lost delete repaired');
    const batch = f.batches.slice(n).find((b) => b.some((m) => m.kind === 'delete'))!;
    expect(batch.map((m: SourceMessage) => m.kind)).toEqual(['resync-started', 'upsert', 'delete', 'in-sync']);
  });
});
