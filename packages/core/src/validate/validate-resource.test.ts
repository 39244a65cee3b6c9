import { describe, expect, it } from 'vitest';
import { formatIssue } from '../model/issues.js';
import { formatPath } from './path.js';
import { validateResource } from './validate-resource.js';

const messages = (resource: unknown): string[] => validateResource(resource).map((i) => `${i.severity} ${i.code} ${i.path}: ${i.message}`);

describe('identity', () => {
  it('every supported kind validates with just a name', () => {
    const kinds: [string, string, object?][] = [
      ['projectcalico.org/v3', 'Tier'],
      ['projectcalico.org/v3', 'NetworkPolicy'],
      ['projectcalico.org/v3', 'GlobalNetworkPolicy'],
      ['projectcalico.org/v3', 'StagedNetworkPolicy'],
      ['projectcalico.org/v3', 'StagedGlobalNetworkPolicy'],
      ['projectcalico.org/v3', 'StagedKubernetesNetworkPolicy'],
      ['projectcalico.org/v3', 'NetworkSet'],
      ['projectcalico.org/v3', 'GlobalNetworkSet'],
      ['projectcalico.org/v3', 'HostEndpoint', { node: 'n', interfaceName: '*' }],
      ['projectcalico.org/v3', 'WorkloadEndpoint'],
      ['projectcalico.org/v3', 'Profile'],
      ['projectcalico.org/v3', 'Node'],
      ['v1', 'Namespace'],
      ['v1', 'Pod'],
      ['v1', 'ServiceAccount'],
      ['v1', 'Node'],
      ['networking.k8s.io/v1', 'NetworkPolicy', { podSelector: {} }],
      ['policy.networking.k8s.io/v1alpha1', 'AdminNetworkPolicy', { priority: 1, subject: { namespaces: {} } }],
      ['policy.networking.k8s.io/v1alpha1', 'BaselineAdminNetworkPolicy', { subject: { namespaces: {} } }],
      ['policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy', { tier: 'Admin', priority: 1, subject: { namespaces: {} } }],
    ];
    for (const [apiVersion, kind, spec] of kinds) {
      const name = kind === 'BaselineAdminNetworkPolicy' ? 'default' : 'x';
      expect(messages({ apiVersion, kind, metadata: { name }, ...(spec ? { spec } : {}) }), `${apiVersion} ${kind}`).toEqual([]);
    }
  });

  it('a manifest must be a mapping', () => {
    expect(messages(['a'])).toEqual(['error not-an-object : a manifest must be a mapping with apiVersion, kind and metadata']);
  });

  it('apiVersion and kind are required', () => {
    expect(messages({ metadata: { name: 'x' } })).toEqual(['error missing-api-version apiVersion: apiVersion is required', 'error missing-kind kind: kind is required']);
  });

  it('crd.projectcalico.org/v1 is refused with a pointer to projectcalico.org/v3', () => {
    expect(messages({ apiVersion: 'crd.projectcalico.org/v1', kind: 'GlobalNetworkPolicy', metadata: { name: 'x' } })).toEqual([
      "error unsupported-api-version apiVersion: crd.projectcalico.org/v1 is Calico's internal CRD storage API and is not accepted; write apiVersion: projectcalico.org/v3 (same kinds and fields)",
    ]);
  });

  it('unknown kinds list the supported kinds and suggest the closest', () => {
    expect(messages({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolcy', metadata: { name: 'x' } })).toEqual([
      'error unknown-kind kind: unknown kind "GlobalNetworkPolcy" for projectcalico.org/v3 (did you mean GlobalNetworkPolicy?); supported kinds: Tier, NetworkPolicy, GlobalNetworkPolicy, StagedNetworkPolicy, StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy, NetworkSet, GlobalNetworkSet, HostEndpoint, WorkloadEndpoint, Profile, Node',
    ]);
  });

  it('a kind under the wrong apiVersion names the right one', () => {
    expect(messages({ apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'AdminNetworkPolicy', metadata: { name: 'x' } })).toEqual([
      'error unknown-kind kind: kind AdminNetworkPolicy is not served by policy.networking.k8s.io/v1alpha2; use apiVersion policy.networking.k8s.io/v1alpha1',
    ]);
  });

  it('unknown apiVersions list every supported apiVersion and kind', () => {
    expect(messages({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } })).toEqual([
      'error unsupported-api-version apiVersion: unsupported apiVersion "apps/v1"; supported: projectcalico.org/v3 (Tier, NetworkPolicy, GlobalNetworkPolicy, StagedNetworkPolicy, StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy, NetworkSet, GlobalNetworkSet, HostEndpoint, WorkloadEndpoint, Profile, Node), v1 (Namespace, Pod, ServiceAccount, Node), networking.k8s.io/v1 (NetworkPolicy), policy.networking.k8s.io/v1alpha1 (AdminNetworkPolicy, BaselineAdminNetworkPolicy), policy.networking.k8s.io/v1alpha2 (ClusterNetworkPolicy)',
    ]);
  });

  it('a misspelt apiVersion of a known kind says which apiVersion serves it', () => {
    expect(messages({ apiVersion: 'projectcalico.org/v1', kind: 'GlobalNetworkPolicy', metadata: { name: 'x' } })).toEqual([
      'error unsupported-api-version apiVersion: unsupported apiVersion "projectcalico.org/v1" (did you mean projectcalico.org/v3?); kind GlobalNetworkPolicy is served by projectcalico.org/v3',
    ]);
  });

  it('names are required and generateName is not enough', () => {
    expect(messages({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-' } })).toEqual([
      'error missing-name metadata.name: metadata.name is required (generateName is not supported offline)',
    ]);
  });

  it('namespaces are DNS labels, and cluster-scoped kinds ignore them with a warning', () => {
    expect(messages({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'Shop' } })).toEqual([
      "error invalid-namespace metadata.namespace: namespace must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
    ]);
    expect(messages({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', namespace: 'x' } })).toEqual([
      'warning namespace-ignored metadata.namespace: this kind is cluster-scoped; metadata.namespace is ignored',
    ]);
  });
});

describe('field types and unknown fields', () => {
  it('unknown fields are warnings with a suggestion', () => {
    expect(messages({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'x' }, spec: { ingres: [], selectr: 'all()', zzz: 1 } })).toEqual([
      'warning unknown-field spec.ingres: unknown field "ingres"; did you mean "ingress"?',
      'warning unknown-field spec.selectr: unknown field "selectr"; did you mean "selector"?',
      'warning unknown-field spec.zzz: unknown field "zzz"',
    ]);
  });

  it('pods and nodes are open: their many other fields are not reported', () => {
    expect(messages({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { volumes: [], containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }] }] } })).toEqual([]);
  });

  it('wrong types are errors that say what was expected', () => {
    expect(
      messages({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet', metadata: { name: 'x', namespace: 'y', labels: { version: 1.5 } }, spec: { nets: '10.0.0.0/8' } }),
    ).toEqual([
      'error wrong-type metadata.labels.version: must be a string, not the number 1.5 (quote the value to make it a string)',
      'error wrong-type spec.nets: must be a list, not the string "10.0.0.0/8"',
    ]);
  });

  it('list items may not be null', () => {
    expect(messages({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: 'x' }, spec: { nets: [null] } })).toEqual([
      'error wrong-type spec.nets[0]: must be a string, not null',
    ]);
  });

  it('prototype keys are just unknown fields', () => {
    const spec = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}') as object;
    expect(messages({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 't' }, spec })).toEqual([
      'warning unknown-field spec.__proto__: unknown field "__proto__"',
      'warning unknown-field spec.constructor: unknown field "constructor"',
    ]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('metadata', () => {
  it('label keys and values follow Kubernetes rules', () => {
    expect(
      messages({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', labels: { '.mylabel': 'a', 'Example.com/x': 'b', ok: 'a'.repeat(64) } } }),
    ).toEqual([
      "error invalid-label metadata.labels[\".mylabel\"]: invalid label key \".mylabel\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
      "error invalid-label metadata.labels[\"Example.com/x\"]: invalid label key \"Example.com/x\": prefix part must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      `error invalid-label metadata.labels.ok: invalid label value "${'a'.repeat(64)}": must be no more than 63 characters`,
    ]);
  });

  it('annotations are at most 256 KiB in total', () => {
    const big = { a: 'x'.repeat(200 * 1024), b: 'y'.repeat(56 * 1024) };
    expect(messages({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', annotations: big } })).toEqual([
      'error invalid-annotation metadata.annotations: total size of annotations is too large by 2 bytes (at most 256 KiB)',
    ]);
  });
});

describe('output', () => {
  it('paths quote keys that are not identifiers', () => {
    expect(formatPath(['spec', 'ingress', 0, 'source', 'nets', 1])).toBe('spec.ingress[0].source.nets[1]');
    expect(formatPath(['metadata', 'labels', 'app.kubernetes.io/name'])).toBe('metadata.labels["app.kubernetes.io/name"]');
  });

  it('issues name the resource and take positions from the locator', () => {
    const issues = validateResource(
      { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'shop' }, spec: { ingress: [{ action: 'Nope' }] } },
      { file: 'x.yaml', at: (path) => ({ line: path.length, col: 7 }) },
    );
    expect(issues.map(formatIssue)).toEqual(['x.yaml:4:7: NetworkPolicy/shop/p spec.ingress[0].action: unsupported value "Nope": must be one of Allow, Deny, Log, Pass']);
  });
});
