/**
 * Differential property: random Kubernetes NetworkPolicies, converted and evaluated the Calico
 * way, must give exactly the verdicts of a direct reading of the Kubernetes spec (isolation +
 * union of allow rules, both directions).
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { LabelSelector, Resource } from '../model/resources.js';
import { canonicalCidr, cidrContains, parseCidr, parseIp } from '../net/cidr.js';
import { buildSnapshot } from '../convert/index.js';
import { evaluate } from './evaluate.js';

interface RefPod {
  ns: string;
  name: string;
  ip: string;
  labels: Record<string, string>;
  ports: { name: string; port: number; protocol: string }[];
}
interface RefPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
}
interface RefPort {
  protocol?: 'TCP' | 'UDP';
  port?: number | string;
  endPort?: number;
}
interface RefRule {
  peers?: RefPeer[];
  ports?: RefPort[];
}
interface RefPolicy {
  ns: string;
  name: string;
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: RefRule[];
  egress?: RefRule[];
}

const NAMESPACES: Record<string, Record<string, string>> = { ns1: { team: 'red' }, ns2: { team: 'blue' } };

function selects(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const v = labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(v!))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(v!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function nsLabels(ns: string): Record<string, string> {
  return { ...NAMESPACES[ns], 'kubernetes.io/metadata.name': ns };
}

function peerMatches(peer: RefPeer, policyNs: string, other: RefPod | string): boolean {
  if (peer.ipBlock) {
    const ip = parseIp(typeof other === 'string' ? other : other.ip)!;
    if (!cidrContains(parseCidr(peer.ipBlock.cidr)!, ip)) return false;
    return !(peer.ipBlock.except ?? []).some((e) => cidrContains(parseCidr(e)!, ip));
  }
  if (typeof other === 'string') return false;
  if (peer.namespaceSelector) {
    if (!selects(peer.namespaceSelector, nsLabels(other.ns))) return false;
  } else if (other.ns !== policyNs) return false;
  return !peer.podSelector || selects(peer.podSelector, other.labels);
}

function portMatches(p: RefPort, protocol: string, port: number, dstPod: RefPod | undefined): boolean {
  const proto = p.protocol ?? 'TCP';
  if (proto !== protocol) return false;
  if (p.port === undefined) return true;
  if (typeof p.port === 'number') return port >= p.port && port <= (p.endPort ?? p.port);
  return !!dstPod && dstPod.ports.some((cp) => cp.name === p.port && cp.protocol === protocol && cp.port === port);
}

function effectiveTypes(p: RefPolicy): string[] {
  if (p.policyTypes && p.policyTypes.length > 0) return p.policyTypes;
  return (p.egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

function directionAllows(
  policies: RefPolicy[],
  self: RefPod,
  other: RefPod | string,
  dir: 'Ingress' | 'Egress',
  protocol: string,
  port: number,
): boolean {
  const applying = policies.filter((p) => p.ns === self.ns && selects(p.podSelector, self.labels) && effectiveTypes(p).includes(dir));
  if (applying.length === 0) return true;
  const dstPod = dir === 'Ingress' ? self : typeof other === 'string' ? undefined : other;
  return applying.some((p) =>
    ((dir === 'Ingress' ? p.ingress : p.egress) ?? []).some(
      (r) =>
        (!r.peers || r.peers.length === 0 || r.peers.some((peer) => peerMatches(peer, p.ns, other))) &&
        (!r.ports || r.ports.length === 0 || r.ports.some((pp) => portMatches(pp, protocol, port, dstPod))),
    ),
  );
}

// ---------------------------------------------------------------------------------------------

const labelSelArb: fc.Arbitrary<LabelSelector> = fc.oneof(
  fc.constant({}),
  fc.record({ matchLabels: fc.record({ app: fc.constantFrom('a', 'b') }) }),
  fc.record({
    matchExpressions: fc.array(
      fc.oneof(
        fc.record({ key: fc.constant('app'), operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 2 }) }),
        fc.record({ key: fc.constantFrom('app', 'tier'), operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
      ),
      { minLength: 1, maxLength: 2 },
    ),
  }),
);
const nsSelArb: fc.Arbitrary<LabelSelector> = fc.oneof(
  fc.constant({}),
  fc.record({ matchLabels: fc.record({ team: fc.constantFrom('red', 'blue') }) }),
  fc.record({ matchLabels: fc.record({ 'kubernetes.io/metadata.name': fc.constantFrom('ns1', 'ns2') }) }),
);
const peerArb: fc.Arbitrary<RefPeer> = fc.oneof(
  fc.record({ podSelector: labelSelArb }),
  fc.record({ namespaceSelector: nsSelArb }),
  fc.record({ podSelector: labelSelArb, namespaceSelector: nsSelArb }),
  fc.record({ ipBlock: fc.oneof(fc.constant({ cidr: '10.0.0.0/16' }), fc.constant({ cidr: '10.0.0.0/16', except: ['10.0.1.0/24'] }), fc.constant({ cidr: '192.0.2.0/24' }), fc.constant({ cidr: '0.0.0.0/0', except: ['10.0.0.2/32'] })) }),
);
const portArb: fc.Arbitrary<RefPort> = fc.oneof(
  fc.record({ protocol: fc.constantFrom('TCP' as const, 'UDP' as const) }, { requiredKeys: [] }),
  fc.record({ protocol: fc.constantFrom('TCP' as const, 'UDP' as const), port: fc.constantFrom(53, 80) }, { requiredKeys: ['port'] }),
  fc.record({ port: fc.constant(80), endPort: fc.constant(81) }),
  fc.record({ protocol: fc.constantFrom('TCP' as const, 'UDP' as const), port: fc.constantFrom('web', 'dns') }, { requiredKeys: ['port'] }),
);
const ruleArb: fc.Arbitrary<RefRule> = fc.record(
  { peers: fc.array(peerArb, { maxLength: 2 }), ports: fc.array(portArb, { maxLength: 2 }) },
  { requiredKeys: [] },
);
const policyArb: fc.Arbitrary<RefPolicy> = fc.record(
  {
    ns: fc.constantFrom('ns1', 'ns2'),
    name: fc.constantFrom('p1', 'p2', 'p3'),
    podSelector: labelSelArb,
    policyTypes: fc.subarray(['Ingress', 'Egress'] as ('Ingress' | 'Egress')[]),
    ingress: fc.array(ruleArb, { maxLength: 2 }),
    egress: fc.array(ruleArb, { maxLength: 2 }),
  },
  { requiredKeys: ['ns', 'name', 'podSelector'] },
);
const podsArb: fc.Arbitrary<RefPod[]> = fc
  .array(
    fc.record({
      ns: fc.constantFrom('ns1', 'ns2'),
      labels: fc.record({ app: fc.constantFrom('a', 'b', 'c'), tier: fc.constant('t') }, { requiredKeys: [] }),
      ports: fc.subarray([
        { name: 'web', port: 80, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'web', port: 81, protocol: 'UDP' },
      ]),
    }),
    { minLength: 2, maxLength: 5 },
  )
  .map((list) => list.map((p, i) => ({ ...p, name: `pod${i}`, ip: `10.0.${i % 2}.${i + 1}` })));

function toResources(pods: RefPod[], policies: RefPolicy[]): Resource[] {
  const out: Resource[] = Object.entries(NAMESPACES).map(([name, labels]) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
  for (const p of pods) {
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.name, namespace: p.ns, labels: p.labels },
      spec: { nodeName: 'n', containers: [{ name: 'c', ports: p.ports.map((cp) => ({ name: cp.name, containerPort: cp.port, protocol: cp.protocol })) }] },
      status: { podIP: p.ip },
    });
  }
  const seen = new Set<string>();
  for (const p of policies) {
    if (seen.has(`${p.ns}/${p.name}`)) continue;
    seen.add(`${p.ns}/${p.name}`);
    const rule = (r: RefRule, dir: 'from' | 'to') => ({ ...(r.peers ? { [dir]: r.peers } : {}), ...(r.ports ? { ports: r.ports } : {}) });
    out.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: p.name, namespace: p.ns },
      spec: {
        podSelector: p.podSelector,
        ...(p.policyTypes ? { policyTypes: p.policyTypes } : {}),
        ...(p.ingress ? { ingress: p.ingress.map((r) => rule(r, 'from')) } : {}),
        ...(p.egress ? { egress: p.egress.map((r) => rule(r, 'to')) } : {}),
      },
    });
  }
  return out;
}

function dedupe(policies: RefPolicy[]): RefPolicy[] {
  const seen = new Set<string>();
  return policies.filter((p) => {
    const k = `${p.ns}/${p.name}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

describe('Kubernetes NetworkPolicy: Calico conversion + evaluation agree with the spec', () => {
  test.prop(
    [podsArb, fc.array(policyArb, { maxLength: 4 }), fc.constantFrom('TCP', 'UDP'), fc.constantFrom(53, 80, 81, 443)],
    { numRuns: 300 },
  )('pod-to-pod and pod-to-outside verdicts', (pods, rawPolicies, protocol, port) => {
    const policies = dedupe(rawPolicies);
    const { snapshot, issues } = buildSnapshot(toResources(pods, policies));
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const outside = '192.0.2.9';
    expect(canonicalCidr(outside)).toBeDefined();
    for (const a of pods) {
      for (const b of [...pods, outside] as (RefPod | string)[]) {
        if (a === b) continue;
        const dst = typeof b === 'string' ? b : `${b.ns}/${b.name}`;
        const expected =
          directionAllows(policies, a, b, 'Egress', protocol, port) &&
          (typeof b === 'string' || directionAllows(policies, b, a, 'Ingress', protocol, port));
        const got = evaluate(snapshot, { src: `${a.ns}/${a.name}`, dst, protocol, dstPort: port }).allowed;
        expect({ src: `${a.ns}/${a.name}`, dst, allowed: got }).toEqual({ src: `${a.ns}/${a.name}`, dst, allowed: expected });
      }
      const fromOutside = directionAllows(policies, a, outside, 'Ingress', protocol, port);
      expect(evaluate(snapshot, { src: outside, dst: `${a.ns}/${a.name}`, protocol, dstPort: port }).allowed).toBe(fromOutside);
    }
  });
});
