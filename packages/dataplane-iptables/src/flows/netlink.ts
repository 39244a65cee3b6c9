/**
 * The netfilter netlink messages flow logs need, built and parsed in TypeScript: NFLOG
 * (nfnetlink_log) configuration and packets, and conntrack (ctnetlink) dumps. Pure: bytes in,
 * data out; the sockets live in `channel.ts`. Layouts from linux/netlink.h, netfilter/nfnetlink.h,
 * nfnetlink_log.h and nfnetlink_conntrack.h (all numbers host order except where the kernel
 * says big-endian: nfgenmsg res_id, NFLOG/ctnetlink attribute values).
 */

export const NETLINK_NETFILTER = 12;
const NLMSG_DONE = 3;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLA_TYPE_MASK = 0x3fff;

const NFNL_SUBSYS_CTNETLINK = 1;
const NFNL_SUBSYS_ULOG = 4;
const NFULNL_MSG_PACKET = 0;
const NFULNL_MSG_CONFIG = 1;
const IPCTNL_MSG_CT_NEW = 0;
const IPCTNL_MSG_CT_GET = 1;

// NFLOG config attributes and commands.
const NFULA_CFG_CMD = 1;
const NFULA_CFG_MODE = 2;
const NFULA_CFG_NLBUFSIZ = 3;
const NFULA_CFG_TIMEOUT = 4;
const NFULA_CFG_QTHRESH = 5;
const NFULA_CFG_FLAGS = 6;
const NFULNL_CFG_CMD_BIND = 1;
const NFULNL_CFG_CMD_UNBIND = 2;
const NFULNL_COPY_PACKET = 2;
const NFULNL_CFG_F_SEQ = 0x0001;

// NFLOG packet attributes.
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
const NFULA_SEQ = 12;

// ctnetlink attributes.
const CTA_TUPLE_ORIG = 1;
const CTA_PROTOINFO = 4;
const CTA_COUNTERS_ORIG = 9;
const CTA_COUNTERS_REPLY = 10;
const CTA_ID = 12;
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_IP_V6_SRC = 3;
const CTA_IP_V6_DST = 4;
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const CTA_PROTO_DST_PORT = 3;
const CTA_PROTO_ICMP_ID = 4;
const CTA_PROTO_ICMPV6_ID = 7;
const CTA_PROTOINFO_TCP = 1;
const CTA_PROTOINFO_TCP_STATE = 1;
const CTA_COUNTERS_PACKETS = 1;
const CTA_COUNTERS_BYTES = 2;
/** TCP conntrack states from TIME_WAIT on: the connection is over. */
const TCP_CONNTRACK_TIME_WAIT = 7;

const align4 = (n: number): number => (n + 3) & ~3;

