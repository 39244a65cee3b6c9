/**
 * @gingham/testkit: deterministic synthetic clusters (`generateCluster`) and fast-check
 * arbitraries for small random clusters and update streams.
 */
export { generateCluster, nodeIp, nodeName, podIp, type Cluster, type ClusterOptions } from './generate-cluster.js';
export {
  applyOps,
  arbCalicoPolicy,
  arbCluster,
  arbFlow,
  arbFlowPeer,
  arbGlobalPolicy,
  arbHostPolicy,
  arbHostEndpoint,
  arbKubernetesPolicy,
  arbNamespace,
  arbNode,
  arbNetworkSet,
  arbPod,
  arbProfile,
  arbResource,
  arbTier,
  arbUpdateStream,
  arbVia,
  dedupe,
  deleteOp,
  NAMESPACES,
  NODES,
  OUTSIDE_ADDRESSES,
  resourceIdentity,
  type ClusterOp,
} from './arbitraries.js';
export { Prng } from './prng.js';
export { propRuns } from './prop-runs.js';
