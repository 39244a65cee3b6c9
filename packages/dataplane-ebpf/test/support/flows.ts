/**
 * Shared by the compiler's property test and the datapath's kernel test: Engine states from
 * generated clusters (and update streams), and random packets between the addresses such a state
 * names (its endpoints plus outside addresses), as fast-check inputs.
 */
import { fc } from '@fast-check/vitest';
import { createEngine, type DataplaneState, formatIp, parseIp, RecordingDataplane, type Resource } from '@gingham/core';
import { type ClusterOp, OUTSIDE_ADDRESSES } from '@gingham/testkit';
import type { Packet } from '../../src/simulate.js';

/** The dataplane state after the resources, then after each op; `dp` holds the final one. */
export function engineStates(resources: readonly Resource[], ops: readonly ClusterOp[] = []): { dp: RecordingDataplane; states: DataplaneState[] } {
  const dp = new RecordingDataplane({ keepBatches: false });
  const engine = createEngine({ dataplane: dp });
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
