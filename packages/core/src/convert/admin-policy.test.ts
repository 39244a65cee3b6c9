import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../model/types.js';
import type { Resource } from '../model/resources.js';
import { convertAdminNetworkPolicy } from './admin-policy.js';

const anp = (spec: Record<string, unknown>, kind = 'AdminNetworkPolicy', name = 'a'): Resource<string, never> =>
  ({ apiVersion: 'policy.networking.k8s.io/v1alpha1', kind, metadata: { name }, spec }) as unknown as Resource<string, never>;
const nsX = { namespaces: { matchLabels: { ns: 'x' } } };

describe('AdminNetworkPolicy conversion', () => {
  it('goes to tier kube-admin at order = priority with a k8s-only subject selector', () => {
    const p = convertAdminNetworkPolicy(anp({ priority: 7, subject: nsX, ingress: [{ action: 'Allow', from: [{ namespaces: {} }] }] })).value!;
    expect(p).toMatchObject({ id: 'kanp/a', kind: 'AdminNetworkPolicy', tier: 'kube-admin', order: 7, namespace: '', types: ['Ingress'] });
    expect(p.selector).toBe('(projectcalico.org/orchestrator == "k8s" && pcns.ns == "x")');
    expect(p.ingress).toEqual([{ action: 'Allow', source: { selector: 'has(projectcalico.org/namespace)' }, destination: {} }]);
  });

  it('subject namespaces {} selects every namespaced pod', () => {
    const p = convertAdminNetworkPolicy(anp({ priority: 1, subject: { namespaces: {} } })).value!;
    expect(p.selector).toBe('(projectcalico.org/orchestrator == "k8s" && has(projectcalico.org/namespace))');
    expect(p.types).toEqual([]);
  });

  it('subject pods uses both selectors', () => {
    const p = convertAdminNetworkPolicy(
      anp({ priority: 1, subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } } }, egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.0/8'] }] }] }),
    ).value!;
    expect(p.selector).toBe('((projectcalico.org/orchestrator == "k8s" && app == "db") && has(projectcalico.org/namespace))');
    expect(p.types).toEqual(['Egress']);
    expect(p.egress).toEqual([{ action: 'Deny', source: {}, destination: { nets: ['10.0.0.0/8'] } }]);
  });

  it('pods peers, rule names, Accept/Pass actions and per-protocol port groups', () => {
    const p = convertAdminNetworkPolicy(
      anp({
        priority: 1,
        subject: nsX,
        ingress: [
          {
            name: 'web',
            action: 'Pass',
            from: [{ pods: { namespaceSelector: { matchLabels: { t: '1' } }, podSelector: { matchLabels: { app: 'x' } } } }],
            ports: [{ portNumber: { port: 80 } }, { portRange: { protocol: 'UDP', start: 1000, end: 2000 } }, { portNumber: { protocol: 'TCP', port: 81 } }],
          },
        ],
      }),
    ).value!;
    expect(p.ingress).toEqual([
      {
        action: 'Pass',
        name: 'web',
        protocol: { number: 6, text: 'TCP' },
        source: { selector: '(pcns.t == "1" && (projectcalico.org/orchestrator == "k8s" && app == "x"))' },
        destination: { ports: [{ kind: 'range', min: 80, max: 81 }] },
      },
      {
        action: 'Pass',
        name: 'web',
        protocol: { number: 17, text: 'UDP' },
        source: { selector: '(pcns.t == "1" && (projectcalico.org/orchestrator == "k8s" && app == "x"))' },
        destination: { ports: [{ kind: 'range', min: 1000, max: 2000 }] },
      },
    ]);
  });

  it('namedPort becomes a protocol-less named port (upstream semantics, not Calico all-ports)', () => {
    const p = convertAdminNetworkPolicy(anp({ priority: 1, subject: nsX, ingress: [{ action: 'Allow', from: [{ namespaces: {} }], ports: [{ namedPort: 'http' }] }] })).value!;
    expect(p.ingress).toEqual([{ action: 'Allow', source: { selector: 'has(projectcalico.org/namespace)' }, destination: { ports: [{ kind: 'named', name: 'http' }] } }]);
  });

  it('nodes peers become the matching nodes addresses; no matching node means no rule', () => {
    const nodes: NodeInfo[] = [
      { name: 'n1', addresses: ['192.168.0.1', 'fd00::1'], podCIDRs: [], labels: { role: 'cp' } },
      { name: 'n2', addresses: ['192.168.0.2'], podCIDRs: [], labels: { role: 'worker' } },
    ];
    const p = convertAdminNetworkPolicy(
      anp({ priority: 1, subject: nsX, egress: [{ action: 'Deny', to: [{ nodes: { matchLabels: { role: 'cp' } } }, { nodes: { matchLabels: { role: 'none' } } }] }] }),
      { nodes },
    ).value!;
    expect(p.egress).toEqual([{ action: 'Deny', source: {}, destination: { nets: ['192.168.0.1/32', 'fd00::1/128'] } }]);
  });

  it('an unconvertible Deny/Pass rule fails closed as deny-all; an Allow rule is dropped', () => {
    const c = convertAdminNetworkPolicy(
      anp({
        priority: 1,
        subject: nsX,
        ingress: [
          { action: 'Pass', name: 'bad', from: [{ nodes: {} }] },
          { action: 'Allow', from: [{}] },
        ],
      }),
    );
    expect(c.value!.ingress).toEqual([{ action: 'Deny', name: 'bad', source: {}, destination: {} }]);
    expect(c.issues.map((i) => [i.code, i.path])).toEqual([
      ['rule-fail-closed', 'spec.ingress[0]'],
      ['rule-fail-closed', 'spec.ingress[1]'],
    ]);
  });

  it('BaselineAdminNetworkPolicy goes to kube-baseline at order 1000', () => {
    const p = convertAdminNetworkPolicy(anp({ subject: nsX, egress: [{ action: 'Deny', to: [{ namespaces: {} }] }] }, 'BaselineAdminNetworkPolicy', 'default')).value!;
    expect(p).toMatchObject({ id: 'kbanp/default', tier: 'kube-baseline', order: 1000, types: ['Egress'] });
  });

  it('ClusterNetworkPolicy goes to kube-admin or kube-baseline by tier, Accept → Allow', () => {
    const admin = convertAdminNetworkPolicy(anp({ tier: 'Admin', priority: 3, subject: nsX, ingress: [{ action: 'Accept', from: [{ namespaces: {} }] }] }, 'ClusterNetworkPolicy', 'c')).value!;
    expect(admin).toMatchObject({ id: 'kcnp/c', tier: 'kube-admin', order: 3 });
    expect(admin.ingress[0]!.action).toBe('Allow');
    const base = convertAdminNetworkPolicy(anp({ tier: 'Baseline', priority: 4, subject: nsX }, 'ClusterNetworkPolicy', 'b')).value!;
    expect(base).toMatchObject({ tier: 'kube-baseline', order: 4 });
  });

  it('ClusterNetworkPolicy v1alpha2 protocols are understood', () => {
    const p = convertAdminNetworkPolicy(
      anp(
        { tier: 'Admin', priority: 1, subject: nsX, ingress: [{ action: 'Deny', from: [{ namespaces: {} }], protocols: [{ tcp: { destinationPort: { number: 22 } } }, { udp: { destinationPort: { range: { start: 5, end: 6 } } } }] }] },
        'ClusterNetworkPolicy',
        'c',
      ),
    ).value!;
    expect(p.ingress.map((r) => [r.protocol?.text, r.destination.ports])).toEqual([
      ['TCP', [{ kind: 'range', min: 22, max: 22 }]],
      ['UDP', [{ kind: 'range', min: 5, max: 6 }]],
    ]);
  });
});
