import { fc, test } from '@fast-check/vitest';
import { cidrContainsCidr, formatIp, parseIp, type Cidr } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { canonicalAddress, canonicalPrefix, findOverlaps, parsePrefix, prefixContains, sortPrefixTexts, type Claim } from './prefix.js';

const overlaps = (a: Cidr, b: Cidr): boolean => a.version === b.version && (cidrContainsCidr(a, b) || cidrContainsCidr(b, a));

describe('addresses (core canonical text, memoised)', () => {
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
    expect(canonicalAddress(input)).toBe(out);
    expect(canonicalAddress(input)).toBe(out); // the memoised answer is the same
  });

  it.each(['256.0.0.1', '1.2.3', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fd00::g', '', 'abc'])('%s is not an address', (input) => {
    expect(canonicalAddress(input)).toBeUndefined();
    expect(canonicalAddress(input)).toBeUndefined();
  });

  test.prop([fc.ipV6()])('IPv6 text round-trips through canonical text', (ip) => {
    const canonical = canonicalAddress(ip)!;
    expect(canonical).toBeDefined();
    expect(parseIp(canonical)!.value).toBe(parseIp(ip)!.value);
    expect(formatIp(parseIp(canonical)!)).toBe(canonical);
  });

  test.prop([fc.ipV4()])('IPv4 text round-trips', (ip) => {
    expect(canonicalAddress(ip)).toBe(ip);
  });
});

describe('prefixes', () => {
  it('clear host bits and default to host length', () => {
    expect(canonicalPrefix('10.1.2.3/24')).toBe('10.1.2.0/24');
    expect(canonicalPrefix('10.1.2.3')).toBe('10.1.2.3/32');
    expect(canonicalPrefix('fd00::1')).toBe('fd00::1/128');
    expect(canonicalPrefix('10.0.0.0/33')).toBeUndefined();
    expect(canonicalPrefix('10.0.0.0/x')).toBeUndefined();
    expect(parsePrefix('10.1.2.3/24')).toBe(parsePrefix('10.1.2.3/24'));
  });

  it('contain exactly the prefixes inside them, never across families', () => {
    const p = (t: string) => parsePrefix(t)!.cidr;
    expect(prefixContains(p('10.0.0.0/16'), p('10.0.5.0/24'))).toBe(true);
    expect(prefixContains(p('10.0.5.7/32'), p('10.0.0.0/16'))).toBe(false);
    expect(prefixContains(p('10.0.0.0/24'), p('10.0.0.0/24'))).toBe(true);
    expect(prefixContains(p('10.0.0.0/24'), p('10.0.1.0/24'))).toBe(false);
    expect(prefixContains(p('::/0'), p('10.0.0.0/8'))).toBe(false);
    expect(prefixContains(p('0.0.0.0/0'), p('fd00::/64'))).toBe(false);
  });

  it('sort by family, address, then length', () => {
    expect(sortPrefixTexts(['10.0.1.0/24', 'fd00::/64', '10.0.0.5/32', '10.0.0.0/16', '9.0.0.0/8', '::/0', 'junk'])).toEqual([
      '9.0.0.0/8',
      '10.0.0.0/16',
      '10.0.0.5/32',
      '10.0.1.0/24',
      '::/0',
      'fd00::/64',
      'junk',
    ]);
  });

  const arbClaim = fc.record({
    owner: fc.constantFrom('a', 'b', 'c'),
    net: fc.integer({ min: 0, max: 255 }),
    prefix: fc.integer({ min: 20, max: 32 }),
    v6: fc.boolean(),
  });
  test.prop([fc.array(arbClaim, { maxLength: 40 })])('the overlap sweep finds exactly the overlapping pairs of different owners', (raw) => {
    const claims: Claim[] = raw.map((r) => ({
      owner: r.owner,
      prefix: parsePrefix(r.v6 ? `fd00::${r.net >> 4}:${r.net}/${r.prefix + 96}` : `10.0.${r.net >> 4}.${r.net}/${r.prefix}`)!,
    }));
    const key = (x: Claim, y: Claim) => [`${x.owner}${x.prefix.text}`, `${y.owner}${y.prefix.text}`].sort().join('|');
    const brute = new Set<string>();
    for (let i = 0; i < claims.length; i++)
      for (let j = i + 1; j < claims.length; j++) {
        const x = claims[i]!;
        const y = claims[j]!;
        if (x.owner !== y.owner && overlaps(x.prefix.cidr, y.prefix.cidr)) brute.add(key(x, y));
      }
    const swept = new Set(findOverlaps(claims).map((o) => key(o.a, o.b)));
    expect(swept).toEqual(brute);
  });
});