/** One netlink attribute: type, value bytes. */
function attr(type: number, value: Uint8Array): Uint8Array {
  const len = 4 + value.length;
  const b = new Uint8Array(align4(len));
  const d = new DataView(b.buffer);
  d.setUint16(0, len, true);
  d.setUint16(2, type, true);
  b.set(value, 4);
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** nlmsghdr + nfgenmsg + attributes. */
function nfMessage(subsys: number, msg: number, flags: number, seq: number, family: number, resId: number, attrs: readonly Uint8Array[]): Uint8Array {
  const body = concat(attrs);
  const b = new Uint8Array(16 + 4 + body.length);
  const d = new DataView(b.buffer);
  d.setUint32(0, b.length, true);
  d.setUint16(4, (subsys << 8) | msg, true);
  d.setUint16(6, flags, true);
  d.setUint32(8, seq, true);
  d.setUint32(12, 0, true);
  b[16] = family;
  b[17] = 0; // NFNETLINK_V0
  d.setUint16(18, resId, false);
  b.set(body, 20);
  return b;
}

const be16 = (v: number): Uint8Array => new Uint8Array([(v >> 8) & 255, v & 255]);
const be32 = (v: number): Uint8Array => new Uint8Array([(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);

/**
 * The messages that bind this socket to NFLOG `group` (packets copied up to `range` bytes,
 * sequence numbers on, so that lost messages show as gaps). Each asks for an ACK.
 */
export function nflogBindMessages(group: number, seq: number, range = 80): Uint8Array[] {
  const cmd = (c: number): Uint8Array => attr(NFULA_CFG_CMD, new Uint8Array([c, 0, 0, 0]).subarray(0, 1));
  const flags = NLM_F_REQUEST | NLM_F_ACK;
  return [
    // A stale binding of a killed reader would refuse ours (EBUSY): unbind first (an error when none, ignored).
    nfMessage(NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG, flags, seq, 0, group, [cmd(NFULNL_CFG_CMD_UNBIND)]),
    nfMessage(NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG, flags, seq + 1, 0, group, [cmd(NFULNL_CFG_CMD_BIND)]),
    nfMessage(NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG, flags, seq + 2, 0, group, [
      attr(NFULA_CFG_MODE, concat([be32(range), new Uint8Array([NFULNL_COPY_PACKET, 0])])),
      attr(NFULA_CFG_FLAGS, be16(NFULNL_CFG_F_SEQ)),
      attr(NFULA_CFG_QTHRESH, be32(64)),
      attr(NFULA_CFG_TIMEOUT, be32(10)), // 1/100 s: a batch waits at most 100 ms
      attr(NFULA_CFG_NLBUFSIZ, be32(65536)),
    ]),
  ];
}

/** A conntrack dump request (both families). */
export function conntrackDumpMessage(seq: number): Uint8Array {
  return nfMessage(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, 0, 0, []);
}

interface Attr {
  readonly type: number;
  readonly start: number;
  readonly end: number;
}

function* attrs(b: Uint8Array, start: number, end: number): Generator<Attr> {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = start;
  while (o + 4 <= end) {
    const len = d.getUint16(o, true);
    if (len < 4 || o + len > end) return;
    yield { type: d.getUint16(o + 2, true) & NLA_TYPE_MASK, start: o + 4, end: o + len };
    o += align4(len);
  }
}

/** A netlink message inside a datagram. */
export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** The payload (after nlmsghdr). */
  readonly body: Uint8Array;
}

/** The messages of one datagram. */
export function* netlinkMessages(b: Uint8Array): Generator<NetlinkMessage> {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = 0;
  while (o + 16 <= b.length) {
    const len = d.getUint32(o, true);
    if (len < 16 || o + len > b.length) return;
    yield { type: d.getUint16(o + 4, true), flags: d.getUint16(o + 6, true), seq: d.getUint32(o + 8, true), body: b.subarray(o + 16, o + len) };
    o += align4(len);
  }
}

export const isDone = (m: NetlinkMessage): boolean => m.type === NLMSG_DONE;
/** The errno of an NLMSG_ERROR (0 = an ACK), undefined for other messages. */
export function netlinkError(m: NetlinkMessage): number | undefined {
  if (m.type !== NLMSG_ERROR || m.body.length < 4) return undefined;
  return -new DataView(m.body.buffer, m.body.byteOffset, 4).getInt32(0, true);
}

export const isNflogPacket = (m: NetlinkMessage): boolean => m.type === ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET);
export const isConntrack = (m: NetlinkMessage): boolean => m.type === ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW);

/** A parsed IP packet's tuple (what an NFLOG payload carries). */
export interface PacketTuple {
  family: 4 | 6;
  protocol: number;
  src: string;
  dst: string;
  srcPort: number;
  /** ICMP: type << 8 | code, as the eBPF events say it. */
  dstPort: number;
  /** The IP packet's length. */
  bytes: number;
}

export interface NflogPacket {
  readonly group: number;
  readonly prefix: string;
  /** Per-group sequence number (NFULNL_CFG_F_SEQ), or undefined. */
  readonly seq: number | undefined;
  readonly tuple: PacketTuple | undefined;
}

function ipv4Text(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6Text(b: Uint8Array, o: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[o + i]! << 8) | b[o + i + 1]!).toString(16));
  // Canonical (RFC 5952): the longest run of two or more zero groups becomes ::
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** The tuple of an IP packet (from its first bytes), or undefined when it cannot be read. */
export function packetTuple(b: Uint8Array, o: number, end: number): PacketTuple | undefined {
  if (end - o < 1) return undefined;
  const v = b[o]! >> 4;
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let l4: number;
  let protocol: number;
  let fragment = false;
  const t: PacketTuple = { family: 4, protocol: 0, src: '', dst: '', srcPort: 0, dstPort: 0, bytes: 0 };
  if (v === 4) {
    if (end - o < 20) return undefined;
    const ihl = (b[o]! & 15) * 4;
    t.bytes = d.getUint16(o + 2);
    protocol = b[o + 9]!;
    fragment = (d.getUint16(o + 6) & 0x1fff) !== 0;
    t.src = ipv4Text(b, o + 12);
    t.dst = ipv4Text(b, o + 16);
    l4 = o + ihl;
  } else if (v === 6) {
    if (end - o < 40) return undefined;
    t.family = 6;
    t.bytes = d.getUint16(o + 4) + 40;
    protocol = b[o + 6]!;
    t.src = ipv6Text(b, o + 8);
    t.dst = ipv6Text(b, o + 24);
    l4 = o + 40;
  } else return undefined;
  t.protocol = protocol;
  if (fragment) return t;
  if ((protocol === 6 || protocol === 17 || protocol === 132) && end - l4 >= 4) {
    t.srcPort = d.getUint16(l4);
    t.dstPort = d.getUint16(l4 + 2);
  } else if ((protocol === 1 || protocol === 58) && end - l4 >= 2) {
    const type = b[l4]!;
    t.dstPort = (type << 8) | b[l4 + 1]!;
    const echo = protocol === 1 ? type === 8 || type === 0 : type === 128 || type === 129;
    if (echo && end - l4 >= 6) t.srcPort = d.getUint16(l4 + 4);
  }
  return t;
}

