/**
 * The Kubernetes APIs the source reads: group, version, plural, kind and scope of each, and the
 * paths the API server serves them at. Core `v1` kinds are always served; every other API is
 * optional (detected through discovery, reported when absent, never a crash).
 */

export interface ApiResource {
  /** `plural` for core kinds, `plural.group` otherwise (kubectl's resource.group naming). */
  readonly id: string;
  /** `''` for the core API. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

const resource = (group: string, version: string, plural: string, kind: string, namespaced: boolean): ApiResource => ({
  id: group === '' ? plural : `${plural}.${group}`,
  group,
  version,
  plural,
  kind,
  namespaced,
});

export const CALICO_CRD_GROUP = 'crd.projectcalico.org';
export const POLICY_API_GROUP = 'policy.networking.k8s.io';

/** Every API the source can watch, in the order they are listed at start. */
export const API_RESOURCES: readonly ApiResource[] = [
  resource('', 'v1', 'namespaces', 'Namespace', false),
  resource('', 'v1', 'serviceaccounts', 'ServiceAccount', true),
  resource('', 'v1', 'nodes', 'Node', false),
  resource('', 'v1', 'pods', 'Pod', true),
  resource('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true),
  resource(POLICY_API_GROUP, 'v1alpha1', 'adminnetworkpolicies', 'AdminNetworkPolicy', false),
  resource(POLICY_API_GROUP, 'v1alpha1', 'baselineadminnetworkpolicies', 'BaselineAdminNetworkPolicy', false),
  resource(POLICY_API_GROUP, 'v1alpha2', 'clusternetworkpolicies', 'ClusterNetworkPolicy', false),
  resource(CALICO_CRD_GROUP, 'v1', 'tiers', 'Tier', false),
  resource(CALICO_CRD_GROUP, 'v1', 'globalnetworkpolicies', 'GlobalNetworkPolicy', false),
  resource(CALICO_CRD_GROUP, 'v1', 'networkpolicies', 'NetworkPolicy', true),
  resource(CALICO_CRD_GROUP, 'v1', 'stagedglobalnetworkpolicies', 'StagedGlobalNetworkPolicy', false),
  resource(CALICO_CRD_GROUP, 'v1', 'stagednetworkpolicies', 'StagedNetworkPolicy', true),
  resource(CALICO_CRD_GROUP, 'v1', 'stagedkubernetesnetworkpolicies', 'StagedKubernetesNetworkPolicy', true),
  resource(CALICO_CRD_GROUP, 'v1', 'globalnetworksets', 'GlobalNetworkSet', false),
  resource(CALICO_CRD_GROUP, 'v1', 'networksets', 'NetworkSet', true),
  resource(CALICO_CRD_GROUP, 'v1', 'hostendpoints', 'HostEndpoint', false),
];

/** `v1` or `group/version`. */
export function groupVersion(r: Pick<ApiResource, 'group' | 'version'>): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** The discovery path of a group/version: `/api/v1` or `/apis/<group>/<version>`. */
export function groupVersionPath(r: Pick<ApiResource, 'group' | 'version'>): string {
  return r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
}

/** The collection path, cluster-wide or in one namespace. */
export function collectionPath(r: ApiResource, namespace?: string): string {
  const ns = r.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${groupVersionPath(r)}${ns}/${r.plural}`;
}

/** The path of one object. */
export function objectPath(r: ApiResource, name: string, namespace?: string): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
}

/** The resource with this id (`pods`, `networkpolicies.networking.k8s.io`, …). */
export function apiResourceById(id: string): ApiResource | undefined {
  return API_RESOURCES.find((r) => r.id === id);
}

/** Core v1 kinds must be served; everything else may be absent. */
export function isOptionalApi(r: ApiResource): boolean {
  return r.group !== '';
}
