import { describe, expect, it } from 'vitest';
import { isWireguardRule, parseAddrJson, parseLinkJson, parseRouteJson, parseRuleJson, ruleArgs } from './ip.js';

// Recorded from iproute2 6.1 (`ip -j`).
describe('ip -j parsing', () => {
  it('reads a wireguard-go TUN link', () => {
    const text =
      '[{"ifindex":2,"ifname":"ghexp0","flags":["POINTOPOINT","MULTICAST","NOARP"],"mtu":1420,"qdisc":"noop","operstate":"DOWN","linkinfo":{"info_kind":"tun","info_data":{"type":"tun","pi":true}}}]';
    expect(parseLinkJson(text)).toEqual({ name: 'ghexp0', mtu: 1420, up: false, kind: 'tun' });
  });

  it('reads global addresses only', () => {
    const text =
      '[{"ifname":"wg0","addr_info":[{"family":"inet","local":"10.99.0.1","prefixlen":32,"scope":"global"},{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"},{"family":"inet6","local":"FD99:0::1","prefixlen":128,"scope":"global"}]}]';
    expect(parseAddrJson(text)).toEqual(['10.99.0.1/32', 'fd99::1/128']);
  });

  it('adds the host length back to host routes', () => {
    expect(parseRouteJson('[{"dst":"10.2.0.5","scope":"link","flags":[]},{"dst":"10.3.0.0/24","scope":"link","flags":[]}]', 4)).toEqual(['10.2.0.5/32', '10.3.0.0/24']);
    expect(parseRouteJson('[{"dst":"fd00::5","metric":1024,"flags":[],"pref":"medium"}]', 6)).toEqual(['fd00::5/128']);
    expect(parseRouteJson('', 4)).toEqual([]);
  });

  it('recognises the WireGuard rule exactly', () => {
    const rules = parseRuleJson(
      '[{"priority":0,"src":"all","table":"local"},{"priority":99,"not":null,"src":"all","fwmark":"0x100000","fwmask":"0x100000","table":"1"},{"priority":99,"src":"all","fwmark":"0x100000","fwmask":"0x100000","table":"1"},{"priority":32766,"src":"all","table":"main"}]',
    );
    expect(rules.filter((r) => isWireguardRule(r, 1, 99, 0x100000))).toHaveLength(1);
    expect(rules.filter((r) => isWireguardRule(r, 2, 99, 0x100000))).toHaveLength(0);
    expect(ruleArgs(1, 99, 0x100000)).toEqual(['not', 'fwmark', '0x100000/0x100000', 'table', '1', 'priority', '99']);
  });
});
