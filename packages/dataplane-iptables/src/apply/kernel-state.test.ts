import { describe, expect, it } from 'vitest';
import { parseIpAddrJson } from './kernel-state.js';

describe('parseIpAddrJson', () => {
  it('maps each interface to its addresses, without prefix lengths', () => {
    const text = JSON.stringify([
      { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }, { family: 'inet6', local: '::1', prefixlen: 128 }] },
      { ifindex: 2, ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.1.10', prefixlen: 24 }] },
      { ifindex: 3, ifname: 'eth1', addr_info: [] },
      { ifindex: 4, ifname: 'eth2' },
    ]);
    expect([...parseIpAddrJson(text)]).toEqual([
      ['lo', ['127.0.0.1', '::1']],
      ['eth0', ['192.168.1.10']],
      ['eth1', []],
      ['eth2', []],
    ]);
  });

  it('rejects output that is not the JSON array ip prints', () => {
    expect(() => parseIpAddrJson('Device "x" does not exist.')).toThrow(expect.objectContaining({ code: 'IPTABLES_COMMAND_FAILED' }));
    expect(() => parseIpAddrJson('{}')).toThrow(/expected a JSON array/);
  });
});
