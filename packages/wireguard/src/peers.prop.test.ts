import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { cidrContainsCidr, formatCidr, parseCidr, type Cidr, type NodeInfo } from '@gingham/core';
import { generateKeyPair, isValidKey } from './keys.js';
import { computeWireguardConfig, type ComputeWireguardOptions } from './peers.js';

/** Prefixes nest or are disjoint: two overlap exactly when one contains the other (core's containment). */
const cidrOverlaps = (a: Cidr, b: Cidr): boolean => a.version === b.version && (cidrContainsCidr(a, b) || cidrContainsCidr(b, a));

// Small universes so that collisions (shared keys, overlapping claims) actually happen.
const KEYS = [...Array.from({ length: 5 }, () => generateKeyPair().publicKey), 'bad-key', undefined];
const CIDRS = ['10.0.0.0/16', '10.0.1.0/24', '10.0.2.0/24', '10.0.1.128/25', '10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24'];
const IPS = ['10.0.1.5', '10.0.2.9', '10.9.0.1', '10.9.0.2', '10.1.0.7', '10.99.0.1', '10.99.0.2'];

const arbNode = (name: string) =>
  fc.record({
    name: fc.constant(name),
    addresses: fc.subarray(['192.168.0.1', '192.168.0.2', 'fd00::1']),
    podCIDRs: fc.subarray(CIDRS, { maxLength: 2 }),
    labels: fc.constant({}),
    wireguardPublicKey: fc.constantFrom(...KEYS),
    wireguardInterfaceIPv4Address: fc.option(fc.constantFrom(...IPS), { nil: undefined }),
  });

const arbInput = fc
  .uniqueArray(fc.constantFrom('n0', 'n1', 'n2', 'n3', 'n4', 'n5'), { minLength: 1, maxLength: 6 })
  .chain((names) =>
    fc.record({
      nodes: fc.tuple(...names.map(arbNode)),
      weps: fc.array(fc.record({ node: fc.constantFrom(...names), addresses: fc.array(fc.constantFrom(...IPS), { minLength: 1, maxLength: 2 }).map((a) => a.map((x) => `${x}/32`)) }), { maxLength: 6 }),
      local: fc.constantFrom(...names),
      keepalive: fc.constantFrom(0, 25),
    }),
  )
  .map(({ nodes, weps, local, keepalive }) => {
    const clean = nodes.map((n) => Object.fromEntries(Object.entries(n).filter(([, v]) => v !== undefined)) as unknown as NodeInfo);
    const options: ComputeWireguardOptions = { nodes: clean, workloadEndpoints: weps, localNode: local, persistentKeepalive: keepalive };
    return options;
  });

function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('peer computation laws', () => {
  test.prop([arbInput, fc.integer()])('is deterministic and independent of input order', (input, seed) => {
    const a = computeWireguardConfig(input);
    const b = computeWireguardConfig({ ...input, nodes: shuffle(input.nodes, seed), workloadEndpoints: shuffle(input.workloadEndpoints ?? [], seed + 1) });
    expect(b).toEqual(a);
    expect(JSON.stringify(computeWireguardConfig(input))).toBe(JSON.stringify(a));
  });

  test.prop([arbInput])('never makes this node, a keyless node or a shared-key node a peer', (input) => {
    const c = computeWireguardConfig(input);
    const keyCount = new Map<string, number>();
    for (const n of input.nodes) if (n.wireguardPublicKey) keyCount.set(n.wireguardPublicKey, (keyCount.get(n.wireguardPublicKey) ?? 0) + 1);
    for (const p of c.peers) {
      expect(p.node).not.toBe(input.localNode);
      expect(isValidKey(p.publicKey)).toBe(true);
      expect(keyCount.get(p.publicKey)).toBe(1);
    }
    expect(new Set(c.peers.map((p) => p.publicKey)).size).toBe(c.peers.length);
  });

  test.prop([arbInput])('keeps allowed IPs of different peers disjoint, and reports every overlapping claim', (input) => {
    const c = computeWireguardConfig(input);
    const all = c.peers.flatMap((p) => p.allowedIPs.map((a) => ({ node: p.node, cidr: parseCidr(a)! })));
    for (let i = 0; i < all.length; i++)
      for (let j = i + 1; j < all.length; j++) {
        if (all[i]!.node !== all[j]!.node) expect(cidrOverlaps(all[i]!.cidr, all[j]!.cidr)).toBe(false);
      }
    // Raw claims (pod CIDRs, WireGuard addresses, workload IPs) of different nodes that overlap
    // must each be reported.
    const claims = input.nodes.flatMap((n) => [
      ...n.podCIDRs.map((x) => ({ node: n.name, cidr: parseCidr(x)! })),
      ...(n.wireguardInterfaceIPv4Address ? [{ node: n.name, cidr: parseCidr(n.wireguardInterfaceIPv4Address)! }] : []),
    ]);
    const reported = c.issues.filter((i) => i.code === 'conflicting-allowed-ips');
    for (let i = 0; i < claims.length; i++)
      for (let j = i + 1; j < claims.length; j++) {
        const x = claims[i]!;
        const y = claims[j]!;
        if (x.node !== y.node && cidrOverlaps(x.cidr, y.cidr)) {
          expect(reported.some((r) => r.nodes.includes(x.node) && r.nodes.includes(y.node))).toBe(true);
        }
      }
    if (reported.length > 0) expect(c.ok).toBe(false);
  });

  test.prop([arbInput])('programs only what a peer claims, and all of it when nothing conflicts', (input) => {
    const c = computeWireguardConfig(input);
    for (const p of c.peers) {
      const n = input.nodes.find((x) => x.name === p.node)!;
      const claimed = [...n.podCIDRs, ...(n.wireguardInterfaceIPv4Address ? [n.wireguardInterfaceIPv4Address] : []), ...(input.workloadEndpoints ?? []).filter((w) => w.node === p.node).flatMap((w) => w.addresses)].map(
        (x) => parseCidr(x)!,
      );
      for (const a of p.allowedIPs) expect(claimed.some((x) => formatCidr(x) === a)).toBe(true);
      const conflicted = c.issues.some((i) => i.code === 'conflicting-allowed-ips' && i.nodes.includes(p.node));
      if (!conflicted) for (const x of claimed) expect(p.allowedIPs.some((a) => cidrOverlaps(parseCidr(a)!, x))).toBe(true);
    }
  });
});
