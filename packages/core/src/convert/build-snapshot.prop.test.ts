import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { Resource } from '../model/resources.js';
import { buildSnapshot } from './build-snapshot.js';

const C = 'projectcalico.org/v3';
/** A pool with every kind, overlapping names and a few deliberate duplicates and problems. */
const POOL: Resource[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', labels: { team: 'x' } } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', labels: { team: 'y' } } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } },
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 's', namespace: 'a', labels: { r: '1' } } },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'a', labels: { app: 'x' } }, spec: { nodeName: 'n1', serviceAccountName: 's' }, status: { podIP: '10.0.0.1' } },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'q', namespace: 'c' }, spec: { nodeName: 'n1' }, status: { podIPs: [{ ip: 'fd00::1' }] } },
  { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { z: '1' } }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.1' }] } },
  { apiVersion: C, kind: 'Node', metadata: { name: 'n1' }, spec: { bgp: { ipv4Address: '192.168.0.2/24' } } },
  { apiVersion: C, kind: 'Tier', metadata: { name: 'sec' }, spec: { order: 10 } },
  { apiVersion: C, kind: 'Tier', metadata: { name: 'sec' }, spec: { order: 20, defaultAction: 'Pass' } },
  { apiVersion: C, kind: 'GlobalNetworkPolicy', metadata: { name: 'g' }, spec: { tier: 'sec', selector: 'has(app)', ingress: [{ action: 'Deny', source: { nets: ['bad'] } }, { action: 'Pass' }] } },
  { apiVersion: C, kind: 'GlobalNetworkPolicy', metadata: { name: 'h' }, spec: { tier: 'ghost', egress: [{ action: 'Allow' }] } },
  { apiVersion: C, kind: 'NetworkPolicy', metadata: { name: 'n', namespace: 'a' }, spec: { selector: "app == 'x'", ingress: [{ action: 'Allow', source: { serviceAccounts: { names: ['s'] } } }] } },
  { apiVersion: C, kind: 'StagedGlobalNetworkPolicy', metadata: { name: 'g' }, spec: { stagedAction: 'Delete' } },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'n', namespace: 'a' }, spec: { podSelector: {}, egress: [{}] } },
  { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'AdminNetworkPolicy', metadata: { name: 'adm' }, spec: { priority: 3, subject: { namespaces: {} }, egress: [{ action: 'Deny', to: [{ nodes: {} }] }] } },
  { apiVersion: C, kind: 'HostEndpoint', metadata: { name: 'h1', labels: { role: 'n' } }, spec: { node: 'n1', expectedIPs: ['192.168.0.1'] } },
  { apiVersion: C, kind: 'NetworkSet', metadata: { name: 's1', namespace: 'b' }, spec: { nets: ['10.1.0.0/16', '10.1.0.0/16'] } },
  { apiVersion: C, kind: 'GlobalNetworkSet', metadata: { name: 'w' }, spec: { nets: ['198.51.100.0/24'] } },
  { apiVersion: C, kind: 'Profile', metadata: { name: 'kns.a' }, spec: {} },
  { apiVersion: C, kind: 'Profile', metadata: { name: 'custom' }, spec: { ingress: [{ action: 'Allow' }] } },
  { apiVersion: C, kind: 'WorkloadEndpoint', metadata: { name: 'vm', namespace: 'b' }, spec: { node: 'n1', interfaceName: 'tap0', ipNetworks: ['10.2.0.1/32'], profiles: ['custom'] } },
  { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
];

describe('buildSnapshot laws', () => {
  test.prop([fc.subarray(POOL), fc.integer()], { numRuns: 200 })('output and issues do not depend on input order', (subset, seed) => {
    const shuffled = [...subset];
    let x = seed | 1;
    for (let i = shuffled.length - 1; i > 0; i--) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      const j = x % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const a = buildSnapshot(subset);
    const b = buildSnapshot(shuffled);
    expect(JSON.stringify(b.snapshot)).toBe(JSON.stringify(a.snapshot));
    expect(b.issues).toEqual(a.issues);
  });
});
