import { describe, expect, it } from 'vitest';
import type { WireguardPeer } from '../peers.js';
import { canonicalEndpoint, diffPeers, diffSets, renderWgSet } from './diff.js';
import type { WgDumpPeer } from './dump.js';

const key = (c: string): string => `${c.repeat(42)}A=`;

function want(k: string, endpoint: string, allowedIPs: string[], persistentKeepalive = 0): WireguardPeer {
  return { node: k, publicKey: key(k), endpoint, allowedIPs, persistentKeepalive };
}
function have(k: string, endpoint: string | undefined, allowedIPs: string[], extra: Partial<WgDumpPeer> = {}): WgDumpPeer {
  return { publicKey: key(k), ...(endpoint ? { endpoint } : {}), allowedIPs, latestHandshake: 100, rxBytes: 1, txBytes: 2, persistentKeepalive: 0, ...extra };
}

describe('peer diff', () => {
  it('touches only peers that differ', () => {
    const d = diffPeers(
      [have('a', '1.1.1.1:51820', ['10.0.1.0/24']), have('b', '1.1.1.2:51820', ['10.0.2.0/24']), have('c', '1.1.1.3:51820', ['10.0.3.0/24'])],
      [want('a', '1.1.1.1:51820', ['10.0.1.0/24']), want('b', '1.1.1.2:51820', ['10.0.2.0/24', '10.0.9.0/24']), want('d', '1.1.1.4:51820', ['10.0.4.0/24'])],
    );
    expect(d.add.map((p) => p.node)).toEqual(['d']);
    expect(d.update.map((p) => p.node)).toEqual(['b']);
    expect(d.remove).toEqual([key('c')]);
    expect(d.unchanged).toBe(1);
  });

  it('sees endpoint, keepalive and preshared-key changes; ignores allowed IP order and endpoint spelling', () => {
    const base = have('a', '[fd00:0::1]:51820', ['10.0.2.0/24', '10.0.1.0/24']);
    expect(diffPeers([base], [want('a', '[fd00::1]:51820', ['10.0.1.0/24', '10.0.2.0/24'])]).unchanged).toBe(1);
    expect(diffPeers([base], [want('a', '[fd00::2]:51820', ['10.0.1.0/24', '10.0.2.0/24'])]).update).toHaveLength(1);
    expect(diffPeers([base], [want('a', '[fd00::1]:51820', ['10.0.1.0/24', '10.0.2.0/24'], 25)]).update).toHaveLength(1);
    expect(diffPeers([have('a', undefined, [])], [want('a', '1.1.1.1:1', [])]).update).toHaveLength(1);
  });

  it('canonicalises endpoints', () => {
    expect(canonicalEndpoint('[FD00:0:0::1]:51820')).toBe('[fd00::1]:51820');
    expect(canonicalEndpoint('10.0.0.1:65536')).toBeUndefined();
    expect(canonicalEndpoint('10.0.0.1:0')).toBeUndefined();
    expect(canonicalEndpoint('10.0.0.1:1')).toBe('10.0.0.1:1');
    expect(canonicalEndpoint('10.0.0.1')).toBeUndefined();
    expect(canonicalEndpoint('host:1')).toBeUndefined();
  });

  it('diffs sets', () => {
    expect(diffSets(['a', 'b'], ['b', 'c'])).toEqual({ add: ['c'], remove: ['a'] });
  });
});

describe('wg set rendering', () => {
  it('renders nothing when nothing changes', () => {
    expect(renderWgSet('wg0', { add: [], update: [], remove: [], unchanged: 3 })).toEqual([]);
  });

  it('puts removals first and interface changes in the first command', () => {
    const cmds = renderWgSet('wg0', { add: [want('a', '1.1.1.1:51820', ['10.0.1.0/24', '10.9.0.1/32'], 25)], update: [], remove: [key('z')], unchanged: 0 }, { privateKeyFile: '/run/k', listenPort: 51820, fwmark: 0x100000 });
    expect(cmds).toEqual([
      {
        argv: ['wg', 'set', 'wg0', 'private-key', '/run/k', 'listen-port', '51820', 'fwmark', '0x100000', 'peer', key('z'), 'remove', 'peer', key('a'), 'endpoint', '1.1.1.1:51820', 'persistent-keepalive', '25', 'allowed-ips', '10.0.1.0/24,10.9.0.1/32'],
        peerOps: 2,
      },
    ]);
  });

  it('renders interface-only changes and chunks large peer sets', () => {
    expect(renderWgSet('wg0', { add: [], update: [], remove: [], unchanged: 0 }, { fwmark: 0 })).toEqual([{ argv: ['wg', 'set', 'wg0', 'fwmark', 'off'], peerOps: 0 }]);
    const many = Array.from({ length: 450 }, (_, i) => ({ ...want('a', '1.1.1.1:1', []), publicKey: `k${i}` }));
    const cmds = renderWgSet('wg0', { add: many, update: [], remove: [], unchanged: 0 }, {}, 200);
    expect(cmds.map((c) => c.peerOps)).toEqual([200, 200, 50]);
    expect(cmds[1]!.argv.slice(0, 5)).toEqual(['wg', 'set', 'wg0', 'peer', 'k200']);
    expect(cmds[0]!.argv).toContain('allowed-ips');
  });
});
