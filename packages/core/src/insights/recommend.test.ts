import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../evaluate/evaluate.js';
import type { Flow } from '../evaluate/types.js';
import { aggregatedName, flowLogRecords } from './flow-log.js';
import { recommendationClosure, recommendPolicies, withRecommendations } from './recommend.js';
import { observe, snapshotOf } from './test-fixtures.js';

const dir = fileURLToPath(new URL('../../../../examples/quickstart/', import.meta.url));
const inputs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => ({ file: f, text: readFileSync(dir + f, 'utf8') }));
const { snapshot } = snapshotOf(inputs);

const TRAFFIC: Flow[] = [
  { src: 'shop/frontend-0', dst: 'shop/backend-0', protocol: 'TCP', dstPort: 8080 },
  { src: 'monitoring/prometheus-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 9090 },
  { src: 'monitoring/prometheus-0', dst: 'shop/backend-0', protocol: 'TCP', dstPort: 9090 },
  { src: 'monitoring/prometheus-0', dst: '8.8.8.8', protocol: 'UDP', dstPort: 53 },
  { src: 'monitoring/prometheus-0', dst: '10.1.2.3', protocol: 'TCP', dstPort: 443 },
  { src: 'monitoring/prometheus-0', dst: '10.1.2.4', protocol: 'TCP', dstPort: 8443 },
  { src: '203.0.113.9', dst: 'monitoring/prometheus-0', protocol: 'TCP', dstPort: 9090 },
  { src: 'shop/backend-0', dst: '169.254.169.254', protocol: 'TCP', dstPort: 80 },
];
const T0 = 1_765_065_600;

describe('flow logs as the collector writes them', () => {
  it('names pods by their generate-name prefix', () => {
    expect(aggregatedName('web-7d9f8b6c4-x2k9p')).toBe('web-7d9f8b6c4-*');
    expect(aggregatedName('db-0')).toBe('db-*');
    expect(aggregatedName('agent-4kx9z')).toBe('agent-*');
    expect(aggregatedName('standalone')).toBe('standalone');
  });

  it('reports an allowed pod-to-pod flow at both ends and a denied one only at the source', () => {
    const { records } = flowLogRecords(snapshot, observe(TRAFFIC.slice(0, 1).concat(TRAFFIC.slice(7)), T0));
    expect([...new Set(records.map((r) => `${r.reporter} ${r.action} ${r.source_name} -> ${r.dest_type}:${r.dest_name}`))]).toEqual([
      'src deny backend-* -> ns:cloud-metadata',
      'dst allow frontend-* -> wep:backend-*',
      'src allow frontend-* -> wep:backend-*',
    ]);
  });
});

describe('policy recommendation (Calico Enterprise’s engine)', () => {
  const { records } = flowLogRecords(snapshot, observe(TRAFFIC, T0));
  const result = recommendPolicies(records, { snapshot });

  it('recommends only for the namespace whose traffic nothing but a profile allows', () => {
    expect(result.recommendations.map((r) => r.namespace)).toEqual(['monitoring']);
    expect(result.records).toMatchObject({ denied: 2, unsupported: 0, outOfScope: 0 });
    expect(result.records.protected).toBeGreaterThan(0);
  });

  it('groups rules by class: peer namespace with merged ports, then private, then public networks', () => {
    const spec = result.recommendations[0]!.policy.spec!;
    expect(spec).toMatchObject({ tier: 'namespace-isolation', stagedAction: 'Learn', selector: "projectcalico.org/namespace == 'monitoring'", types: ['Egress', 'Ingress'] });
    const summary = (rules: typeof spec.egress) => (rules ?? []).map((r) => `${r.metadata!.annotations!['policyrecommendation.tigera.io/scope']} ${String(r.protocol)} ${JSON.stringify(r.destination?.ports ?? [])} ${r.destination?.namespaceSelector ?? r.source?.namespaceSelector ?? (r.destination?.nets ?? r.source?.nets ?? []).join(',')}`);
    expect(summary(spec.egress)).toEqual([
      "Namespace TCP [9090] projectcalico.org/name == 'shop'",
      'Private TCP [443,8443] 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16',
      'Public UDP [53] ',
    ]);
    expect(summary(spec.ingress)).toEqual(['Public TCP [9090] ']);
    expect(result.tier).toMatchObject({ kind: 'Tier', metadata: { name: 'namespace-isolation' }, spec: { defaultAction: 'Deny', order: 11_000_000 } });
  });

  it('with the recommendation enforced every observed flow keeps its verdict and unobserved ones close', () => {
    const after = withRecommendations(snapshot, result);
    for (const flow of TRAFFIC) {
      const r = evaluate(after, flow);
      expect(r.staged?.allowed ?? r.allowed, `${flow.src} -> ${flow.dst}`).toBe(evaluate(snapshot, flow).allowed);
    }
    const unobserved = evaluate(after, { src: 'monitoring/prometheus-0', dst: '8.8.8.8', protocol: 'TCP', dstPort: 22 });
    expect(unobserved.allowed).toBe(true);
    expect(unobserved.staged?.allowed).toBe(false);
  });

  it('rerun on newer flows: Learning while rules change, then Stabilizing, then Stable', () => {
    const previous = result.recommendations.map((r) => r.policy);
    const later = (dt: number, flows: Flow[]) => recommendPolicies(flowLogRecords(snapshot, observe(flows, T0 + dt)).records, { snapshot, previous, now: T0 + dt });
    const same = later(200, TRAFFIC);
    expect(same.recommendations[0]).toMatchObject({ status: 'Learning', changed: false });
    expect(same.recommendations[0]!.policy.metadata.name).toBe(result.recommendations[0]!.policy.metadata.name);
    expect(later(400, TRAFFIC).recommendations[0]).toMatchObject({ status: 'Stabilizing', changed: false });
    expect(later(700, TRAFFIC).recommendations[0]).toMatchObject({ status: 'Stable', changed: false });
    const grown = later(700, [{ src: 'monitoring/prometheus-0', dst: '8.8.4.4', protocol: 'UDP', dstPort: 853 }]);
    expect(grown.recommendations[0]).toMatchObject({ status: 'Learning', changed: true, lastUpdated: T0 + 700 });
    const udp = grown.recommendations[0]!.policy.spec!.egress!.find((r) => r.protocol === 'UDP');
    expect(udp?.destination?.ports).toEqual([53, 853]);
  });

  it('leaves a recommendation that was activated or dismissed alone', () => {
    const activated = result.recommendations.map((r) => ({ ...r.policy, spec: { ...r.policy.spec, stagedAction: 'Set' as const } }));
    const again = recommendPolicies(records, { snapshot, previous: activated });
    expect(again.recommendations).toEqual([]);
    expect(again.notLearning).toEqual(['monitoring']);
  });

  it('passes intra-namespace traffic on when asked, and honours the namespace filter', () => {
    const flows: Flow[] = [{ src: 'shop/frontend-0', dst: 'shop/backend-0', protocol: 'TCP', dstPort: 8080 }];
    const { snapshot: open } = snapshotOf(inputs.filter((i) => !i.file.startsWith('40-')));
    const recs = recommendPolicies(flowLogRecords(open, observe(flows, T0)).records, { snapshot: open, passIntraNamespace: true });
    expect(recs.recommendations.map((r) => [r.namespace, r.policy.spec!.egress?.[0]?.action ?? r.policy.spec!.ingress?.[0]?.action])).toEqual([['shop', 'Pass']]);
    expect(recommendPolicies(flowLogRecords(open, observe(flows, T0)).records, { snapshot: open, namespaces: ['monitoring'] }).recommendations).toEqual([]);
  });
});

describe('what a recommendation closes', () => {
  it('measures the unobserved traffic it closes exactly (diff), and opens nothing', () => {
    const { records } = flowLogRecords(snapshot, observe(TRAFFIC, T0));
    const result = recommendPolicies(records, { snapshot, now: T0 + 3600 });
    const closure = recommendationClosure(snapshot, result);
    expect(closure.opened).toBe(0);
    expect(closure.closed).toBeGreaterThan(0);
    expect(closure.closedPairs).toBeGreaterThanOrEqual(closure.closed);
    // Observed: prometheus -> 10.1.2.3 TCP 443 stays open; the rest of TCP to private addresses closes.
    expect(closure.groups.some((g) => g.from.startsWith('monitoring/') && g.protocol === 'TCP' && g.ports.includes('1-442'))).toBe(true);
    expect(closure.groups.every((g) => g.from.startsWith('monitoring/') || g.to.startsWith('monitoring/'))).toBe(true);
    // Nothing to recommend, nothing closed.
    expect(recommendationClosure(snapshot, { ...result, recommendations: [] })).toMatchObject({ closed: 0, opened: 0, closedPairs: 0 });
  });
});
