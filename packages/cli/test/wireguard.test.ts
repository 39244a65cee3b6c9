/**
 * `gingham wireguard` without a kernel: usage errors (exit 2, two lines), the key commands on real
 * files, `--json`, and every refusal of `apply`/`down` (bad key file, bad manifests, conflicting
 * claims, an unknown node, a name owned by another namespace) exits 1 having run no mutating
 * command (a recording runner and a fake /proc stand in for the host). The mesh itself is pinned
 * by wireguard-mesh.kernel.test.ts.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyFile, generateKeyPair, isValidKey } from '@gingham/wireguard';
import { fakeHost, recordingRunner, removeFakeHosts } from '@gingham/wireguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './run-cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ghwg-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await removeFakeHosts();
});

const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];

interface TestNode {
  readonly i: number;
  readonly podCIDRs?: readonly string[];
  readonly publicKey?: string;
}

/** A Calico Node (address, WireGuard address and key) and a Kubernetes Node (pod CIDRs) per node. */
function nodeYaml({ i, podCIDRs = [`10.244.${i}.0/24`], publicKey = keys[i]!.publicKey }: TestNode): string {
  return `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: n${i}
spec:
  bgp:
    ipv4Address: 192.168.0.${i}/24
  wireguard:
    interfaceIPv4Address: 10.99.0.${i}
status:
  wireguardPublicKey: ${publicKey}
---
apiVersion: v1
kind: Node
metadata:
  name: n${i}
spec:
  podCIDRs: [${podCIDRs.join(', ')}]
`;
}

/** A fresh manifest directory with these nodes. */
async function manifests(nodes: readonly TestNode[], extra = ''): Promise<string> {
  const m = await mkdtemp(join(dir, 'm-'));
  for (const n of nodes) await writeFile(join(m, `n${n.i}.yaml`), nodeYaml(n));
  if (extra) await writeFile(join(m, 'extra.yaml'), extra);
  return m;
}

describe('gingham wireguard usage', () => {
  it('prints its help (every subcommand listed) with --help or help, exit 0; no subcommand is a usage error', async () => {
    for (const argv of [['wireguard', '--help'], ['wireguard', 'help'], ['wireguard', 'apply', '--help'], ['help', 'wireguard']]) {
      const h = await run(argv);
      expect(h.code).toBe(0);
      expect(h.out).toMatch(/^gingham wireguard: encrypt traffic between nodes/);
      for (const sub of ['genkey --out FILE', 'pubkey --private-key FILE', 'rotate-key --private-key FILE', 'apply -f PATH... --node NAME --private-key FILE', 'down [--interface NAME]']) {
        expect(h.out).toContain(`gingham wireguard ${sub}`);
      }
    }
    const none = await run(['wireguard']);
    expect(none.code).toBe(2);
    expect(none.err).toBe("gingham wireguard: which one: genkey, pubkey, rotate-key, apply, down?\nrun 'gingham wireguard --help' for usage\n");
  });

  it('the overview names every wireguard subcommand', async () => {
    expect((await run(['--help'])).out).toContain('gingham wireguard genkey|pubkey|rotate-key|apply|down');
  });

  it.each([
    [['frobnicate'], 'unknown subcommand "frobnicate" (genkey, pubkey, rotate-key, apply, down)'],
    [['apply', '--bogus'], 'unknown option --bogus'],
    [['genkey'], 'genkey needs --out'],
    [['pubkey'], 'pubkey needs --private-key'],
    [['rotate-key'], 'rotate-key needs --private-key'],
    [['apply', '--node'], '--node needs a value'],
    [['apply', '--node', 'n1', '--private-key', 'k'], 'apply needs -f PATH (manifest files or directories)'],
    [['apply', '-f', 'x', '--private-key', 'k'], 'apply needs --node'],
    [['apply', '-f', 'x', '--node', 'n1', '--private-key', 'k', '--listen-port', '70000'], '--listen-port must be an integer in 1..65535, got "70000"'],
    [['apply', '-f', 'x', '--node', 'n1', '--private-key', 'k', '--ip-version', '5'], '--ip-version must be 4 or 6, got "5"'],
    [['apply', '-f', 'x', '--node', 'n1', '--private-key', 'k', '--mode', 'fast'], '--mode must be auto, kernel or userspace, got "fast"'],
    [['apply', '-f', 'x', '--node', 'n1', '--private-key', 'k', '--interface', 'this-name-is-too-long'], 'invalid interface name "this-name-is-too-long": 1 to 15 characters of letters, digits, "_", "." and "-"'],
    [['down', '--node', 'n1'], 'unknown option --node'],
    [['genkey', '--out', 'x', 'extra'], 'unexpected argument "extra"'],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const r = await run(['wireguard', ...argv]);
    expect(r.err).toBe(`gingham wireguard: ${message}\nrun 'gingham wireguard --help' for usage\n`);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
  });
});

