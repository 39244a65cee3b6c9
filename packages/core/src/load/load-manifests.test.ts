import { describe, expect, it } from 'vitest';
import { formatIssue } from '../model/issues.js';
import { loadManifests } from './load-manifests.js';

const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;

/** Three documents; line numbers are in the comments. */
const POLICIES = lines(
  '# policies.yaml', //                                 1
  'apiVersion: projectcalico.org/v3', //                2
  'kind: GlobalNetworkPolicy', //                       3
  'metadata:', //                                       4
  '  name: security.guardrails', //                     5
  'spec:', //                                           6
  '  tier: security', //                                7
  '  selector: "app == \'web\'"', //                    8
  '  ingres: []', //                                    9
  '  ingress:', //                                      10
  '    - action: Allow', //                             11
  '      protocol: TCP', //                             12
  '      source:', //                                   13
  '        nets: [10.0.0.0/8, 10.0.0.1/24]', //         14
  '      destination:', //                              15
  '        ports: [80, "90:80"]', //                    16
  '---', //                                             17
  'apiVersion: networking.k8s.io/v1', //                18
  'kind: NetworkPolicy', //                             19
  'metadata: { name: deny-all, namespace: shop }', //   20
  'spec:', //                                           21
  '  podSelector: {}', //                               22
  '  policyTypes: [Ingress, Egres]', //                 23
  '---', //                                             24
  'apiVersion: projectcalico.org/v3', //                25
  'kind: HostEndpoint', //                              26
  'metadata:', //                                       27
  '  name: node1-eth0', //                              28
  'spec:', //                                           29
  '  interfaceName: eth0', //                           30
);

describe('positions', () => {
  it('every issue carries file:line:col, kind, name and field path', () => {
    const result = loadManifests([{ file: 'policies.yaml', text: POLICIES }]);
    expect(result.issues.map(formatIssue)).toEqual([
      'policies.yaml:9:3: warning: GlobalNetworkPolicy/security.guardrails spec.ingres: unknown field "ingres"; did you mean "ingress"?',
      'policies.yaml:14:28: GlobalNetworkPolicy/security.guardrails spec.ingress[0].source.nets[1]: "10.0.0.1/24" is not a strictly masked CIDR (host bits are set); did you mean 10.0.0.0/24?',
      'policies.yaml:16:21: GlobalNetworkPolicy/security.guardrails spec.ingress[0].destination.ports[1]: minimum port number (90) is greater than maximum port number (80) in port range',
      'policies.yaml:23:26: NetworkPolicy/shop/deny-all spec.policyTypes[1]: unsupported value "Egres": must be one of Ingress, Egress; did you mean Egress?',
      'policies.yaml:29:1: HostEndpoint/node1-eth0 spec.node: no node has been specified',
    ]);
    expect(result.ok).toBe(false);
    expect(result.resources).toEqual([]);
  });

  it('a missing field is reported where its parent is, an unknown one at its key', () => {
    const text = lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  namespace: x', '  labels: {a: b}');
    expect(loadManifests([{ file: 'pod.yaml', text }]).issues.map(formatIssue)).toEqual(['pod.yaml:3:1: Pod/- metadata.name: metadata.name is required']);
  });

  it('resources carry the position and index of their document (a leading comment belongs to the first)', () => {
    const text = lines('# comment', '---', 'apiVersion: v1', 'kind: Namespace', 'metadata: {name: a}', '---', '---', '  apiVersion: v1', '  kind: Namespace', '  metadata: {name: b}');
    const { resources, ok } = loadManifests([{ file: 'ns.yaml', text }]);
    expect(ok).toBe(true);
    expect(resources.map((r) => [r.resource.metadata.name, r.line, r.col, r.docIndex])).toEqual([
      ['a', 3, 1, 0],
      ['b', 8, 3, 2],
    ]);
  });
});

