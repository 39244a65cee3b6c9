/**
 * Kernel test of `gingham wireguard`: three node namespaces on an underlay bridge, pods behind
 * them, `gingham wireguard apply` on every node (in-process through the CLI with a namespace
 * runner, and once as the real `gingham` process, whose wireguard-go must outlive it). Checks
 * reachability with real TCP bytes, that the underlay carries only WireGuard UDP (capture),
 * incremental updates that leave other sessions alone, key rotation, refusal of bad input
 * without changes, and `down`.
 * Runs only as root with the tools present; with CI=true a missing capability fails.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeInfo } from '@gingham/core';
import { createNetnsRunner } from '@gingham/host';
import { generateKeyFile, parseWgDump, rotateKeyFile, type WgDump } from '@gingham/wireguard';
import { createTopology, nsExec, probeKernelCapabilities, ProcessTracker, run, tcpTransfer, type Topology } from '@gingham/wireguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as gingham } from './run-cli.js';

const caps = probeKernelCapabilities();
const BIN = new URL('../bin/gingham.js', import.meta.url).pathname;

describe.skipIf(!caps.ok && !caps.mustRun)('WireGuard mesh across three node namespaces', () => {
  let topo: Topology;
  const tracker = new ProcessTracker();
  let cluster: NodeInfo[] = [];
  let stateDir: string;
  let manifestDir: string;
  const keyFile = (i: number): string => join(topo.dir, `node${i + 1}.key`);
  let port = 7000;

  async function writeManifests(): Promise<void> {
    await rm(manifestDir, { recursive: true, force: true });
    await mkdir(manifestDir, { recursive: true });
    for (const n of cluster) {
      const text = `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ${n.name}
spec:
  addresses:
    - address: ${n.addresses[0]}/24
  bgp:
    ipv4Address: ${n.bgpIPv4Address}/24
  wireguard:
    interfaceIPv4Address: ${n.wireguardInterfaceIPv4Address}
status:
  wireguardPublicKey: ${n.wireguardPublicKey}
---
apiVersion: v1
kind: Node
metadata:
  name: ${n.name}
spec:
  podCIDRs: [${n.podCIDRs.join(', ')}]
`;
      await writeFile(join(manifestDir, `${n.name}.yaml`), text);
    }
  }

  /** `gingham wireguard ARGV --state-dir STATE` in-process, its commands run in namespace `ns`. */
  async function cli(ns: string, argv: string[]): Promise<{ code: number; out: string; err: string }> {
    return gingham(['wireguard', ...argv, '--state-dir', stateDir], { wireguard: { runner: createNetnsRunner(ns) } });
  }

  async function applyNode(i: number): Promise<string> {
    const n = topo.nodes[i]!;
    const r = await cli(n.ns, ['apply', '-f', manifestDir, '--node', n.name, '--private-key', keyFile(i), '--interface', n.iface]);
    expect(r.err, r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    return r.out;
  }

  async function dump(i: number): Promise<WgDump> {
    const n = topo.nodes[i]!;
    const r = await run(nsExec(n.ns, ['wg', 'show', n.iface, 'dump']));
    expect(r.code, r.stderr).toBe(0);
    return parseWgDump(r.stdout);
  }

  /**
   * The peer was not touched: same configuration and handshake, counters not reset. Counters may
   * still grow between the dumps (a passive keepalive, 32 bytes, when a slow machine stretches the
   * test past WireGuard's 10 s keepalive timeout).
   */
  function expectSameSession(after: WgDump['peers'][number] | undefined, before: WgDump['peers'][number]): void {
    expect(after).toBeDefined();
    expect({ ...after!, rxBytes: 0, txBytes: 0 }).toEqual({ ...before, rxBytes: 0, txBytes: 0 });
    expect(after!.rxBytes).toBeGreaterThanOrEqual(before.rxBytes);
    expect(after!.txBytes).toBeGreaterThanOrEqual(before.txBytes);
  }

  function peerOf(d: WgDump, node: number): WgDump['peers'][number] | undefined {
    const key = cluster.find((c) => c.name === `node${node + 1}`)?.wireguardPublicKey;
    return d.peers.find((p) => p.publicKey === key);
  }

  async function transfer(from: { ns: string }, to: { ns: string; ip: string }, timeoutMs = 3000): Promise<boolean> {
    const r = await tcpTransfer(tracker, from.ns, to.ns, to.ip, port++, `hello from ${from.ns} ${'x'.repeat(64)}`, timeoutMs);
    return r.ok;
  }

  /** Everything `apply` could change on a node, without counters. */
  async function snapshot(i: number): Promise<string> {
    const n = topo.nodes[i]!;
    const parts = await Promise.all([
      run(nsExec(n.ns, ['wg', 'show', n.iface, 'dump'])).then((r) => r.stdout.split('\n').map((l) => l.split('\t').slice(0, 4).join('\t')).sort().join('\n')),
      run(nsExec(n.ns, ['ip', 'route', 'show', 'table', 'all'])).then((r) => r.stdout),
      run(nsExec(n.ns, ['ip', 'rule', 'show'])).then((r) => r.stdout),
      run(nsExec(n.ns, ['ip', '-br', 'addr', 'show'])).then((r) => r.stdout),
      run(nsExec(n.ns, ['ip', '-br', 'link', 'show'])).then((r) => r.stdout),
    ]);
    return parts.join('\n---\n');
  }

  beforeAll(async () => {
    if (!caps.ok) throw new Error(`kernel capabilities missing (CI=true, not skipping): ${caps.missing.join(', ')}`);
    topo = createTopology({ podsPerNode: [2, 1, 1] });
    stateDir = join(topo.dir, 'state');
    manifestDir = join(topo.dir, 'manifests');
    for (const [i, n] of topo.nodes.entries()) {
      const pair = await generateKeyFile(keyFile(i));
      cluster.push({
        name: n.name,
        addresses: [n.underlayIp],
        bgpIPv4Address: n.underlayIp,
        podCIDRs: [n.podCidr],
        labels: {},
        wireguardInterfaceIPv4Address: n.wgAddress,
        wireguardPublicKey: pair.publicKey,
      });
    }
    await writeManifests();
  });

  afterAll(async () => {
    await tracker.stopAll();
    await topo?.destroy();
  });

  it('the capture detects plaintext on the underlay (control)', async () => {
    const pcap = join(topo.dir, 'control.pcap');
    const stop = await capture(pcap);
    const [a, b] = topo.nodes;
    const controlPort = port++;
    expect(await tcpTransfer(tracker, a!.ns, b!.ns, b!.underlayIp, controlPort, `CONTROL-MARKER-${topo.id}`)).toMatchObject({ ok: true });
    await stop();
    // The filter the mesh test uses to say "only WireGuard": it must list this plaintext TCP.
    // (Headers, not the payload bytes: a capture on `any` stopped by SIGINT sometimes keeps only
    // the first frames of a short exchange, the SYN always among them.)
    const otherIp = await run(['tcpdump', '-n', '-r', pcap, 'ip and not (udp port 51820) and not igmp']);
    expect(otherIp.stdout).toContain(`${b!.underlayIp}.${controlPort}:`);
  });

  it('without WireGuard, pods on different nodes cannot reach each other', async () => {
    expect(await transfer(topo.nodes[0]!.pods[0]!, topo.nodes[1]!.pods[0]!, 1000)).toBe(false);
  });

  it('after apply on every node, pods reach each other and the underlay carries only WireGuard UDP', async () => {
    const pcap = join(topo.dir, 'mesh.pcap');
    const stop = await capture(pcap);
    try {
      // node1 through the real `gingham` process: its wireguard-go must outlive it.
      const n1 = topo.nodes[0]!;
      const sub = await run(
        nsExec(n1.ns, [process.execPath, BIN, 'wireguard', 'apply', '-f', manifestDir, '--node', n1.name, '--private-key', keyFile(0), '--interface', n1.iface, '--state-dir', stateDir]),
        undefined,
        60_000,
      );
      expect(sub.code, sub.stderr).toBe(0);
      expect(sub.stdout).toMatch(new RegExp(`^${n1.iface}: created \\((kernel|wireguard-go pid \\d+)\\), 2 peer\\(s\\): \\+2 ~0 -0, routes \\+4 -0, MTU 1440`));
      expect(await applyNode(1)).toMatch(/created .* 2 peer\(s\): \+2 ~0 -0/);
      expect(await applyNode(2)).toMatch(/created .* 2 peer\(s\): \+2 ~0 -0/);

      const [a, b, c] = topo.nodes;
      expect(await transfer(a!.pods[0]!, b!.pods[0]!)).toBe(true);
      expect(await transfer(b!.pods[0]!, c!.pods[0]!)).toBe(true);
      expect(await transfer(c!.pods[0]!, a!.pods[1]!)).toBe(true);
      const marker = `GINGHAM-PLAINTEXT-${topo.id}-`;
      const r = await tcpTransfer(tracker, a!.pods[1]!.ns, c!.pods[0]!.ns, c!.pods[0]!.ip, port++, marker.repeat(200));
      expect(r.ok).toBe(true);
    } finally {
      await stop();
    }
    const bytes = await readFile(pcap);
    expect(bytes.includes(Buffer.from(`GINGHAM-PLAINTEXT-${topo.id}`))).toBe(false);
    const wgPackets = await run(['tcpdump', '-n', '-r', pcap, 'udp port 51820']);
    // IGMP membership reports (no payload) are the only other IPv4 the veths emit by themselves.
    const otherIp = await run(['tcpdump', '-n', '-r', pcap, 'ip and not (udp port 51820) and not igmp']);
    expect(wgPackets.stdout.trim().split('\n').length).toBeGreaterThan(20);
    expect(otherIp.stdout.trim()).toBe('');
  });

  it('keeps wireguard-go running after the CLI exits, recorded by pid', async () => {
    const n1 = topo.nodes[0]!;
    const link = await run(nsExec(n1.ns, ['ip', '-d', '-j', 'link', 'show', n1.iface]));
    expect(link.code).toBe(0);
    if (caps.kernelModule) return;
    const pid = Number((await readFile(join(stateDir, `${n1.iface}.pid`), 'utf8')).trim());
    expect((await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')).toContain(n1.iface);
    expect(existsSync(`/var/run/wireguard/${n1.iface}.sock`)).toBe(true);
  });

  it('re-applying the same list changes nothing and keeps every session', async () => {
    const before = await dump(0);
    for (const i of [0, 1, 2]) expect(await applyNode(i)).toMatch(/updated .* \+0 ~0 -0, routes \+0 -0/);
    const after = await dump(0);
    // wireguard-go lists peers in Go map order (varies between reads): compare sorted by key.
    const sessions = (d: WgDump): [string, number][] => d.peers.map((p): [string, number] => [p.publicKey, p.latestHandshake]).sort((x, y) => x[0].localeCompare(y[0]));
    expect(sessions(after)).toEqual(sessions(before));
  });

  it('removing a node from the list cuts only its peers; other sessions are untouched', async () => {
    const [a, b, c] = topo.nodes;
    const before1 = await dump(0);
    const before2 = await dump(1);
    const s12 = peerOf(before1, 1)!;
    const s21 = peerOf(before2, 0)!;
    expect(s12.latestHandshake).toBeGreaterThan(0);
    const node3 = cluster[2]!;
    cluster = cluster.filter((n) => n.name !== 'node3');
    await writeManifests();
    expect(await applyNode(0)).toMatch(/updated .* 1 peer\(s\): \+0 ~0 -1, routes \+0 -2/);
    expect(await applyNode(1)).toMatch(/updated .* 1 peer\(s\): \+0 ~0 -1, routes \+0 -2/);
    const after1 = await dump(0);
    const after2 = await dump(1);
    expect(after1.peers).toHaveLength(1);
    expectSameSession(peerOf(after1, 1), s12);
    expectSameSession(peerOf(after2, 0), s21);
    const routes = await run(nsExec(a!.ns, ['ip', 'route', 'show', 'table', '1']));
    expect(routes.stdout).not.toContain('10.244.3.0/24');
    expect(await transfer(a!.pods[0]!, b!.pods[0]!)).toBe(true);
    expect(await transfer(a!.pods[0]!, c!.pods[0]!, 1500)).toBe(false);
    // And back.
    cluster = [...cluster, node3];
    await writeManifests();
    expect(await applyNode(0)).toMatch(/\+1 ~0 -0, routes \+2 -0/);
    expect(await applyNode(1)).toMatch(/\+1 ~0 -0, routes \+2 -0/);
    expect(await transfer(a!.pods[0]!, c!.pods[0]!)).toBe(true);
  });

  it('key rotation on one node recovers after its peers are re-applied', async () => {
    const [a, b, c] = topo.nodes;
    const s12 = peerOf(await dump(0), 1)!;
    const rotation = await rotateKeyFile(keyFile(2));
    expect(rotation.oldPublicKey).toBe(cluster[2]!.wireguardPublicKey);
    cluster = cluster.map((n) => (n.name === 'node3' ? { ...n, wireguardPublicKey: rotation.publicKey } : n));
    await writeManifests();
    expect(await applyNode(2)).toMatch(/updated .* \+0 ~0 -0/);
    expect(await transfer(a!.pods[0]!, c!.pods[0]!, 1500)).toBe(false);
    expect(await applyNode(0)).toMatch(/\+1 ~0 -1, routes \+0 -0/);
    expect(await applyNode(1)).toMatch(/\+1 ~0 -1, routes \+0 -0/);
    expect(await transfer(a!.pods[0]!, c!.pods[0]!)).toBe(true);
    expect(await transfer(c!.pods[0]!, b!.pods[0]!)).toBe(true);
    expect(peerOf(await dump(0), 1)!.latestHandshake).toBe(s12.latestHandshake);
  });

  it('bad input gives a clear error and changes nothing', async () => {
    const n1 = topo.nodes[0]!;
    const before = await snapshot(0);
    const base = ['apply', '-f', manifestDir, '--node', n1.name, '--interface', n1.iface];
    const expectRefused = async (argv: string[], message: RegExp, code = 1): Promise<void> => {
      const r = await cli(n1.ns, argv);
      expect(r.err).toMatch(message);
      expect(r.code).toBe(code);
    };
    const malformed = join(topo.dir, 'malformed.key');
    await writeFile(malformed, 'this is not a key\n', { mode: 0o600 });
    await expectRefused([...base, '--private-key', malformed], /private key in .*malformed.key is not a WireGuard key/);
    const loose = join(topo.dir, 'loose.key');
    await generateKeyFile(loose);
    await chmod(loose, 0o644);
    await expectRefused([...base, '--private-key', loose], /mode 0644; it must be readable only by its owner/);
    await expectRefused(['apply', '-f', manifestDir, '--node', 'node9', '--private-key', keyFile(0), '--interface', n1.iface], /node node9 is not in the manifests/);
    if (!caps.kernelModule) {
      // wireguard-go sockets are machine-wide: node2's interface name is taken for node1.
      await expectRefused(
        ['apply', '-f', manifestDir, '--node', n1.name, '--private-key', keyFile(0), '--interface', topo.nodes[1]!.iface],
        /interface name \S+ is already used by another network namespace on this machine \(socket \/var\/run\/wireguard\/\S+\.sock.*\); choose another --interface/,
      );
    }
    await expectRefused(['down', '--interface', `gwnone${topo.id}`], /does not exist/);
    // Duplicate IP claim: node2 also claims node3's pod CIDR.
    const saved = cluster;
    cluster = cluster.map((n) => (n.name === 'node2' ? { ...n, podCIDRs: [...n.podCIDRs, '10.244.3.0/24'] } : n));
    await writeManifests();
    const dup = await cli(n1.ns, [...base, '--private-key', keyFile(0)]);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/conflicting-allowed-ips: nodes node2 and node3 both claim 10.244.3.0\/24; neither claim is programmed/);
    // Malformed public key in a manifest.
    cluster = saved.map((n) => (n.name === 'node2' ? { ...n, wireguardPublicKey: 'AAAA' } : n));
    await writeManifests();
    const badKey = await cli(n1.ns, [...base, '--private-key', keyFile(0)]);
    expect(badKey.code).toBe(1);
    expect(badKey.err).toMatch(/node2 is not a WireGuard key/);
    cluster = saved;
    await writeManifests();
    expect(await snapshot(0)).toBe(before);
  });

  it('down removes the interface, its routes and rule, and stops wireguard-go', async () => {
    for (const [i, n] of topo.nodes.entries()) {
      const pidFile = join(stateDir, `${n.iface}.pid`);
      const pid = existsSync(pidFile) ? Number((await readFile(pidFile, 'utf8')).trim()) : undefined;
      const r = await cli(n.ns, ['down', '--interface', n.iface]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(new RegExp(`^${n.iface}: removed.*, 4 route\\(s\\), 1 rule\\(s\\)`));
      expect((await run(nsExec(n.ns, ['ip', 'link', 'show', n.iface]))).code).not.toBe(0);
      expect((await run(nsExec(n.ns, ['ip', 'rule', 'show']))).stdout).not.toContain('lookup 1');
      expect((await run(nsExec(n.ns, ['ip', 'route', 'show', 'table', '1']))).stdout.trim()).toBe('');
      if (pid !== undefined) expect(await alive(pid)).toBe(false);
      expect(existsSync(`/var/run/wireguard/${n.iface}.sock`)).toBe(false);
      expect(existsSync(pidFile)).toBe(false);
      void i;
    }
    const again = await cli(topo.nodes[0]!.ns, ['down', '--interface', topo.nodes[0]!.iface]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/does not exist/);
  });

  /** True while the pid runs (a zombie awaiting its parent's wait() counts as stopped). */
  async function alive(pid: number): Promise<boolean> {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return stat !== '' && !/\) [ZX] /.test(stat);
  }

  /** Starts tcpdump on every interface of the underlay namespace (the bridge's ports: a
   * capture on br0 itself would miss frames forwarded between ports); resolves once it listens. Returns a stopper. */
  async function capture(file: string): Promise<() => Promise<void>> {
    const child = tracker.start(nsExec(topo.underlay, ['tcpdump', '-i', 'any', '-n', '--immediate-mode', '-U', '-s', '0', '-w', file]));
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
      child.stderr?.on('data', (b: Buffer) => {
        err += b.toString();
        if (err.includes('listening on')) {
          clearTimeout(t);
          // "listening on" comes as the capture opens; give the packet ring a moment before the
          // first frame (a CI run missed a control transfer made at once).
          setTimeout(resolve, 300);
        }
      });
      child.once('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
    });
    return async () => {
      await new Promise((r) => setTimeout(r, 500));
      await tracker.stop(child, 'SIGINT');
    };
  }

});
