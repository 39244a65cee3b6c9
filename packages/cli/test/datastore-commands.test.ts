// calicoctl-style commands through the BUILT CLI: apply/create/replace/delete/get/datastore init
// against a directory datastore and a real etcd (started on free loopback ports, its own data
// directory, stopped afterwards): per-resource reports, validation before any write, tables with
// calicoctl's columns, -o yaml/json with resourceVersion for compare-and-swap, exit codes 0/1/2,
// names from input escaped in text output.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runCli, type CliIo } from '@gingham/cli';
import { etcdAvailable, startEtcd, type EtcdServer } from '@gingham/datastore/testing';

const root = new URL('../../../', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'gingham-dscli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (s) => (out += `${s}\n`), stderr: (s) => (err += `${s}\n`) };
  const code = await runCli(argv, io);
  return { code, out, err };
}

const POLICIES = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.block-telnet}
spec:
  tier: security
  order: 10
  selector: all()
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [23]}}]
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec: {selector: "app == 'web'", ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: data}
spec: {order: 5, selector: "app == 'db'", ingress: [{action: Allow}]}
`;

function file(name: string, text: string): string {
  const p = join(scratch, name);
  writeFileSync(p, text);
  return p;
}

describe('datastore commands on a directory', () => {
  const dir = join(scratch, 'store');
  const D = ['--dir', dir];
  const policies = file('policies.yaml', POLICIES);

  it('apply reports each resource (Tiers first) and is idempotent', async () => {
    const first = await run(['apply', '-f', policies, ...D]);
    expect(first.code).toBe(0);
    expect(first.out.split('\n').filter((l) => l.startsWith('created')).map((l) => l.replace(/\s+/g, ' ').trim())).toEqual([
      `created GlobalNetworkPolicy security.block-telnet ${policies}:1:1`,
      `created Tier security ${policies}:10:1`,
      `created NetworkPolicy shop/web ${policies}:15:1`,
      `created NetworkPolicy data/db ${policies}:20:1`,
    ]);
    expect(first.out).toContain(`4 of 4 resource(s) applied in directory ${dir}`);
    expect(readdirSync(join(dir, 'networkpolicies')).sort()).toEqual(['data', 'shop']);
    const again = await run(['apply', '-f', policies, ...D, '--json']);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.out) as { results: { action: string }[] }).results.map((r) => r.action)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
  });

  it('validates the input first: errors with file:line:col, nothing written, exit 1', async () => {
    const bad = file('bad.yaml', `${POLICIES.replace('name: web', 'name: web2')}---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: broken}\nspec: {selector: "app =="}\n`);
    const r = await run(['apply', '-f', bad, ...D]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`${bad.replace(/[/.]/g, '\\$&')}:28:\\d+: GlobalNetworkPolicy/broken spec\\.selector`));
    expect(r.err).toContain('nothing was applied');
    expect(existsSync(join(dir, 'networkpolicies/shop/web2.yaml'))).toBe(false);
  });

  it('get prints calicoctl tables; -A adds NAMESPACE; -o wide more columns', async () => {
    const gnp = await run(['get', 'gnp', ...D]);
    expect(gnp.code).toBe(0);
    expect(gnp.out.trim().split('\n').map((l) => l.replace(/\s+/g, ' '))).toEqual(['NAME TIER', 'security.block-telnet security']);
    const wide = await run(['get', 'globalnetworkpolicies', '-o', 'wide', ...D]);
    expect(wide.out.split('\n')[0]!.replace(/\s+/g, ' ')).toBe('NAME TIER ORDER SELECTOR');
    expect(wide.out).toMatch(/security\.block-telnet\s+security\s+10\s+all\(\)/);
    const all = await run(['get', 'pol', '-A', ...D]);
    expect(all.out.trim().split('\n').map((l) => l.replace(/\s+/g, ' '))).toEqual(['NAMESPACE NAME TIER', 'data db default', 'shop web default']);
    const shop = await run(['get', 'networkpolicy', '-n', 'shop', ...D]);
    expect(shop.out.trim().split('\n').map((l) => l.replace(/\s+/g, ' '))).toEqual(['NAME TIER', 'web default']);
    const none = await run(['get', 'heps', ...D]);
    expect(none).toMatchObject({ code: 0, out: expect.stringContaining('no hostendpoints found') });
    const missing = await run(['get', 'np', 'nope', '-n', 'shop', ...D]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('NetworkPolicy shop/nope not found');
  });

  it('-o yaml carries resourceVersion: replace with it is a compare-and-swap', async () => {
    const got = await run(['get', 'networkpolicy', 'web', '-n', 'shop', '-o', 'yaml', ...D]);
    expect(got.code).toBe(0);
    const web = parseYaml(got.out) as { metadata: { resourceVersion: string }; spec: { order?: number } };
    expect(web.metadata.resourceVersion).toMatch(/^[0-9a-f]{16}$/);
    const edited = file('web.yaml', got.out.replace("selector: app == 'web'", "selector: app == 'web'\n  order: 50"));
    expect((await run(['replace', '-f', edited, ...D])).code).toBe(0);
    const stale = await run(['replace', '-f', edited, ...D]);
    expect(stale.code).toBe(1);
    expect(stale.out).toMatch(/refused\s+NetworkPolicy shop\/web .*was changed since resourceVersion/);
    const list = JSON.parse((await run(['get', 'np', '-A', '--json', ...D])).out) as { kind: string; items: { metadata: { name: string } }[] };
    expect(list.kind).toBe('NetworkPolicyList');
    expect(list.items.map((i) => i.metadata.name)).toEqual(['db', 'web']);
  });

  it('create refuses what exists; delete by KIND NAME, then again refused', async () => {
    const dup = await run(['create', '-f', policies, ...D]);
    expect(dup.code).toBe(1);
    expect(dup.out.split('\n').filter((l) => l.startsWith('refused'))).toHaveLength(4);
    const tierInUse = await run(['delete', 'tier', 'security', ...D]);
    expect(tierInUse.code).toBe(1);
    expect(tierInUse.out).toContain('still has 1 policy');
    expect((await run(['delete', 'gnp', 'security.block-telnet', ...D])).code).toBe(0);
    expect((await run(['delete', 'tier', 'security', ...D])).code).toBe(0);
    const gone = await run(['delete', 'np', 'web', '-n', 'shop', ...D, '--json']);
    expect(gone.code).toBe(0);
    expect(JSON.parse(gone.out).results[0]).toMatchObject({ action: 'deleted', kind: 'NetworkPolicy', namespace: 'shop', name: 'web' });
    const again = await run(['delete', 'np', 'web', '-n', 'shop', ...D]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/refused\s+NetworkPolicy shop\/web .*does not exist/);
  });

  it('datastore init creates the ClusterInformation and default tiers, once', async () => {
    const r = await run(['datastore', 'init', ...D]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').slice(0, 4).map((l) => l.replace(/\s+/g, ' '))).toEqual(['created ClusterInformation default', 'created Tier default', 'created Tier kube-admin', 'created Tier kube-baseline']);
    expect((await run(['datastore', 'init', ...D])).out).toMatch(/^unchanged\s+ClusterInformation default/);
    const info = await run(['get', 'clusterinfo', ...D]);
    expect(info.out.split('\n')[0]!.replace(/\s+/g, ' ')).toBe('NAME CLUSTERGUID CLUSTERTYPE CALICOVERSION DATASTOREREADY');
    expect(info.out).toMatch(/default\s+[0-9a-f]{32}\s+true/);
    const tiers = await run(['get', 'tiers', ...D]);
    expect(tiers.out).toMatch(/kube-admin\s+1000\n/);
  });

  it('escapes names from input in text output', async () => {
    const evilDir = join(scratch, 'evil');
    rmSync(evilDir, { recursive: true, force: true });
    await run(['datastore', 'init', '--dir', evilDir]);
    writeFileSync(join(evilDir, 'x\u001b]0;pwned\u0007.yaml'), 'apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: "x"}\n');
    const r = await run(['get', 'tiers', '--dir', evilDir]);
    expect(r.code).toBe(0);
    expect(r.err).toContain('x\\x1b]0;pwned\\x07.yaml');
    expect(r.err).not.toContain('\u001b');
  });

  it('usage mistakes exit 2 with a pointer to --help', async () => {
    for (const argv of [['get'], ['get', 'felixconfiguration'], ['get', 'np', '-o', 'xml'], ['apply', ...D], ['get', 'gnp', '--dir', dir, '--etcd-endpoints', 'http://x:1'], ['datastore', 'init', '--datastore', 'kubernetes'], ['datastore', 'bootstrap'], ['get', 'gnp', 'a', 'b']]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(/^gingham \w+: /);
    }
  });

  it('the built bin runs the same command', () => {
    const r = spawnSync(process.execPath, [join(root, 'packages/cli/dist/bin.js'), 'get', 'tiers', '--dir', dir], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+ORDER\n/);
  });
});

describe.skipIf(!etcdAvailable())('datastore commands on a real etcd', () => {
  let server: EtcdServer;
  beforeAll(async () => {
    server = await startEtcd();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it("apply, get and init against etcd with Calico's environment names", async () => {
    const saved = { DATASTORE_TYPE: process.env['DATASTORE_TYPE'], ETCD_ENDPOINTS: process.env['ETCD_ENDPOINTS'] };
    process.env['DATASTORE_TYPE'] = 'etcdv3';
    process.env['ETCD_ENDPOINTS'] = server.endpoint;
    try {
      const init = await run(['datastore', 'init']);
      expect(init.code).toBe(0);
      expect(init.out).toContain(`etcd ${server.endpoint} is initialised`);
      const applied = await run(['apply', '-f', file('etcd.yaml', POLICIES), '--json']);
      expect(applied.code).toBe(0);
      const results = (JSON.parse(applied.out) as { results: { action: string; resourceVersion: string; name: string }[] }).results;
      expect(results.map((r) => r.action)).toEqual(['created', 'created', 'created', 'created']);
      const web = JSON.parse((await run(['get', 'np', 'web', '-n', 'shop', '-o', 'json'])).out) as { metadata: { resourceVersion: string; uid: string } };
      // resourceVersion is the key's mod_revision in etcd.
      const kv = JSON.parse(await server.etcdctl(['get', '/calico/resources/v3/projectcalico.org/networkpolicies/shop/web', '-w', 'json'])) as { kvs: { mod_revision: number }[] };
      expect(web.metadata.resourceVersion).toBe(String(kv.kvs[0]!.mod_revision));
      expect(web.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      const tiers = await run(['get', 'tiers']);
      expect(tiers.out.trim().split('\n').map((l) => l.replace(/\s+/g, ' '))).toEqual(['NAME ORDER', 'default 1000000', 'kube-admin 1000', 'kube-baseline 10000000', 'security 100']);
      // A value that Calico's API would never write shows up as a warning, not a failure.
      await server.etcdctl(['put', '/calico/resources/v3/projectcalico.org/globalnetworkpolicies/garbage', '{not json']);
      const gnp = await run(['get', 'gnp']);
      expect(gnp.code).toBe(0);
      expect(gnp.err).toMatch(/warning: \/calico\/resources\/v3\/projectcalico\.org\/globalnetworkpolicies\/garbage: not valid JSON .*\(skipped\)/);
      expect(gnp.out).toContain('security.block-telnet');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('flags override the environment; an unreachable etcd fails with exit 1 and says where', async () => {
    const r = await run(['get', 'gnp', '--datastore', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot reach etcd at http://127.0.0.1:1');
  });
});
