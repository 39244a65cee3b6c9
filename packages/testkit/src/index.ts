/**
 * @gingham/testkit: property tests of a team's own policies (arbitraries over their snapshot,
 * assertions, loading manifests) and, for Gingham's own tests and benchmarks, deterministic
 * synthetic clusters (`generateCluster`) and arbitraries over a tiny universe. The vitest matchers
 * are a separate entry, `@gingham/testkit/vitest`, so that vitest is never required.
 */
// Property tests of your own policies.
export { arbFlowIn, type FlowArbOptions } from './arb-flow-in.js';
export { applyPolicyChange, arbPolicyChange, describePolicyChange, type PolicyChange, type PolicyChangeOptions } from './arb-policy-change.js';
export {
  assertAllows,
  assertDenies,
  assertIsolated,
  assertNoPath,
  assertOpensNothing,
  PolicyAssertionError,
  type FlowSpec,
  type PathQuery,
} from './assertions.js';
export { ManifestPathsError, ManifestsError, snapshotFromFiles, snapshotFromManifests } from './snapshot-from-files.js';
export { peerLabels, peerMatches } from './peer-labels.js';

// Synthetic clusters and arbitraries for Gingham's own tests and benchmarks.
export { generateCluster, nodeName, type Cluster, type ClusterOptions } from './generate-cluster.js';
export {
  applyOps,
  arbCalicoPolicy,
  arbCluster,
  arbFlow,
  arbGlobalPolicy,
  arbKubernetesPolicy,
  arbNamespace,
  arbNode,
  arbNetworkSet,
  arbPod,
  arbProfile,
  arbResource,
  arbTier,
  arbUpdateStream,
  dedupe,
  NAMESPACES,
  NODES,
  OUTSIDE_ADDRESSES,
  resourceIdentity,
  type ClusterOp,
} from './arbitraries.js';
export { Prng } from './prng.js';
export { propRuns } from './prop-runs.js';
