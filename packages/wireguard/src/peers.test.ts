import type { NodeInfo, WorkloadEndpoint } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { generateKeyPair } from './keys.js';
import { computeWireguardConfig } from './peers.js';

const K = Array.from({ length: 6 }, () => generateKeyPair());

function node(name: string, i: number, extra: Partial<NodeInfo> = {}): NodeInfo {
  return {
    name,
    addresses: [`192.168.0.${i}`],
    podCIDRs: [`10.244.${i}.0/24`],
    labels: {},
    wireguardInterfaceIPv4Address: `10.99.0.${i}`,
    wireguardPublicKey: K[i]!.publicKey,
    ...extra,
  };
}

function wep(nodeName: string, ...addresses: string[]): Pick<WorkloadEndpoint, 'node' | 'addresses'> {
  return { node: nodeName, addresses };
}

describe('interface settings', () => {
  it('take the WireGuard address as /32, port 51820 and MTU underlay - 60', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1), node('b', 2)], localNode: 'a' });
    expect(c.interface).toEqual({ address: '10.99.0.1/32', listenPort: 51820, mtu: 1440, publishedPublicKey: K[1]!.publicKey });
    expect(c.ok).toBe(true);
  });

  it('subtract 80 over an IPv6 underlay and honour an explicit MTU', () => {
    const v6 = node('a', 1, { addresses: ['fd00::1'] });
    expect(computeWireguardConfig({ nodes: [v6], localNode: 'a', underlayMtu: 9000 }).interface.mtu).toBe(8920);
    expect(computeWireguardConfig({ nodes: [node('a', 1)], localNode: 'a', underlayMtu: 9000 }).interface.mtu).toBe(8940);
    expect(computeWireguardConfig({ nodes: [node('a', 1)], localNode: 'a', underlayMtu: 9000, mtu: 1280 }).interface.mtu).toBe(1280);
  });

  it('warn when this node has no WireGuard address', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1, { wireguardInterfaceIPv4Address: undefined })], localNode: 'a' });
    expect(c.interface.address).toBeUndefined();
    expect(c.issues.map((i) => i.code)).toEqual(['missing-interface-address']);
    expect(c.ok).toBe(true);
  });

  it('report a missing local node as an error', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1)], localNode: 'zz' });
    expect(c.ok).toBe(false);
    expect(c.issues[0]).toMatchObject({ code: 'local-node-not-found', nodes: ['zz'] });
  });

  it('report invalid options', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1)], localNode: 'a', listenPort: 70000, persistentKeepalive: -1, mtu: 100 });
    expect(c.issues.filter((i) => i.code === 'invalid-option')).toHaveLength(3);
    expect(c.ok).toBe(false);
  });
});

describe('peers', () => {
  it('are every other keyed node, with endpoint and allowed IPs, sorted by name', () => {
    const c = computeWireguardConfig({
      nodes: [node('c', 3), node('a', 1), node('b', 2, { bgpIPv4Address: '172.16.0.2/24' })],
      workloadEndpoints: [wep('b', '10.244.2.7/32'), wep('b', '10.250.0.9/32'), wep('c', '10.244.3.4/32')],
      localNode: 'a',
      persistentKeepalive: 25,
    });
    expect(c.peers).toEqual([
      { node: 'b', publicKey: K[2]!.publicKey, endpoint: '172.16.0.2:51820', allowedIPs: ['10.99.0.2/32', '10.244.2.0/24', '10.250.0.9/32'], persistentKeepalive: 25 },
      { node: 'c', publicKey: K[3]!.publicKey, endpoint: '192.168.0.3:51820', allowedIPs: ['10.99.0.3/32', '10.244.3.0/24'], persistentKeepalive: 25 },
    ]);
    expect(c.issues).toEqual([]);
  });

  it('never include this node, nor nodes without a key (a warning)', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1), node('b', 2, { wireguardPublicKey: undefined })], localNode: 'a' });
    expect(c.peers).toEqual([]);
    expect(c.issues).toEqual([expect.objectContaining({ severity: 'warning', code: 'missing-public-key', nodes: ['b'] })]);
  });

  it('exclude nodes with a malformed key, as an error', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1), node('b', 2, { wireguardPublicKey: 'abc=' }), node('c', 3)], localNode: 'a' });
    expect(c.peers.map((p) => p.node)).toEqual(['c']);
    expect(c.issues).toEqual([expect.objectContaining({ severity: 'error', code: 'invalid-public-key', nodes: ['b'] })]);
    expect(c.ok).toBe(false);
  });

  it('exclude both nodes that share a key (as Felix), including one sharing ours', () => {
    const shared = K[5]!.publicKey;
    const c = computeWireguardConfig({
      nodes: [node('a', 1), node('b', 2, { wireguardPublicKey: shared }), node('c', 3, { wireguardPublicKey: shared }), node('d', 4, { wireguardPublicKey: K[1]!.publicKey })],
      localNode: 'a',
    });
    expect(c.peers).toEqual([]);
    expect(c.issues.filter((i) => i.code === 'duplicate-public-key').map((i) => i.nodes)).toEqual([['a', 'd'], ['b', 'c']].sort((x, y) => (x.join() < y.join() ? -1 : 1)));
  });

  it('exclude a node publishing this node\'s real key during a rotation', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1), node('b', 2, { wireguardPublicKey: K[0]!.publicKey })], localNode: 'a', localPublicKey: K[0]!.publicKey });
    expect(c.peers).toEqual([]);
    expect(c.issues[0]).toMatchObject({ code: 'duplicate-public-key', nodes: ['a', 'b'] });
  });

  it('use the BGP address, else the first address of the family, else the first address', () => {
    const c = computeWireguardConfig({
      nodes: [node('a', 1), node('b', 2, { addresses: ['fd00::2', '192.168.0.2'] }), node('c', 3, { addresses: ['fd00::3'] }), node('d', 4, { addresses: [] })],
      localNode: 'a',
    });
    expect(c.peers.map((p) => p.endpoint)).toEqual(['192.168.0.2:51820', '[fd00::3]:51820']);
    expect(c.issues).toEqual([expect.objectContaining({ code: 'missing-endpoint', nodes: ['d'] })]);
  });

  it('drop allowed IPs nested in another of the same peer', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1), node('b', 2, { wireguardInterfaceIPv4Address: '10.244.2.1', podCIDRs: ['10.244.2.0/24', '10.244.2.128/25'] })], localNode: 'a' });
    expect(c.peers[0]!.allowedIPs).toEqual(['10.244.2.0/24']);
  });
});

