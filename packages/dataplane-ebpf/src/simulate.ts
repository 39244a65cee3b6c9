/**
 * The datapath simulator: exactly the lookups the C program does for the first packet of a
 * flow, over the encoded maps (never over the compiler's memory). Per direction: endpoints
 * (hash) -> slots (hash) -> classes (LPM, peer address) -> [sports (LPM), only when the slot
 * has source-port conditions] -> verdicts (LPM). LPM tries are simulated by probing prefix
 * lengths longest first.
 */
import {
  ACTION_ALLOW,

  decodeEndpointValue,
  decodeSlotValue,
  decodeU32Value,
  decodeVerdictValue,
  encodeClassKey,
  encodeEndpointKey,
  encodeSlotKey,
  encodeSportKey,
  encodeVerdictKey,
  hexKey,
  portField,
  SLOT_HAS_SPORT,
  type TableMaps,
  type VerdictValue,
  type WireAddr,
} from './wire.js';
import { parseWireAddr } from './addr.js';

/** A packet as the datapath parses it (addresses as text; ICMP type/code for ICMP). */
export interface Packet {
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmp?: { readonly type: number; readonly code?: number };
}

export interface SimDirectionVerdict {
  readonly allowed: boolean;
  /** `no-policy`: the local address is no endpoint; `table`: a verdict row decided; `miss`: a lookup failed (a compiler bug; the C program drops). */
  readonly stage: 'no-policy' | 'table' | 'miss';
  readonly slot?: number;
  readonly verdict?: VerdictValue;
  /** Map lookups done for this direction. */
  readonly lookups: number;
}

export interface SimVerdict {
  readonly allowed: boolean;
  readonly egress: SimDirectionVerdict;
  readonly ingress: SimDirectionVerdict;
}

function lpm(map: Map<string, Uint8Array>, maxBits: number, key: (bits: number) => Uint8Array): Uint8Array | undefined {
  for (let bits = maxBits; bits >= 0; bits--) {
    const v = map.get(hexKey(key(bits)));
    if (v) return v;
  }
  return undefined;
}

function isPortProto(p: number): boolean {
  return p === 6 || p === 17 || p === 132;
}

function direction(maps: TableMaps, local: WireAddr, peer: WireAddr, pkt: Packet, dir: 'ingress' | 'egress'): SimDirectionVerdict {
  const ep = maps.endpoints.get(hexKey(encodeEndpointKey(local)));
  if (!ep) return { allowed: true, stage: 'no-policy', lookups: 1 };
  const e = decodeEndpointValue(ep);
  const slot = dir === 'ingress' ? e.ingressSlot : e.egressSlot;
  const miss = (lookups: number): SimDirectionVerdict => ({ allowed: false, stage: 'miss', slot, lookups });
  const sv = maps.slots.get(hexKey(encodeSlotKey(slot)));
  if (!sv) return miss(2);
  const { version, flags } = decodeSlotValue(sv);
  const maxAddrBits = peer.family === 4 ? 32 : 128;
  const cv = lpm(maps.classes, maxAddrBits, (bits) => encodeClassKey(peer, bits));
  if (!cv) return miss(3);
  const cls = decodeU32Value(cv);
  let lookups = 3;
  let sport = 0;
  if ((flags & SLOT_HAS_SPORT) !== 0 && isPortProto(pkt.protocol)) {
    lookups++;
    const spv = lpm(maps.sports, 16, (bits) => encodeSportKey(slot, version, bits, pkt.srcPort ?? 0));
    if (!spv) return miss(lookups);
    sport = decodeU32Value(spv);
  }
  const value = portField(pkt.protocol, pkt.dstPort, pkt.icmp);
  const vv = lpm(maps.verdicts, 24, (bits) => encodeVerdictKey(slot, version, cls, sport, bits, value));
  lookups++;
  if (!vv) return miss(lookups);
  const verdict = decodeVerdictValue(vv);
  return { allowed: verdict.action === ACTION_ALLOW, stage: 'table', slot, verdict, lookups };
}

/** The verdict of the encoded tables for the first packet of a flow: source egress, then destination ingress. */
export function simulate(maps: TableMaps, pkt: Packet): SimVerdict {
  const src = parseWireAddr(pkt.src);
  const dst = parseWireAddr(pkt.dst);
  if (!src || !dst || src.family !== dst.family) throw new Error(`ebpf simulate: bad packet addresses ${pkt.src} -> ${pkt.dst}`);
  const egress = direction(maps, src, dst, pkt, 'egress');
  const ingress = direction(maps, dst, src, pkt, 'ingress');
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