const CLUSTER = lines(
  'apiVersion: projectcalico.org/v3', //                        1
  'kind: Tier', //                                              2
  'metadata: {name: default}', //                               3
  'spec: {order: 1000000, defaultAction: Pass}', //             4
  '---', //                                                     5
  'apiVersion: policy.networking.k8s.io/v1alpha1', //           6
  'kind: BaselineAdminNetworkPolicy', //                        7
  'metadata: {name: baseline}', //                              8
  'spec:', //                                                   9
  '  subject: {namespaces: {}}', //                             10
  '  ingress:', //                                              11
  '    - action: Pass', //                                      12
  '      from: [{namespaces: {}, pods: {podSelector: {}, namespaceSelector: {}}}]', // 13
  '---', //                                                     14
  'apiVersion: policy.networking.k8s.io/v1alpha2', //           15
  'kind: ClusterNetworkPolicy', //                              16
  'metadata: {name: cnp}', //                                   17
  'spec:', //                                                   18
  '  tier: Baseline', //                                        19
  '  priority: 2000', //                                        20
  '  subject: {namespaces: {}}', //                             21
  '  egress:', //                                               22
  '    - action: Pass', //                                      23
  '      to: [{networks: [10.0.0.0/8, 300.0.0.0/8]}]', //       24
  '      protocols: [{tcp: {destinationPort: {range: {start: 9, end: 1}}}}]', // 25
  '---', //                                                     26
  'apiVersion: projectcalico.org/v3', //                        27
  'kind: NetworkSet', //                                        28
  'metadata:', //                                               29
  '  name: partners', //                                        30
  '  labels: {projectcalico.org/namespace: x}', //              31
  'spec: {nets: [192.168.1.1/24, not-a-cidr]}', //              32
);

describe('positions in cluster-policy documents', () => {
  it('tiers, admin policies and network sets report where the problem is', () => {
    const result = loadManifests([{ file: 'cluster.yaml', text: CLUSTER }]);
    expect(result.issues.map(formatIssue)).toEqual([
      "cluster.yaml:4:39: Tier/default spec.defaultAction: The 'default' tier must have default action 'Deny'",
      'cluster.yaml:8:18: BaselineAdminNetworkPolicy/baseline metadata.name: only one BaselineAdminNetworkPolicy, named "default", may exist in a cluster',
      'cluster.yaml:12:15: BaselineAdminNetworkPolicy/baseline spec.ingress[0].action: unsupported value "Pass": must be one of Allow, Deny',
      'cluster.yaml:13:14: BaselineAdminNetworkPolicy/baseline spec.ingress[0].from[0]: a peer must set exactly one of namespaces, pods (namespaces and pods are set)',
      'cluster.yaml:20:13: ClusterNetworkPolicy/cnp spec.priority: priority must be between 0 and 1000 (not 2000)',
      'cluster.yaml:23:15: ClusterNetworkPolicy/cnp spec.egress[0].action: Pass is only valid in the Admin tier (nothing follows the Baseline tier)',
      'cluster.yaml:24:36: ClusterNetworkPolicy/cnp spec.egress[0].to[0].networks[1]: Invalid CIDR format provided: "300.0.0.0/8"',
      'cluster.yaml:25:44: ClusterNetworkPolicy/cnp spec.egress[0].protocols[0].tcp.destinationPort.range: Start port must be less than End port',
      'cluster.yaml:29:1: warning: NetworkSet/default/partners metadata.namespace: no metadata.namespace; using "default"',
      'cluster.yaml:31:12: NetworkSet/default/partners metadata.labels["projectcalico.org/namespace"]: projectcalico.org/namespace is not a valid label name (Calico sets it)',
      'cluster.yaml:32:31: NetworkSet/default/partners spec.nets[1]: invalid CIDR "not-a-cidr"',
    ]);
  });
});

