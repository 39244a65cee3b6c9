import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalCidr, canonicalHostCidr, canonicalIp, cidrContains, parseCidr, parseIp, parseIpStrict } from './cidr.js';
import { compareBytewise } from '../convert/strings.js';

describe('CIDR canonicalisation', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['fd00::1', 'fd00::1/128'],
    ['FD00:0:0:0:0:0:0:1/64', 'fd00::/64'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1/128'],
    ['2001:0db8:0000:0000:0000:0000:0000:0000/32', '2001:db8::/32'],
    ['::', '::/128'],
    ['::/0', '::/0'],
    ['::ffff:10.0.0.1', '::ffff:a00:1/128'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3/128'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7/128'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalCidr(input)).toBe(expected);
  });

  it.each(['10.0.0', '10.0.0.256', '10.0.0.01', '10.0.0.0/33', 'fd00::/129', 'fd00:::1', '1::2::3', 'x', '', '1.2.3.4/', 'g::1'])(
    'rejects %s',
    (input) => {
      expect(canonicalCidr(input)).toBeUndefined();
    },
  );

  it('keeps host addresses of pod IPs', () => {
    expect(canonicalHostCidr('10.1.2.3/24')).toBe('10.1.2.3/32');
    expect(canonicalIp('10.1.2.3/24')).toBe('10.1.2.3');
  });

  it('tests containment per family', () => {
    const net = parseCidr('10.0.0.0/8')!;
    expect(cidrContains(net, parseIp('10.255.0.1')!)).toBe(true);
    expect(cidrContains(net, parseIp('11.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('255.255.255.255')!)).toBe(true);
    expect(cidrContains(parseCidr('::/0')!, parseIp('10.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('fd00::/8')!, parseIp('fdff::1')!)).toBe(true);
  });
});

describe('compareBytewise', () => {
  it('orders by UTF-8 bytes, not UTF-16 code units', () => {
    expect(compareBytewise('\uffff', '\u{10000}')).toBeLessThan(0);
    expect('\uffff' < '\u{10000}').toBe(false);
    expect(compareBytewise('foo-bar/', 'foo/')).toBeLessThan(0);
    expect(compareBytewise('a', 'a')).toBe(0);
    expect(compareBytewise('a', 'ab')).toBeLessThan(0);
  });
});

describe('IPv4 parsing (a character at a time)', () => {
  /** The former split-and-regex reading, as the reference. */
  const reference = (text: string): number | undefined => {
    const parts = text.split('.');
    if (parts.length !== 4) return undefined;
    let value = 0;
    for (const part of parts) {
      if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part.startsWith('0')) || Number(part) > 255) return undefined;
      value = value * 256 + Number(part);
    }
    return value;
  };
  const read = (t: string) => {
    const a = parseIpStrict(t);
    return a?.version === 4 ? Number(a.value) : undefined;
  };

  it.each(['0.0.0.0', '255.255.255.255', '10.0.0.1', '1.2.3.4', '01.2.3.4', '1.2.3.04', '00.0.0.0', '256.0.0.1', '1.2.3', '1.2.3.4.5', '1..3.4', '.1.2.3', '1.2.3.', '1.2.3.4 ', '1.2.3.a', '1.2.3.1000', '', '١.2.3.4', '1.2.3.255', '1.2.3.256'])('%j as before', (t) => {
    expect(read(t)).toBe(reference(t));
  });

  it('reads every string of digits and dots as the reference does', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9.]{0,16}$/), (t) => {
        expect(read(t)).toBe(reference(t));
      }),
      { numRuns: propRuns(2000) },
    );
  });
});
