import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { adminPolicy, allowed, baselinePolicy, check, k8sPolicy, namespace, pod, snap } from './test-fixtures.js';

/** The netpol e2e model, reduced: namespaces x, y, z with pods a, b, c each, named container ports. */
const ports = [
  { name: 'serve-80-tcp', containerPort: 80 },
  { name: 'serve-81-tcp', containerPort: 81 },
  { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' as const },
  { name: 'serve-81-sctp', containerPort: 81, protocol: 'SCTP' as const },
];
const model: Resource[] = [];
['x', 'y', 'z'].forEach((ns, i) => {
  model.push(namespace(ns, { ns }));
  ['a', 'b', 'c'].forEach((p, j) => model.push(pod(ns, p, `10.0.${i}.${j + 1}`, { pod: p }, { ports })));
});
const k = (name: string, spec: Record<string, unknown>, ns = 'x') => k8sPolicy(ns, name, spec);

describe('Kubernetes NetworkPolicy', () => {
  it('a pod not selected by any policy allows everything', () => {
    const s = snap(...model, k('deny-b', { podSelector: { matchLabels: { pod: 'b' } }, policyTypes: ['Ingress'] }));
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/a', 'x/b', 80)).toBe(false);
  });

  it('policyTypes [Egress] does not isolate ingress', () => {
    const s = snap(...model, k('eg', { podSelector: {}, policyTypes: ['Egress'] }));
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'x/a', 'y/a', 80)).toBe(false);
  });

  it('egress rules without policyTypes also isolate ingress (apiserver defaulting)', () => {
    const s = snap(...model, k('eg', { podSelector: { matchLabels: { pod: 'a' } }, egress: [{}] }));
    expect(s.policies[0]!.types).toEqual(['Ingress', 'Egress']);
    expect(allowed(s, 'x/a', 'y/a', 80)).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(false);
  });

  it('an empty egress list without policyTypes is a default-deny-ingress policy', () => {
    const s = snap(...model, k('dd', { podSelector: {}, egress: [] }));
    expect(s.policies[0]!.types).toEqual(['Ingress']);
    expect(allowed(s, 'x/a', 'y/a', 80)).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(false);
  });

  it('a podSelector peer alone means pods of the policy namespace', () => {
    const s = snap(...model, k('p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] }));
    expect(allowed(s, 'x/b', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/b', 'x/a', 80)).toBe(false);
    expect(allowed(s, 'x/c', 'x/a', 80)).toBe(false);
  });

  it('podSelector {} alone means every pod of the policy namespace', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }));
    expect(allowed(s, 'x/b', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/b', 'x/a', 80)).toBe(false);
  });

  it('namespaceSelector {} means every pod in every namespace but not outside addresses', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }));
    expect(allowed(s, 'z/c', 'x/a', 80)).toBe(true);
    expect(allowed(s, '192.0.2.1', 'x/a', 80)).toBe(false);
  });

  it('namespaceSelector with matchLabels selects namespaces by label', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }));
    expect(allowed(s, 'y/c', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'z/c', 'x/a', 80)).toBe(false);
  });

  it('the default namespace label kubernetes.io/metadata.name selects a namespace', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] }] }));
    expect(allowed(s, 'z/c', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/c', 'x/a', 80)).toBe(false);
  });

  it('namespaceSelector and podSelector in one peer are ANDed', () => {
    const s = snap(
      ...model,
      k('p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }),
    );
    expect(allowed(s, 'y/b', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/c', 'x/a', 80)).toBe(false);
    expect(allowed(s, 'x/b', 'x/a', 80)).toBe(false);
  });

  it('namespaceSelector and podSelector as two peers are ORed', () => {
    const s = snap(
      ...model,
      k('p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }] }] }),
    );
    expect(allowed(s, 'y/c', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'x/b', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'z/b', 'x/a', 80)).toBe(false);
  });

  it('matchExpressions In / NotIn / Exists / DoesNotExist', () => {
    const peer = (expr: Record<string, unknown>) =>
      snap(...model, k('p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchExpressions: [expr] } }] }] }));
    expect(allowed(peer({ key: 'pod', operator: 'In', values: ['b', 'c'] }), 'x/b', 'x/a', 80)).toBe(true);
    expect(allowed(peer({ key: 'pod', operator: 'NotIn', values: ['b'] }), 'x/b', 'x/a', 80)).toBe(false);
    expect(allowed(peer({ key: 'pod', operator: 'NotIn', values: ['b'] }), 'x/c', 'x/a', 80)).toBe(true);
    expect(allowed(peer({ key: 'pod', operator: 'Exists' }), 'x/c', 'x/a', 80)).toBe(true);
    expect(allowed(peer({ key: 'pod', operator: 'DoesNotExist' }), 'x/c', 'x/a', 80)).toBe(false);
  });

  it('ipBlock matches pod IPs and except excludes', () => {
    const s = snap(
      ...model,
      k('p', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.2/32'] } }] }] }),
    );
    expect(allowed(s, 'x/a', 'y/a', 80)).toBe(true);
    expect(allowed(s, 'x/a', 'y/b', 80)).toBe(false);
    expect(allowed(s, 'x/a', '192.0.2.1', 80)).toBe(false);
  });

  it('a rule {} allows everything in its direction, outside addresses included', () => {
    const s = snap(...model, k('p', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] }));
    expect(allowed(s, '192.0.2.1', 'x/a', 9999, 'UDP')).toBe(true);
  });

  it('a port entry with only a protocol allows every port of that protocol and no other protocol', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP' }] }] }));
    expect(allowed(s, 'y/a', 'x/a', 81)).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 80, 'UDP')).toBe(false);
  });

  it('a port without a protocol means TCP', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] }));
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 80, 'UDP')).toBe(false);
  });

  it('an SCTP-only rule leaves TCP isolated', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ ports: [{ protocol: 'SCTP', port: 81 }] }] }));
    expect(allowed(s, 'y/a', 'x/a', 81, 'SCTP')).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 81, 'TCP')).toBe(false);
  });

  it('endPort gives an inclusive range', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ ports: [{ port: 80, endPort: 82 }] }] }));
    expect(allowed(s, 'y/a', 'x/a', 82)).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 83)).toBe(false);
  });

  it('named port resolves against the destination container port (ingress)', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] }));
    expect(allowed(s, 'y/a', 'x/a', 81)).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(false);
  });

  it('named port resolves against the peer pod container port (egress)', () => {
    const s = snap(...model, k('p', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }] }));
    expect(allowed(s, 'x/a', 'y/a', 80, 'UDP')).toBe(true);
    expect(allowed(s, 'x/a', 'y/a', 80, 'TCP')).toBe(false);
  });

  it('a named port under a different protocol matches nothing', () => {
    const s = snap(...model, k('p', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-80-udp', protocol: 'TCP' }] }] }));
    expect(allowed(s, 'y/a', 'x/a', 80, 'TCP')).toBe(false);
    expect(allowed(s, 'y/a', 'x/a', 80, 'UDP')).toBe(false);
  });

  it('stacked policies are a union: any policy that allows wins', () => {
    const s = snap(
      ...model,
      k('deny', { podSelector: {}, policyTypes: ['Ingress'] }),
      k('allow-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] }),
      k('allow-c', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'c' } } }] }] }),
    );
    expect(allowed(s, 'x/b', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'x/c', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/c', 'x/a', 80)).toBe(false);
  });

  it('denying egress at the client wins even when the server allows the traffic', () => {
    const s = snap(
      ...model,
      k('client-deny', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'] }, 'y'),
      k('server-allow', { podSelector: {}, ingress: [{}] }),
    );
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(false);
  });

  it('host-network pods are not endpoints', () => {
    const s = snap(...model, pod('x', 'hostnet', '192.168.0.5', {}, { hostNetwork: true }));
    expect(s.workloadEndpoints.some((w) => w.id === 'x/hostnet')).toBe(false);
  });
});

