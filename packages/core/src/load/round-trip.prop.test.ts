import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { stringify } from 'yaml';
import { formatIssue } from '../model/issues.js';
import { loadManifests } from './load-manifests.js';

// ---------------------------------------------------------------------------------------------
// Generators of valid manifests (every field drawn from what the validators accept)

const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
const namespace = dnsLabel;
const labelKey = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?$/),
  fc.constantFrom('app.kubernetes.io/name', 'example.com/Tier', 'k8s-app', 'constructor', 'hasOwnProperty', 'toString'),
);
const labelValue = fc.stringMatching(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?)?$/);
const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 3 });
const selector = fc.constantFrom('all()', "app == 'web'", 'has(role)', "tier in {'a', 'b'} && !has(x)", "k8s-app != 'dns' || env starts with 'prod'", '');

function ipv4Net(): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 })).map(([bytes, prefix]) => {
    const masked = bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, prefix - i * 8)))) & 0xff));
    return `${masked.join('.')}/${prefix}`;
  });
}
function ipv6Net(): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 2 }), fc.integer({ min: 1, max: 32 })).map(([groups, prefix]) => {
    const g0 = groups[0] ?? 0;
    const g1 = groups[1] ?? 0;
    const word = ((g0 << 16) | g1) >>> 0;
    const mask = prefix === 32 ? 0xffffffff : (~(0xffffffff >>> prefix)) >>> 0;
    const m = (word & mask) >>> 0;
    return `${(m >>> 16).toString(16)}:${(m & 0xffff).toString(16)}::/${prefix}`;
  });
}

const port = fc.oneof(
  fc.integer({ min: 1, max: 65535 }),
  fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 1000 })).map(([a, d]) => `${a}:${a + d}`),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/),
);

const calicoRule = fc
  .record({
    action: fc.constantFrom('Allow', 'Deny', 'Log', 'Pass'),
    family: fc.constantFrom(4, 6),
    withPorts: fc.boolean(),
    protocol: fc.constantFrom('TCP', 'UDP', 'SCTP', 6, 17),
    nets: fc.boolean(),
    sourceSelector: fc.option(selector, { nil: undefined }),
    namespaceSelector: fc.option(fc.constantFrom('global()', 'all()', "team == 'a'"), { nil: undefined }),
  })
  .chain((r) =>
    fc
      .record({
        nets: fc.array(r.family === 4 ? ipv4Net() : ipv6Net(), { minLength: 1, maxLength: 3 }),
        ports: fc.array(port, { minLength: 1, maxLength: 4 }),
      })
      .map(({ nets, ports }) => ({
        action: r.action,
        ...(r.withPorts ? { protocol: r.protocol } : {}),
        ...(r.nets ? { ipVersion: r.family } : {}),
        source: {
          ...(r.nets ? { nets } : {}),
          ...(r.sourceSelector !== undefined ? { selector: r.sourceSelector } : {}),
          ...(r.namespaceSelector !== undefined ? { namespaceSelector: r.namespaceSelector } : {}),
        },
        ...(r.withPorts ? { destination: { ports } } : {}),
      })),
  );

const policySpec = fc.record(
  {
    tier: fc.constantFrom('default', 'security'),
    order: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 1e6, noNaN: true })),
    selector,
    types: fc.constantFrom(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
    ingress: fc.array(calicoRule, { maxLength: 3 }),
    egress: fc.array(calicoRule, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

const calicoNetworkPolicy = fc.record({ name: dnsLabel, ns: namespace, labels, spec: policySpec }).map(({ name, ns, labels: l, spec }) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns, ...(Object.keys(l).length ? { labels: l } : {}) },
  spec,
}));

const globalNetworkPolicy = fc
  .record({ name: dnsLabel, spec: policySpec, host: fc.constantFrom('none', 'preDNAT', 'doNotTrack') })
  .map(({ name, spec, host }) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: `security.${name}` },
    spec:
      host === 'preDNAT'
        ? { ...spec, egress: [], types: ['Ingress'], preDNAT: true, applyOnForward: true, namespaceSelector: "team == 'a'" }
        : host === 'doNotTrack'
          ? { ...spec, doNotTrack: true, applyOnForward: true }
          : spec,
  }));

const tier = fc.oneof(
  fc.record({ name: dnsLabel.filter((n) => !['default', 'kube-admin', 'kube-baseline'].includes(n)), order: fc.integer({ min: 0, max: 1e7 }), action: fc.constantFrom('Deny', 'Pass') }).map(({ name, order, action }) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'Tier',
    metadata: { name },
    spec: { order, defaultAction: action },
  })),
  fc.constant({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'kube-admin' }, spec: { order: 1000, defaultAction: 'Pass' } }),
);

