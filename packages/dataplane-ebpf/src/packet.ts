/**
 * Crafted Ethernet frames for `BPF_PROG_TEST_RUN` (kernel tests, benches): IPv4/IPv6 (with
 * optional extension headers and fragments) carrying TCP, UDP, SCTP, ICMP/ICMPv6 or a bare
 * payload, plus ICMP errors that embed another packet and an ARP request. Pure: no kernel, no
 * I/O. The IPv4 header checksum is filled in; L4 checksums are left zero (tc programs do not
 * check them and the test-run path does not either).
 */
import { DatapathError } from './datapath.js';
import type { Packet } from './simulate.js';
import { parseWireAddr } from './addr.js';
import type { WireAddr } from './wire.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** IPv6 extension headers `buildPacket` can insert (next-header numbers). */
export const IPV6_HOPOPTS = 0;
export const IPV6_ROUTING = 43;
export const IPV6_FRAGMENT = 44;
export const IPV6_DSTOPTS = 60;

export interface PacketOptions {
  /** TCP flags byte (default SYN). */
  readonly tcpFlags?: number;
  /** Bytes after the L4 header (default 8 zero bytes). */
  readonly payload?: Uint8Array;
  /** ICMP/ICMPv6 echo identifier (default 0x4747); the sequence number is 1. */
  readonly icmpId?: number;
  /** IPv6 extension headers, in order, before the L4 header. */
  readonly ipv6Extensions?: readonly number[];
  /** Fragment offset in 8-byte units: > 0 makes a non-first fragment (no L4 header). IPv6 adds a fragment header. */
  readonly fragmentOffset?: number;
  /** Sets the more-fragments bit (IPv4 flag, or in the IPv6 fragment header). */
  readonly moreFragments?: boolean;
  /** One 802.1Q tag with this VLAN id between the MAC addresses and the EtherType. */
  readonly vlan?: number;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_ARP = 0x0806;

function addr(text: string): WireAddr {
  const a = parseWireAddr(text);
  if (!a) throw new DatapathError('DATAPATH_BAD_PACKET', `not an IP address: ${text}`);
  return a;
}

function u16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function ethernet(type: number, vlan: number | undefined): Uint8Array {
  const tagged = vlan !== undefined;
  const b = new Uint8Array(tagged ? 18 : 14);
  b.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0);
  if (tagged) {
    u16(b, 12, 0x8100);
    u16(b, 14, vlan & 0x0fff);
  }
  u16(b, tagged ? 16 : 12, type);
  return b;
}