describe('formats', () => {
  it('reads JSON: a single object', () => {
    const text = '{\n\t"apiVersion": "v1",\n\t"kind": "Namespace",\n\t"metadata": {"name": "Bad"}\n}';
    const result = loadManifests([{ file: 'ns.json', text }]);
    expect(result.issues.map(formatIssue)).toEqual([
      "ns.json:4:23: Namespace/Bad metadata.name: name must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
    ]);
  });

  it('reads JSON: an array of objects, each at its own position', () => {
    const text = '[\n  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},\n  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}\n]';
    const { resources } = loadManifests([{ file: 'ns.json', text }]);
    expect(resources.map((r) => [r.resource.metadata.name, r.line, r.col, r.docIndex, r.itemIndex])).toEqual([
      ['a', 2, 3, 0, 0],
      ['b', 3, 3, 0, 1],
    ]);
  });

  it('expands v1 List items, reporting at the item', () => {
    const text = lines(
      'apiVersion: v1',
      'kind: List',
      'items:',
      '  - apiVersion: v1',
      '    kind: Namespace',
      '    metadata: {name: a}',
      '  - apiVersion: v1',
      '    kind: Namespace',
      '    metadata: {name: b, labels: {"x y": z}}',
    );
    const result = loadManifests([{ file: 'list.yaml', text }]);
    expect(result.issues.map(formatIssue)).toEqual([
      "list.yaml:9:34: Namespace/b metadata.labels[\"x y\"]: invalid label key \"x y\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    ]);
  });

  it('expands typed lists and fills in the item kind', () => {
    const text = lines(
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicyList',
      'metadata: {resourceVersion: "1"}',
      'items:',
      '  - metadata: {name: a, namespace: shop}',
      '    spec: {podSelector: {}}',
      '  - metadata: {name: b, namespace: shop}',
      '    spec: {podSelector: {}}',
    );
    const { resources, ok, issues } = loadManifests([{ file: 'l.yaml', text }]);
    expect(issues).toEqual([]);
    expect(ok).toBe(true);
    expect(resources.map((r) => [r.resource.apiVersion, r.resource.kind, r.resource.metadata.name, r.line, r.col, r.itemIndex])).toEqual([
      ['networking.k8s.io/v1', 'NetworkPolicy', 'a', 5, 5, 0],
      ['networking.k8s.io/v1', 'NetworkPolicy', 'b', 7, 5, 1],
    ]);
  });

  it('rejects a typed list of an unknown kind and Lists inside Lists', () => {
    const typed = loadManifests([{ file: 'l.yaml', text: lines('apiVersion: v1', 'kind: WidgetList', 'items: []') }]);
    expect(typed.issues.map((i) => i.code)).toEqual(['unknown-kind']);
    const nested = loadManifests([{ file: 'l.yaml', text: lines('apiVersion: v1', 'kind: List', 'items:', '  - {apiVersion: v1, kind: List, items: []}') }]);
    expect(nested.issues.map(formatIssue)).toEqual(['l.yaml:4:5: List/-: a List inside a List is not supported']);
  });

  it('reports YAML syntax errors at their position', () => {
    const result = loadManifests([{ file: 'bad.yaml', text: lines('a: 1', 'a: 2', '---', 'b: [1, 2') }]);
    expect(result.issues.map((i) => `${i.line}:${i.col} ${i.code}`)).toEqual(['2:1 yaml-syntax', '5:1 yaml-syntax']);
    expect(result.issues[0]?.message).toBe('Map keys must be unique');
  });

  it('skips empty and comment-only documents', () => {
    expect(loadManifests([{ file: 'e.yaml', text: '---\n# nothing\n---\n' }, { file: 'empty.yaml', text: '' }])).toEqual({ resources: [], issues: [], ok: true });
  });

  it('rejects documents that are not mappings', () => {
    expect(loadManifests([{ file: 's.yaml', text: 'just a string\n' }]).issues.map(formatIssue)).toEqual([
      's.yaml:1:1: -/-: a manifest must be a mapping with apiVersion, kind and metadata',
    ]);
  });
});

const GOOD = lines('apiVersion: v1', 'kind: Namespace', 'metadata: {name: good}');
const MIXED = lines('apiVersion: v1', 'kind: Namespace', 'metadata: {name: fine}', '---', 'apiVersion: v1', 'kind: Namespace', 'metadata: {name: Not_Fine}');

describe('files are all-or-nothing', () => {
  it('a file with one bad document contributes nothing, another good file still loads', () => {
    const result = loadManifests([
      { file: 'mixed.yaml', text: MIXED },
      { file: 'good.yaml', text: GOOD },
    ]);
    expect(result.ok).toBe(false);
    expect(result.resources.map((r) => `${r.file} ${r.resource.metadata.name}`)).toEqual(['good.yaml good']);
    expect(result.issues.map((i) => `${i.file}:${i.line}:${i.col} ${i.code}`)).toEqual(['mixed.yaml:7:18 invalid-name']);
  });

  it('warnings do not reject a file', () => {
    const text = lines('apiVersion: v1', 'kind: Namespace', 'metadata: {name: a, namespace: x}');
    const result = loadManifests([{ file: 'w.yaml', text }]);
    expect(result.ok).toBe(true);
    expect(result.issues.map((i) => i.severity)).toEqual(['warning']);
    expect(result.resources).toHaveLength(1);
  });
});

describe('identity', () => {
  it('a duplicate (kind, namespace, name) is an error at the second, naming the first', () => {
    const dup = lines('apiVersion: v1', 'kind: Namespace', 'metadata:', '  name: good');
    const result = loadManifests([
      { file: 'a.yaml', text: GOOD },
      { file: 'b.yaml', text: dup },
    ]);
    expect(result.issues.map(formatIssue)).toEqual(['b.yaml:4:9: Namespace/good metadata.name: duplicate Namespace "good": already defined at a.yaml:1:1']);
    expect(result.resources.map((r) => r.file)).toEqual(['a.yaml']);
  });

  it('same names in different namespaces, kinds or API groups are not duplicates', () => {
    const text = lines(
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata: {name: p, namespace: a}',
      'spec: {podSelector: {}}',
      '---',
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata: {name: p, namespace: b}',
      'spec: {podSelector: {}}',
      '---',
      'apiVersion: projectcalico.org/v3',
      'kind: NetworkPolicy',
      'metadata: {name: p, namespace: a}',
      '---',
      'apiVersion: projectcalico.org/v3',
      'kind: StagedNetworkPolicy',
      'metadata: {name: p, namespace: a}',
    );
    const result = loadManifests([{ file: 'p.yaml', text }]);
    expect(result.issues).toEqual([]);
    expect(result.resources).toHaveLength(4);
  });

  it('a namespaced kind without a namespace lands in "default", with a note', () => {
    const text = lines('apiVersion: v1', 'kind: ServiceAccount', 'metadata:', '  name: sa');
    const result = loadManifests([{ file: 'sa.yaml', text }]);
    expect(result.issues.map(formatIssue)).toEqual(['sa.yaml:3:1: warning: ServiceAccount/default/sa metadata.namespace: no metadata.namespace; using "default"']);
    expect(result.resources[0]?.resource.metadata).toEqual({ name: 'sa', namespace: 'default' });
  });

  it('an implicit and an explicit default namespace are the same identity', () => {
    const text = lines('apiVersion: v1', 'kind: ServiceAccount', 'metadata: {name: sa}', '---', 'apiVersion: v1', 'kind: ServiceAccount', 'metadata: {name: sa, namespace: default}');
    expect(loadManifests([{ file: 'sa.yaml', text }]).issues.map((i) => i.code)).toEqual(['default-namespace', 'duplicate-resource']);
  });
});

describe('resources', () => {
  it('null fields are dropped, as the API decoders treat them as unset', () => {
    const text = lines('apiVersion: networking.k8s.io/v1', 'kind: NetworkPolicy', 'metadata: {name: p, namespace: a, labels: }', 'spec:', '  podSelector:', '  policyTypes: [Ingress]');
    const { resources, issues } = loadManifests([{ file: 'p.yaml', text }]);
    expect(issues).toEqual([]);
    expect(resources[0]?.resource).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'p', namespace: 'a' },
      spec: { policyTypes: ['Ingress'] },
    });
  });

  it('loading is deterministic', () => {
    const inputs = [
      { file: 'policies.yaml', text: POLICIES },
      { file: 'mixed.yaml', text: MIXED },
      { file: 'good.yaml', text: GOOD },
    ];
    expect(loadManifests(inputs)).toEqual(loadManifests(inputs));
  });

  it('the quick-start shapes load cleanly', () => {
    const text = lines(
      'apiVersion: policy.networking.k8s.io/v1alpha1',
      'kind: AdminNetworkPolicy',
      'metadata:',
      '  name: allow-monitoring-scrape',
      'spec:',
      '  priority: 10',
      '  subject:',
      '    namespaces: {}',
      '  ingress:',
      '    - name: scrape-metrics',
      '      action: Allow',
      '      from:',
      '        - namespaces:',
      '            matchLabels:',
      '              kubernetes.io/metadata.name: monitoring',
      '      ports:',
      '        - portNumber: { protocol: TCP, port: 9090 }',
    );
    const result = loadManifests([{ file: 'anp.yaml', text }]);
    expect(result.issues).toEqual([]);
    expect(result.resources).toHaveLength(1);
  });
});

describe('YAML features kubectl accepts', () => {
  it('merge keys (<<) are applied, as sigs.k8s.io/yaml does', () => {
    const text = lines(
      'apiVersion: v1',
      'kind: Namespace',
      'metadata:',
      '  name: a',
      '  labels:',
      '    <<: &common {team: shop}',
      '    app: web',
    );
    const { resources, issues } = loadManifests([{ file: 'm.yaml', text }]);
    expect(issues).toEqual([]);
    expect(resources[0]?.resource.metadata.labels).toEqual({ team: 'shop', app: 'web' });
  });

  it('YAML 1.2 scalars: "on" and "yes" are strings, unquoted numbers are numbers', () => {
    const text = lines('apiVersion: v1', 'kind: Namespace', 'metadata:', '  name: a', '  labels: {enabled: on, version: 1.0}');
    expect(loadManifests([{ file: 'y.yaml', text }]).issues.map(formatIssue)).toEqual([
      'y.yaml:5:34: Namespace/a metadata.labels.version: must be a string, not the number 1 (quote the value to make it a string)',
    ]);
  });
});