describe('AdminNetworkPolicy and BaselineAdminNetworkPolicy', () => {
  const subjectX = { namespaces: { matchLabels: { ns: 'x' } } };
  const fromY = [{ namespaces: { matchLabels: { ns: 'y' } } }];

  it('ANP Allow beats a NetworkPolicy deny', () => {
    const s = snap(...model, k('deny', { podSelector: {}, policyTypes: ['Ingress'] }), adminPolicy('a', { priority: 10, subject: subjectX, ingress: [{ action: 'Allow', from: fromY }] }));
    const r = check(s, 'y/a', 'x/a', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.decision).toMatchObject({ tier: 'kube-admin', policyId: 'kanp/a' });
    expect(allowed(s, 'z/a', 'x/a', 80)).toBe(false);
  });

  it('ANP Deny beats a NetworkPolicy allow', () => {
    const s = snap(...model, k('allow', { podSelector: {}, ingress: [{}] }), adminPolicy('d', { priority: 10, subject: subjectX, ingress: [{ action: 'Deny', from: fromY }] }));
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(false);
    expect(allowed(s, 'z/a', 'x/a', 80)).toBe(true);
  });

  it('ANPs run by priority, lowest number first', () => {
    const s = snap(
      ...model,
      adminPolicy('allow-late', { priority: 20, subject: subjectX, ingress: [{ action: 'Allow', from: fromY }] }),
      adminPolicy('deny-early', { priority: 5, subject: subjectX, ingress: [{ action: 'Deny', from: fromY }] }),
    );
    expect(check(s, 'y/a', 'x/a', 80).trace.ingress.decision).toMatchObject({ policyId: 'kanp/deny-early', action: 'Deny' });
  });

  it('ANP Pass skips lower-priority ANPs then NP decides', () => {
    const s = snap(
      ...model,
      adminPolicy('pass', { priority: 10, subject: subjectX, ingress: [{ action: 'Pass', from: fromY }] }),
      adminPolicy('allow', { priority: 11, subject: subjectX, ingress: [{ action: 'Allow', from: fromY }] }),
      k('deny', { podSelector: {}, policyTypes: ['Ingress'] }),
    );
    const r = check(s, 'y/a', 'x/a', 80);
    expect(r.allowed).toBe(false);
    expect(r.trace.ingress.decision).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'default' });
  });

  it('ANP Pass with no NP falls to the BANP', () => {
    const s = snap(
      ...model,
      adminPolicy('pass', { priority: 10, subject: subjectX, ingress: [{ action: 'Pass', from: fromY }] }),
      adminPolicy('allow', { priority: 11, subject: subjectX, ingress: [{ action: 'Allow', from: fromY }] }),
      baselinePolicy({ subject: subjectX, ingress: [{ action: 'Deny', from: fromY }] }),
    );
    expect(check(s, 'y/a', 'x/a', 80).trace.ingress.decision).toMatchObject({ tier: 'kube-baseline', policyId: 'kbanp/default', action: 'Deny' });
  });

  it('BANP is not consulted when an NP isolates the pod', () => {
    const s = snap(
      ...model,
      k('allow-y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }),
      baselinePolicy({ subject: subjectX, ingress: [{ action: 'Allow', from: [{ namespaces: {} }] }] }),
    );
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'z/a', 'x/a', 80)).toBe(false);
  });

  it('BANP decides when no NP selects the pod; no BANP match means allowed', () => {
    const s = snap(...model, baselinePolicy({ subject: subjectX, ingress: [{ action: 'Deny', from: fromY }] }));
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(false);
    expect(allowed(s, 'z/a', 'x/a', 80)).toBe(true);
  });

  it('ANP rules apply in list order', () => {
    const s = snap(
      ...model,
      adminPolicy('ordered', {
        priority: 1,
        subject: subjectX,
        ingress: [
          { action: 'Allow', from: fromY, ports: [{ portNumber: { port: 80 } }] },
          { action: 'Deny', from: [{ namespaces: {} }] },
        ],
      }),
    );
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 81)).toBe(false);
  });

  it('ANP subject pods selects by namespace and pod labels', () => {
    const s = snap(
      ...model,
      adminPolicy('p', {
        priority: 1,
        subject: { pods: { namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'a' } } } },
        ingress: [{ action: 'Deny', from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { pod: 'c' } } } }] }],
      }),
    );
    expect(allowed(s, 'y/c', 'x/a', 80)).toBe(false);
    expect(allowed(s, 'y/b', 'x/a', 80)).toBe(true);
    expect(allowed(s, 'y/c', 'x/b', 80)).toBe(true);
  });

  it('ANP networks peer matches pod IPs', () => {
    const s = snap(...model, adminPolicy('n', { priority: 1, subject: subjectX, egress: [{ action: 'Deny', to: [{ networks: ['10.0.1.0/24', '::/0'] }] }] }));
    expect(allowed(s, 'x/a', 'y/a', 80)).toBe(false);
    expect(allowed(s, 'x/a', 'z/a', 80)).toBe(true);
  });

  it('ANP nodes peer matches node addresses (upstream semantics)', () => {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-1', labels: { role: 'worker' } },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }, { type: 'Hostname', address: 'node-1' }] },
    };
    const s = snap(...model, node, adminPolicy('n', { priority: 1, subject: subjectX, egress: [{ action: 'Deny', to: [{ nodes: { matchLabels: { role: 'worker' } } }] }] }));
    expect(s.policies[0]!.egress[0]!.destination.nets).toEqual(['192.168.0.10/32']);
    expect(allowed(s, 'x/a', '192.168.0.10', 10250)).toBe(false);
    expect(allowed(s, 'x/a', '192.168.0.11', 10250)).toBe(true);
  });

  it('ANP namedPort matches only the named port (upstream semantics)', () => {
    const s = snap(...model, adminPolicy('n', { priority: 1, subject: subjectX, ingress: [{ action: 'Deny', from: fromY, ports: [{ namedPort: 'serve-81-tcp' }] }] }));
    expect(allowed(s, 'y/a', 'x/a', 81)).toBe(false);
    expect(allowed(s, 'y/a', 'x/a', 80)).toBe(true);
  });

  it('an ANP Deny rule with an unconvertible peer fails closed as deny-all', () => {
    const s = snap(...model, adminPolicy('bad', { priority: 1, subject: subjectX, ingress: [{ action: 'Deny', from: [{}] }] }));
    expect(s.policies[0]!.ingress).toEqual([{ action: 'Deny', source: {}, destination: {} }]);
    expect(allowed(s, 'z/a', 'x/a', 80)).toBe(false);
  });

  it('an ANP Allow rule with an unconvertible peer is dropped', () => {
    const s = snap(...model, k('deny', { podSelector: {}, policyTypes: ['Ingress'] }), adminPolicy('bad', { priority: 1, subject: subjectX, ingress: [{ action: 'Allow', from: [{}] }] }));
    expect(s.policies.find((p) => p.id === 'kanp/bad')!.ingress).toEqual([]);
    expect(allowed(s, 'z/a', 'x/a', 80)).toBe(false);
  });

  it('ANP subjects never select host endpoints', async () => {
    const { hostEndpoint } = await import('./test-fixtures.js');
    const s = snap(
      ...model,
      hostEndpoint('h', ['192.168.0.10'], {}, { profiles: ['projectcalico-default-allow'] }),
      adminPolicy('all', { priority: 1, subject: { namespaces: {} }, ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] }),
    );
    expect(allowed(s, 'y/a', 'h', 8080)).toBe(true);
    expect(allowed(s, 'y/a', 'x/a', 8080)).toBe(false);
  });
});
