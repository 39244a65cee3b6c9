/**
 * TLS with client certificates and user/password auth against real etcd servers, configured
 * the ways Calico's tools are: Calico's environment names and a calicoctl config file. Wrong
 * credentials fail clearly (DS_AUTH, the source's phase `failed`), a missing client
 * certificate is refused by the server, and an auth token lost in an etcd restart is renewed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource, SourceMessage } from '@gingham/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdDatastore, resolveEtcdConfig } from '../src/index.js';
import { generateTestPki, startEtcd, type EtcdServer, type EtcdTlsFiles } from '../src/testing.js';
import { eventually, HAVE_ETCD } from './support/etcd.js';

const policy = (name: string): Resource => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec: { selector: 'all()', ingress: [{ action: 'Allow' }] } });

describe.skipIf(!HAVE_ETCD)('etcd over TLS with client certificates', () => {
  let dir: string;
  let pki: EtcdTlsFiles;
  let server: EtcdServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gingham-pki-'));
    pki = await generateTestPki(dir);
    server = await startEtcd({ tls: pki });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("connects with Calico's environment names (ETCD_ENDPOINTS, ETCD_CA_CERT_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE)", async () => {
    const config = await resolveEtcdConfig({
      env: { ETCD_ENDPOINTS: server.endpoint, ETCD_CA_CERT_FILE: pki.caFile, ETCD_CERT_FILE: pki.clientCertFile, ETCD_KEY_FILE: pki.clientKeyFile },
    });
    expect(config.origin).toMatchObject({ endpoints: 'env', caCertFile: 'env', certFile: 'env', keyFile: 'env' });
    await using ds = createEtcdDatastore({ config });
    await ds.create(policy('over-tls'));
    const source = ds.source();
    const seen: SourceMessage[] = [];
    await source.start((m) => seen.push(...m));
    await eventually('in sync over TLS', () => source.status().phase === 'in-sync');
    expect(seen.some((m) => m.kind === 'upsert' && m.resource.metadata.name === 'over-tls')).toBe(true);
    expect(await server.etcdctl(['get', '/calico/resources/v3/projectcalico.org/globalnetworkpolicies/over-tls', '--print-value-only'])).toContain('"over-tls"');
  });

  it('without a client certificate the server refuses the connection: DS_UNAVAILABLE naming the endpoint', async () => {
    const config = await resolveEtcdConfig({ flags: { endpoints: server.endpoint, caCertFile: pki.caFile } });
    await using ds = createEtcdDatastore({ config, requestTimeoutMs: 2000, dialTimeoutMs: 2000 });
    const err = await ds.list().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DS_UNAVAILABLE', message: expect.stringContaining(server.endpoint) });
  });
});

describe.skipIf(!HAVE_ETCD)('etcd with user/password auth', () => {
  let dir: string;
  let server: EtcdServer;
  const root = { user: 'root:s3cret' };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gingham-auth-'));
    server = await startEtcd();
    await server.etcdctl(['user', 'add', 'root:s3cret', '--interactive=false']);
    await server.etcdctl(['auth', 'enable']);
    // A least-privilege user for Gingham: read/write on /calico/ only.
    await server.etcdctl(['role', 'add', 'calico'], root);
    await server.etcdctl(['role', 'grant-permission', 'calico', '--prefix=true', 'readwrite', '/calico/'], root);
    await server.etcdctl(['user', 'add', 'gingham:pa55word', '--interactive=false'], root);
    await server.etcdctl(['user', 'grant-role', 'gingham', 'calico'], root);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads credentials from a calicoctl config file, and keeps watching across an etcd restart (tokens are renewed)', async () => {
    const file = join(dir, 'calicoctl.cfg');
    await writeFile(
      file,
      `apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\nspec:\n  datastoreType: etcdv3\n  etcdEndpoints: ${server.endpoint}\n  etcdUsername: gingham\n  etcdPassword: pa55word\n`,
    );
    // The environment is not read when a config file is given (calicoctl's rule).
    const config = await resolveEtcdConfig({ configFile: file, env: { ETCD_ENDPOINTS: 'http://127.0.0.1:1', ETCD_USERNAME: 'nobody' } });
    expect(config.endpoints).toEqual([server.endpoint]);
    await using ds = createEtcdDatastore({ config, requestTimeoutMs: 3000 });
    await ds.create(policy('with-auth'));
    const source = ds.source({ backoff: { initialMs: 50, maxMs: 500 }, relistAfterOutageMs: 60_000 });
    const held = new Set<string>();
    await source.start((ms) => {
      for (const m of ms) {
        if (m.kind === 'upsert') held.add(m.resource.metadata.name);
        if (m.kind === 'delete') held.delete(m.key.name);
      }
    });
    await eventually('in sync with auth', () => held.has('with-auth'));
    // Restarts lose etcd's simple tokens. The second one used to leave etcd3's watch stream
    // waiting forever on a watch that etcd created and canceled at once (invalid auth token).
    for (const round of [1, 2, 3]) {
      await server.stop();
      await server.start();
      await server.etcdctl(['put', `/calico/resources/v3/projectcalico.org/globalnetworkpolicies/after-restart-${round}`, JSON.stringify(policy(`after-restart-${round}`))], root);
      await eventually(`events after restart ${round}`, () => held.has(`after-restart-${round}`), 20_000);
    }
    expect(source.status()).toMatchObject({ phase: 'in-sync', connected: true });
  }, 60_000);

  it('a wrong password is DS_AUTH for commands and phase failed for a source', async () => {
    const config = await resolveEtcdConfig({ env: { CALICO_ETCD_ENDPOINTS: server.endpoint, ETCD_USERNAME: 'gingham', ETCD_PASSWORD: 'wrong' } });
    await using ds = createEtcdDatastore({ config, requestTimeoutMs: 3000 });
    const err = await ds.list().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DS_AUTH' });
    expect(String((err as Error).message)).not.toContain('wrong');
    const source = ds.source({ backoff: { initialMs: 50, maxMs: 200 } });
    await source.start(() => undefined);
    await eventually('failed', () => source.status().phase === 'failed');
    expect(source.status().lastError?.code).toBe('DS_AUTH');
  });

  it('an expired auth token is renewed for the paged lists (read past etcd3 by range-codec.ts): the datastore lists, a source gets in sync', async () => {
    // A server of its own whose simple tokens expire after 1 s.
    const short = await startEtcd({ extraArgs: ['--auth-token-ttl=1'] });
    try {
      await short.etcdctl(['user', 'add', 'root:s3cret', '--interactive=false']);
      await short.etcdctl(['auth', 'enable']);
      await short.etcdctl(['user', 'add', 'gingham:pa55word', '--interactive=false'], root);
      await short.etcdctl(['user', 'grant-role', 'gingham', 'root'], root);
      const config = await resolveEtcdConfig({ flags: { endpoints: short.endpoint, username: 'gingham', password: 'pa55word' } });
      await using ds = createEtcdDatastore({ config, requestTimeoutMs: 3000 });
      await ds.create(policy('before-expiry'));
      await new Promise((r) => setTimeout(r, 2500));
      expect((await ds.list()).items.map((r) => r.metadata.name)).toEqual(['before-expiry']);
      await new Promise((r) => setTimeout(r, 2500));
      const held: string[] = [];
      const source = ds.source({ backoff: { initialMs: 50, maxMs: 200 } });
      await source.start((ms) => void held.push(...ms.flatMap((m) => (m.kind === 'upsert' ? [m.resource.metadata.name] : []))));
      await eventually('in sync', () => source.status().phase === 'in-sync');
      expect(held).toEqual(['before-expiry']);
      expect(source.status().lastError).toBeUndefined();
      await source.close();
    } finally {
      await short.close();
    }
  }, 60_000);

  it('a user without permission on /calico/ is refused with DS_AUTH', async () => {
    await server.etcdctl(['user', 'add', 'stranger:x', '--interactive=false'], root);
    const config = await resolveEtcdConfig({ flags: { endpoints: server.endpoint, username: 'stranger', password: 'x' } });
    await using ds = createEtcdDatastore({ config, requestTimeoutMs: 3000 });
    await expect(ds.create(policy('nope'))).rejects.toMatchObject({ code: 'DS_AUTH' });
  });
});
