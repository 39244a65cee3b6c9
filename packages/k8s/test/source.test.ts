/**
 * The Kubernetes source against the test API server: what the first sync delivers (reduced,
 * Calico CRDs read as v3), how watch events reach the Engine, optional APIs, invalid objects.
 */
import type { Resource, SourceMessage } from '@gingham/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_TEST_APIS, type TestApiServer } from '../src/testing.js';
import { caughtUp, feed, knp, ns, pod, referenceState, startServer, waitFor, type Fed } from './support/harness.js';

let server: TestApiServer;
const open: Fed[] = [];
const start = async (...args: Parameters<typeof feed> extends [unknown, ...infer R] ? R : never): Promise<Fed> => {
  const f = await feed(server, ...args);
  open.push(f);
  return f;
};

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const f of open) await f.close();
  await server.close();
});

const upserted = (ms: readonly SourceMessage[]): Resource[] => ms.flatMap((m) => (m.kind === 'upsert' ? [m.resource] : []));

describe('first sync', () => {
  it('delivers resync-started, every object reduced, then in-sync; Calico CRDs as projectcalico.org/v3 with their v3 names', async () => {
    server.put(ns('shop', { team: 'a' }));
    server.put(pod('shop', 'web-0', { app: 'web' }, '10.0.0.1'));
    server.put(pod('shop', 'db-0', { app: 'db' }, '10.0.0.2', 'node-2'));
    server.put(knp('shop', 'db-ingress', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 5432 }] }] }));
    server.put({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'default.deny-db-egress', annotations: { 'projectcalico.org/metadata': '{"creationTimestamp":null}' } },
      spec: { tier: 'default', order: 10, selector: "app == 'db'", types: ['Egress'], egress: [{ action: 'Deny' }] },
    });
    server.put({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'security.allow-dns', namespace: 'shop', annotations: { 'projectcalico.org/metadata': '{"name":"allow-dns"}' } },
      spec: { tier: 'security', order: 1, selector: 'all()', types: ['Egress'], egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [53] } }] },
    });
    server.put({ apiVersion: 'crd.projectcalico.org/v1', kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100 } });

    const f = await start();
    await f.source.synced(5000);
    const kinds = f.messages.map((m) => m.kind);
    expect(kinds[0]).toBe('resync-started');
    expect(kinds.at(-1)).toBe('in-sync');
    expect(kinds.filter((k) => k === 'in-sync')).toHaveLength(1);

    const out = upserted(f.messages);
    const webPod = out.find((r) => r.kind === 'Pod' && r.metadata.name === 'web-0')!;
    expect(webPod).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-0', namespace: 'shop', labels: { app: 'web' } },
      spec: { nodeName: 'node-1', serviceAccountName: 'default', containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
      status: { podIP: '10.0.0.1' },
    });
    const calico = out.filter((r) => r.apiVersion === 'projectcalico.org/v3').map((r) => `${r.kind} ${r.metadata.namespace ?? ''}/${r.metadata.name}`);
    expect(calico).toEqual(expect.arrayContaining(['GlobalNetworkPolicy /deny-db-egress', 'NetworkPolicy shop/allow-dns', 'Tier /security']));
    expect(f.source.status()).toMatchObject({ phase: 'in-sync', connected: true, problems: [] });
    expect(f.source.ready()).toBe(true);

    // The Engine fed by the source equals one fed the same resources as files.
    expect(await f.state()).toEqual(await referenceState(f.source.resources()));
  });

  it('lists in pages (limit/continue) and needs one request per page', async () => {
    const before = server.count({ verb: 'list', resource: 'pods' });
    const f = await start({ resources: ['pods'], timing: { pageSize: 1 } });
    await f.source.synced(5000);
    expect(server.count({ verb: 'list', resource: 'pods' }) - before).toBe(2);
    expect(f.source.informers()[0]).toMatchObject({ resource: 'pods', state: 'watching', objects: 2, counters: expect.objectContaining({ listPages: 2 }) });
  });
});