describe('conflicting claims', () => {
  it('of the same CIDR program neither claim and name both nodes', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1), node('b', 2), node('c', 3, { podCIDRs: ['10.244.2.0/24'] })], localNode: 'a' });
    expect(c.ok).toBe(false);
    expect(c.peers.map((p) => [p.node, p.allowedIPs])).toEqual([
      ['b', ['10.99.0.2/32']],
      ['c', ['10.99.0.3/32']],
    ]);
    expect(c.issues).toEqual([
      { severity: 'error', code: 'conflicting-allowed-ips', message: 'nodes b and c both claim 10.244.2.0/24; neither claim is programmed', nodes: ['b', 'c'], cidr: '10.244.2.0/24' },
    ]);
  });

  it('of the same workload IP, or an IP inside another node\'s CIDR, are reported too', () => {
    const c = computeWireguardConfig({
      nodes: [node('a', 1), node('b', 2), node('c', 3)],
      workloadEndpoints: [wep('b', '10.250.0.1/32'), wep('c', '10.250.0.1/32'), wep('c', '10.244.2.9/32')],
      localNode: 'a',
    });
    expect(c.issues.map((i) => [i.code, i.nodes, i.cidr])).toEqual([
      ['conflicting-allowed-ips', ['b', 'c'], '10.244.2.0/24'],
      ['conflicting-allowed-ips', ['b', 'c'], '10.250.0.1/32'],
    ]);
    expect(c.peers.map((p) => p.allowedIPs)).toEqual([['10.99.0.2/32'], ['10.99.0.3/32', '10.244.3.0/24']]);
  });

  it('with this node\'s own addresses are reported and not programmed', () => {
    const c = computeWireguardConfig({ nodes: [node('a', 1), node('b', 2, { wireguardInterfaceIPv4Address: '10.244.1.5' })], localNode: 'a' });
    expect(c.issues).toEqual([expect.objectContaining({ code: 'conflicting-allowed-ips', nodes: ['a', 'b'] })]);
    expect(c.peers[0]!.allowedIPs).toEqual(['10.244.2.0/24']);
  });

  it('are computed for a thousand-node mesh (its cost is measured by bench:wireguard, not timed here)', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => ({
      name: `n${String(i).padStart(4, '0')}`,
      addresses: [`172.16.${i >> 8}.${i & 255}`],
      podCIDRs: [`10.${i >> 8}.${i & 255}.0/24`],
      labels: {},
      wireguardPublicKey: K[0]!.publicKey.slice(0, 38) + String(i).padStart(4, '0') + 'A=',
    }));
    const c = computeWireguardConfig({ nodes, localNode: 'n0000' });
    expect(c.peers).toHaveLength(999);
  });
});

describe('IPv6 device', () => {
  it('uses the V6 key, V6 address, port 51821 and IPv6 CIDRs only', () => {
    const k = generateKeyPair();
    const c = computeWireguardConfig({
      nodes: [
        node('a', 1, { wireguardPublicKeyV6: generateKeyPair().publicKey, wireguardInterfaceIPv6Address: 'fd99::1', addresses: ['fd00::1'] }),
        node('b', 2, { wireguardPublicKeyV6: k.publicKey, wireguardInterfaceIPv6Address: 'fd99::2', addresses: ['192.168.0.2', 'fd00::2'], podCIDRs: ['10.244.2.0/24', 'fd10:2::/64'] }),
      ],
      localNode: 'a',
      ipVersion: 6,
    });
    expect(c.interface).toMatchObject({ address: 'fd99::1/128', listenPort: 51821, mtu: 1420 });
    expect(c.peers).toEqual([{ node: 'b', publicKey: k.publicKey, endpoint: '[fd00::2]:51821', allowedIPs: ['fd10:2::/64', 'fd99::2/128'], persistentKeepalive: 0 }]);
  });
});
