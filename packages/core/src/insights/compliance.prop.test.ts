import fc from 'fast-check';
import { arbCluster, arbFlow, propRuns } from '@gingham/testkit';
import { describe, expect, it } from 'vitest';
import type { Endpoint, Snapshot } from '../model/types.js';
import type { DirectionTrace, EvaluationResult, Flow } from '../evaluate/types.js';
import { buildSnapshot } from '../convert/index.js';
import { endpointAddresses, evaluate } from '../evaluate/evaluate.js';
import { parseIp } from '../net/cidr.js';
import { formatIp } from '../net/cidr.js';
import { reachability } from '../analysis/reachability.js';
import { complianceReport, type EndpointCompliance } from './compliance.js';
import { publicCidrs } from './exposure.js';
import { isPrivateAddress } from './flow-log.js';
import { knownFlows } from './test-fixtures.js';

const PUBLIC = ['203.0.113.7', '8.8.8.8', '2001:db8::7'];

/** A policy (not a profile) ran in this direction: some tier of the trace held a policy. */
const policyRan = (d: DirectionTrace): boolean => d.stages.some((s) => 'tiers' in s && s.tiers.some((t) => t.policies.length > 0));

/**
 * A witness must pass the endpoints' own policies (the source's egress, the destination's
 * ingress); whether exposure also meets the checks on the way (a node's forward policy when a flow
 * crosses it) is `reachability()`'s answer, which the "no" checks below follow.
 */
const endpointsAllow = (r: EvaluationResult): boolean => r.trace.egress.allowed && r.trace.ingress.allowed;

const ref = (e: Endpoint): string => (e.kind === 'WorkloadEndpoint' ? e.id : e.name);

/**
 * The reference: every allowed flow from every endpoint and the public internet to every endpoint
 * and the public internet (`reachability()`), read per endpoint. A peer named by an address that
 * several endpoints share counts for each of them as a destination, for none as the other end.
 */
function exposureByReachability(snapshot: Snapshot): Map<string, string> {
  const byName = new Map<string, Endpoint[]>();
  const endpoints = [...snapshot.workloadEndpoints, ...snapshot.hostEndpoints];
  for (const e of endpoints) for (const k of [ref(e), ...endpointAddresses(e).map(formatIp)]) byName.set(k, [...(byName.get(k) ?? []), e]);
  const ns = (e: Endpoint): string | undefined => (e.kind === 'WorkloadEndpoint' ? e.namespace : undefined);
  const other = (e: Endpoint, peer: Endpoint): boolean => !(e.kind !== peer.kind && e.node === peer.node) && ns(peer) !== undefined && ns(peer) !== ns(e);
  const flags = new Map<Endpoint, [boolean, boolean, boolean, boolean]>(endpoints.map((e) => [e, [false, false, false, false]]));
  const everything = { selector: 'all()', outside: publicCidrs() };
  for (const path of reachability(snapshot, { from: everything, to: everything }).paths) {
    const from = path.from.endpoints.map((n) => byName.get(n) ?? []);
    const to = path.to.endpoints.map((n) => byName.get(n) ?? []);
    for (const e of to.flat()) {
      const f = flags.get(e)!;
      if (path.from.outside.length > 0) f[0] = true;
      if (from.some((es) => es.length === 1 && other(e, es[0]!))) f[2] = true;
    }
    for (const e of from.flat()) {
      const f = flags.get(e)!;
      if (path.to.outside.length > 0) f[1] = true;
      if (to.some((es) => es.length === 1 && other(e, es[0]!))) f[3] = true;
    }
  }
  return new Map([...flags].map(([e, f]) => [ref(e), f.map(Number).join('')]));
}

const flagsOf = (r: EndpointCompliance): string => [r.ingressFromInternet, r.egressToInternet, r.ingressFromOtherNamespace, r.egressToOtherNamespace].map(Number).join('');

