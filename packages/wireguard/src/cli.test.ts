import type { NodeInfo } from '@gingham/core';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeHost, recordingRunner } from '../test/fakes.js';
import { runWireguardCommand, type LoadedNodes, type WireguardCliOptions } from './cli.js';
import { generateKeyFile, generateKeyPair, isValidKey } from './keys.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ghwg-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[], options: WireguardCliOptions = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runWireguardCommand(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) }, options);
  return { code, out, err };
}

const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
function node(i: number, extra: Partial<NodeInfo> = {}): NodeInfo {
  return { name: `n${i}`, addresses: [`192.168.0.${i}`], podCIDRs: [`10.244.${i}.0/24`], labels: {}, wireguardInterfaceIPv4Address: `10.99.0.${i}`, wireguardPublicKey: keys[i]!.publicKey, ...extra };
}
const loadNodes = (nodes: NodeInfo[], issues: string[] = [], ok = true) => async (): Promise<LoadedNodes> => ({ nodes, workloadEndpoints: [], issues, ok });

describe('gingham wireguard usage', () => {
  it('prints help with --help and exits 0; no command is a usage error', async () => {
    const h = await cli(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^Usage: gingham wireguard <command>/);
    expect(h.out).toContain('apply -f PATH... --node NAME --private-key FILE');
    expect((await cli([])).code).toBe(2);
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['apply', '--bogus'], /unknown option --bogus/],
    [['genkey'], /genkey needs --out/],
    [['apply', '-f'], /-f needs at least one file/],
    [['apply', '--node', 'n1', '--private-key', 'k'], /apply needs -f PATH/],
    [['apply', '-f', 'x', '--node', 'n1', '--private-key', 'k', '--listen-port', '70000'], /--listen-port must be an integer in 1..65535/],
    [['apply', '-f', 'x', '--node', 'n1', '--private-key', 'k', '--interface', 'this-name-is-too-long'], /invalid interface name/],
    [['down', '--node', 'n1'], /down does not take --node/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/^gingham wireguard: .*\nrun 'gingham wireguard --help' for usage\n$/);
  });
});

describe('gingham wireguard genkey / pubkey / rotate-key', () => {
  it('writes a 0600 key file and prints its public key', async () => {
    const path = join(dir, 'g.key');
    const r = await cli(['genkey', '--out', path]);
    expect(r.code).toBe(0);
    const pub = r.out.trim();
    expect(isValidKey(pub)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await cli(['pubkey', '--private-key', path])).out.trim()).toBe(pub);
    const again = await cli(['genkey', '--out', path]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already exists/);
    const rot = await cli(['rotate-key', '--private-key', path]);
    expect(rot.code).toBe(0);
    expect(rot.out).toMatch(new RegExp(`^old ${pub.replace(/[+/]/g, '\\$&')}\nnew `));
  });

  it('genkey --out creates missing directories (mode 0700) and says which', async () => {
    const path = join(dir, 'new', 'etc', 'wg.key');
    const r = await cli(['genkey', '--out', path]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`created directory ${join(dir, 'new')} (mode 0700)\ncreated directory ${join(dir, 'new', 'etc')} (mode 0700)\n`);
    expect((await stat(join(dir, 'new', 'etc'))).mode & 0o777).toBe(0o700);
    expect(isValidKey(r.out.trim())).toBe(true);
  });

  it('genkey errors name the real path, not a temporary file', async () => {
    await writeFile(join(dir, 'afile'), 'x');
    const path = join(dir, 'afile', 'wg.key');
    const r = await cli(['genkey', '--out', path]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`gingham: cannot create key file ${path}: ${join(dir, 'afile')} is not a directory\n`);
  });
});

