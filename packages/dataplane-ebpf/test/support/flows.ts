/**
 * Shared by the compiler's property test and the datapath's kernel test: Engine states from
 * generated clusters (and update streams), and random packets between the addresses such a state
 * names (its endpoints plus outside addresses), as fast-check inputs.
 */
import { fc } from '@fast-check/vitest';
import { createEngine, type DataplaneState, type Flow, formatIp, type HostEndpointState, parseIp, RecordingDataplane, type Resource } from '@gingham/core';
import { type ClusterOp, OUTSIDE_ADDRESSES } from '@gingham/testkit';
import type { HostFacts } from '../../src/compile/index.js';
import type { Packet, SimContext } from '../../src/simulate.js';

/** The dataplane state after the resources, then after each op; `dp` holds the final one. `node`: one node's Engine. */
export function engineStates(resources: readonly Resource[], ops: readonly ClusterOp[] = [], node?: string): { dp: RecordingDataplane; states: DataplaneState[] } {
  const dp = new RecordingDataplane({ keepBatches: false });
  const engine = createEngine({ dataplane: dp, ...(node !== undefined ? { node } : {}) });
  for (const r of resources) engine.upsert(r);
  engine.flush();
  const states = [structuredClone(dp.state)];
  for (const o of ops) {
    if (o.op === 'upsert') engine.upsert(o.resource);
    else engine.delete(o.kind, o.namespace, o.name, o.apiVersion);
    engine.flush();
    states.push(structuredClone(dp.state));
  }
  return { dp, states };
}

/** Endpoint and host-endpoint addresses of `state`, plus the testkit's outside addresses, canonical. */
export function addresses(state: DataplaneState): string[] {
  const out = new Set<string>(OUTSIDE_ADDRESSES);
  for (const w of state.workloadEndpoints.values()) for (const a of w.addresses) out.add(a.split('/')[0]!);
  for (const h of state.hostEndpoints.values()) for (const a of h.expectedIPs) out.add(a.split('/')[0]!);
  return [...out].filter((a) => parseIp(a)).map((a) => formatIp(parseIp(a)!));
}

/** One packet, as indexes into `addresses()` and a pick of protocol, ports, ICMP type/code. */
export const arbSpec = fc.record({
  s: fc.nat(),
  d: fc.nat(),
  protocol: fc.constantFrom(6, 17, 1, 58, 132, 47),
  srcPort: fc.constantFrom(40000, 80, 53, 1024),
  dstPort: fc.constantFrom(80, 8080, 22, 53, 5000, 10250, 443, 68),
  type: fc.constantFrom(0, 8, 3),
  code: fc.constantFrom(0, 1),
});
export type Spec = typeof arbSpec extends fc.Arbitrary<infer T> ? T : never;

/** Packets of `specs` between addresses of `state` (same family on both sides). */
export function packets(state: DataplaneState, specs: readonly Spec[]): Packet[] {
  const all = addresses(state);
  return specs.map((f) => {
    const src = all[f.s % all.length]!;
    const fam = parseIp(src)!.version;
    const same = all.filter((a) => parseIp(a)!.version === fam);
    const dst = same[f.d % same.length]!;
    const ports = f.protocol === 6 || f.protocol === 17 || f.protocol === 132;
    return {
      src,
      dst,
      protocol: f.protocol,
      ...(ports ? { srcPort: f.srcPort, dstPort: f.dstPort } : {}),
      ...(f.protocol === 1 || f.protocol === 58 ? { icmp: { type: f.type, code: f.code } } : {}),
    };
  });
}

/**
 * The interfaces a node's program sees in the forwarding properties: `eth0` (host endpoints
 * named eth0 bind it), `ethx` carrying the testkit's host endpoint addresses (endpoints bound by
 * expected IPs bind it) and `plain0` (no endpoint: only the all-interfaces one applies). The
 * kernel test creates them with these ifindexes in its own namespace.
 */
export const IFACES = [
  { name: 'eth0', ifindex: 40, addresses: [] as string[] },
  { name: 'ethx', ifindex: 41, addresses: ['10.0.2.1', '10.0.2.2'] },
  { name: 'plain0', ifindex: 42, addresses: [] as string[] },
] as const;
/** `skb->ingress_ifindex` of a packet from a local workload (its veth; never looked up). */
export const VETH_IFINDEX = 100;

export function nodeFacts(node: string): HostFacts {
  return { node, interfaces: IFACES.map((i) => ({ ...i, addresses: [...i.addresses] })) };
}