describe('compliance report properties', () => {
  it('agrees with brute-force evaluate(): protected, exposed to the internet and to other namespaces', () => {
    fc.assert(
      fc.property(arbCluster, fc.array(arbFlow, { minLength: 10, maxLength: 40 }), (resources, sampled) => {
        const { snapshot } = buildSnapshot(resources);
        const report = complianceReport(snapshot, { type: 'network-access' });
        const endpoints = [...snapshot.workloadEndpoints, ...snapshot.hostEndpoints];
        const rows = new Map<string, EndpointCompliance>(report.endpoints.map((r) => [r.endpoint, r]));
        expect(rows.size).toBe(endpoints.length);
        const byRef = new Map(endpoints.map((e) => [ref(e), e]));
        const ns = (e: Endpoint | undefined): string | undefined => (e?.kind === 'WorkloadEndpoint' ? e.namespace : undefined);

        // Protected: a policy runs for traffic into (out of) it, from (to) an address outside the cluster.
        for (const e of endpoints) {
          const family = endpointAddresses(e)[0]?.version ?? 4;
          const outside = family === 4 ? '203.0.113.7' : '2001:db8::7';
          const into = evaluate(snapshot, { src: outside, dst: ref(e), protocol: 'TCP', dstPort: 7777 });
          const out = evaluate(snapshot, { src: ref(e), dst: outside, protocol: 'TCP', dstPort: 7777 });
          const row = rows.get(ref(e))!;
          expect(row.ingressProtected, `ingress of ${ref(e)}`).toBe(policyRan(into.trace.ingress));
          expect(row.egressProtected, `egress of ${ref(e)}`).toBe(policyRan(out.trace.egress));
        }

        // Every "yes" comes with a flow evaluate() allows, of the kind claimed.
        for (const row of report.endpoints) {
          const w = row.witnesses!;
          const check = (f: Flow | undefined, what: string): void => {
            if (f === undefined) return;
            const r = evaluate(snapshot, f);
            expect(endpointsAllow(r), `${what} ${JSON.stringify(f)}`).toBe(true);
            const s = r.trace.flow.src;
            const d = r.trace.flow.dst;
            const me = byRef.get(row.endpoint);
            if (what === 'ingressFromInternet') expect(s.kind === 'address' && !isPrivateAddress(parseIp(s.address!)!) && d.endpointId !== undefined).toBe(true);
            if (what === 'egressToInternet') expect(d.kind === 'address' && !isPrivateAddress(parseIp(d.address!)!)).toBe(true);
            if (what === 'ingressFromOtherNamespace') expect(ns(byRef.get(s.endpointId ?? '')) !== undefined && ns(byRef.get(s.endpointId!)) !== ns(me)).toBe(true);
            if (what === 'egressToOtherNamespace') expect(ns(byRef.get(d.endpointId ?? '')) !== undefined && ns(byRef.get(d.endpointId!)) !== ns(me)).toBe(true);
          };
          check(w.ingressFromInternet, 'ingressFromInternet');
          check(w.egressToInternet, 'egressToInternet');
          check(w.ingressFromOtherNamespace, 'ingressFromOtherNamespace');
          check(w.egressToOtherNamespace, 'egressToOtherNamespace');
        }

        // Every "no" holds for sampled flows: no allowed flow contradicts it.
        const extra = sampled.flatMap((f) => endpoints.flatMap((e) => PUBLIC.flatMap((p) => [{ ...f, src: p, dst: ref(e) }, { ...f, src: ref(e), dst: p }])));
        const flows = knownFlows(snapshot, [...sampled, ...extra.slice(0, 400)].map((f) => { const { via: _via, ...rest } = f as Flow; return rest; }));
        for (const f of flows) {
          const r = evaluate(snapshot, f);
          // The whole path, as reachability() judges it: pod -> pod across a node with a `*` host
          // endpoint also meets the node's forward policy, which may deny what both pods allow.
          if (!r.allowed) continue;
          const s = r.trace.flow.src;
          const d = r.trace.flow.dst;
          const from = s.endpointId === undefined ? undefined : byRef.get(s.endpointId);
          const to = d.endpointId === undefined ? undefined : byRef.get(d.endpointId);
          // A node and its own pods: Calico never polices host -> own pod, and the report leaves
          // this traffic out of "another namespace" (the analysis engine's same-node semantics
          // are being aligned with evaluate() separately).
          if (from && to && from.kind !== to.kind && from.node === to.node) continue;
          const publicSrc = s.kind === 'address' && !isPrivateAddress(parseIp(s.address!)!);
          const publicDst = d.kind === 'address' && !isPrivateAddress(parseIp(d.address!)!);
          if (to && publicSrc) expect(rows.get(ref(to))!.ingressFromInternet, `ingress from internet ${JSON.stringify(f)}`).toBe(true);
          if (from && publicDst) expect(rows.get(ref(from))!.egressToInternet, `egress to internet ${JSON.stringify(f)}`).toBe(true);
          // Another namespace: a pod's namespace other than the endpoint's own (for a host: any pod).
          if (from && to && ns(from) !== undefined && ns(from) !== ns(to)) expect(rows.get(ref(to))!.ingressFromOtherNamespace, `ingress from ${ns(from)} ${JSON.stringify(f)}`).toBe(true);
          if (from && to && ns(to) !== undefined && ns(to) !== ns(from)) expect(rows.get(ref(from))!.egressToOtherNamespace, `egress to ${ns(to)} ${JSON.stringify(f)}`).toBe(true);
        }
      }),
      { numRuns: propRuns(40) },
    );
  });

  it('exposure per class is what reachability() over every pair of peers says', () => {
    fc.assert(
      fc.property(arbCluster, (resources) => {
        const { snapshot } = buildSnapshot(resources);
        const report = complianceReport(snapshot, { type: 'network-access' });
        const reference = exposureByReachability(snapshot);
        expect(new Map(report.endpoints.map((r) => [r.endpoint, flagsOf(r)]))).toEqual(reference);
      }),
      { numRuns: propRuns(60) },
    );
  });
});