/** An NFLOG packet message's group, prefix, sequence number and packet tuple. */
export function parseNflogPacket(m: NetlinkMessage): NflogPacket {
  const b = m.body;
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const group = b.length >= 4 ? d.getUint16(2, false) : 0;
  let prefix = '';
  let seq: number | undefined;
  let tuple: PacketTuple | undefined;
  for (const a of attrs(b, 4, b.length)) {
    if (a.type === NFULA_PREFIX) {
      let e = a.end;
      while (e > a.start && b[e - 1] === 0) e--;
      prefix = Buffer.from(b.buffer, b.byteOffset + a.start, e - a.start).toString('latin1');
    } else if (a.type === NFULA_SEQ && a.end - a.start >= 4) seq = d.getUint32(a.start, false);
    else if (a.type === NFULA_PAYLOAD) tuple = packetTuple(b, a.start, a.end);
  }
  return { group, prefix, seq, tuple };
}

/** One conntrack entry's original tuple and counters. */
export interface ConntrackEntry {
  readonly id: number;
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly packetsOrig: number;
  readonly bytesOrig: number;
  readonly packetsReply: number;
  readonly bytesReply: number;
  /** TCP in TIME_WAIT or CLOSE: over. */
  readonly closed: boolean;
}

const u64 = (d: DataView, o: number): number => d.getUint32(o, false) * 4_294_967_296 + d.getUint32(o + 4, false);

/** A conntrack message of a dump, or undefined when it lacks a tuple. */
export function parseConntrack(m: NetlinkMessage): ConntrackEntry | undefined {
  const b = m.body;
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const e = { id: 0, family: 4 as 4 | 6, protocol: 0, src: '', dst: '', srcPort: 0, dstPort: 0, packetsOrig: 0, bytesOrig: 0, packetsReply: 0, bytesReply: 0, closed: false };
  let tuple = false;
  const counters = (a: Attr, orig: boolean): void => {
    for (const c of attrs(b, a.start, a.end)) {
      if (c.end - c.start < 8) continue;
      if (c.type === CTA_COUNTERS_PACKETS) orig ? (e.packetsOrig = u64(d, c.start)) : (e.packetsReply = u64(d, c.start));
      if (c.type === CTA_COUNTERS_BYTES) orig ? (e.bytesOrig = u64(d, c.start)) : (e.bytesReply = u64(d, c.start));
    }
  };
  for (const a of attrs(b, 4, b.length)) {
    if (a.type === CTA_TUPLE_ORIG) {
      tuple = true;
      for (const t of attrs(b, a.start, a.end)) {
        if (t.type === CTA_TUPLE_IP) {
          for (const ip of attrs(b, t.start, t.end)) {
            if (ip.type === CTA_IP_V4_SRC) e.src = ipv4Text(b, ip.start);
            else if (ip.type === CTA_IP_V4_DST) e.dst = ipv4Text(b, ip.start);
            else if (ip.type === CTA_IP_V6_SRC) {
              e.family = 6;
              e.src = ipv6Text(b, ip.start);
            } else if (ip.type === CTA_IP_V6_DST) e.dst = ipv6Text(b, ip.start);
          }
        } else if (t.type === CTA_TUPLE_PROTO) {
          for (const p of attrs(b, t.start, t.end)) {
            if (p.type === CTA_PROTO_NUM) e.protocol = b[p.start]!;
            else if (p.type === CTA_PROTO_SRC_PORT) e.srcPort = d.getUint16(p.start, false);
            else if (p.type === CTA_PROTO_DST_PORT) e.dstPort = d.getUint16(p.start, false);
            else if (p.type === CTA_PROTO_ICMP_ID || p.type === CTA_PROTO_ICMPV6_ID) e.srcPort = d.getUint16(p.start, false);
          }
        }
      }
    } else if (a.type === CTA_COUNTERS_ORIG) counters(a, true);
    else if (a.type === CTA_COUNTERS_REPLY) counters(a, false);
    else if (a.type === CTA_ID && a.end - a.start >= 4) e.id = d.getUint32(a.start, false);
    else if (a.type === CTA_PROTOINFO) {
      for (const p of attrs(b, a.start, a.end)) {
        if (p.type !== CTA_PROTOINFO_TCP) continue;
        for (const s of attrs(b, p.start, p.end)) if (s.type === CTA_PROTOINFO_TCP_STATE) e.closed = b[s.start]! >= TCP_CONNTRACK_TIME_WAIT;
      }
    }
  }
  return tuple ? e : undefined;
}