describe('gingham wireguard genkey / pubkey / rotate-key', () => {
  it('writes a 0600 key file, prints its public key, refuses to overwrite it, rotates it', async () => {
    const path = join(dir, 'g.key');
    const r = await run(['wireguard', 'genkey', '--out', path]);
    expect(r.code).toBe(0);
    const pub = r.out.trim();
    expect(isValidKey(pub)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await run(['wireguard', 'pubkey', '--private-key', path])).out.trim()).toBe(pub);
    const again = await run(['wireguard', 'genkey', '--out', path]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^gingham wireguard: .*already exists/);
    const rot = await run(['wireguard', 'rotate-key', '--private-key', path]);
    expect(rot.code).toBe(0);
    expect(rot.out).toMatch(new RegExp(`^old ${pub.replace(/[+/]/g, '\\$&')}\nnew [A-Za-z0-9+/]{43}=\n$`));
    expect(rot.err).toMatch(/^Publish the new key in this node's manifest/);
    expect((await run(['wireguard', 'genkey', '--out', path, '--force'])).code).toBe(0);
  });

  it('--json gives the file and keys', async () => {
    const path = join(dir, 'j.key');
    const g = await run(['wireguard', 'genkey', '--out', path, '--json']);
    const made = JSON.parse(g.out) as { file: string; publicKey: string; createdDirectories: string[] };
    expect(made).toEqual({ file: path, publicKey: expect.any(String), createdDirectories: [] });
    expect(JSON.parse((await run(['wireguard', 'pubkey', '--private-key', path, '--json'])).out)).toEqual({ file: path, publicKey: made.publicKey });
    const rot = JSON.parse((await run(['wireguard', 'rotate-key', '--private-key', path, '--json'])).out) as { oldPublicKey: string; publicKey: string };
    expect(rot.oldPublicKey).toBe(made.publicKey);
    expect(isValidKey(rot.publicKey)).toBe(true);
  });

  it('genkey --out creates missing directories (mode 0700) and says which', async () => {
    const path = join(dir, 'new', 'etc', 'wg.key');
    const r = await run(['wireguard', 'genkey', '--out', path]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`created directory ${join(dir, 'new')} (mode 0700)\ncreated directory ${join(dir, 'new', 'etc')} (mode 0700)\n`);
    expect((await stat(join(dir, 'new', 'etc'))).mode & 0o777).toBe(0o700);
    expect(isValidKey(r.out.trim())).toBe(true);
  });

  it('genkey errors name the real path, not a temporary file', async () => {
    await writeFile(join(dir, 'afile'), 'x');
    const path = join(dir, 'afile', 'wg.key');
    const r = await run(['wireguard', 'genkey', '--out', path]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`gingham wireguard: cannot create key file ${path}: ${join(dir, 'afile')} is not a directory\n`);
  });
});

