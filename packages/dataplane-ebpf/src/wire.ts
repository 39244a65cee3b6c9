/**
 * Byte layouts of the seven BPF policy maps, mirrored by the C datapath (`bpf/gingham.h`). Pure
 * encoders/decoders over DataView; never imports the compiler. Conventions:
 *  - LPM trie keys: `prefixlen` u32 little-endian (host order, as the kernel wants), then the
 *    matched data in network order (big-endian), most significant field first;
 *  - hash keys and all values: little-endian integers, addresses as 16 bytes (IPv4 in the
 *    first 4, the rest zero).
 *
 *   endpoints  HASH  key 20: family u8, pad[3], addr[16]          value 12: ingressSlot u32, egressSlot u32, flags u32
 *                    (flags: ENDPOINT_WORKLOAD | ENDPOINT_HOST: whose address it is)
 *   slots      HASH  key 4:  slot u32                             value 8: version u32, flags u32 (bit0 SLOT_HAS_SPORT)
 *   classes    LPM   key 21: plen u32, family u8, addr[16]        value 4: class u32      (plen = 8 + prefix)
 *   sports     LPM   key 14: plen u32, slot u32, version u32, sport u16               value 4: sportClass u32 (plen = 64 + bits)
 *   verdicts   LPM   key 21: plen u32, slot u32, version u32, class u32, sportClass u16, proto u8, port u16
 *                    value 12: action u8, flags u8, tier u16, policy u32, rule u16, reserved u16
 *                    (plen = 112 + bits of the 24-bit proto<<16|port value; port = dst port for
 *                    TCP/UDP/SCTP, type<<8|code for ICMP/ICMPv6, 0 otherwise). For a host
 *                    endpoint's forwarding slot, class = srcClass << 16 | dstClass (its own classes)
 *   ifaces     HASH  key 4:  ifindex u32 (0: the default, the all-interfaces endpoint; present
 *                    whenever a host endpoint is, flags IFACE_HAS_NAMED when other keys exist)
 *                    value 16: fwdIn u32, fwdOut u32, preIn u32, flags u32 (slots, NONE32 = none)
 *   fwd_classes LPM  key 29: plen u32, slot u32, version u32, family u8, addr[16]     value 4: class u32
 *                    (plen = 72 + prefix: the per-version classes of a forwarding slot; the
 *                    family byte is 4/6 for source addresses, 0x14/0x16 for destinations)
 */

export const MAP_NAMES = ['endpoints', 'slots', 'classes', 'sports', 'verdicts', 'ifaces', 'fwd_classes'] as const;
export type MapName = (typeof MAP_NAMES)[number];

/** One map operation; a diff is an ordered list of them. `value` is present for updates. */
export interface MapWrite {
  readonly map: MapName;
  readonly op: 'update' | 'delete';
  readonly key: Uint8Array;
  readonly value?: Uint8Array;
}

/** Where a diff's writes go, one at a time in order (`value` for updates). A sink never modifies the arrays and copies what it keeps past the call. */
export type WriteSink = (map: MapName, op: 'update' | 'delete', key: Uint8Array, value?: Uint8Array) => void;

/** The content of every map, keyed by the hex of the encoded key. */
export type TableMaps = Record<MapName, Map<string, Uint8Array>>;

export const ACTION_DENY = 0;
export const ACTION_ALLOW = 1;
/** A Log rule matched before the deciding rule. */
export const FLAG_LOG = 1;
/** Decided by an end-of-tier default or the final no-profile Deny (no rule). */
export const FLAG_DEFAULT = 2;
export const FLAG_PROFILE = 4;
export const FLAG_FAILSAFE = 8;
/** Decided by a doNotTrack (untracked) policy: the datapath creates no conntrack entry. */
export const FLAG_UNTRACKED = 16;
/** Decided by a host endpoint's forwarding slot (applyOnForward, or untracked / pre-DNAT on arrival). */
export const FLAG_FORWARD = 32;
export const SLOT_HAS_SPORT = 1;
/** Endpoint value flags: the address is a local workload's, or the host's (a host endpoint, or the node itself). */
export const ENDPOINT_WORKLOAD = 1;
export const ENDPOINT_HOST = 2;
/** On the default `ifaces` entry (key 0): some interface has an entry of its own (else none is looked up). */
export const IFACE_HAS_NAMED = 1;
export const NONE16 = 0xffff;
export const NONE32 = 0xffffffff;

