/**
 * Reading objects as Calico does: CRD policy names, the Calico Node view of a Kubernetes Node,
 * kube-controllers' automatic host endpoints, what a pod is reduced to, and the jittered backoff.
 */
import { describe, expect, it } from 'vitest';
import { API_RESOURCES, apiResourceById } from '../src/api/resource-types.js';
import { calicoResourceFromCrd, restorePolicyName } from '../src/reduce/calico-crd.js';
import { autoHostEndpoint, calicoNodeFromKubernetesNode, nodeFacts } from '../src/reduce/calico-node.js';
import { Backoff, jittered } from '../src/informer/backoff.js';
import { reducerFor } from '../src/reduce/reduce.js';
import { calicoCrdObject } from '../src/testing.js';

describe('Calico CRDs as projectcalico.org/v3', () => {
  it('restores a policy name from the projectcalico.org/metadata annotation, else strips default. in the default tier', () => {
    expect(restorePolicyName('security.allow', 'security', { 'projectcalico.org/metadata': '{"name":"allow"}' })).toBe('allow');
    expect(restorePolicyName('default.allow', 'default', undefined)).toBe('allow');
    expect(restorePolicyName('default.allow', undefined, {})).toBe('allow');
    expect(restorePolicyName('security.allow', 'security', {})).toBe('security.allow');
    expect(restorePolicyName('default.x', 'default', { 'projectcalico.org/metadata': 'not json' })).toBe('x');
  });

  it('reads every kind back from what calicoCrdObject stores (both name styles), dropping the storage annotation', () => {
    const v3 = { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'deny' }, spec: { tier: 'default', selector: 'all()' } };
    for (const policyNames of ['legacy', 'annotation'] as const) {
      const stored = calicoCrdObject(v3, { policyNames });
      expect((stored['metadata'] as { name: string }).name).toBe('default.deny');
      expect(calicoResourceFromCrd('GlobalNetworkPolicy', stored)).toEqual(v3);
    }
    const set = { apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet', metadata: { name: 'ext', namespace: 'shop', labels: { role: 'x' } }, spec: { nets: ['8.8.8.0/24'] } };
    expect(calicoResourceFromCrd('NetworkSet', calicoCrdObject(set))).toEqual(set);
  });
});

describe('Nodes as Calico sees them', () => {
  const node = {
    metadata: {
      name: 'n1',
      labels: { zone: 'z1' },
      annotations: {
        'projectcalico.org/IPv4Address': '172.16.0.1/24',
        'projectcalico.org/IPv4IPIPTunnelAddr': '10.244.0.1',
        'projectcalico.org/IPv4WireguardInterfaceAddr': '10.244.0.2',
        'projectcalico.org/WireguardPublicKey': 'k',
        unrelated: 'x',
      },
    },
    spec: { podCIDR: '10.244.0.0/24' },
    status: { addresses: [{ type: 'InternalIP', address: '172.16.0.1' }, { type: 'ExternalIP', address: '203.0.113.1' }, { type: 'InternalIP', address: '172.16.1.1' }, { type: 'Hostname', address: 'n1' }] },
  };

  it('the Calico Node view carries BGP/tunnel addresses and the WireGuard key from annotations', () => {
    expect(calicoNodeFromKubernetesNode(nodeFacts(node))).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'Node',
      metadata: { name: 'n1', labels: { zone: 'z1' } },
      spec: {
        bgp: { ipv4Address: '172.16.0.1/24', ipv4IPIPTunnelAddr: '10.244.0.1' },
        wireguard: { interfaceIPv4Address: '10.244.0.2' },
        orchRefs: [{ nodeName: 'n1', orchestrator: 'k8s' }],
        addresses: [
          { address: '172.16.0.1/24', type: 'CalicoNodeIP' },
          { address: '172.16.0.1', type: 'InternalIP' },
          { address: '203.0.113.1', type: 'ExternalIP' },
          { address: '172.16.1.1', type: 'InternalIP' },
        ],
      },
      status: { wireguardPublicKey: 'k', podCIDRs: ['10.244.0.0/24'] },
    });
  });

  it('the automatic host endpoint is kube-controllers\': <node>-auto-hep, all interfaces, expected IPs in its order, internal IPs only', () => {
    expect(autoHostEndpoint(calicoNodeFromKubernetesNode(nodeFacts(node)))).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: 'n1-auto-hep', labels: { zone: 'z1', 'projectcalico.org/created-by': 'calico-kube-controllers' } },
      spec: { node: 'n1', interfaceName: '*', expectedIPs: ['172.16.0.1', '10.244.0.1', '10.244.0.2', '172.16.1.1'], profiles: ['projectcalico-default-allow'] },
    });
  });

  it('the cached Kubernetes Node keeps only the Calico annotations', () => {
    const out = reducerFor(apiResourceById('nodes')!, { autoHostEndpoints: true })(node).outputs;
    expect(out.map((r) => `${r.apiVersion} ${r.kind} ${r.metadata.name}`)).toEqual(['v1 Node n1', 'projectcalico.org/v3 Node n1', 'projectcalico.org/v3 HostEndpoint n1-auto-hep']);
    expect(Object.keys(out[0]!.metadata.annotations!)).not.toContain('unrelated');
  });
});

describe('reduction before caching', () => {
  const reduce = reducerFor(apiResourceById('pods')!);
  it('a pod keeps labels, node, service account, IPs and named ports only (sidecars included)', () => {
    const { outputs } = reduce({
      metadata: { name: 'p', namespace: 'ns', labels: { app: 'a' }, annotations: { big: 'x'.repeat(1000) }, managedFields: [{}], uid: 'u' },
      spec: {
        nodeName: 'n1',
        serviceAccount: 'legacy',
        containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 80 }, { containerPort: 81 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }],
        initContainers: [
          { name: 'sidecar', restartPolicy: 'Always', ports: [{ name: 'metrics', containerPort: 9090 }] },
          { name: 'init', ports: [{ name: 'ignored', containerPort: 1 }] },
        ],
      },
      status: { phase: 'Running', podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }], conditions: [{}] },
    });
    expect(outputs).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'ns', labels: { app: 'a' } },
        spec: {
          nodeName: 'n1',
          serviceAccountName: 'legacy',
          containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }],
          initContainers: [{ name: 'sidecar', ports: [{ name: 'metrics', containerPort: 9090 }], restartPolicy: 'Always' }],
        },
        status: { podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }] },
      },
    ]);
  });

  it('every API the source reads has a reducer that takes a bare object', () => {
    for (const r of API_RESOURCES) expect(() => reducerFor(r)({ metadata: { name: 'x', namespace: 'n' }, spec: {} })).not.toThrow();
  });
});

describe('backoff', () => {
  it('grows by the factor up to the cap, jittered within the upper half, and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 }, () => 1);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    const low = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
    expect([low.next(), low.next()]).toEqual([50, 100]);
    b.reset();
    expect(b.next()).toBe(100);
    expect(jittered(1000, 0.1, () => 0)).toBe(900);
    expect(jittered(1000, 0.1, () => 1)).toBe(1100);
  });
});
