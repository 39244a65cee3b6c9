/**
 * The kinds a datastore holds: Calico's `projectcalico.org/v3` kinds under their etcd plural
 * (libcalico-go `model/resource.go`) and the names calicoctl accepts for them
 * (`calicoctl/resourcemgr`), plus the Kubernetes kinds a directory of manifests may also hold.
 * Namespaced-ness follows libcalico-go `namespace.IsNamespaced` and must agree with core's kind
 * table (a unit test checks it).
 */
export const CALICO_API_VERSION = 'projectcalico.org/v3';

export interface KindInfo {
  readonly apiVersion: string;
  readonly kind: string;
  /**
   * Calico's lowercased plural: the etcd key segment (`/calico/resources/v3/projectcalico.org/<plural>/…`)
   * and the directory datastore's folder. Non-Calico kinds use `<plural>.<group>` (`core` for `v1`).
   */
  readonly plural: string;
  readonly namespaced: boolean;
  /** Names `gingham get` accepts, as calicoctl does (singular, plural, short forms), lower case. */
  readonly aliases: readonly string[];
  /** Storable in Calico's etcd layout. */
  readonly etcd: boolean;
  /** Written only by `gingham datastore init` (calicoctl refuses to apply, replace or delete it). */
  readonly initOnly?: boolean;
  /** Delivered by sources to the Engine (policy, identity and tiers); others are datastore metadata. */
  readonly enforced: boolean;
}

const calico = (kind: string, plural: string, namespaced: boolean, aliases: string[], extra: Partial<KindInfo> = {}): KindInfo => ({
  apiVersion: CALICO_API_VERSION,
  kind,
  plural,
  namespaced,
  aliases,
  etcd: true,
  enforced: true,
  ...extra,
});

const kube = (apiVersion: string, kind: string, plural: string, namespaced: boolean, aliases: string[]): KindInfo => ({
  apiVersion,
  kind,
  plural: `${plural}.${apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : 'core'}`,
  namespaced,
  aliases,
  etcd: false,
  enforced: true,
});

/** Every kind, Calico's first. */
export const KINDS: readonly KindInfo[] = [
  calico('Tier', 'tiers', false, ['tier', 'tiers']),
  calico('NetworkPolicy', 'networkpolicies', true, ['networkpolicy', 'networkpolicies', 'policy', 'np', 'policies', 'pol', 'pols']),
  calico('GlobalNetworkPolicy', 'globalnetworkpolicies', false, ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp', 'gnps']),
  calico('StagedNetworkPolicy', 'stagednetworkpolicies', true, ['stagednetworkpolicy', 'stagednetworkpolicies', 'stagedpolicy', 'snp', 'stagedpolicies', 'spol', 'spols']),
  calico('StagedGlobalNetworkPolicy', 'stagedglobalnetworkpolicies', false, ['stagedglobalnetworkpolicy', 'stagedglobalnetworkpolicies', 'sgnp', 'sgnps']),
  calico('StagedKubernetesNetworkPolicy', 'stagedkubernetesnetworkpolicies', true, [
    'stagedkubernetesnetworkpolicy',
    'stagedkubernetesnetworkpolicies',
    'stagedkubernetespolicy',
    'sknp',
    'stagedkubernetespolicies',
    'skpol',
    'skpols',
  ]),
  calico('NetworkSet', 'networksets', true, ['networkset', 'networksets', 'netsets']),
  calico('GlobalNetworkSet', 'globalnetworksets', false, ['globalnetworkset', 'globalnetworksets', 'gnetsets']),
  calico('HostEndpoint', 'hostendpoints', false, ['hostendpoint', 'hostendpoints', 'hep', 'heps']),
  calico('WorkloadEndpoint', 'workloadendpoints', true, ['workloadendpoint', 'workloadendpoints', 'wep', 'weps']),
  calico('Profile', 'profiles', false, ['profile', 'profiles', 'pro', 'pros']),
  calico('Node', 'nodes', false, ['node', 'nodes', 'no', 'nos']),
  calico('ClusterInformation', 'clusterinformations', false, ['clusterinformation', 'clusterinformations', 'clusterinfo', 'clusterinfos'], {
    initOnly: true,
    enforced: false,
  }),
  kube('v1', 'Namespace', 'namespaces', false, ['namespace', 'namespaces', 'ns']),
  kube('v1', 'Pod', 'pods', true, ['pod', 'pods', 'po']),
  kube('v1', 'ServiceAccount', 'serviceaccounts', true, ['serviceaccount', 'serviceaccounts', 'sa']),
  kube('v1', 'Node', 'nodes', false, ['nodes.core', 'kubernetesnode', 'kubernetesnodes']),
  kube('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', true, ['networkpolicies.networking.k8s.io', 'networkpolicy.networking.k8s.io', 'kubernetesnetworkpolicy', 'kubernetesnetworkpolicies', 'knp']),
  kube('policy.networking.k8s.io/v1alpha1', 'AdminNetworkPolicy', 'adminnetworkpolicies', false, ['adminnetworkpolicy', 'adminnetworkpolicies', 'anp']),
  kube('policy.networking.k8s.io/v1alpha1', 'BaselineAdminNetworkPolicy', 'baselineadminnetworkpolicies', false, [
    'baselineadminnetworkpolicy',
    'baselineadminnetworkpolicies',
    'banp',
  ]),
  kube('policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy', 'clusternetworkpolicies', false, ['clusternetworkpolicy', 'clusternetworkpolicies', 'cnp']),
];

const BY_IDENTITY = new Map(KINDS.map((k) => [`${k.apiVersion} ${k.kind}`, k]));
const BY_PLURAL = new Map(KINDS.filter((k) => k.etcd).map((k) => [k.plural, k]));
const BY_ALIAS = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const a of [...k.aliases, k.kind.toLowerCase()]) if (!BY_ALIAS.has(a)) BY_ALIAS.set(a, k);
}

/** The kind of `apiVersion`/`kind`, when a datastore can hold it. */
export function kindOf(apiVersion: string, kind: string): KindInfo | undefined {
  return BY_IDENTITY.get(`${apiVersion} ${kind}`);
}

/** The Calico kind stored under an etcd plural segment (`networkpolicies` → NetworkPolicy). */
export function kindOfPlural(plural: string): KindInfo | undefined {
  return BY_PLURAL.get(plural);
}

/**
 * A kind as a person types it (`gingham get pol`, `networkpolicies`, `GlobalNetworkPolicy`,
 * `networkpolicy.projectcalico.org`), case-insensitive; undefined when unknown.
 */
export function resolveKind(text: string): KindInfo | undefined {
  const t = text.trim().toLowerCase();
  const direct = BY_ALIAS.get(t);
  if (direct) return direct;
  for (const group of ['.projectcalico.org', '.crd.projectcalico.org']) {
    if (t.endsWith(group)) {
      const k = BY_ALIAS.get(t.slice(0, -group.length));
      if (k?.apiVersion === CALICO_API_VERSION) return k;
    }
  }
  return undefined;
}
