/**
 * Test support for the insights (never exported from the package): snapshots from texts, the
 * flows a collector could see, and observations of them for `flowLogRecords`. The random
 * clusters come from `@gingham/testkit`, which the property tests import themselves (core's
 * own sources may depend on no other package of ours).
 */
import type { Resource } from '../model/resources.js';
import type { Snapshot } from '../model/types.js';
import type { Flow } from '../evaluate/types.js';
import { buildSnapshot } from '../convert/index.js';
import { loadManifests } from '../load/index.js';
import { evaluate } from '../evaluate/evaluate.js';
import type { FlowObservation } from './flow-log.js';

/** A snapshot of manifests given as texts (tests read `examples/quickstart` and pass it in). */
export function snapshotOf(inputs: readonly { file: string; text: string }[]): { snapshot: Snapshot; resources: Resource[] } {
  const loaded = loadManifests(inputs);
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join('\n'));
  const resources = loaded.resources.map((r) => r.resource);
  return { snapshot: buildSnapshot(resources).snapshot, resources };
}

/**
 * Flows that could be on a wire: both peers exist in the snapshot (others the collector skips),
 * both addresses are of one family, ICMP (ICMPv6) travels over IPv4 (IPv6), and the two ends are
 * different endpoints.
 */
export function knownFlows(snapshot: Snapshot, flows: readonly Flow[]): Flow[] {
  return flows.filter((f) => {
    try {
      const { flow } = evaluate(snapshot, f).trace;
      // A pod talking to itself never crosses its interface: no policy, no flow log.
      if (flow.src.endpointId !== undefined && flow.src.endpointId === flow.dst.endpointId && flow.src.kind === flow.dst.kind) return false;
      const family = (a: string | undefined): number => (a === undefined ? 0 : a.includes(':') ? 6 : 4);
      if (family(flow.srcAddress) !== flow.ipVersion || family(flow.dstAddress) !== flow.ipVersion) return false;
      return !((flow.protocol === 1 && flow.ipVersion === 6) || (flow.protocol === 58 && flow.ipVersion === 4));
    } catch {
      return false;
    }
  });
}

/** Observations of `flows`, one to three windows each, starting at `t0`. */
export function observe(flows: readonly Flow[], t0 = 1_765_065_600): FlowObservation[] {
  return flows.flatMap((flow, i) => Array.from({ length: 1 + (i % 3) }, (_, k) => ({ flow, time: t0 + 15 * k + (i % 15), connections: 1 + (i % 2) })));
}