describe('watch', () => {
  it('a pod relabelled, added and deleted on the server reaches the Engine', async () => {
    const f = await start();
    await f.source.synced(5000);
    server.put(pod('shop', 'web-0', { app: 'web', version: 'v2' }, '10.0.0.1'));
    server.put(pod('shop', 'web-1', { app: 'web' }, '10.0.0.3'));
    server.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'db-0' });
    await waitFor(() => caughtUp(f.source, server), 5000, 'caught up');
    const pods = f.source.resources().filter((r) => r.kind === 'Pod').map((r) => `${r.metadata.name} ${JSON.stringify(r.metadata.labels)}`);
    expect(pods.sort()).toEqual(['web-0 {"app":"web","version":"v2"}', 'web-1 {"app":"web"}']);
    expect(await f.state()).toEqual(await referenceState(f.source.resources()));
  });

  it('a change the Engine cannot see (status conditions) emits nothing', async () => {
    const f = await start({ resources: ['pods'] });
    await f.source.synced(5000);
    const n = f.messages.length;
    const p = pod('shop', 'web-1', { app: 'web' }, '10.0.0.3');
    server.put({ ...p, status: { ...(p['status'] as object), conditions: [{ type: 'Ready', status: 'False' }] } });
    await waitFor(() => caughtUp(f.source, server));
    expect(f.messages.slice(n)).toEqual([]);
  });

  it('host-network and finished pods are no endpoints; a pod that finishes is deleted', async () => {
    const f = await start({ resources: ['pods'] });
    await f.source.synced(5000);
    server.put(pod('shop', 'hostnet', { app: 'x' }, '172.16.0.1', 'node-1', { hostNetwork: true }));
    const done = pod('shop', 'job-0', { app: 'job' }, '10.0.0.9');
    server.put(done);
    await waitFor(() => f.source.resources().some((r) => r.metadata.name === 'job-0'));
    server.put({ ...done, status: { phase: 'Succeeded', podIP: '10.0.0.9' } });
    await waitFor(() => caughtUp(f.source, server));
    const names = f.source.resources().map((r) => r.metadata.name);
    expect(names).not.toContain('hostnet');
    expect(names).not.toContain('job-0');
    expect(f.messages.at(-1)).toMatchObject({ kind: 'delete', key: { kind: 'Pod', namespace: 'shop', name: 'job-0' } });
    server.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'hostnet' });
    server.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'job-0' });
  });

  it('an invalid object is skipped and reported; the previous good version stays in force', async () => {
    const f = await start({ resources: ['globalnetworkpolicies.crd.projectcalico.org'] });
    await f.source.synced(5000);
    const good = server.get({ apiVersion: 'crd.projectcalico.org/v1', kind: 'GlobalNetworkPolicy', name: 'default.deny-db-egress' })!;
    server.put({ ...good, spec: { ...(good['spec'] as object), selector: "app == 'db" } });
    await waitFor(() => f.source.status().problems.length > 0);
    const p = f.source.status().problems[0]!;
    expect(p.where).toBe('GlobalNetworkPolicy.crd.projectcalico.org default.deny-db-egress');
    expect(p.message).toMatch(/spec\.selector/);
    expect(p.message).toMatch(/previous version stays in force/);
    expect(f.source.resources()).toEqual([expect.objectContaining({ spec: expect.objectContaining({ selector: "app == 'db'" }) })]);
    server.put(good);
    await waitFor(() => caughtUp(f.source, server));
  });
});

describe('optional APIs', () => {
  it('an API that is not served is reported absent without blocking in-sync, and read once it appears', async () => {
    const noCalico = ALL_TEST_APIS.filter((a) => !a.startsWith('crd.projectcalico.org'));
    server.setApis(noCalico);
    try {
      const logs: string[] = [];
      const f = await start({ log: (e) => logs.push(`${e.level} ${e.resource ?? ''} ${e.message}`) });
      await f.source.synced(5000);
      const tiers = f.source.informers().find((i) => i.resource === 'tiers.crd.projectcalico.org')!;
      expect(tiers.state).toBe('absent');
      expect(f.source.status().phase).toBe('in-sync');
      expect(f.source.status().lastError).toBeUndefined();
      expect(logs.some((l) => /^info tiers\.crd\.projectcalico\.org .*not served/.test(l))).toBe(true);
      expect(f.source.resources().some((r) => r.apiVersion === 'projectcalico.org/v3' && r.kind !== 'Node')).toBe(false);

      const n = f.batches.length;
      server.setApis(ALL_TEST_APIS);
      await waitFor(() => f.source.resources().some((r) => r.kind === 'Tier'), 5000, 'tiers appear');
      // Delivered after in-sync: as whole batches, each wrapped in resync-started … in-sync.
      for (const b of f.batches.slice(n)) {
        if (b.some((m) => m.kind === 'upsert' && m.resource.apiVersion === 'projectcalico.org/v3')) {
          expect(b[0]!.kind).toBe('resync-started');
          expect(b.at(-1)!.kind).toBe('in-sync');
        }
      }
    } finally {
      server.setApis(ALL_TEST_APIS);
    }
  });
});