export const ENDPOINT_KEY_SIZE = 20;
export const ENDPOINT_VALUE_SIZE = 12;
export const IFACE_VALUE_SIZE = 16;
export const FWD_CLASS_KEY_SIZE = 29;
/** Bits of the slot/version/family head of a `fwd_classes` key. */
export const FWD_CLASS_HEAD_BITS = 72;
export const CLASS_KEY_SIZE = 21;
export const SPORT_KEY_SIZE = 14;
export const VERDICT_KEY_SIZE = 21;
export const VERDICT_VALUE_SIZE = 12;
/** Bits of the slot/version/class/sportClass head of a verdict key. */
export const VERDICT_HEAD_BITS = 112;
export const SPORT_HEAD_BITS = 64;

/** An address as the datapath sees it: 16 bytes, IPv4 in the first four. */
export interface WireAddr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

export interface VerdictValue {
  readonly action: number;
  readonly flags: number;
  /** Index of the deciding block (tier, profile, failsafe) in the slot's sequence, NONE16 for none. */
  readonly tier: number;
  /** Numeric policy/profile id (names in the compiler's table), NONE32 for none. */
  readonly policy: number;
  /** Rule index inside the policy's rules for this direction, NONE16 for none. */
  readonly rule: number;
}

export function hexKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

function view(n: number): [Uint8Array, DataView] {
  const b = new Uint8Array(n);
  return [b, new DataView(b.buffer)];
}

export function encodeEndpointKey(a: WireAddr): Uint8Array {
  const [b] = view(ENDPOINT_KEY_SIZE);
  b[0] = a.family;
  b.set(a.bytes, 4);
  return b;
}

export function encodeEndpointValue(ingressSlot: number, egressSlot: number, flags = 0): Uint8Array {
  const [b, d] = view(ENDPOINT_VALUE_SIZE);
  d.setUint32(0, ingressSlot, true);
  d.setUint32(4, egressSlot, true);
  d.setUint32(8, flags, true);
  return b;
}

export function decodeEndpointValue(b: Uint8Array): { ingressSlot: number; egressSlot: number; flags: number } {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { ingressSlot: d.getUint32(0, true), egressSlot: d.getUint32(4, true), flags: d.getUint32(8, true) };
}

/** Forwarding slots of an interface (NONE32: none, the check allows). */
export interface IfaceValue {
  readonly fwdIn: number;
  readonly fwdOut: number;
  readonly preIn: number;
  readonly flags: number;
}

export function encodeIfaceKey(ifindex: number): Uint8Array {
  return encodeSlotKey(ifindex);
}

export function encodeIfaceValue(v: IfaceValue): Uint8Array {
  const [b, d] = view(IFACE_VALUE_SIZE);
  d.setUint32(0, v.fwdIn, true);
  d.setUint32(4, v.fwdOut, true);
  d.setUint32(8, v.preIn, true);
  d.setUint32(12, v.flags, true);
  return b;
}

export function decodeIfaceValue(b: Uint8Array): IfaceValue {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { fwdIn: d.getUint32(0, true), fwdOut: d.getUint32(4, true), preIn: d.getUint32(8, true), flags: d.getUint32(12, true) };
}

/** Added to the family byte of a destination address's `fwd_classes` key (source addresses: the plain family). */
export const FWD_CLASS_DST = 0x10;

/** A forwarding slot's class entry: `prefix` of the address (0..32 / 0..128), host bits masked; `dst`: the destination side's classes. */
export function encodeFwdClassKey(slot: number, version: number, a: WireAddr, prefix: number, dst = false): Uint8Array {
  const [b, d] = view(FWD_CLASS_KEY_SIZE);
  d.setUint32(0, FWD_CLASS_HEAD_BITS + prefix, true);
  d.setUint32(4, slot);
  d.setUint32(8, version);
  b[12] = a.family + (dst ? FWD_CLASS_DST : 0);
  maskedAddr(b, 13, a, prefix);
  return b;
}

export function encodeSlotKey(slot: number): Uint8Array {
  const [b, d] = view(4);
  d.setUint32(0, slot, true);
  return b;
}

export function encodeSlotValue(version: number, flags: number): Uint8Array {
  const [b, d] = view(8);
  d.setUint32(0, version, true);
  d.setUint32(4, flags, true);
  return b;
}

