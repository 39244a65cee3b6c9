/**
 * @gingham/k8s: the Kubernetes API as a Gingham `Source` (supervised informers, Calico's CRDs,
 * automatic host endpoints), the node's WireGuard key write, and calicoctl-style reads.
 * Everything public is exported here; the test API server is in `@gingham/k8s/testing`.
 */
export { createKubernetesSource, type KubernetesSource, type KubernetesSourceOptions, type KubernetesSourceTiming, type KubernetesSourceLogEntry, type InformerStatus } from './kubernetes-source.js';
export { DEFAULT_TIMING, type InformerTiming, type InformerState, type InformerCounters } from './informer/informer.js';
export type { BackoffOptions } from './informer/backoff.js';
export { KubernetesError, isKubernetesError, type KubernetesErrorCode } from './errors.js';
export { loadKubeConfig, type LoadKubeConfigOptions } from './kubeconfig.js';
export { API_RESOURCES, apiResourceById, groupVersion, type ApiResource } from './api/resource-types.js';
export { writeNodeWireguardKey, type WriteNodeWireguardKeyOptions, type WriteNodeWireguardKeyResult } from './wireguard-key.js';
export { calicoResourceFromCrd, restorePolicyName, CALICO_METADATA_ANNOTATION } from './reduce/calico-crd.js';
export {
  autoHostEndpoint,
  calicoNodeFromKubernetesNode,
  nodeFacts,
  ANNOTATION_WIREGUARD_PUBLIC_KEY,
  ANNOTATION_WIREGUARD_PUBLIC_KEY_V6,
  CREATED_BY_LABEL,
  CREATED_BY_KUBE_CONTROLLERS,
} from './reduce/calico-node.js';
export {
  readKubernetesResources,
  resolveKubernetesKind,
  workloadEndpointName,
  KUBERNETES_KINDS,
  type KubernetesKind,
  type ReadKubernetesOptions,
  type ReadKubernetesResult,
} from './reader.js';
