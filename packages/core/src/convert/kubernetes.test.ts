import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { convertKubernetesNetworkPolicy, simplifyPorts } from './kubernetes-policy.js';
import { convertKubernetesNode, convertNamespace, convertPod, convertServiceAccount, workloadInterfaceName } from './kubernetes-identity.js';
import { labelSelectorToCalico } from './label-selector.js';

const knp = (spec: Record<string, unknown>, name = 'p', ns = 'prod'): Resource =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec }) as Resource;
const convert = (spec: Record<string, unknown>) => convertKubernetesNetworkPolicy(knp(spec) as Resource<string, never>);

describe('Namespace and ServiceAccount profiles', () => {
  it('a namespace becomes kns.<ns> with pcns labels, the name label and allow-all rules', () => {
    const c = convertNamespace({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { team: 'a' } } });
    expect(c.value).toEqual({
      name: 'kns.prod',
      labelsToApply: {
        'pcns.kubernetes.io/metadata.name': 'prod',
        'pcns.projectcalico.org/name': 'prod',
        'pcns.team': 'a',
      },
      ingress: [{ action: 'Allow', source: {}, destination: {} }],
      egress: [{ action: 'Allow', source: {}, destination: {} }],
    });
    expect(c.issues).toEqual([]);
  });

  it('the kubernetes.io/metadata.name label always carries the namespace name', () => {
    const c = convertNamespace({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { 'kubernetes.io/metadata.name': 'x' } } });
    expect(c.value!.labelsToApply['pcns.kubernetes.io/metadata.name']).toBe('prod');
    expect(c.issues[0]).toMatchObject({ code: 'namespace-name-label', severity: 'warning' });
  });

  it('a service account becomes ksa.<ns>.<name> with pcsa labels and no rules', () => {
    const c = convertServiceAccount({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: 'ci', labels: { role: 'x' } } });
    expect(c.value).toEqual({
      name: 'ksa.ci.builder',
      labelsToApply: { 'pcsa.projectcalico.org/name': 'builder', 'pcsa.role': 'x' },
      ingress: [],
      egress: [],
    });
  });
});

describe('Pod → workload endpoint', () => {
  const pod = (extra: { spec?: Record<string, unknown>; status?: Record<string, unknown>; labels?: Record<string, string> } = {}): Resource => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'simplePod', namespace: 'testNamespace', labels: extra.labels ?? { app: 'web' } },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9000 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }], ...extra.spec },
    status: extra.status ?? { podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }, { ip: 'FD00::5' }] },
  });
  const convert = (r: Resource) => convertPod(r as Resource<string, never>);

  it('interface name is cali + 11 hex digits of SHA-1("<namespace>.<pod>")', () => {
    expect(workloadInterfaceName('testNamespace', 'simplePod')).toBe('caliedff4356bd6');
    expect(convert(pod()).value!.interfaceName).toBe('caliedff4356bd6');
  });

  it('gets synthetic labels, profiles, addresses, node and named ports', () => {
    expect(convert(pod()).value).toEqual({
      kind: 'WorkloadEndpoint',
      id: 'testNamespace/simplePod',
      name: 'simplePod',
      namespace: 'testNamespace',
      node: 'node-1',
      interfaceName: 'caliedff4356bd6',
      addresses: ['10.0.0.5/32', 'fd00::5/128'],
      labels: {
        app: 'web',
        'projectcalico.org/namespace': 'testNamespace',
        'projectcalico.org/orchestrator': 'k8s',
        'projectcalico.org/serviceaccount': 'default',
      },
      profiles: ['kns.testNamespace', 'ksa.testNamespace.default'],
      ports: [
        { name: 'http', protocol: 6, port: 8080 },
        { name: 'dns', protocol: 17, port: 53 },
      ],
      workload: 'testNamespace/simplePod',
      serviceAccount: 'default',
    });
  });

  it('uses podIP when podIPs is absent, and a pod without IPs is an endpoint without addresses', () => {
    expect(convert(pod({ status: { podIP: '10.0.0.9' } })).value!.addresses).toEqual(['10.0.0.9/32']);
    expect(convert(pod({ status: {} })).value!.addresses).toEqual([]);
  });

  it('host-network pods are not endpoints; finished pods are not either', () => {
    expect(convert(pod({ spec: { hostNetwork: true } })).value).toBeUndefined();
    const done = convert(pod({ status: { phase: 'Succeeded', podIP: '10.0.0.1' } }));
    expect(done.value).toBeUndefined();
    expect(done.issues[0]).toMatchObject({ code: 'pod-finished' });
  });

  it('the service account label is set only for names shorter than 63 characters', () => {
    const long = 'a'.repeat(63);
    const w = convert(pod({ spec: { serviceAccountName: long } })).value!;
    expect(w.labels['projectcalico.org/serviceaccount']).toBeUndefined();
    expect(w.profiles).toEqual(['kns.testNamespace', `ksa.testNamespace.${long}`]);
    expect(convert(pod({ spec: { serviceAccountName: 'a'.repeat(62) } })).value!.labels['projectcalico.org/serviceaccount']).toBe('a'.repeat(62));
  });

  it('strips user labels that would fake namespace or service-account inheritance; synthetic labels win', () => {
    const w = convert(pod({ labels: { 'pcns.team': 'evil', 'pcsa.role': 'evil', 'projectcalico.org/namespace': 'other', app: 'x' } })).value!;
    expect(w.labels).toEqual({
      app: 'x',
      'projectcalico.org/namespace': 'testNamespace',
      'projectcalico.org/orchestrator': 'k8s',
      'projectcalico.org/serviceaccount': 'default',
    });
  });

  it('restartable init containers (sidecars) contribute named ports', () => {
    const w = convert(pod({ spec: { initContainers: [{ name: 's', restartPolicy: 'Always', ports: [{ name: 'proxy', containerPort: 15001 }] }, { name: 'i', ports: [{ name: 'init', containerPort: 1 }] }] } })).value!;
    expect(w.ports.map((p) => p.name)).toEqual(['http', 'dns', 'proxy']);
  });
});