export function decodeSlotValue(b: Uint8Array): { version: number; flags: number } {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { version: d.getUint32(0, true), flags: d.getUint32(4, true) };
}

/** `prefix` is the address prefix length (0..32 or 0..128); host bits are masked. */
export function encodeClassKey(a: WireAddr, prefix: number): Uint8Array {
  const [b, d] = view(CLASS_KEY_SIZE);
  d.setUint32(0, 8 + prefix, true);
  b[4] = a.family;
  maskedAddr(b, 5, a, prefix);
  return b;
}

/** Writes the first `prefix` bits of `a` at `offset` (host bits zero). */
function maskedAddr(b: Uint8Array, offset: number, a: WireAddr, prefix: number): void {
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    b[offset + i] = a.bytes[i]! & ((0xff00 >> bits) & 0xff);
  }
}

export function encodeU32Value(v: number): Uint8Array {
  const [b, d] = view(4);
  d.setUint32(0, v, true);
  return b;
}

export function decodeU32Value(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
}

/** `bits` 0..16 of the source port are matched. */
export function encodeSportKey(slot: number, version: number, bits: number, port: number): Uint8Array {
  const [b, d] = view(SPORT_KEY_SIZE);
  d.setUint32(0, SPORT_HEAD_BITS + bits, true);
  d.setUint32(4, slot);
  d.setUint32(8, version);
  d.setUint16(12, bits === 0 ? 0 : (port & (0xffff << (16 - bits))) & 0xffff);
  return b;
}

/** `bits` 0..24 of `value24` (= proto << 16 | port) are matched. */
export function encodeVerdictKey(slot: number, version: number, cls: number, sport: number, bits: number, value24: number): Uint8Array {
  const [b, d] = view(VERDICT_KEY_SIZE);
  d.setUint32(0, VERDICT_HEAD_BITS + bits, true);
  d.setUint32(4, slot);
  d.setUint32(8, version);
  d.setUint32(12, cls);
  d.setUint16(16, sport);
  const v = bits === 0 ? 0 : (value24 & (0xffffff << (24 - bits))) & 0xffffff;
  b[18] = v >>> 16;
  d.setUint16(19, v & 0xffff);
  return b;
}

export function encodeVerdictValue(v: VerdictValue): Uint8Array {
  const [b, d] = view(VERDICT_VALUE_SIZE);
  b[0] = v.action;
  b[1] = v.flags;
  d.setUint16(2, v.tier, true);
  d.setUint32(4, v.policy, true);
  d.setUint16(8, v.rule, true);
  return b;
}

export function decodeVerdictValue(b: Uint8Array): VerdictValue {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { action: b[0]!, flags: b[1]!, tier: d.getUint16(2, true), policy: d.getUint32(4, true), rule: d.getUint16(8, true) };
}

/** The 24-bit value the verdict trie matches: protocol in the top byte, then the port field. */
export function portField(protocol: number, dstPort: number | undefined, icmp: { type: number; code?: number } | undefined): number {
  if (protocol === 6 || protocol === 17 || protocol === 132) return (protocol << 16) | ((dstPort ?? 0) & 0xffff);
  if (protocol === 1 || protocol === 58) return (protocol << 16) | (((icmp?.type ?? 0) & 0xff) << 8) | ((icmp?.code ?? 0) & 0xff);
  return (protocol & 0xff) << 16;
}

export function emptyMaps(): TableMaps {
  return { endpoints: new Map(), slots: new Map(), classes: new Map(), sports: new Map(), verdicts: new Map(), ifaces: new Map(), fwd_classes: new Map() };
}

/** Applies writes in order to a copy of `maps` (or in place with `inPlace`). */
export function applyWrites(maps: TableMaps, writes: readonly MapWrite[], inPlace = false): TableMaps {
  const out = inPlace ? maps : cloneMaps(maps);
  for (const w of writes) {
    const m = out[w.map];
    if (w.op === 'update') m.set(hexKey(w.key), w.value!);
    else m.delete(hexKey(w.key));
  }
  return out;
}

export function cloneMaps(maps: TableMaps): TableMaps {
  return {
    endpoints: new Map(maps.endpoints),
    slots: new Map(maps.slots),
    classes: new Map(maps.classes),
    sports: new Map(maps.sports),
    verdicts: new Map(maps.verdicts),
    ifaces: new Map(maps.ifaces),
    fwd_classes: new Map(maps.fwd_classes),
  };
}