describe('gingham wireguard apply refuses bad input and changes nothing', () => {
  let keyFile: string;
  beforeAll(async () => {
    keyFile = join(dir, 'n1.key');
    await writeFile(keyFile, `${keys[1]!.privateKey}\n`, { mode: 0o600 });
  });

  /** Runs the command against a recording runner and a fake host; returns the run and the mutating commands. */
  async function attempt(argv: string[]): Promise<{ code: number; out: string; err: string; mutating: string[] }> {
    const h = await fakeHost();
    const runner = recordingRunner();
    const r = await run(['wireguard', ...argv], { wireguard: { runner, hostPaths: h } });
    return { ...r, mutating: runner.mutating() };
  }
  async function refused(argv: string[], message: RegExp, code = 1): Promise<void> {
    const r = await attempt(argv);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(code);
    expect(r.mutating).toEqual([]);
  }
  const base = (m: string, extra: string[] = []) => ['apply', '-f', m, '--node', 'n1', '--private-key', keyFile, '--interface', 'wgcli0', '--mtu', '1420', '--state-dir', join(dir, 'state'), ...extra];

  it('a key file others can read', async () => {
    const loose = join(dir, 'loose.key');
    await generateKeyFile(loose);
    await chmod(loose, 0o644);
    await refused(['apply', '-f', await manifests([{ i: 1 }]), '--node', 'n1', '--private-key', loose], /has mode 0644; it must be readable only by its owner/);
  });

  it('a malformed private key', async () => {
    const bad = join(dir, 'bad.key');
    await writeFile(bad, 'c2VjcmV0\n', { mode: 0o600 });
    await refused(['apply', '-f', await manifests([{ i: 1 }]), '--node', 'n1', '--private-key', bad], /private key in .*bad.key is not a WireGuard key/);
  });

  it('a malformed public key in the manifests', async () => {
    const m = await manifests([{ i: 1 }, { i: 2, publicKey: 'not-a-key' }]);
    await refused(base(m), /error: invalid-public-key: status.wireguardPublicKey of node n2 is not a WireGuard key[\s\S]*gingham wireguard: the node list has errors \(above\); nothing was changed\n$/);
  });

  it('two nodes claiming the same pod CIDR', async () => {
    const m = await manifests([{ i: 1 }, { i: 2 }, { i: 0, podCIDRs: ['10.244.2.0/24'] }]);
    await refused(base(m), /conflicting-allowed-ips: nodes n0 and n2 both claim 10.244.2.0\/24; neither claim is programmed/);
  });

  it('a node missing from the manifests', async () => {
    await refused(base(await manifests([{ i: 2 }])), /^gingham wireguard: node n1 is not in the manifests \(nodes: n2\); nothing was changed\n$/);
  });

  it('manifests with errors, named by file:line:col', async () => {
    const m = await manifests([{ i: 1 }], 'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: n9\nspec:\n  bgp:\n    ipv4Address: not-an-ip\n');
    await refused(base(m), /extra\.yaml:\d+:\d+: [\s\S]*gingham wireguard: the manifests have errors \(above\); nothing was changed/);
  });

  it('missing or refused paths, before anything is read', async () => {
    await refused(base(join(dir, 'nope.yaml')), /^gingham wireguard: no such file or directory: .*nope\.yaml\n/, 2);
    await refused(base('/dev/zero'), /\/dev\/zero: is a character device; only regular files, directories and pipes are read\nnothing was loaded/);
  });

  it('an interface name owned by another namespace', async () => {
    const h = await fakeHost();
    await h.addSocket('wgcli0');
    await h.addProcess(999, ['wireguard-go', '-f', 'wgcli0'], 'net:[4026539999]');
    const runner = recordingRunner();
    const r = await run(['wireguard', ...base(await manifests([{ i: 1 }, { i: 2 }]))], { wireguard: { runner, hostPaths: h } });
    expect(r.code).toBe(1);
    expect(r.err).toContain('interface name wgcli0 is already used by another network namespace on this machine');
    expect(r.err).toContain('choose another --interface');
    expect(runner.mutating()).toEqual([]);
  });

  it('--json: the refusal as data on stdout', async () => {
    const m = await manifests([{ i: 1 }, { i: 2 }, { i: 0, podCIDRs: ['10.244.2.0/24'] }]);
    const r = await attempt(base(m, ['--json']));
    expect(r.code).toBe(1);
    const body = JSON.parse(r.out) as { ok: boolean; changed: boolean; issues: { code: string; nodes: string[] }[] };
    expect(body).toMatchObject({ ok: false, changed: false });
    expect(body.issues.map((i) => [i.code, i.nodes])).toContainEqual(['conflicting-allowed-ips', ['n0', 'n2']]);
    expect(r.mutating).toEqual([]);
  });

  it('down on an interface that does not exist', async () => {
    await refused(['down', '--interface', 'wgnope', '--state-dir', join(dir, 'state')], /^gingham wireguard: interface wgnope does not exist in the fake namespace; nothing to take down\n$/);
  });

  it('reads Calico and Kubernetes Nodes from nested directories and refuses the duplicate claim they make', async () => {
    const m = join(dir, 'nested-manifests');
    await mkdir(join(m, 'nested'), { recursive: true });
    await writeFile(join(m, 'n1.yaml'), nodeYaml({ i: 1 }));
    await writeFile(join(m, 'nested', 'n2.yml'), nodeYaml({ i: 2 }));
    await writeFile(join(m, 'ignored.txt'), 'not a manifest');
    await writeFile(join(m, 'n0.yaml'), nodeYaml({ i: 0, podCIDRs: ['10.244.2.0/24'] }));
    await refused(base(m), /nodes n0 and n2 both claim 10.244.2.0\/24/);
    expect(await readFile(join(m, 'n1.yaml'), 'utf8')).toContain('kind: Node');
  });
});
