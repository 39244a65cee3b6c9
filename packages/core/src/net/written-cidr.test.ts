import { describe, expect, it } from 'vitest';
import { cidrContainsCidr, formatCidr, formatIp, isStrictlyMasked, makeCidr, parseIpStrict as parseIp, parseWrittenCidr, type WrittenCidr } from './cidr.js';

const parseCidr = (text: string, allowBare = true) => parseWrittenCidr(text, allowBare);
const masked = (c: WrittenCidr) => makeCidr(c.addr, c.prefix);
const maskedCidr = (c: WrittenCidr) => formatCidr(masked(c));
const cidrContains = (a: WrittenCidr, b: WrittenCidr) => cidrContainsCidr(masked(a), masked(b));

describe('IP addresses parse as Go net.ParseIP does', () => {
  it.each([
    ['10.0.0.1', 4],
    ['255.255.255.255', 4],
    ['::', 6],
    ['::1', 6],
    ['2001:db8::8a2e:370:7334', 6],
    ['1:2:3:4:5:6:7::', 6],
    ['::ffff:10.1.2.3', 6],
    ['fe80::1:2:3.4.5.6', 6],
  ])('%j is IPv%s', (text, version) => {
    expect(parseIp(text)?.version).toBe(version);
  });

  it.each(['010.0.0.1', '256.0.0.1', '1.2.3', '1.2.3.4.5', ':::', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', '::1:2:3:4:5:6:7:8', 'fe80::1%eth0', ''])(
    '%j is rejected',
    (text) => {
      expect(parseIp(text)).toBeUndefined();
    },
  );
});

describe('CIDRs', () => {
  it('takes a bare address as a full-length prefix', () => {
    expect(parseCidr('10.1.2.3')).toMatchObject({ prefix: 32, bare: true });
    expect(parseCidr('fd00::1')).toMatchObject({ prefix: 128, bare: true });
    expect(parseCidr('10.1.2.3', false)).toBeUndefined();
  });

  it.each(['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/x', '10.0.0.0/-1', '10.0.0.0/8/8'])('%j is rejected', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });

  it.each([
    ['10.0.0.0/8', true],
    ['10.0.0.1/24', false],
    ['10.0.0.1/32', true],
    ['0.0.0.0/0', true],
    ['fd00::/8', true],
    ['fd00::1/64', false],
  ])('%j strictly masked=%s', (text, strict) => {
    const c = parseCidr(text);
    expect(c && isStrictlyMasked(c)).toBe(strict);
  });

  it('suggests the network of a loosely masked CIDR', () => {
    expect(maskedCidr(parseCidr('10.0.0.1/24')!)).toBe('10.0.0.0/24');
    expect(maskedCidr(parseCidr('2001:db8:0:0:1::1/64')!)).toBe('2001:db8::/64');
  });

  it('prints IPv6 in RFC 5952 form', () => {
    expect(formatIp(parseIp('2001:0db8:0000:0000:0001:0000:0000:0001')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(parseIp('::')!)).toBe('::');
  });

  it('knows containment', () => {
    expect(cidrContains(parseCidr('10.0.0.0/8')!, parseCidr('10.1.0.0/16')!)).toBe(true);
    expect(cidrContains(parseCidr('10.0.0.0/8')!, parseCidr('11.1.0.0/16')!)).toBe(false);
    expect(cidrContains(parseCidr('10.0.0.0/16')!, parseCidr('10.0.0.0/8')!)).toBe(false);
    expect(cidrContains(parseCidr('10.0.0.0/8')!, parseCidr('fd00::/8')!)).toBe(false);
  });
});