/** The host endpoint bound to an interface, by the rules of docs/ebpf-datapath.md (named first, then expected IPs; lowest id). */
function boundHep(state: DataplaneState, node: string, ifname: string, addrs: readonly string[]): HostEndpointState | undefined {
  const heps = [...state.hostEndpoints.values()].filter((h) => h.node === node).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return (
    heps.find((h) => h.binding.kind === 'interface' && h.binding.interfaceName === ifname) ??
    heps.find((h) => h.binding.kind === 'expected-ips' && h.expectedIPs.some((e) => addrs.includes(e.split('/')[0]!)))
  );
}

/** A packet where one node's program sees it: the kernel context, and the flow `evaluate()`/the model take for it. */
export interface PlacedPacket {
  readonly packet: Packet;
  readonly ctx: SimContext;
  readonly flow: Flow;
  /** Where the ends are relative to the node. */
  readonly from: 'workload' | 'host' | 'remote';
  readonly to: 'workload' | 'host' | 'remote';
}

/**
 * Packets of `specs` placed on `node` (whose Engine state is `state`): sent by the host, arriving
 * on a workload's veth or on one of `IFACES`, to the host (an ingress hook) or leaving by a veth
 * or one of `IFACES` (an egress hook). Host → host (loopback) is left out.
 */
export function placedPackets(state: DataplaneState, node: string, specs: readonly Spec[]): PlacedPacket[] {
  const nodeAddrs = new Set((state.hosts.get(node)?.addresses ?? []).map((a) => formatIp(parseIp(a.split('/')[0]!)!)));
  const all = new Set(addresses(state));
  for (const a of nodeAddrs) all.add(a);
  const list = [...all].filter((a) => parseIp(a)).sort();
  const owns = (texts: readonly string[], a: string): boolean => texts.some((t) => formatIp(parseIp(t.split('/')[0]!)!) === a);
  const place = (a: string): 'workload' | 'host' | 'remote' => {
    if ([...state.workloadEndpoints.values()].some((w) => owns(w.addresses, a))) return 'workload';
    if ([...state.hostEndpoints.values()].some((h) => owns(h.expectedIPs, a)) || nodeAddrs.has(a)) return 'host';
    return 'remote';
  };
  const out: PlacedPacket[] = [];
  for (const [n, f] of specs.entries()) {
    const src = list[f.s % list.length]!;
    const fam = parseIp(src)!.version;
    const same = list.filter((a) => parseIp(a)!.version === fam);
    const dst = same[f.d % same.length]!;
    const from = place(src);
    const to = place(dst);
    if (from === 'host' && to === 'host') continue;
    const ports = f.protocol === 6 || f.protocol === 17 || f.protocol === 132;
    const packet: Packet = {
      src,
      dst,
      protocol: f.protocol,
      ...(ports ? { srcPort: f.srcPort, dstPort: f.dstPort } : {}),
      ...(f.protocol === 1 || f.protocol === 58 ? { icmp: { type: f.type, code: f.code } } : {}),
    };
    const arrive = IFACES[(f.s + n) % IFACES.length]!;
    const leave = IFACES[(f.d + n + 1) % IFACES.length]!;
    let ctx: SimContext;
    let via: Flow['via'] = node;
    if (from === 'host') ctx = { ingressIfindex: 0, ifindex: 1 };
    else if (to === 'host') ctx = { ingressIfindex: 1, ifindex: 1, route: { local: true } };
    else {
      const inIf = from === 'workload' ? VETH_IFINDEX : arrive.ifindex;
      const outIf = to === 'workload' ? 1 : leave.ifindex === inIf ? IFACES[(IFACES.findIndex((i) => i.ifindex === inIf) + 1) % IFACES.length]!.ifindex : leave.ifindex;
      ctx = { ingressIfindex: inIf, ifindex: outIf };
      const inHep = from === 'remote' ? boundHep(state, node, arrive.name, arrive.addresses) : undefined;
      const outIface = IFACES.find((i) => i.ifindex === outIf);
      const outHep = to === 'remote' && outIface ? boundHep(state, node, outIface.name, outIface.addresses) : undefined;
      via = { node, ...(inHep ? { in: inHep.id } : {}), ...(outHep ? { out: outHep.id } : {}) };
    }
    const flow: Flow = { src, dst, protocol: packet.protocol, ...(packet.srcPort !== undefined ? { srcPort: packet.srcPort } : {}), ...(packet.dstPort !== undefined ? { dstPort: packet.dstPort } : {}), ...(packet.icmp ? { icmp: packet.icmp } : {}), via };
    out.push({ packet, ctx, flow, from, to });
  }
  return out;
}
