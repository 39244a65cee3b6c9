/**
 * Conversion: external resources (Calico v3, Kubernetes, AdminNetworkPolicy/ClusterNetworkPolicy)
 * → the internal model. Pure and deterministic; see docs/conversion.md for every convention.
 */
export { buildSnapshot, type BuildSnapshotOptions, type BuildSnapshotResult } from './build-snapshot.js';
export type { ConvertOptions, Converted, SourceLocator, SourcePosition } from './report.js';
export { convertCalicoPolicy, defaultPolicyTypes, policyId, POLICY_ID_PREFIX } from './calico-policy.js';
export { convertKubernetesNetworkPolicy, k8sPolicyTypes, K8S_NETWORK_POLICY_ORDER } from './kubernetes-policy.js';
export {
  convertAdminNetworkPolicy,
  type AdminPolicyOptions,
  BASELINE_ADMIN_POLICY_ORDER,
  KUBE_ADMIN_TIER,
  KUBE_BASELINE_TIER,
} from './admin-policy.js';
export {
  convertKubernetesNode,
  convertNamespace,
  convertPod,
  convertServiceAccount,
  namespaceProfileName,
  serviceAccountProfileName,
  workloadInterfaceName,
} from './kubernetes-identity.js';
export {
  BUILTIN_TIERS,
  convertCalicoNode,
  convertGlobalNetworkSet,
  convertHostEndpoint,
  convertNetworkSet,
  convertProfile,
  convertTier,
  convertWorkloadEndpoint,
  DEFAULT_ALLOW_PROFILE,
} from './calico-resources.js';
export { labelSelectorToCalico } from './label-selector.js';
export { protocolNumber, protocolName } from './protocol.js';
export { compareBytewise } from './strings.js';
