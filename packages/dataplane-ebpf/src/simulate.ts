/**
 * The datapath simulator: exactly the lookups the C program does for the first packet of a
 * flow, over the encoded maps (never over the compiler's memory). Per endpoint direction:
 * endpoints (hash) -> slots (hash) -> classes (LPM, peer address) -> [sports (LPM), only when
 * the slot has source-port conditions] -> verdicts (LPM). A forwarding check: ifaces (hash) ->
 * slots -> fwd_classes (LPM) twice, for both addresses -> [sports] -> verdicts. LPM tries are
 * simulated by probing prefix lengths longest first. Where the packet is (`SimContext`) decides
 * which checks run, as in the C program: see docs/ebpf-datapath.md, "Forwarding".
 */
import {
  ACTION_ALLOW,

  decodeEndpointValue,
  decodeIfaceValue,
  decodeSlotValue,
  ENDPOINT_WORKLOAD,
  encodeFwdClassKey,
  encodeIfaceKey,
  IFACE_HAS_NAMED,
  type IfaceValue,
  NONE32,
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

/**
 * Where the program sees the packet, as the kernel tells it: `skb->ingress_ifindex` (0 for a
 * packet the host itself sends) and `skb->ifindex` (the hook's interface). Equal non-zero values
 * mean a tc ingress hook, where an address that is no endpoint is routed with a FIB lookup:
 * `route` is its answer (local delivery, or the departure interface; 0 = unknown).
 * Default: arriving on ifindex 1, routed to the host.
 */
export interface SimContext {
  readonly ingressIfindex: number;
  readonly ifindex: number;
  readonly route?: { readonly local: true } | { readonly local: false; readonly ifindex: number };
}

export interface SimDirectionVerdict {
  readonly allowed: boolean;
  /**
   * `no-policy`: the local address is no endpoint (or no forwarding slot applies); `table`: a
   * verdict row decided; `miss`: a lookup failed (a compiler bug; the C program drops);
   * `local-host`: host → its own workload (not policed); `endpoint-to-host`: a workload → its
   * host after its egress (allowed, DefaultEndpointToHostAction ACCEPT).
   */
  readonly stage: 'no-policy' | 'table' | 'miss' | 'local-host' | 'endpoint-to-host';
  readonly slot?: number;
  readonly verdict?: VerdictValue;
  /** Map lookups done for this direction. */
  readonly lookups: number;
}

export interface SimVerdict {
  readonly allowed: boolean;
  readonly egress: SimDirectionVerdict;
  readonly ingress: SimDirectionVerdict;
  /** The forwarding checks of the node's host endpoints on arrival and departure, when they ran. */
  readonly via?: { readonly in?: SimDirectionVerdict; readonly out?: SimDirectionVerdict };
}

function lpm(map: Map<string, Uint8Array>, keys: readonly string[]): Uint8Array | undefined {
  for (let bits = keys.length - 1; bits >= 0; bits--) {
    const v = map.get(keys[bits]!);
    if (v) return v;
  }
  return undefined;
}

/**
 * The hex keys of one LPM lookup for every prefix length (index = bits), memoised: the
 * properties simulate the same few packets after every single map write, so the same keys are
 * encoded again and again. The encoders are pure; the memo is only dropped when it grows large.
 */
const lpmKeys = new Map<string, readonly string[]>();
function keysOf(memo: string, maxBits: number, key: (bits: number) => Uint8Array): readonly string[] {
  let ks = lpmKeys.get(memo);
  if (!ks) {
    if (lpmKeys.size >= 100_000) lpmKeys.clear();
    ks = Array.from({ length: maxBits + 1 }, (_, bits) => hexKey(key(bits)));
    lpmKeys.set(memo, ks);
  }
  return ks;
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
  const cv = lpm(maps.classes, keysOf(`c${peer.family}:${peer.bytes.join('.')}`, maxAddrBits, (bits) => encodeClassKey(peer, bits)));
  if (!cv) return miss(3);
  return rowOf(maps, slot, version, flags, decodeU32Value(cv), pkt, 3);
}

/** The sports (when the slot has source-port conditions) and verdicts lookups, after `lookups` others. */
function rowOf(maps: TableMaps, slot: number, version: number, flags: number, cls: number, pkt: Packet, lookups: number): SimDirectionVerdict {
  let sport = 0;
  if ((flags & SLOT_HAS_SPORT) !== 0 && isPortProto(pkt.protocol)) {
    lookups++;
    const sp = pkt.srcPort ?? 0;
    const spv = lpm(maps.sports, keysOf(`s${slot}:${version}:${sp}`, 16, (bits) => encodeSportKey(slot, version, bits, sp)));
    if (!spv) return { allowed: false, stage: 'miss', slot, lookups };
    sport = decodeU32Value(spv);
  }
  const value24 = portField(pkt.protocol, pkt.dstPort, pkt.icmp);
  const vv = lpm(maps.verdicts, keysOf(`v${slot}:${version}:${cls}:${sport}:${value24}`, 24, (bits) => encodeVerdictKey(slot, version, cls, sport, bits, value24)));
  lookups++;
  if (!vv) return { allowed: false, stage: 'miss', slot, lookups };
  const verdict = decodeVerdictValue(vv);
  return { allowed: verdict.action === ACTION_ALLOW, stage: 'table', slot, verdict, lookups };
}

/** A forwarding check: both addresses classified with the slot's own classes. */
function forward(maps: TableMaps, slot: number, src: WireAddr, dst: WireAddr, pkt: Packet): SimDirectionVerdict {
  if (slot === NONE32) return { allowed: true, stage: 'no-policy', lookups: 0 };
  const miss = (lookups: number): SimDirectionVerdict => ({ allowed: false, stage: 'miss', slot, lookups });
  const sv = maps.slots.get(hexKey(encodeSlotKey(slot)));
  if (!sv) return miss(1);
  const { version, flags } = decodeSlotValue(sv);
  const maxAddrBits = src.family === 4 ? 32 : 128;
  const sc = lpm(maps.fwd_classes, keysOf(`fs${slot}:${version}:${src.family}:${src.bytes.join('.')}`, maxAddrBits, (bits) => encodeFwdClassKey(slot, version, src, bits)));
  const dc = lpm(maps.fwd_classes, keysOf(`fd${slot}:${version}:${dst.family}:${dst.bytes.join('.')}`, maxAddrBits, (bits) => encodeFwdClassKey(slot, version, dst, bits, true)));
  if (!sc || !dc) return miss(3);
  return rowOf(maps, slot, version, flags, ((decodeU32Value(sc) << 16) | decodeU32Value(dc)) >>> 0, pkt, 3);
}

/** An interface's forwarding slots: its own entry (looked up only when the default says some exist), else the default. */
function iface(maps: TableMaps, ifindex: number): IfaceValue | undefined {
  const d = maps.ifaces.get(hexKey(encodeIfaceKey(0)));
  if (!d) return undefined;
  const dflt = decodeIfaceValue(d);
  if ((dflt.flags & IFACE_HAS_NAMED) === 0) return dflt;
  const own = maps.ifaces.get(hexKey(encodeIfaceKey(ifindex)));
  return own ? decodeIfaceValue(own) : dflt;
}

const DEFAULT_CONTEXT: SimContext = { ingressIfindex: 1, ifindex: 1 };

/**
 * The verdict of the encoded tables for the first packet of a flow, seen where `ctx` says:
 *
 *   sent by the host (ingress ifindex 0): to its own workload allowed; else source egress, destination ingress
 *   to the host (the destination is a host address, or the FIB says local):
 *     from a local workload: `*` pre-DNAT check, its egress, then allowed (endpoint-to-host ACCEPT)
 *     otherwise: source egress, destination ingress (the host endpoint of that address)
 *   forwarded: arrival interface's forwarding check (`ifaces[in]`, else the default entry),
 *     source egress, destination ingress, departure interface's forwarding check
 *     (to a local workload: the default entry; elsewhere: `ifaces[out]`, else the default)
 */
export function simulate(maps: TableMaps, pkt: Packet, ctx: SimContext = DEFAULT_CONTEXT): SimVerdict {
  const src = parseWireAddr(pkt.src);
  const dst = parseWireAddr(pkt.dst);
  if (!src || !dst || src.family !== dst.family) throw new Error(`ebpf simulate: bad packet addresses ${pkt.src} -> ${pkt.dst}`);
  const sep = maps.endpoints.get(hexKey(encodeEndpointKey(src)));
  const dep = maps.endpoints.get(hexKey(encodeEndpointKey(dst)));
  const isWorkload = (e: Uint8Array | undefined): boolean => e !== undefined && (decodeEndpointValue(e).flags & ENDPOINT_WORKLOAD) !== 0;
  const verdict = (egress: SimDirectionVerdict, ingress: SimDirectionVerdict, via?: SimVerdict['via']): SimVerdict => ({
    allowed: egress.allowed && ingress.allowed && (via?.in?.allowed ?? true) && (via?.out?.allowed ?? true),
    egress,
    ingress,
    ...(via ? { via } : {}),
  });
  if (ctx.ingressIfindex === 0) {
    if (isWorkload(dep)) {
      const local: SimDirectionVerdict = { allowed: true, stage: 'local-host', lookups: 0 };
      return verdict(local, local);
    }
    return verdict(direction(maps, src, dst, pkt, 'egress'), direction(maps, dst, src, pkt, 'ingress'));
  }
  let to: 'workload' | 'host' | 'remote';
  let outIf = 0;
  if (dep) to = isWorkload(dep) ? 'workload' : 'host';
  else if (ctx.ingressIfindex === ctx.ifindex) {
    const route = ctx.route ?? { local: true };
    if (route.local) to = 'host';
    else {
      to = 'remote';
      outIf = route.ifindex;
    }
  } else {
    to = 'remote';
    outIf = ctx.ifindex;
  }
  const arrival = iface(maps, ctx.ingressIfindex);
  const egress = direction(maps, src, dst, pkt, 'egress');
  if (to === 'host') {
    if (isWorkload(sep)) {
      const pre = forward(maps, arrival?.preIn ?? NONE32, src, dst, pkt);
      return verdict(egress, { allowed: true, stage: 'endpoint-to-host', lookups: 0 }, { in: pre });
    }
    return verdict(egress, direction(maps, dst, src, pkt, 'ingress'));
  }
  const departure = to === 'workload' ? iface(maps, 0) : outIf !== 0 ? iface(maps, outIf) : undefined;
  const fin = forward(maps, arrival?.fwdIn ?? NONE32, src, dst, pkt);
  const fout = forward(maps, departure?.fwdOut ?? NONE32, src, dst, pkt);
  return verdict(egress, direction(maps, dst, src, pkt, 'ingress'), { in: fin, out: fout });
}
