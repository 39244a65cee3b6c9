import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { canonicalIp, cidrOverlaps, findOverlaps, formatIp, parseCidr, parseIp, sortCidrTexts, type Claim } from './cidr.js';

describe('addresses', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['10.0.0.1/24', '10.0.0.1'],
    ['FD00::1', 'fd00::1'],
    ['fd00:0:0:0:0:0:0:1', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::ffff:10.1.2.3', '::ffff:a01:203'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('%s is canonically %s', (input, out) => {
    expect(canonicalIp(input)).toBe(out);
  });

  it.each(['256.0.0.1', '1.2.3', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fd00::g', '', 'abc'])('%s is not an address', (input) => {
    expect(canonicalIp(input)).toBeUndefined();
  });

  test.prop([fc.ipV6()])('IPv6 text round-trips through parse and format', (ip) => {
    const p = parseIp(ip)!;
    expect(p).toBeDefined();
    expect(parseIp(formatIp(6, p.value))!.value).toBe(p.value);
  });

  test.prop([fc.ipV4()])('IPv4 text round-trips', (ip) => {
    expect(canonicalIp(ip)).toBe(ip);
  });
});

describe('prefixes', () => {
  it('clear host bits and default to host length', () => {
    expect(parseCidr('10.1.2.3/24')?.text).toBe('10.1.2.0/24');
    expect(parseCidr('10.1.2.3')?.text).toBe('10.1.2.3/32');
    expect(parseCidr('fd00::1')?.text).toBe('fd00::1/128');
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0/x')).toBeUndefined();
  });

  it('overlap exactly when one contains the other', () => {
    const p = (s: string) => parseCidr(s)!;
    expect(cidrOverlaps(p('10.0.0.0/16'), p('10.0.5.0/24'))).toBe(true);
    expect(cidrOverlaps(p('10.0.5.7/32'), p('10.0.0.0/16'))).toBe(true);
    expect(cidrOverlaps(p('10.0.0.0/24'), p('10.0.1.0/24'))).toBe(false);
    expect(cidrOverlaps(p('10.0.0.0/8'), p('::/0'))).toBe(false);
  });

  it('sort by family, address, then length', () => {
    expect(sortCidrTexts(['10.0.1.0/24', 'fd00::/64', '10.0.0.5/32', '10.0.0.0/16', '9.0.0.0/8'])).toEqual(['9.0.0.0/8', '10.0.0.0/16', '10.0.0.5/32', '10.0.1.0/24', 'fd00::/64']);
  });

  const arbClaim = fc.record({
    owner: fc.constantFrom('a', 'b', 'c'),
    net: fc.integer({ min: 0, max: 255 }),
    prefix: fc.integer({ min: 20, max: 32 }),
  });
  test.prop([fc.array(arbClaim, { maxLength: 40 })])('the overlap sweep finds exactly the overlapping pairs of different owners', (raw) => {
    const claims: Claim[] = raw.map((r) => ({ owner: r.owner, cidr: parseCidr(`10.0.${r.net >> 4}.${r.net}/${r.prefix}`)! }));
    const key = (x: Claim, y: Claim) => [`${x.owner}${x.cidr.text}`, `${y.owner}${y.cidr.text}`].sort().join('|');
    const brute = new Set<string>();
    for (let i = 0; i < claims.length; i++)
      for (let j = i + 1; j < claims.length; j++) {
        const x = claims[i]!;
        const y = claims[j]!;
        if (x.owner !== y.owner && cidrOverlaps(x.cidr, y.cidr)) brute.add(key(x, y));
      }
    const swept = new Set(findOverlaps(claims).map((o) => key(o.a, o.b)));
    expect(swept).toEqual(brute);
  });
});
