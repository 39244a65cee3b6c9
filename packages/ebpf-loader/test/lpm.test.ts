import { describe, expect, it } from 'vitest';
import { lpmKey, lpmKeyFromCidr, parseLpmKey } from '../src/index.js';

describe('LPM trie keys', () => {
  it('put the prefix length first (host order) and the address in network order', () => {
    expect([...lpmKeyFromCidr('10.1.2.0/24')]).toEqual([24, 0, 0, 0, 10, 1, 2, 0]);
    expect([...lpmKeyFromCidr('192.168.0.1')]).toEqual([32, 0, 0, 0, 192, 168, 0, 1]);
    expect([...lpmKeyFromCidr('fd00::1/64')]).toEqual([64, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect([...lpmKeyFromCidr('::ffff:10.0.0.1/128').subarray(4)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
  });

  it('round-trip through parseLpmKey', () => {
    const k = lpmKey(12, new Uint8Array([172, 16, 0, 0]));
    expect(parseLpmKey(k)).toEqual({ prefixLen: 12, address: new Uint8Array([172, 16, 0, 0]) });
  });

  it('reject malformed CIDRs and prefix lengths with BPF_INVALID_ARGUMENT', () => {
    for (const bad of ['10.0.0.0/33', 'nope', '10.0.0.0/x', 'fd00::/129']) {
      expect(() => lpmKeyFromCidr(bad)).toThrow(expect.objectContaining({ code: 'BPF_INVALID_ARGUMENT' }));
    }
  });
});