const labelSelector = fc.record(
  {
    matchLabels: fc.dictionary(labelKey, labelValue, { maxKeys: 2 }),
    matchExpressions: fc.array(
      fc.oneof(
        fc.record({ key: labelKey, operator: fc.constantFrom('In', 'NotIn'), values: fc.array(labelValue, { minLength: 1, maxLength: 2 }) }),
        fc.record({ key: labelKey, operator: fc.constantFrom('Exists', 'DoesNotExist') }),
      ),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: [] },
);

const k8sPeer = fc.oneof(
  fc.record({ podSelector: labelSelector, namespaceSelector: labelSelector }, { requiredKeys: ['podSelector'] }),
  ipv4Net().map((cidr) => ({ ipBlock: { cidr } })),
);
const k8sPort = fc.oneof(
  fc.record({ protocol: fc.constantFrom('TCP', 'UDP', 'SCTP'), port: fc.integer({ min: 1, max: 60000 }) }),
  fc.integer({ min: 1, max: 60000 }).chain((p) => fc.integer({ min: p, max: 65535 }).map((endPort) => ({ port: p, endPort }))),
  fc.record({ port: fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/) }),
);
const k8sNetworkPolicy = fc
  .record({
    name: dnsLabel,
    ns: namespace,
    podSelector: labelSelector,
    policyTypes: fc.constantFrom(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
    ingress: fc.array(fc.record({ from: fc.array(k8sPeer, { maxLength: 2 }), ports: fc.array(k8sPort, { maxLength: 2 }) }, { requiredKeys: [] }), { maxLength: 2 }),
  })
  .map(({ name, ns, ...spec }) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec }));

const networkSet = fc.record({ name: dnsLabel, labels, nets: fc.array(fc.oneof(ipv4Net(), ipv6Net()), { maxLength: 4 }) }).map(({ name, labels: l, nets }) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkSet',
  metadata: { name, labels: l },
  spec: { nets },
}));

const hostEndpoint = fc.record({ name: dnsLabel, node: dnsLabel, iface: fc.constantFrom('eth0', '*', 'bond0.100') }).map(({ name, node, iface }) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'HostEndpoint',
  metadata: { name },
  spec: { node, interfaceName: iface, expectedIPs: ['10.0.0.1'], ports: [{ name: 'ssh', protocol: 'TCP', port: 22 }] },
}));

const adminNetworkPolicy = fc
  .record({ name: dnsLabel, priority: fc.integer({ min: 0, max: 1000 }), action: fc.constantFrom('Allow', 'Deny', 'Pass'), nets: fc.array(ipv4Net(), { minLength: 1, maxLength: 3 }), p: fc.integer({ min: 1, max: 65535 }) })
  .map(({ name, priority, action, nets, p }) => ({
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name },
    spec: {
      priority,
      subject: { namespaces: {} },
      egress: [{ name: 'r', action, to: [{ networks: nets }], ports: [{ portNumber: { protocol: 'TCP', port: p } }] }],
    },
  }));

const resource = fc.oneof(calicoNetworkPolicy, globalNetworkPolicy, tier, k8sNetworkPolicy, networkSet, hostEndpoint, adminNetworkPolicy);

/** Identity as the loader sees it (kind + namespace + name), to keep generated sets duplicate-free. */
const identity = (r: { kind: string; metadata: { name: string; namespace?: string } }): string => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;

// ---------------------------------------------------------------------------------------------

describe('valid manifests round-trip through text', () => {
  test.prop([fc.uniqueArray(resource, { selector: identity, minLength: 1, maxLength: 5 })], { numRuns: 200 })(
    'YAML: serialize, load, get the same resources back, in order and without issues',
    (resources) => {
      const text = resources.map((r) => stringify(r)).join('---\n');
      const result = loadManifests([{ file: 'gen.yaml', text }]);
      expect(result.issues.map(formatIssue)).toEqual([]);
      expect(result.resources.map((r) => r.resource)).toEqual(resources);
      expect(result.resources.map((r) => r.docIndex)).toEqual(resources.map((_, i) => i));
    },
  );

  test.prop([fc.uniqueArray(resource, { selector: identity, minLength: 1, maxLength: 5 })], { numRuns: 100 })(
    'JSON arrays round-trip too',
    (resources) => {
      const result = loadManifests([{ file: 'gen.json', text: JSON.stringify(resources, null, 2) }]);
      expect(result.issues.map(formatIssue)).toEqual([]);
      expect(result.resources.map((r) => r.resource)).toEqual(resources);
    },
  );
});
