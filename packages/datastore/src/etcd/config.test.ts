import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ETCD_ENDPOINT, resolveEtcdConfig } from './config.js';

describe('resolveEtcdConfig', () => {
  let dir: string;
  let pem: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gingham-etcdcfg-'));
    pem = join(dir, 'x.pem');
    await writeFile(pem, '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const file = async (name: string, text: string) => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };

  it("reads Calico's environment names, CALICO_-prefixed first", async () => {
    const c = await resolveEtcdConfig({
      env: { CALICO_ETCD_ENDPOINTS: 'https://10.0.0.1:2379,https://10.0.0.2:2379', ETCD_ENDPOINTS: 'http://ignored:1', ETCD_CA_CERT_FILE: pem, ETCD_USERNAME: 'u', ETCD_PASSWORD: 'p' },
    });
    expect(c.endpoints).toEqual(['https://10.0.0.1:2379', 'https://10.0.0.2:2379']);
    expect(c.tls?.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(c.auth).toEqual({ username: 'u', password: 'p' });
    expect(c.origin).toEqual({ endpoints: 'env', caCertFile: 'env', username: 'env', password: 'env' });
  });

  it('flags override; a config file replaces the environment entirely (as calicoctl -c)', async () => {
    const cfg = await file('a.cfg', `apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\nspec:\n  datastoreType: etcdv3\n  etcdEndpoints: http://10.1.1.1:2379\n  etcdUsername: from-file\n  etcdPassword: pw\n  kubeconfig: /ignored\n`);
    const c = await resolveEtcdConfig({ configFile: cfg, env: { ETCD_KEY_FILE: '/nonexistent' }, flags: { endpoints: 'http://127.0.0.1:23790' } });
    expect(c.endpoints).toEqual(['http://127.0.0.1:23790']);
    expect(c.auth?.username).toBe('from-file');
    expect(c.origin).toEqual({ endpoints: 'flag', username: 'config', password: 'config' });
  });

  it('defaults to etcd on 127.0.0.1:2379', async () => {
    const c = await resolveEtcdConfig({ env: {} });
    expect(c.endpoints).toEqual([DEFAULT_ETCD_ENDPOINT]);
    expect(c.origin['endpoints']).toBe('default');
  });

  it.each([
    [{ env: { ETCD_ENDPOINTS: '10.0.0.1:2379' } }, /is not a URL|must start with http/],
    [{ env: { ETCD_ENDPOINTS: 'http://10.0.0.1' } }, /has no port/],
    [{ env: { ETCD_ENDPOINTS: 'http://a:1,https://b:2' } }, /mix http:\/\/ and https:\/\//],
    [{ env: { ETCD_ENDPOINTS: 'http://a:1', ETCD_CA_CERT_FILE: '/nonexistent/ca.pem' } }, /cannot read the etcd CA certificate \/nonexistent\/ca.pem: ENOENT/],
    [{ env: { ETCD_ENDPOINTS: 'https://a:1', ETCD_CERT_FILE: '__PEM__' } }, /needs both a certificate and a key/],
    [{ env: { ETCD_ENDPOINTS: 'http://a:1', ETCD_CA_CERT_FILE: '__PEM__' } }, /use https:\/\//],
    [{ env: { ETCD_USERNAME: 'u' } }, /needs both a username and a password \(only the username/],
    [{ env: { ETCD_DISCOVERY_SRV: 'example.org' } }, /not supported/],
    [{ env: { ETCD_ENDPOINTS: 'https://a:1', ETCD_CA_CERT: 'inline', ETCD_CA_CERT_FILE: '__PEM__' } }, /cannot mix inline certificates/],
  ])('refuses bad settings with DS_CONFIG naming them (%#)', async (input, message) => {
    const env = Object.fromEntries(Object.entries(input.env).map(([k, v]) => [k, v === '__PEM__' ? pem : v]));
    await expect(resolveEtcdConfig({ env })).rejects.toMatchObject({ code: 'DS_CONFIG', message: expect.stringMatching(message) });
  });

  it('refuses config files that are not for etcd, or have unknown fields', async () => {
    const kdd = await file('kdd.cfg', 'apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: kubernetes\n');
    await expect(resolveEtcdConfig({ configFile: kdd })).rejects.toMatchObject({ code: 'DS_CONFIG', message: expect.stringContaining('needs etcdv3') });
    const typo = await file('typo.cfg', 'kind: CalicoAPIConfig\nspec:\n  etcdEndpoint: http://a:1\n');
    await expect(resolveEtcdConfig({ configFile: typo })).rejects.toMatchObject({ message: expect.stringContaining('unknown field spec.etcdEndpoint') });
    await expect(resolveEtcdConfig({ configFile: join(dir, 'missing.cfg') })).rejects.toMatchObject({ message: expect.stringContaining('ENOENT') });
  });

  it('never puts the password in a message', async () => {
    const err = await resolveEtcdConfig({ env: { ETCD_PASSWORD: 'hunter2' } }).catch((e: Error) => e);
    expect(String(err)).not.toContain('hunter2');
  });
});
