// `gingham openstack` through the BUILT package: convert saved API bodies into a List that
// `gingham lint` accepts (JSON and YAML), bad input placed at file:line:col with nothing on
// stdout, usage errors, and `fetch` from a live (test) cloud with OS_* credentials.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '@gingham/cli';
import { createTestCloud, securityGroup, testUuid, vmPort } from '@gingham/openstack/testing';

const root = new URL('../../../', import.meta.url).pathname;
const bin = join(root, 'packages/cli/dist/bin.js');
const scratch = mkdtempSync(join(tmpdir(), 'gingham-openstack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (s) => (out += s.endsWith('\n') ? s : `${s}\n`), stderr: (s) => (err += `${s}\n`) };
  const code = await runCli(argv, io);
  return { code, out, err };
}

const SSH = testUuid('cli-sg:ssh');
const ports = [
  vmPort({ id: testUuid('cli-port:1'), host: 'compute-1', ip: '10.1.0.11', securityGroups: [SSH], networkId: 'net-1', subnetId: 'sub-1', projectId: 'proj1' }),
  vmPort({ id: testUuid('cli-port:2'), host: 'compute-2', ip: '10.1.0.12', securityGroups: [SSH], networkId: 'net-1', subnetId: 'sub-1', projectId: 'proj1' }),
];
const groups = [securityGroup(SSH, 'ssh', [{ direction: 'egress' }, { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SSH }])];
const write = (name: string, body: unknown): string => {
  const file = join(scratch, name);
  writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  return file;
};

describe('gingham openstack convert', () => {
  const portsFile = write('ports.json', { ports });
  const sgsFile = write('sgs.json', { security_groups: groups });
  const subnetsFile = write('subnets.json', { subnets: [{ id: 'sub-1', network_id: 'net-1', cidr: '10.1.0.0/24', gateway_ip: '10.1.0.1' }] });
  const networksFile = write('networks.json', { networks: [{ id: 'net-1', name: 'prod' }] });
  const projectsFile = write('projects.json', { projects: [{ id: 'proj1', name: 'Shop', parent_id: 'default', domain_id: 'default' }] });

  it('prints the driver\'s resources as one List that gingham lint accepts', async () => {
    const r = await run(['openstack', 'convert', '--ports', portsFile, '--security-groups', sgsFile, '--subnets', subnetsFile, '--networks', networksFile, '--projects', projectsFile]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('converted 2 ports and 1 security groups: 2 WorkloadEndpoints and 1 NetworkPolicies in namespace openstack\n');
    const list = JSON.parse(r.out) as { apiVersion: string; kind: string; items: { kind: string; metadata: { labels?: Record<string, string> }; spec: Record<string, unknown> }[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.kind)).toEqual(['NetworkPolicy', 'WorkloadEndpoint', 'WorkloadEndpoint']);
    expect(list.items[1]!.metadata.labels).toMatchObject({ 'projectcalico.org/openstack-project-name': 'Shop', 'projectcalico.org/openstack-network-name': 'prod' });
    expect(list.items[1]!.spec.ipv4Gateway).toBe('10.1.0.1');
    const out = write('calico.json', r.out);
    const lint = await run(['lint', '-f', out]);
    expect(lint.err).toBe('');
    expect(lint.code).toBe(0);
    // allowedIps is a field only networking-calico writes (Calico's API has none; Felix ignores it).
    expect(lint.out.split('\n').filter((l) => l.includes('warning:')).map((l) => l.replace(/^.*spec\./, 'spec.'))).toEqual(['spec.allowedIps: unknown field "allowedIps"', 'spec.allowedIps: unknown field "allowedIps"']);
    expect(lint.out).toMatch(/ok: 1 policies, 2 workload endpoints, 0 host endpoints, 0 network sets \(2 warnings\)/);
  });

  it('prints YAML with -o yaml, in the region namespace with --region', async () => {
    const r = await run(['openstack', 'convert', '--ports', portsFile, '--security-groups', sgsFile, '--region', 'eu-1', '-o', 'yaml']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^apiVersion: v1\nkind: List\nitems:\n/);
    expect(r.out).toContain('namespace: openstack-region-eu-1');
    const out = write('calico.yaml', r.out);
    expect((await run(['lint', '-f', out])).code).toBe(0);
  });

  it('names the file, line, column and field of bad input, and prints nothing on stdout', async () => {
    const text = JSON.stringify({ ports: [ports[0], { ...ports[1], security_groups: 'ssh' }] }, null, 2);
    const bad = write('bad-ports.json', text);
    const r = await run(['openstack', 'convert', '--ports', bad, '--security-groups', sgsFile]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('"security_groups": "ssh"')) + 1;
    const col = lines[line - 1]!.indexOf('"ssh"') + 1;
    expect(r.err).toContain(`${bad}:${line}:${col}: port ${ports[1]!.id} ports[1].security_groups: security_groups must be a list, not a string\n`);
    expect(r.err).toMatch(/1 error\(s\); nothing printed/);
    const broken = write('broken.json', '{"ports": [\n  {"id": 1,,}\n]}');
    const syntax = await run(['openstack', 'convert', '--ports', broken, '--security-groups', sgsFile]);
    expect(syntax.code).toBe(1);
    expect(syntax.err).toMatch(new RegExp(`^${broken}:2:12: body: not valid JSON`));
  });

  it('treats missing flags and files as usage errors (exit 2)', async () => {
    expect((await run(['openstack', 'convert', '--ports', portsFile])).err).toMatch(/--security-groups FILE is required/);
    const missing = await run(['openstack', 'convert', '--ports', join(scratch, 'nope.json'), '--security-groups', sgsFile]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--ports: no such file: .*nope\.json/);
    expect((await run(['openstack', 'convert', '--ports', portsFile, '--security-groups', sgsFile, '-o', 'xml'])).code).toBe(2);
    expect((await run(['openstack', 'convert', '--ports', portsFile, '--security-groups', sgsFile, '-o', 'yaml', '--json'])).err).toMatch(/--json and -o yaml disagree/);
    expect(JSON.parse((await run(['openstack', 'convert', '--ports', portsFile, '--security-groups', sgsFile, '--json'])).out)).toMatchObject({ kind: 'List' });
    expect((await run(['openstack', 'frobnicate'])).code).toBe(2);
    const help = await run(['openstack', 'convert', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/GET \/v2\.0\/security-groups/);
  });
});

describe('gingham openstack fetch', () => {
  const gingham = (args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    });

  it('lists a live cloud once with the OS_* credentials and prints the List', async () => {
    const cloud = await createTestCloud({ applicationCredentials: [{ id: 'ac', secret: 'shh' }] });
    try {
      for (const p of ports) cloud.put('ports', p);
      for (const g of groups) cloud.put('securityGroups', g);
      const env = { OS_AUTH_URL: cloud.authUrl, OS_USERNAME: 'admin', OS_PASSWORD: 'secret', OS_PROJECT_NAME: 'admin', OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default' };
      const r = await gingham(['openstack', 'fetch', '-o', 'yaml'], env);
      expect(r.err).toBe('fetched 2 WorkloadEndpoints and 1 NetworkPolicies in namespace openstack\n');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/kind: List/);
      const app = await gingham(['openstack', 'fetch', '--host', 'compute-1'], { OS_AUTH_URL: cloud.authUrl, OS_APPLICATION_CREDENTIAL_ID: 'ac', OS_APPLICATION_CREDENTIAL_SECRET: 'shh' });
      expect(app.code).toBe(0);
      expect((JSON.parse(app.out) as { items: unknown[] }).items).toHaveLength(3);
      const denied = await gingham(['openstack', 'fetch'], { ...env, OS_PASSWORD: 'wrong' });
      expect(denied.code).toBe(1);
      expect(denied.out).toBe('');
      expect(denied.err).toMatch(/HTTP 401/);
      expect(denied.err).not.toMatch(/wrong/);
      const unset = await gingham(['openstack', 'fetch'], {});
      expect(unset.code).toBe(2);
      expect(unset.err).toMatch(/OS_AUTH_URL is not set/);
    } finally {
      await cloud.close();
    }
  });
});

