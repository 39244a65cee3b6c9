import { describe, expect, it } from 'vitest';
import { parseWgDump } from './dump.js';

// Recorded from wireguard-go 0.0.20220316 + wireguard-tools 1.0.20210914.
const DUMP = [
  'KFQY2lZNVqEwkCEca+xvRSxmlSW4lKhDu3+MOjGfK0w=\tYDJcJuFz6D+ZDeKE9GlYd6fpncZG6bp+NZhezmD2fyc=\t51820\t0x100000',
  'H8f5fDyIkvVaTXVSO7wBft9X2I4Pd2ilc9a4DqnzrHE=\t(none)\t192.168.77.2:51820\t10.99.0.2/32,10.244.2.0/24\t1732262400\t628\t380\toff',
  'BvvrcRgh3kan5DCeop/hYfavuWMNSnerxJ66IBld6FI=\t(none)\t[fd00::3]:51821\t(none)\t0\t0\t0\t25',
  '',
].join('\n');

describe('wg show dump', () => {
  it('parses the interface and peer lines', () => {
    const d = parseWgDump(DUMP);
    expect(d.interface).toEqual({
      privateKey: 'KFQY2lZNVqEwkCEca+xvRSxmlSW4lKhDu3+MOjGfK0w=',
      publicKey: 'YDJcJuFz6D+ZDeKE9GlYd6fpncZG6bp+NZhezmD2fyc=',
      listenPort: 51820,
      fwmark: 0x100000,
    });
    expect(d.peers).toEqual([
      {
        publicKey: 'H8f5fDyIkvVaTXVSO7wBft9X2I4Pd2ilc9a4DqnzrHE=',
        endpoint: '192.168.77.2:51820',
        allowedIPs: ['10.99.0.2/32', '10.244.2.0/24'],
        latestHandshake: 1732262400,
        rxBytes: 628,
        txBytes: 380,
        persistentKeepalive: 0,
      },
      { publicKey: 'BvvrcRgh3kan5DCeop/hYfavuWMNSnerxJ66IBld6FI=', endpoint: '[fd00::3]:51821', allowedIPs: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 25 },
    ]);
  });

  it('reads a fresh interface with no key, port 0 and fwmark off', () => {
    expect(parseWgDump('(none)\t(none)\t0\toff\n')).toEqual({ interface: { listenPort: 0, fwmark: 0 }, peers: [] });
  });

  it('sorts allowed IPs in address order', () => {
    const d = parseWgDump(`(none)\t(none)\t1\toff\nH8f5fDyIkvVaTXVSO7wBft9X2I4Pd2ilc9a4DqnzrHE=\t(none)\t(none)\t10.5.0.0/16,10.1.0.1/32\t0\t0\t0\toff\n`);
    expect(d.peers[0]!.allowedIPs).toEqual(['10.1.0.1/32', '10.5.0.0/16']);
    expect(d.peers[0]!.endpoint).toBeUndefined();
  });

  it('rejects malformed output without leaking secrets', () => {
    expect(() => parseWgDump('')).toThrow(/printed nothing/);
    expect(() => parseWgDump('SECRET\tpub\t51820\n')).toThrow(/line 1.*expected 4 fields/);
    try {
      parseWgDump('SECRETKEY\tpub\tnotaport\toff\n');
    } catch (e) {
      expect((e as Error).message).toMatch(/listen port "notaport"/);
      expect((e as Error).message).not.toContain('SECRETKEY');
      expect(e).toMatchObject({ code: 'WG_DUMP_PARSE' });
    }
    expect(() => parseWgDump('(none)\t(none)\t1\toff\npeer\tPSKSECRET\t(none)\tnot-a-cidr\t0\t0\t0\toff\n')).toThrow(/allowed IP "not-a-cidr"/);
    expect(() => parseWgDump('(none)\t(none)\t1\toff\npeer\tPSKSECRET\t(none)\tnot-a-cidr\t0\t0\t0\toff\n')).not.toThrow(/PSKSECRET/);
  });
});
