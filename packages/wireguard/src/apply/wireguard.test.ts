import { afterAll, describe, expect, it } from 'vitest';
import { fakeHost, recordingRunner, removeFakeHosts } from '../testing/fakes.js';
import { generateKeyPair } from '../keys.js';
import type { WireguardPeer } from '../peers.js';
import { validateDesiredState, type DesiredWireguardState } from './desired.js';
import { createWireguard } from './wireguard.js';

const me = generateKeyPair();
const other = generateKeyPair();
const peer = (extra: Partial<WireguardPeer> = {}): WireguardPeer => ({ node: 'b', publicKey: other.publicKey, endpoint: '192.168.0.2:51820', allowedIPs: ['10.244.2.0/24'], persistentKeepalive: 0, ...extra });
const desired = (extra: Partial<DesiredWireguardState> = {}): DesiredWireguardState => ({
  privateKey: me.privateKey,
  interface: { listenPort: 51820, mtu: 1440, address: '10.99.0.1/32' },
  peers: [peer()],
  ...extra,
});

afterAll(removeFakeHosts);

describe('desired state validation', () => {
  it('accepts a well-formed state', () => {
    expect(() => validateDesiredState(desired())).not.toThrow();
  });

  it.each<[string, Partial<DesiredWireguardState>, string]>([
    ['a malformed private key', { privateKey: 'x' }, 'WG_INVALID_KEY'],
    ['a malformed peer key', { peers: [peer({ publicKey: 'abc' })] }, 'WG_INVALID_KEY'],
    ['a peer with our own key', { peers: [peer({ publicKey: me.publicKey })] }, 'WG_INVALID_ARGUMENT'],
    ['two peers with one key', { peers: [peer(), peer({ node: 'c', allowedIPs: [] })] }, 'WG_INVALID_ARGUMENT'],
    ['a bad endpoint', { peers: [peer({ endpoint: 'host:1' })] }, 'WG_INVALID_ARGUMENT'],
    ['a bad allowed IP', { peers: [peer({ allowedIPs: ['10.0.0.0/99'] })] }, 'WG_INVALID_ARGUMENT'],
    ['an allowed IP on two peers', { peers: [peer(), peer({ node: 'c', publicKey: generateKeyPair().publicKey })] }, 'WG_INVALID_ARGUMENT'],
    ['a bad port', { interface: { listenPort: 0, mtu: 1440 } }, 'WG_INVALID_ARGUMENT'],
    ['a bad MTU', { interface: { listenPort: 1, mtu: 100 } }, 'WG_INVALID_ARGUMENT'],
  ])('rejects %s', (_, patch, code) => {
    expect(() => validateDesiredState(desired(patch))).toThrow(expect.objectContaining({ code }));
  });
});

describe('createWireguard', () => {
  it('rejects bad interface names, tables and priorities up front', () => {
    for (const interfaceName of ['', 'a/b', 'x'.repeat(16), '..', 'wg 0']) {
      expect(() => createWireguard({ interfaceName })).toThrow(expect.objectContaining({ code: 'WG_INVALID_ARGUMENT' }));
    }
    expect(() => createWireguard({ table: 254 })).toThrow(/reserved/);
    expect(() => createWireguard({ rulePriority: 0 })).toThrow(/rule priority/);
  });

  it('applyChanges before any apply is refused and runs nothing', async () => {
    const runner = recordingRunner();
    const wg = createWireguard({ interfaceName: 'wgt0', runner });
    await expect(wg.applyChanges({ upsert: [peer()] })).rejects.toMatchObject({ code: 'WG_INVALID_ARGUMENT', message: expect.stringContaining('needs a prior apply') });
    expect(runner.calls).toEqual([]);
  });

  it('runs no command at all for an invalid desired state', async () => {
    const runner = recordingRunner();
    const wg = createWireguard({ interfaceName: 'wgt0', runner });
    await expect(wg.apply(desired({ privateKey: 'bad' }))).rejects.toMatchObject({ code: 'WG_INVALID_KEY' });
    expect(runner.calls).toEqual([]);
  });

  it('changes nothing when the name belongs to another namespace', async () => {
    const h = await fakeHost();
    await h.addSocket('wgt1');
    await h.addProcess(4242, ['wireguard-go', '-f', 'wgt1'], 'net:[4026539999]');
    const runner = recordingRunner();
    const wg = createWireguard({ interfaceName: 'wgt1', runner, hostPaths: h, stateDir: h.stateDir });
    await expect(wg.apply(desired())).rejects.toMatchObject({ code: 'WG_INTERFACE_NAME_TAKEN', message: expect.stringContaining('already used by another network namespace') });
    await expect(wg.down()).rejects.toMatchObject({ code: 'WG_INTERFACE_NAME_TAKEN' });
    expect(runner.mutating()).toEqual([]);
  });

  it('refuses to reconfigure or remove an interface it did not create', async () => {
    const h = await fakeHost();
    const runner = recordingRunner(undefined, (argv) =>
      argv.join(' ') === 'ip -d -j link show dev wg0' ? { stdout: '[{"ifname":"wg0","mtu":1420,"flags":["UP"],"linkinfo":{"info_kind":"wireguard"}}]' } : undefined,
    );
    const wg = createWireguard({ interfaceName: 'wg0', runner, hostPaths: h, stateDir: h.stateDir });
    await expect(wg.apply(desired())).rejects.toMatchObject({ code: 'WG_INTERFACE_NOT_OURS' });
    await expect(wg.down()).rejects.toMatchObject({ code: 'WG_INTERFACE_NOT_OURS' });
    expect(runner.mutating()).toEqual([]);
  });

  it('closes with await close() or await using, running nothing when nothing was started', async () => {
    const runner = recordingRunner();
    {
      await using wg = createWireguard({ interfaceName: 'wgt3', runner });
      expect(wg.interfaceName).toBe('wgt3');
    }
    const wg = createWireguard({ interfaceName: 'wgt3', runner });
    await wg.close();
    await wg.close();
    expect(runner.calls).toEqual([]);
  });

  it('reports a missing interface on down', async () => {
    const h = await fakeHost();
    const runner = recordingRunner();
    const wg = createWireguard({ interfaceName: 'wgt2', runner, hostPaths: h, stateDir: h.stateDir });
    await expect(wg.down()).rejects.toMatchObject({ code: 'WG_INTERFACE_NOT_FOUND', message: expect.stringContaining('wgt2 does not exist in the fake namespace') });
    expect(runner.mutating()).toEqual([]);
  });
});