describe('Kubernetes Node', () => {
  it('takes InternalIP/ExternalIP addresses, pod CIDRs and labels', () => {
    const c = convertKubernetesNode({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', labels: { zone: 'a' } },
      spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'] },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.1.1' }, { type: 'Hostname', address: 'n1' }, { type: 'ExternalIP', address: '203.0.113.1' }] },
    } as unknown as Resource<string, never>);
    expect(c.value).toEqual({ name: 'n1', addresses: ['192.168.1.1', '203.0.113.1'], podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'], labels: { zone: 'a' } });
  });
});

describe('label selectors (k8sSelectorToCalico)', () => {
  it.each([
    [undefined, 'pod', "projectcalico.org/orchestrator == 'k8s'"],
    [{}, 'pod', "projectcalico.org/orchestrator == 'k8s'"],
    [undefined, 'namespace', ''],
    [{}, 'namespace', 'all()'],
    [{ matchLabels: { b: '2', a: '1' } }, 'pod', "projectcalico.org/orchestrator == 'k8s' && a == '1' && b == '2'"],
    [
      {
        matchExpressions: [
          { key: 'x', operator: 'In', values: ['p', 'q'] },
          { key: 'y', operator: 'NotIn', values: ['r'] },
          { key: 'z', operator: 'Exists' },
          { key: 'w', operator: 'DoesNotExist' },
        ],
      },
      'namespace',
      "x in { 'p', 'q' } && y not in { 'r' } && has(z) && ! has(w)",
    ],
  ] as const)('%j (%s) → %s', (sel, type, expected) => {
    expect(labelSelectorToCalico(sel as never, type)).toBe(expected);
  });
});

