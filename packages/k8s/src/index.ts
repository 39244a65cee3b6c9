/**
 * @gingham/k8s: the Kubernetes API as a Gingham `Source` (supervised informers, Calico's CRDs,
 * automatic host endpoints), the node's WireGuard key write, and calicoctl-style reads.
 * Everything public is exported here; the test API server is in `@gingham/k8s/testing`.
 */
export { createKubernetesSource, type KubernetesSource, type KubernetesSourceOptions, type KubernetesSourceTiming, type KubernetesSourceLogEntry, type InformerStatus } from './kubernetes-source.js';
export type { InformerTiming, InformerState, InformerCounters } from './informer/informer.js';
export type { BackoffOptions } from './informer/backoff.js';
export { KubernetesError, isKubernetesError, type KubernetesErrorCode } from './errors.js';
export { loadKubeConfig, type LoadKubeConfigOptions } from './kubeconfig.js';
export { writeNodeWireguardKey, type WriteNodeWireguardKeyOptions, type WriteNodeWireguardKeyResult } from './wireguard-key.js';
export {
  readKubernetesResources,
  resolveKubernetesKind,
  type KubernetesKind,
  type ReadKubernetesOptions,
  type ReadKubernetesResult,
} from './reader.js';
