/**
 * calicoctl's view of a Kubernetes-datastore cluster, read through the source: one kind at a
 * time, listed by the informers that kind needs, then shown as calicoctl shows it in
 * Kubernetes-datastore mode (`DATASTORE_TYPE=kubernetes`):
 *   - Calico's own kinds from their `crd.projectcalico.org/v1` objects, as `projectcalico.org/v3`;
 *   - WorkloadEndpoints derived from pods (`<node>-k8s-<pod>-eth0`, dashes doubled), Profiles
 *     from namespaces (`kns.<ns>`) and service accounts (`ksa.<ns>.<sa>`) plus the built-in
 *     `projectcalico-default-allow`, Nodes as Calico's view of Kubernetes Nodes, automatic host
 *     endpoints (opt-in) next to the stored ones;
 *   - the Kubernetes kinds (pods, namespaces, NetworkPolicies, admin network policies) as
 *     stored, without managedFields.
 * Read-only.
 */
import { convertNamespace, convertPod, convertServiceAccount, protocolName, type Resource } from '@gingham/core';
import type { KubeConfig } from '@kubernetes/client-node';
import { createKubernetesSource } from './kubernetes-source.js';
import { DEFAULT_ALLOW_PROFILE_NAME } from './reduce/calico-node.js';

export interface KubernetesKind {
  /** The kind shown (`WorkloadEndpoint`, `NetworkPolicy`, …). */
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
  /** Names calicoctl/kubectl accept, lower-case: singular, plural, short. */
  readonly names: readonly string[];
  /** The source's API ids this kind is read from. */
  readonly sources: readonly string[];
}

const CALICO = 'projectcalico.org/v3';
const crd = (plural: string): string => `${plural}.crd.projectcalico.org`;
const k = (kind: string, apiVersion: string, namespaced: boolean, names: string[], sources: string[]): KubernetesKind => ({ kind, apiVersion, namespaced, names, sources });

/** The kinds `gingham get --datastore kubernetes` shows. */
export const KUBERNETES_KINDS: readonly KubernetesKind[] = [
  k('NetworkPolicy', CALICO, true, ['networkpolicy', 'networkpolicies', 'np', 'pol', 'policy', 'policies'], [crd('networkpolicies')]),
  k('GlobalNetworkPolicy', CALICO, false, ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp'], [crd('globalnetworkpolicies')]),
  k('StagedNetworkPolicy', CALICO, true, ['stagednetworkpolicy', 'stagednetworkpolicies', 'snp'], [crd('stagednetworkpolicies')]),
  k('StagedGlobalNetworkPolicy', CALICO, false, ['stagedglobalnetworkpolicy', 'stagedglobalnetworkpolicies', 'sgnp'], [crd('stagedglobalnetworkpolicies')]),
  k('StagedKubernetesNetworkPolicy', CALICO, true, ['stagedkubernetesnetworkpolicy', 'stagedkubernetesnetworkpolicies', 'sknp'], [crd('stagedkubernetesnetworkpolicies')]),
  k('Tier', CALICO, false, ['tier', 'tiers'], [crd('tiers')]),
  k('NetworkSet', CALICO, true, ['networkset', 'networksets', 'netset', 'netsets'], [crd('networksets')]),
  k('GlobalNetworkSet', CALICO, false, ['globalnetworkset', 'globalnetworksets', 'gnetset', 'gnetsets'], [crd('globalnetworksets')]),
  k('HostEndpoint', CALICO, false, ['hostendpoint', 'hostendpoints', 'hep', 'heps'], [crd('hostendpoints'), 'nodes']),
  k('WorkloadEndpoint', CALICO, true, ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'], ['pods']),
  k('Profile', CALICO, false, ['profile', 'profiles', 'pro', 'pros'], ['namespaces', 'serviceaccounts']),
  k('Node', CALICO, false, ['node', 'nodes', 'no'], ['nodes']),
  k('Namespace', 'v1', false, ['namespace', 'namespaces', 'ns'], ['namespaces']),
  k('Pod', 'v1', true, ['pod', 'pods', 'po'], ['pods']),
  k('ServiceAccount', 'v1', true, ['serviceaccount', 'serviceaccounts', 'sa'], ['serviceaccounts']),
  k('NetworkPolicy', 'networking.k8s.io/v1', true, ['kubernetesnetworkpolicy', 'kubernetesnetworkpolicies', 'knp'], ['networkpolicies.networking.k8s.io']),
  k('AdminNetworkPolicy', 'policy.networking.k8s.io/v1alpha1', false, ['adminnetworkpolicy', 'adminnetworkpolicies', 'anp'], ['adminnetworkpolicies.policy.networking.k8s.io']),
  k('BaselineAdminNetworkPolicy', 'policy.networking.k8s.io/v1alpha1', false, ['baselineadminnetworkpolicy', 'baselineadminnetworkpolicies', 'banp'], ['baselineadminnetworkpolicies.policy.networking.k8s.io']),
  k('ClusterNetworkPolicy', 'policy.networking.k8s.io/v1alpha2', false, ['clusternetworkpolicy', 'clusternetworkpolicies', 'cnp'], ['clusternetworkpolicies.policy.networking.k8s.io']),
];

/** The kind a name (`wep`, `globalnetworkpolicies`, `KNP`…) stands for. */
export function resolveKubernetesKind(name: string): KubernetesKind | undefined {
  const n = name.toLowerCase();
  return KUBERNETES_KINDS.find((x) => x.names.includes(n));
}

export interface ReadKubernetesOptions {
  readonly kubeConfig?: KubeConfig;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly kind: KubernetesKind;
  /** Only this namespace (namespaced kinds). */
  readonly namespace?: string;
  /** Only this name. */
  readonly name?: string;
  /** Show automatic host endpoints derived from Nodes (as the agent with autoHostEndpoints enforces them). */
  readonly autoHostEndpoints?: boolean;
  /** Give up when not in sync after this long (default 30 s). */
  readonly timeoutMs?: number;
}

export interface ReadKubernetesResult {
  /** Sorted by namespace, then name. */
  readonly items: Resource[];
  /** The newest resourceVersion seen. */
  readonly revision?: string;
  /** Objects skipped as invalid, and APIs not served. */
  readonly problems: readonly { readonly where: string; readonly message: string }[];
}

/** Lists one kind as calicoctl shows it in Kubernetes-datastore mode. */
export async function readKubernetesResources(options: ReadKubernetesOptions): Promise<ReadKubernetesResult> {
  const source = createKubernetesSource({
    ...(options.kubeConfig ? { kubeConfig: options.kubeConfig } : {}),
    ...(options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : {}),
    ...(options.context !== undefined ? { context: options.context } : {}),
    resources: options.kind.sources,
    autoHostEndpoints: options.autoHostEndpoints === true,
    fullMetadata: true,
    timing: { resyncPeriodMs: 0, discoveryIntervalMs: 0 },
  });
  try {
    await source.start(() => undefined);
    await source.synced(options.timeoutMs ?? 30_000);
    const status = source.status();
    const problems = [
      ...status.problems.map((p) => ({ where: p.where, message: p.message })),
      ...source
        .informers()
        .filter((i) => i.state === 'absent')
        .map((i) => ({ where: i.resource, message: `${i.apiVersion} ${i.kind} is not served by this cluster (its CRD or API is not installed)` })),
    ];
    const items = view(options.kind, source.resources())
      .filter((r) => options.namespace === undefined || !options.kind.namespaced || r.metadata.namespace === options.namespace)
      .filter((r) => options.name === undefined || r.metadata.name === options.name)
      .sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name));
    return { items, ...(status.revision !== undefined ? { revision: status.revision } : {}), problems };
  } finally {
    await source.close();
  }
}

