// `gingham get … --datastore kubernetes` through the BUILT CLI against the test API server:
// calicoctl's Kubernetes-datastore view (WorkloadEndpoints from pods, Profiles from namespaces
// and service accounts, Calico CRDs as v3 with their v3 names, automatic host endpoints),
// tables and -o yaml/json, absent APIs, usage errors and exit codes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runCli, type CliIo } from '@gingham/cli';
import { ALL_TEST_APIS, calicoCrdObject, createTestApiServer, type TestApiServer } from '@gingham/k8s/testing';

let server: TestApiServer;
const scratch = mkdtempSync(join(tmpdir(), 'gingham-get-k8s-'));
const kubeconfig = join(scratch, 'kubeconfig');

beforeAll(async () => {
  server = await createTestApiServer();
  await server.writeKubeconfig(kubeconfig);
  server.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'a' } } });
  server.put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'shop', labels: { tier: 'backend' } } });
  server.put({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'shop', labels: { app: 'web' }, managedFields: [{ manager: 'kubectl' }] },
    spec: { nodeName: 'node-1', serviceAccountName: 'api', containers: [{ name: 'c', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: 'Running', podIP: '10.0.0.1' },
  });
  server.put({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', labels: { zone: 'z1' }, annotations: { 'projectcalico.org/IPv4Address': '172.16.0.1/24', 'projectcalico.org/WireguardPublicKey': 'A'.repeat(43) + '=' } },
    status: { addresses: [{ type: 'InternalIP', address: '172.16.0.1' }, { type: 'Hostname', address: 'node-1' }] },
  });
  server.put(calicoCrdObject({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'deny-db' }, spec: { tier: 'default', order: 5, selector: "app == 'db'" } }, { policyNames: 'legacy' }));
  server.put(calicoCrdObject({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'security.allow-dns', namespace: 'shop' }, spec: { tier: 'security', order: 1, selector: 'all()' } }));
});
afterAll(async () => {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (s) => (out += `${s}\n`), stderr: (s) => (err += `${s}\n`) };
  const code = await runCli(argv, io);
  return { code, out, err };
}
const get = (...args: string[]): ReturnType<typeof run> => run('get', ...args, '--datastore', 'kubernetes', '--kubeconfig', kubeconfig);

