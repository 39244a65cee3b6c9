import { describe, expect, it } from 'vitest';
import { buildArp, buildIcmpError, buildPacket, IPV6_DSTOPTS, IPV6_FRAGMENT, IPV6_HOPOPTS, IPV6_ROUTING, TCP_ACK, TCP_SYN } from './packet.js';

const u16 = (b: Uint8Array, off: number): number => (b[off]! << 8) | b[off + 1]!;
const ipv4HeaderSum = (h: Uint8Array): number => {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += u16(h, i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
};

describe('crafted frames', () => {
  it('IPv4 TCP: Ethernet, a checksummed 20-byte header, ports and flags where the kernel reads them', () => {
    const f = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, srcPort: 40000, dstPort: 443 }, { tcpFlags: TCP_SYN | TCP_ACK });
    expect(f.length).toBe(14 + 20 + 20 + 8);
    expect(u16(f, 12)).toBe(0x0800);
    expect(f[14]).toBe(0x45);
    expect(u16(f, 16)).toBe(20 + 20 + 8);
    expect(f[23]).toBe(6);
    expect([...f.subarray(26, 34)]).toEqual([10, 0, 0, 1, 10, 0, 0, 2]);
    expect(ipv4HeaderSum(f.subarray(14, 34))).toBe(0xffff);
    expect(u16(f, 34)).toBe(40000);
    expect(u16(f, 36)).toBe(443);
    expect(f[46]).toBe(0x50);
    expect(f[47]).toBe(TCP_SYN | TCP_ACK);
  });

  it('TCP defaults to SYN; UDP carries its length; SCTP its ports; other protocols just the payload', () => {
    expect(buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, srcPort: 1, dstPort: 2 })[47]).toBe(TCP_SYN);
    const udp = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, srcPort: 53, dstPort: 5353 }, { payload: new Uint8Array(3) });
    expect([u16(udp, 34), u16(udp, 36), u16(udp, 38)]).toEqual([53, 5353, 11]);
    const sctp = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 132, srcPort: 7, dstPort: 9 });
    expect([sctp[23], u16(sctp, 34), u16(sctp, 36), sctp.length]).toEqual([132, 7, 9, 14 + 20 + 12 + 8]);
    const gre = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 47 });
    expect([gre[23], gre.length]).toEqual([47, 14 + 20 + 8]);
  });

  it('ICMP carries type, code and, for echo, the identifier', () => {
    const echo = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 1, icmp: { type: 8 } }, { icmpId: 0x1234 });
    expect([echo[34], echo[35], u16(echo, 38), u16(echo, 40)]).toEqual([8, 0, 0x1234, 1]);
    const unreach = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 1, icmp: { type: 3, code: 1 } });
    expect([unreach[34], unreach[35], u16(unreach, 38)]).toEqual([3, 1, 0]);
    const v6 = buildPacket({ src: 'fd00::1', dst: 'fd00::2', protocol: 58 });
    expect([u16(v6, 12), v6[20], v6[54], u16(v6, 58)]).toEqual([0x86dd, 58, 128, 0x4747]);
  });

  it('IPv6 extension headers chain their next-header fields and count in the payload length', () => {
    const f = buildPacket({ src: 'fd00::1', dst: 'fd00::2', protocol: 17, srcPort: 1, dstPort: 2 }, { ipv6Extensions: [IPV6_HOPOPTS, IPV6_ROUTING, IPV6_DSTOPTS] });
    expect(f[20]).toBe(IPV6_HOPOPTS);
    expect(u16(f, 18)).toBe(3 * 8 + 8 + 8);
    expect([f[54], f[62], f[70]]).toEqual([IPV6_ROUTING, IPV6_DSTOPTS, 17]);
    expect([u16(f, 78), u16(f, 80)]).toEqual([1, 2]);
    expect([...f.subarray(22, 38)]).toEqual([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('fragments: a non-first fragment has no L4 header; IPv6 gets a fragment header', () => {
    const v4 = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, srcPort: 1, dstPort: 2 }, { fragmentOffset: 100 });
    expect([u16(v4, 20) & 0x1fff, v4.length]).toEqual([100, 14 + 20 + 8]);
    const first = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, srcPort: 1, dstPort: 2 }, { moreFragments: true });
    expect(u16(first, 20)).toBe(0x2000);
    const v6 = buildPacket({ src: 'fd00::1', dst: 'fd00::2', protocol: 6, srcPort: 1, dstPort: 2 }, { fragmentOffset: 3, moreFragments: true });
    expect([v6[20], v6[54], u16(v6, 56)]).toEqual([IPV6_FRAGMENT, 6, (3 << 3) | 1]);
    expect(v6.length).toBe(14 + 40 + 8 + 8);
  });

  it('ICMP errors embed the original IP header (plus 8 bytes for IPv4, the whole datagram for IPv6)', () => {
    const original = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, srcPort: 5000, dstPort: 53 }, { payload: new Uint8Array(100) });
    const err = buildIcmpError({ src: '10.0.0.2', dst: '10.0.0.1', code: 3, original });
    expect([err[23], err[34], err[35]]).toEqual([1, 3, 3]);
    expect([...err.subarray(42)]).toEqual([...original.subarray(14, 14 + 28)]);
    const o6 = buildPacket({ src: 'fd00::1', dst: 'fd00::2', protocol: 17, srcPort: 5000, dstPort: 53 });
    const e6 = buildIcmpError({ src: 'fd00::2', dst: 'fd00::1', type: 1, code: 4, original: o6 });
    expect([e6[20], e6[54], e6[55]]).toEqual([58, 1, 4]);
    expect([...e6.subarray(62)]).toEqual([...o6.subarray(14)]);
  });

  it('VLAN tags and ARP frames', () => {
    const tagged = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, srcPort: 1, dstPort: 2 }, { vlan: 7 });
    expect([u16(tagged, 12), u16(tagged, 14), u16(tagged, 16), tagged[18]]).toEqual([0x8100, 7, 0x0800, 0x45]);
    const arp = buildArp('10.0.0.1', '10.0.0.2');
    expect([u16(arp, 12), arp.length, arp[0]]).toEqual([0x0806, 42, 0xff]);
  });

  it('rejects what it cannot encode with DATAPATH_BAD_PACKET', () => {
    expect(() => buildPacket({ src: '10.0.0.1', dst: 'fd00::2', protocol: 6 })).toThrow(expect.objectContaining({ code: 'DATAPATH_BAD_PACKET' }));
    expect(() => buildPacket({ src: 'nope', dst: '10.0.0.2', protocol: 6 })).toThrow(expect.objectContaining({ code: 'DATAPATH_BAD_PACKET' }));
    expect(() => buildPacket({ src: 'fd00::1', dst: 'fd00::2', protocol: 6 }, { ipv6Extensions: [51] })).toThrow(/unsupported IPv6 extension header 51/);
    const v4 = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17 });
    expect(() => buildIcmpError({ src: 'fd00::2', dst: 'fd00::1', original: v4 })).toThrow(expect.objectContaining({ code: 'DATAPATH_BAD_PACKET' }));
  });
});