function ipv4Checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += (h[i]! << 8) | h[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The L3 header(s) for `l4` (already built), with extension headers and fragment fields. */
function ipHeader(src: WireAddr, dst: WireAddr, protocol: number, l4Length: number, o: PacketOptions): Uint8Array {
  const frag = o.fragmentOffset ?? 0;
  const more = o.moreFragments ?? false;
  if (src.family === 4) {
    const h = new Uint8Array(20);
    h[0] = 0x45;
    u16(h, 2, 20 + l4Length);
    u16(h, 4, 0x4747);
    u16(h, 6, (more ? 0x2000 : 0) | (frag & 0x1fff));
    h[8] = 64;
    h[9] = protocol;
    h.set(src.bytes.subarray(0, 4), 12);
    h.set(dst.bytes.subarray(0, 4), 16);
    u16(h, 10, ipv4Checksum(h));
    return h;
  }
  const exts = [...(o.ipv6Extensions ?? [])];
  if ((frag > 0 || more) && !exts.includes(IPV6_FRAGMENT)) exts.push(IPV6_FRAGMENT);
  const chain = [...exts, protocol];
  const extBytes = exts.map((type, i) => {
    const e = new Uint8Array(8);
    e[0] = chain[i + 1]!;
    if (type === IPV6_FRAGMENT) {
      u16(e, 2, ((frag & 0x1fff) << 3) | (more ? 1 : 0));
      e.set([0, 0, 0x47, 0x47], 4);
    } else if (type === IPV6_HOPOPTS || type === IPV6_DSTOPTS) {
      e.set([1, 4], 2); // PadN over the remaining 4 bytes
    } else if (type === IPV6_ROUTING) {
      e[2] = 4; // segment routing header type, segments left 0
    } else {
      throw new DatapathError('DATAPATH_BAD_PACKET', `unsupported IPv6 extension header ${type}`);
    }
    return e;
  });
  const h = new Uint8Array(40);
  h[0] = 0x60;
  u16(h, 4, extBytes.reduce((n, e) => n + e.length, 0) + l4Length);
  h[6] = chain[0]!;
  h[7] = 64;
  h.set(src.bytes, 8);
  h.set(dst.bytes, 24);
  return concat([h, ...extBytes]);
}

function frame(src: WireAddr, dst: WireAddr, protocol: number, l4: Uint8Array, o: PacketOptions): Uint8Array {
  if (src.family !== dst.family) throw new DatapathError('DATAPATH_BAD_PACKET', 'source and destination are of different families');
  return concat([ethernet(src.family === 4 ? ETH_IPV4 : ETH_IPV6, o.vlan), ipHeader(src, dst, protocol, l4.length, o), l4]);
}

function isEcho(protocol: number, type: number): boolean {
  return protocol === 1 ? type === 0 || type === 8 : type === 128 || type === 129;
}

function l4Header(p: Packet, o: PacketOptions, payload: Uint8Array): Uint8Array {
  const sport = p.srcPort ?? 0;
  const dport = p.dstPort ?? 0;
  switch (p.protocol) {
    case 6: {
      const h = new Uint8Array(20 + payload.length);
      u16(h, 0, sport);
      u16(h, 2, dport);
      h.set([0, 0, 0, 1], 4); // sequence number
      h[12] = 0x50;
      h[13] = o.tcpFlags ?? TCP_SYN;
      u16(h, 14, 65535);
      h.set(payload, 20);
      return h;
    }
    case 17: {
      const h = new Uint8Array(8 + payload.length);
      u16(h, 0, sport);
      u16(h, 2, dport);
      u16(h, 4, h.length);
      h.set(payload, 8);
      return h;
    }
    case 132: {
      const h = new Uint8Array(12 + payload.length);
      u16(h, 0, sport);
      u16(h, 2, dport);
      h.set([0, 0, 0x47, 0x47], 4); // verification tag
      h.set(payload, 12);
      return h;
    }
    case 1:
    case 58: {
      const type = p.icmp?.type ?? (p.protocol === 1 ? 8 : 128);
      const h = new Uint8Array(8 + payload.length);
      h[0] = type;
      h[1] = p.icmp?.code ?? 0;
      if (isEcho(p.protocol, type)) {
        u16(h, 4, o.icmpId ?? 0x4747);
        u16(h, 6, 1);
      }
      h.set(payload, 8);
      return h;
    }
    default:
      return payload.slice();
  }
}

/**
 * An Ethernet frame carrying `p`: ports for TCP/UDP/SCTP, type/code (and an echo identifier)
 * for ICMP/ICMPv6, just the payload for other protocols. A non-first fragment carries only the
 * payload, as on the wire.
 */
export function buildPacket(p: Packet, opts: PacketOptions = {}): Uint8Array {
  const src = addr(p.src);
  const dst = addr(p.dst);
  const payload = opts.payload ?? new Uint8Array(8);
  const l4 = (opts.fragmentOffset ?? 0) > 0 ? payload.slice() : l4Header(p, opts, payload);
  return frame(src, dst, p.protocol, l4, opts);
}

export interface IcmpErrorOptions {
  /** Sender of the error (a router or the destination host). */
  readonly src: string;
  /** Receiver of the error: the source of the original datagram. */
  readonly dst: string;
  /** ICMP type (default 3 destination unreachable) or ICMPv6 type (default 1). */
  readonly type?: number;
  readonly code?: number;
  /** The datagram the error is about: a frame from `buildPacket` (its Ethernet header is dropped). */
  readonly original: Uint8Array;
}

/**
 * An ICMP (IPv4) or ICMPv6 error embedding `original`'s IP header. IPv4 errors carry the IP
 * header plus the first 8 bytes of its payload (RFC 792's minimum); ICMPv6 errors carry as much
 * of the datagram as fits in 1,232 bytes (RFC 4443).
 */
export function buildIcmpError(o: IcmpErrorOptions): Uint8Array {
  const src = addr(o.src);
  const dst = addr(o.dst);
  const ethType = (o.original[12]! << 8) | o.original[13]!;
  const l3 = o.original.subarray(ethType === 0x8100 ? 18 : 14);
  const v4 = src.family === 4;
  if ((l3[0]! >> 4) !== src.family) throw new DatapathError('DATAPATH_BAD_PACKET', 'the embedded datagram is of another family than the error');
  const embedded = v4 ? l3.subarray(0, Math.min(l3.length, (l3[0]! & 0x0f) * 4 + 8)) : l3.subarray(0, Math.min(l3.length, 1232 - 48));
  const h = new Uint8Array(8 + embedded.length);
  h[0] = o.type ?? (v4 ? 3 : 1);
  h[1] = o.code ?? 0;
  h.set(embedded, 8);
  return frame(src, dst, v4 ? 1 : 58, h, {});
}

/** An ARP request (who-has `target` tell `sender`): a non-IP frame. */
export function buildArp(sender: string, target: string): Uint8Array {
  const s = addr(sender);
  const t = addr(target);
  if (s.family !== 4 || t.family !== 4) throw new DatapathError('DATAPATH_BAD_PACKET', 'ARP is IPv4 only');
  const a = new Uint8Array(28);
  u16(a, 0, 1); // Ethernet
  u16(a, 2, ETH_IPV4);
  a[4] = 6;
  a[5] = 4;
  u16(a, 6, 1); // request
  a.set([0x02, 0, 0, 0, 0, 0x01], 8);
  a.set(s.bytes.subarray(0, 4), 14);
  a.set(t.bytes.subarray(0, 4), 24);
  const eth = ethernet(ETH_ARP, undefined);
  eth.fill(0xff, 0, 6);
  return concat([eth, a]);
}
