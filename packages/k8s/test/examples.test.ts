/**
 * examples/kubernetes stays in step with what the source reads: the ClusterRole grants list and
 * watch on exactly the APIs the source watches, get on nodes, patch on nodes/status, and no
 * other verb; the DaemonSet runs the agent on the Kubernetes datastore as that ServiceAccount.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_RESOURCES } from '../src/api/resource-types.js';

const dir = new URL('../../../examples/kubernetes/', import.meta.url);
const docs = (file: string): Record<string, unknown>[] => parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map((d) => d.toJSON() as Record<string, unknown>);

describe('examples/kubernetes', () => {
  const rbac = docs('rbac.yaml');
  const role = rbac.find((d) => d['kind'] === 'ClusterRole') as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };

  it('the ClusterRole is least privilege: list/watch of every API the source reads, get nodes, patch nodes/status, nothing else', () => {
    const grants = new Set(role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))));
    const wanted = new Set([...API_RESOURCES.flatMap((r) => [`${r.group}/${r.plural}:list`, `${r.group}/${r.plural}:watch`]), '/nodes:get', '/nodes/status:patch']);
    expect([...grants].sort()).toEqual([...wanted].sort());
    expect(JSON.stringify(role)).not.toContain('*');
  });

  it('binds the role to the agent ServiceAccount the DaemonSet runs as, running gingham agent --datastore kubernetes', () => {
    const binding = rbac.find((d) => d['kind'] === 'ClusterRoleBinding') as { subjects: { name: string; namespace: string }[] };
    const ds = docs('daemonset.yaml')[0] as { metadata: { namespace: string }; spec: { template: { spec: { serviceAccountName: string; containers: { args: string[] }[] } } } };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: ds.spec.template.spec.serviceAccountName, namespace: ds.metadata.namespace }]);
    expect(ds.spec.template.spec.containers[0]!.args.slice(0, 3)).toEqual(['agent', '--datastore', 'kubernetes']);
  });

  it('the admission policy applies to that ServiceAccount and checks the node name and annotations', () => {
    const [policy, binding] = docs('admission-policy.yaml') as [{ spec: { matchConditions: { expression: string }[]; validations: { expression: string }[] } }, { spec: { policyName: string; validationActions: string[] } }];
    expect(policy.spec.matchConditions[0]!.expression).toContain('system:serviceaccount:gingham-system:gingham-agent');
    expect(policy.spec.validations.map((v) => v.expression).join('\n')).toMatch(/authentication\.kubernetes\.io\/node-name|ownNode/);
    expect(binding.spec.validationActions).toEqual(['Deny']);
  });
});
