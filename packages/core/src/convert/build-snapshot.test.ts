import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { buildSnapshot } from './build-snapshot.js';

const resources: Resource[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', labels: { team: 'x' } } },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'a' }, spec: { nodeName: 'n1' }, status: { podIP: '10.0.0.1' } },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p2', namespace: 'b' }, spec: { nodeName: 'n1', serviceAccountName: 'sa' }, status: { podIP: '10.0.0.2' } },
  { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'g' }, spec: { tier: 'ghost', selector: 'all()' } },
  { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'sec' }, spec: { order: 100 } },
  { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'n1' }, spec: { bgp: { ipv4Address: '192.168.0.1/24' } } },
  { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { zone: 'z' } }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.1' }] } },
  { apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet', metadata: { name: 'ns1', namespace: 'c' }, spec: { nets: ['10.9.0.0/16'] } },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'k', namespace: 'a' }, spec: { podSelector: {} } },
  { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'k', namespace: 'a' }, spec: {} },
];

describe('buildSnapshot', () => {
  const { snapshot, issues } = buildSnapshot(resources);

  it('always has the built-in tiers and the default-allow profile', () => {
    expect(snapshot.tiers).toEqual([
      { name: 'default', order: 1_000_000, defaultAction: 'Deny', declared: true },
      { name: 'ghost', defaultAction: 'Deny', declared: false },
      { name: 'kube-admin', order: 1000, defaultAction: 'Pass', declared: true },
      { name: 'kube-baseline', order: 10_000_000, defaultAction: 'Pass', declared: true },
      { name: 'sec', order: 100, defaultAction: 'Deny', declared: true },
    ]);
    expect(snapshot.profiles.map((p) => p.name)).toEqual(['kns.a', 'kns.b', 'kns.c', 'ksa.a.default', 'ksa.b.sa', 'projectcalico-default-allow']);
  });

  it('dispatches NetworkPolicy by API group and gives both their own ids', () => {
    expect(snapshot.policies.map((p) => p.id)).toEqual(['gnp/g', 'knp/a/k', 'np/a/k']);
  });

  it('gives undeclared namespaces an implicit profile, with a warning', () => {
    expect(snapshot.profiles.find((p) => p.name === 'kns.b')!.labelsToApply).toEqual({
      'pcns.kubernetes.io/metadata.name': 'b',
      'pcns.projectcalico.org/name': 'b',
    });
    expect(issues.filter((i) => i.code === 'implicit-namespace').map((i) => i.name)).toEqual(['b', 'c']);
    expect(issues.filter((i) => i.code === 'undeclared-tier').map((i) => i.name)).toEqual(['ghost']);
  });

  it('merges Calico and Kubernetes nodes', () => {
    expect(snapshot.nodes).toEqual([{ name: 'n1', addresses: ['192.168.0.1'], bgpIPv4Address: '192.168.0.1', podCIDRs: [], labels: { zone: 'z' } }]);
  });

  it('output does not depend on input order', () => {
    const again = buildSnapshot([...resources].reverse());
    expect(again.snapshot).toEqual(snapshot);
    expect(JSON.stringify(again.snapshot)).toBe(JSON.stringify(snapshot));
    expect(again.issues).toEqual(issues);
  });

  it('reports duplicates and keeps one definition regardless of order', () => {
    const a: Resource = { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 't' }, spec: { order: 1 } };
    const b: Resource = { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 't' }, spec: { order: 2 } };
    const one = buildSnapshot([a, b]);
    const two = buildSnapshot([b, a]);
    expect(one.snapshot).toEqual(two.snapshot);
    expect(one.issues.map((i) => i.code)).toEqual(['duplicate']);
  });

  it('keeps the built-in tier values and warns when a manifest redefines them', () => {
    const { snapshot: s, issues: i } = buildSnapshot([{ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'default' }, spec: { order: 5 } }]);
    expect(s.tiers.find((t) => t.name === 'default')!.order).toBe(1_000_000);
    expect(i[0]).toMatchObject({ code: 'builtin-tier' });
  });

  it('uses the source locator for issue positions', () => {
    const { issues: i } = buildSnapshot(
      [{ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'g' }, spec: { ingress: [{ action: 'Allow', source: { nets: ['x'] } }] } }],
      { locate: () => ({ file: 'p.yaml', line: 3, col: 1 }) },
    );
    expect(i[0]).toMatchObject({ file: 'p.yaml', line: 3, col: 1, kind: 'GlobalNetworkPolicy', name: 'g', path: 'spec.ingress[0].source.nets[0]' });
  });

  it('network sets are namespaced through a label and their namespace profile', () => {
    expect(snapshot.networkSets).toEqual([
      { kind: 'NetworkSet', id: 'c/ns1', name: 'ns1', namespace: 'c', labels: { 'projectcalico.org/namespace': 'c' }, profiles: ['kns.c'], nets: ['10.9.0.0/16'] },
    ]);
  });

  it('warns about kinds with no policy meaning but stays silent for common workload kinds', () => {
    const { issues: i } = buildSnapshot([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } },
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
    ]);
    expect(i.map((x) => [x.code, x.kind])).toEqual([['ignored-kind', 'Widget']]);
  });
});