describe('gingham get --datastore kubernetes', () => {
  it('shows WorkloadEndpoints derived from pods, as calicoctl names them', async () => {
    const { code, out } = await get('workloadendpoints', '-n', 'shop');
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toMatch(/^WORKLOAD\s+NODE\s+NETWORKS\s+INTERFACE$/);
    expect(out).toMatch(/^web-0\s+node-1\s+10\.0\.0\.1\/32\s+cali[0-9a-f]{11}$/m);
    const yaml = parseYaml((await get('wep', '-n', 'shop', '-o', 'yaml')).out) as { kind: string; items: { metadata: { name: string; labels: Record<string, string> }; spec: Record<string, unknown> }[] };
    expect(yaml.kind).toBe('WorkloadEndpointList');
    expect(yaml.items[0]!.metadata.name).toBe('node--1-k8s-web--0-eth0');
    expect(yaml.items[0]!.metadata.labels).toMatchObject({ app: 'web', 'projectcalico.org/namespace': 'shop', 'projectcalico.org/orchestrator': 'k8s', 'projectcalico.org/serviceaccount': 'api' });
    expect(yaml.items[0]!.spec).toMatchObject({ orchestrator: 'k8s', node: 'node-1', pod: 'web-0', endpoint: 'eth0', profiles: ['kns.shop', 'ksa.shop.api'], ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] });
  });

  it('shows Profiles from namespaces and service accounts, and the built-in default-allow', async () => {
    const { code, out } = await get('profiles', '-o', 'json');
    expect(code).toBe(0);
    const doc = JSON.parse(out) as { items: { metadata: { name: string }; spec: { labelsToApply?: Record<string, string> } }[] };
    expect(doc.items.map((p) => p.metadata.name)).toEqual(expect.arrayContaining(['projectcalico-default-allow', 'kns.shop', 'ksa.shop.api']));
    expect(doc.items.find((p) => p.metadata.name === 'ksa.shop.api')!.spec.labelsToApply).toEqual({ 'pcsa.projectcalico.org/name': 'api', 'pcsa.tier': 'backend' });
  });

  it('shows Calico policies from their CRDs with their v3 names, tier and order', async () => {
    const gnp = await get('gnp', '-o', 'wide');
    expect(gnp.out).toMatch(/^deny-db\s+default\s+5\s+app == 'db'$/m);
    const np = await get('networkpolicy', '-A');
    expect(np.out).toMatch(/^NAMESPACE\s+NAME\s+TIER$/m);
    expect(np.out).toMatch(/^shop\s+security\.allow-dns\s+security$/m);
    const one = JSON.parse((await get('np', 'security.allow-dns', '-n', 'shop', '-o', 'json')).out) as { apiVersion: string; metadata: { name: string; annotations?: Record<string, string> } };
    expect(one.apiVersion).toBe('projectcalico.org/v3');
    expect(one.metadata.annotations?.['projectcalico.org/metadata']).toBeUndefined();
  });

  it('shows Calico Nodes and, opt-in, automatic host endpoints', async () => {
    const node = await get('nodes', '-o', 'wide');
    expect(node.out).toMatch(/^node-1\s+172\.16\.0\.1\/24\s+172\.16\.0\.1\/24,172\.16\.0\.1\s+A{43}=$/m);
    expect((await get('hep')).out).toMatch(/no hostendpoints found/);
    const heps = JSON.parse((await get('hep', '--auto-host-endpoints', '-o', 'json')).out) as { items: { metadata: { name: string; labels: Record<string, string> }; spec: Record<string, unknown> }[] };
    expect(heps.items).toEqual([
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'HostEndpoint',
        metadata: { name: 'node-1-auto-hep', labels: { zone: 'z1', 'projectcalico.org/created-by': 'calico-kube-controllers' } },
        spec: { node: 'node-1', interfaceName: '*', expectedIPs: ['172.16.0.1'], profiles: ['projectcalico-default-allow'] },
      },
    ]);
  });

  it('shows Kubernetes kinds as stored, without managedFields', async () => {
    const pods = JSON.parse((await get('pods', '-n', 'shop', '-o', 'json')).out) as { items: { metadata: Record<string, unknown> }[] };
    expect(pods.items[0]!.metadata['managedFields']).toBeUndefined();
    expect(pods.items[0]!.metadata['uid']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('says which APIs the cluster does not serve, and finds nothing there', async () => {
    server.setApis(ALL_TEST_APIS.filter((a) => !a.startsWith('crd.projectcalico.org')));
    try {
      const { code, out, err } = await get('tiers');
      expect(code).toBe(0);
      expect(out.trim()).toBe('no tiers found');
      expect(err).toMatch(/warning: tiers\.crd\.projectcalico\.org: crd\.projectcalico\.org\/v1 Tier is not served/);
    } finally {
      server.setApis(ALL_TEST_APIS);
    }
  });

  it('exits 1 for a name that does not exist, and for a cluster that cannot be reached', async () => {
    expect(await get('gnp', 'nope')).toMatchObject({ code: 1, err: expect.stringContaining('GlobalNetworkPolicy nope not found') });
    const bad = await run('get', 'gnp', '--datastore', 'kubernetes', '--kubeconfig', join(scratch, 'missing'));
    expect(bad).toMatchObject({ code: 1, err: expect.stringContaining('does not exist') });
  });

  it('usage mistakes exit 2 with a pointer to --help', async () => {
    expect((await run('get', 'gnp', '--datastore', 'kube')).code).toBe(2);
    expect((await get('gizmos')).err).toMatch(/unknown kind "gizmos"/);
    expect((await get('gnp', '-n', 'x')).code).toBe(2);
    expect((await get('wep', '-A', '-n', 'x')).code).toBe(2);
    expect((await get('wep', '-o', 'xml')).code).toBe(2);
  });
});