function view(kind: KubernetesKind, held: Resource[]): Resource[] {
  switch (kind.apiVersion === CALICO ? kind.kind : '') {
    case 'WorkloadEndpoint':
      return held.filter((r) => r.kind === 'Pod').flatMap((p) => workloadEndpointOf(p) ?? []);
    case 'Profile':
      return [defaultAllowProfile(), ...held.flatMap((r) => profileOf(r) ?? [])];
    case 'Node':
    case 'HostEndpoint':
      return held.filter((r) => r.apiVersion === CALICO && r.kind === kind.kind);
    default:
      return held.filter((r) => r.apiVersion === kind.apiVersion && r.kind === kind.kind);
  }
}

/** libcalico-go's WorkloadEndpoint name: `<node>-k8s-<pod>-<endpoint>`, each part's dashes doubled. */
export function workloadEndpointName(node: string, pod: string, endpoint = 'eth0'): string {
  const esc = (s: string): string => s.replace(/-/g, '--');
  return `${esc(node)}-k8s-${esc(pod)}-${esc(endpoint)}`;
}

function workloadEndpointOf(pod: Resource): Resource | undefined {
  const w = convertPod(pod as Parameters<typeof convertPod>[0]).value;
  if (!w) return undefined;
  return {
    apiVersion: CALICO,
    kind: 'WorkloadEndpoint',
    metadata: {
      name: workloadEndpointName(w.node, w.name),
      namespace: w.namespace,
      labels: { ...w.labels },
      ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
    },
    spec: {
      orchestrator: 'k8s',
      node: w.node,
      pod: w.name,
      endpoint: 'eth0',
      ...(w.serviceAccount ? { serviceAccountName: w.serviceAccount } : {}),
      ipNetworks: [...w.addresses],
      profiles: [...w.profiles],
      interfaceName: w.interfaceName,
      ...(w.ports.length > 0 ? { ports: w.ports.map((p) => ({ name: p.name, protocol: protocolName(p.protocol), port: p.port })) } : {}),
    },
  };
}

function profileOf(r: Resource): Resource | undefined {
  if (r.apiVersion !== 'v1' || (r.kind !== 'Namespace' && r.kind !== 'ServiceAccount')) return undefined;
  const p = (r.kind === 'Namespace' ? convertNamespace(r) : convertServiceAccount(r)).value;
  if (!p) return undefined;
  const allow = [{ action: 'Allow' }];
  return {
    apiVersion: CALICO,
    kind: 'Profile',
    metadata: { name: p.name },
    spec: { ...(r.kind === 'Namespace' ? { ingress: allow, egress: allow } : {}), labelsToApply: { ...p.labelsToApply } },
  };
}

function defaultAllowProfile(): Resource {
  return { apiVersion: CALICO, kind: 'Profile', metadata: { name: DEFAULT_ALLOW_PROFILE_NAME }, spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] } };
}
