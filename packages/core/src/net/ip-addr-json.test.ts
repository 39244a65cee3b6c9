import { describe, expect, it } from 'vitest';
import { parseIpAddrJson } from './ip-addr-json.js';

describe('parseIpAddrJson', () => {
  it('maps interfaces to canonical addresses without prefix lengths, skipping entries without an address', () => {
    const text = JSON.stringify([
      { ifname: 'eth0', addr_info: [{ local: '192.168.1.10', prefixlen: 24 }, { local: '2001:DB8:0::1', prefixlen: 64 }, { family: 'inet6' }] },
      { ifname: 'eth1' },
      { ifindex: 9 },
    ]);
    expect([...parseIpAddrJson(text)!]).toEqual([['eth0', ['192.168.1.10', '2001:db8::1']], ['eth1', []]]);
  });

  it('answers undefined for anything but a JSON array', () => {
    expect(parseIpAddrJson('Device "x" does not exist.')).toBeUndefined();
    expect(parseIpAddrJson('{}')).toBeUndefined();
  });
});
