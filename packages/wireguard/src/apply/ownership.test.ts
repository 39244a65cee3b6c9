import { afterAll, describe, expect, it } from 'vitest';
import { fakeHost, removeFakeHosts } from '../testing/fakes.js';
import { checkSocketOwnership, findWireguardGo, isWireguardGoFor } from './userspace.js';

const HERE = 'net:[4026530001]';
const THERE = 'net:[4026539999]';

afterAll(removeFakeHosts);

describe('wireguard-go interface-name ownership', () => {
  it('is free when no socket exists', async () => {
    const h = await fakeHost();
    await expect(checkSocketOwnership('wg0', HERE, h)).resolves.toEqual({ kind: 'free' });
  });

  it('refuses a name whose wireguard-go runs in another namespace, naming the socket', async () => {
    const h = await fakeHost();
    await h.addSocket('wg0');
    await h.addProcess(4242, ['/usr/bin/wireguard-go', '-f', 'wg0'], THERE);
    await expect(checkSocketOwnership('wg0', HERE, h)).rejects.toMatchObject({
      code: 'WG_INTERFACE_NAME_TAKEN',
      message: `gingham: interface name wg0 is already used by another network namespace on this machine (socket ${h.socketDir}/wg0.sock, wireguard-go pid 4242); choose another --interface`,
    });
  });

  it('accepts a wireguard-go of this namespace', async () => {
    const h = await fakeHost();
    await h.addSocket('wg0');
    await h.addProcess(77, ['wireguard-go', '-f', 'wg0'], HERE);
    await h.addProcess(78, ['wireguard-go', '-f', 'wg1'], THERE);
    await expect(checkSocketOwnership('wg0', HERE, h)).resolves.toEqual({ kind: 'this-namespace', pid: 77 });
  });

  it('treats a socket nobody serves as stale, and ignores zombies', async () => {
    const h = await fakeHost();
    await h.addSocket('wg0');
    await h.addProcess(90, ['wireguard-go', '-f', 'wg0'], THERE, 'Z');
    await expect(checkSocketOwnership('wg0', HERE, h)).resolves.toEqual({ kind: 'stale' });
  });

  it('matches only wireguard-go for exactly that name', async () => {
    expect(isWireguardGoFor(['wireguard-go', '-f', 'wg0'], 'wg0')).toBe(true);
    expect(isWireguardGoFor(['wireguard-go', '-f', 'wg0x'], 'wg0')).toBe(false);
    expect(isWireguardGoFor(['ip', 'netns', 'exec', 'x', 'wireguard-go', 'wg0'], 'wg0')).toBe(false);
    const h = await fakeHost();
    await h.addProcess(5, ['sleep', 'wg0'], THERE);
    expect(await findWireguardGo('wg0', h)).toEqual([]);
  });
});