describe('Kubernetes NetworkPolicy conversion', () => {
  it('selects pods of its namespace through the orchestrator clause (byte for byte)', () => {
    const p = convert({ podSelector: { matchLabels: { role: 'db', app: 'x' } }, policyTypes: ['Ingress'] }).value!;
    expect(p).toMatchObject({ id: 'knp/prod/p', kind: 'KubernetesNetworkPolicy', tier: 'default', order: 1000, namespace: 'prod', types: ['Ingress'] });
    expect(p.selector).toBe('((projectcalico.org/orchestrator == "k8s" && app == "x" && role == "db") && projectcalico.org/namespace == "prod")');
    expect(convert({ podSelector: {} }).value!.selector).toBe('(projectcalico.org/orchestrator == "k8s" && projectcalico.org/namespace == "prod")');
  });

  it('peer selectors: podSelector only, namespaceSelector {}, both, and matchLabels', () => {
    const p = convert({
      podSelector: {},
      ingress: [
        {
          from: [
            { podSelector: { matchLabels: { app: 'a' } } },
            { namespaceSelector: {} },
            { namespaceSelector: { matchLabels: { team: 't' } }, podSelector: { matchLabels: { app: 'b' } } },
          ],
        },
      ],
    }).value!;
    expect(p.ingress.map((r) => r.source.selector)).toEqual([
      '(projectcalico.org/namespace == "prod" && (projectcalico.org/orchestrator == "k8s" && app == "a"))',
      '(has(projectcalico.org/namespace) && projectcalico.org/orchestrator == "k8s")',
      '(pcns.team == "t" && (projectcalico.org/orchestrator == "k8s" && app == "b"))',
    ]);
    expect(p.ingress.every((r) => r.action === 'Allow' && r.protocol === undefined && Object.keys(r.destination).length === 0)).toBe(true);
  });

  it('ipBlock becomes nets and notNets, canonicalised', () => {
    const p = convert({ podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.1.2.3/8', except: ['10.1.0.0/16'] } }] }] }).value!;
    expect(p.egress).toEqual([{ action: 'Allow', source: {}, destination: { nets: ['10.0.0.0/8'], notNets: ['10.1.0.0/16'] } }]);
  });

  it('one rule per (protocol × peer), protocols sorted, ports merged into minimal ranges', () => {
    const p = convert({
      podSelector: {},
      ingress: [
        {
          from: [{ podSelector: {} }, { ipBlock: { cidr: '192.0.2.0/24' } }],
          ports: [{ port: 81 }, { protocol: 'UDP', port: 53 }, { port: 80 }, { port: 'http' }, { port: 82, endPort: 90 }, { protocol: 'SCTP' }],
        },
      ],
    }).value!;
    expect(p.ingress.map((r) => [r.protocol?.text, r.destination.ports, r.source.nets ?? r.source.selector])).toEqual([
      ['SCTP', undefined, '(projectcalico.org/namespace == "prod" && projectcalico.org/orchestrator == "k8s")'],
      ['SCTP', undefined, ['192.0.2.0/24']],
      ['TCP', [{ kind: 'named', name: 'http' }, { kind: 'range', min: 80, max: 90 }], '(projectcalico.org/namespace == "prod" && projectcalico.org/orchestrator == "k8s")'],
      ['TCP', [{ kind: 'named', name: 'http' }, { kind: 'range', min: 80, max: 90 }], ['192.0.2.0/24']],
      ['UDP', [{ kind: 'range', min: 53, max: 53 }], '(projectcalico.org/namespace == "prod" && projectcalico.org/orchestrator == "k8s")'],
      ['UDP', [{ kind: 'range', min: 53, max: 53 }], ['192.0.2.0/24']],
    ]);
  });

  it('a protocol-only port entry means all ports of that protocol, even beside numbered ports', () => {
    const p = convert({ podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP' }] }] }).value!;
    expect(p.ingress).toEqual([{ action: 'Allow', protocol: { number: 6, text: 'TCP' }, source: {}, destination: {} }]);
  });

  it('a port entry with neither port nor protocol means all TCP ports (protocol defaults to TCP)', () => {
    const p = convert({ podSelector: {}, ingress: [{ ports: [{}] }] }).value!;
    expect(p.ingress).toEqual([{ action: 'Allow', protocol: { number: 6, text: 'TCP' }, source: {}, destination: {} }]);
  });

  it('no ports and no peers: one protocol-less rule with no criteria', () => {
    expect(convert({ podSelector: {}, ingress: [{}] }).value!.ingress).toEqual([{ action: 'Allow', source: {}, destination: {} }]);
  });

  it('egress rules put peers in the destination', () => {
    const p = convert({ podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: {} }], ports: [{ port: 5432 }] }] }).value!;
    expect(p.egress[0]!.destination).toEqual({
      selector: '(projectcalico.org/namespace == "prod" && projectcalico.org/orchestrator == "k8s")',
      ports: [{ kind: 'range', min: 5432, max: 5432 }],
    });
  });

  it.each([
    [{}, ['Ingress']],
    [{ egress: [] }, ['Ingress']],
    [{ egress: [{}] }, ['Ingress', 'Egress']],
    [{ ingress: [{}] }, ['Ingress']],
    [{ policyTypes: ['Egress'] }, ['Egress']],
    [{ policyTypes: ['Egress', 'Ingress'], egress: [{}] }, ['Ingress', 'Egress']],
  ])('policyTypes defaulting (apiserver) %j → %j', (spec, types) => {
    expect(convert({ podSelector: {}, ...spec }).value!.types).toEqual(types);
  });

  it('warns when policyTypes is defaulted to include Egress', () => {
    expect(convert({ podSelector: {}, egress: [{}] }).issues).toMatchObject([{ code: 'policy-types-defaulted' }]);
  });

  it('drops an unconvertible rule with a warning', () => {
    const c = convert({ podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }, {}] });
    expect(c.value!.ingress).toEqual([{ action: 'Allow', source: {}, destination: {} }]);
    expect(c.issues).toMatchObject([{ code: 'rule-dropped', path: 'spec.ingress[0]' }]);
  });

  it('SimplifyPorts keeps named ports first and merges numeric ones', () => {
    expect(simplifyPorts([90, 'b', 80, '81:85', 86, 'a', 80])).toEqual(['b', 'a', '80:86', 90]);
    expect(simplifyPorts([80, 'a'])).toEqual([80, 'a']);
    expect(simplifyPorts(['1:3'])).toEqual(['1:3']);
  });
});