describe('gingham wireguard apply refuses bad input and changes nothing', () => {
  let keyFile: string;
  beforeAll(async () => {
    keyFile = join(dir, 'n1.key');
    await writeFile(keyFile, `${keys[1]!.privateKey}\n`, { mode: 0o600 });
  });

  async function refused(argv: string[], options: WireguardCliOptions, message: RegExp): Promise<void> {
    const h = await fakeHost();
    const runner = recordingRunner();
    const r = await cli(argv, { runner, hostPaths: h, stateDir: h.stateDir, ...options });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    expect(runner.mutating()).toEqual([]);
  }
  const base = () => ['apply', '-f', 'manifests', '--node', 'n1', '--private-key', keyFile, '--interface', 'wgcli0', '--mtu', '1420'];

  it('a key file others can read', async () => {
    const loose = join(dir, 'loose.key');
    await generateKeyFile(loose);
    await chmod(loose, 0o644);
    await refused(['apply', '-f', 'm', '--node', 'n1', '--private-key', loose], { loadNodes: loadNodes([node(1)]) }, /has mode 0644; it must be readable only by its owner/);
  });

  it('a malformed private key', async () => {
    const bad = join(dir, 'bad.key');
    await writeFile(bad, 'c2VjcmV0\n', { mode: 0o600 });
    await refused(['apply', '-f', 'm', '--node', 'n1', '--private-key', bad], { loadNodes: loadNodes([node(1)]) }, /private key in .*bad.key is not a WireGuard key/);
  });

  it('a malformed public key in the manifests', async () => {
    await refused(base(), { loadNodes: loadNodes([node(1), node(2, { wireguardPublicKey: 'not-a-key' })]) }, /invalid-public-key: status.wireguardPublicKey of node n2 is not a WireGuard key[\s\S]*nothing was changed/);
  });

  it('two nodes claiming the same pod CIDR', async () => {
    await refused(base(), { loadNodes: loadNodes([node(1), node(2), node(0, { podCIDRs: ['10.244.2.0/24'] })]) }, /conflicting-allowed-ips: nodes n0 and n2 both claim 10.244.2.0\/24; neither claim is programmed/);
  });

  it('a node missing from the manifests', async () => {
    await refused(base(), { loadNodes: loadNodes([node(2)]) }, /node n1 is not in the manifests \(nodes: n2\); nothing was changed/);
  });

  it('manifests with errors', async () => {
    await refused(base(), { loadNodes: loadNodes([node(1)], ['m.yaml:3:5: Node/n1 spec.bgp.ipv4Address: invalid'], false) }, /m.yaml:3:5[\s\S]*the manifests have errors/);
  });

  it('an interface name owned by another namespace', async () => {
    const h = await fakeHost();
    await h.addSocket('wgcli0');
    await h.addProcess(999, ['wireguard-go', '-f', 'wgcli0'], 'net:[4026539999]');
    const runner = recordingRunner();
    const r = await cli(base(), { runner, hostPaths: h, stateDir: h.stateDir, loadNodes: loadNodes([node(1), node(2)]) });
    expect(r.code).toBe(1);
    expect(r.err).toContain('interface name wgcli0 is already used by another network namespace on this machine');
    expect(r.err).toContain('choose another --interface');
    expect(runner.mutating()).toEqual([]);
  });

  it('down on an interface that does not exist', async () => {
    const h = await fakeHost();
    const runner = recordingRunner();
    const r = await cli(['down', '--interface', 'wgnope'], { runner, hostPaths: h, stateDir: h.stateDir });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/interface wgnope does not exist/);
    expect(runner.mutating()).toEqual([]);
  });
});

describe('manifest loading through @gingham/core', () => {
  it('refuses missing paths and devices before reading anything, naming each', async () => {
    const { loadNodesFromManifests } = await import('./cli.js');
    await expect(loadNodesFromManifests([join(dir, 'nope.yaml'), '/dev/zero'])).rejects.toMatchObject({
      code: 'WG_INVALID_INPUT',
      message: `gingham: no such file or directory: ${join(dir, 'nope.yaml')}\n/dev/zero: is a character device; only regular files, directories and pipes are read\nnothing was changed`,
    });
  });

  it('reads Calico and Kubernetes Nodes from a directory and refuses the duplicate claim they make', async () => {
    const m = join(dir, 'manifests');
    await rm(m, { recursive: true, force: true });
    await (await import('node:fs/promises')).mkdir(join(m, 'nested'), { recursive: true });
    const calico = (i: number) => `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: n${i}
spec:
  bgp:
    ipv4Address: 192.168.0.${i}/24
  wireguard:
    interfaceIPv4Address: 10.99.0.${i}
status:
  wireguardPublicKey: ${keys[i]!.publicKey}
`;
    const k8s = (i: number, cidr: string) => `apiVersion: v1
kind: Node
metadata:
  name: n${i}
spec:
  podCIDRs: [${cidr}]
`;
    await writeFile(join(m, 'n1.yaml'), `${calico(1)}---\n${k8s(1, '10.244.1.0/24')}`);
    await writeFile(join(m, 'nested', 'n2.yml'), `${calico(2)}---\n${k8s(2, '10.244.2.0/24')}`);
    await writeFile(join(m, 'ignored.txt'), 'not a manifest');
    const { loadNodesFromManifests } = await import('./cli.js');
    const loaded = await loadNodesFromManifests([m]);
    expect(loaded.ok).toBe(true);
    expect(loaded.nodes.map((n) => [n.name, n.bgpIPv4Address, n.podCIDRs, n.wireguardPublicKey])).toEqual([
      ['n1', '192.168.0.1', ['10.244.1.0/24'], keys[1]!.publicKey],
      ['n2', '192.168.0.2', ['10.244.2.0/24'], keys[2]!.publicKey],
    ]);
    await writeFile(join(m, 'n0.yaml'), `${calico(0)}---\n${k8s(0, '10.244.2.0/24')}`);
    const keyFile = join(dir, 'm1.key');
    await writeFile(keyFile, `${keys[1]!.privateKey}\n`, { mode: 0o600 });
    const h = await fakeHost();
    const runner = recordingRunner();
    const r = await cli(['apply', '-f', m, '--node', 'n1', '--private-key', keyFile, '--mtu', '1420'], { runner, hostPaths: h, stateDir: h.stateDir });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nodes n0 and n2 both claim 10.244.2.0\/24/);
    expect(runner.mutating()).toEqual([]);
    expect(await readFile(join(m, 'n1.yaml'), 'utf8')).toContain('kind: Node');
  });
});
