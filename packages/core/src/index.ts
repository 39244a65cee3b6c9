/**
 * @gingham/core: the pure policy core. No I/O, no `node:` imports, no clocks, no randomness.
 * Everything public is exported here and only here, by name: what users of the SDK and the
 * adapters (dataplanes, sources, the CLI) need, and nothing that exists only to build it.
 */
export { GinghamError } from './errors.js';

// Resources as written (projectcalico.org/v3 and the Kubernetes kinds) and the model they convert into.
export type {
  AnpSpec,
  ClusterNetworkPolicySpec,
  K8sNetworkPolicySpec,
  LabelSelector,
  ObjectMeta,
  Resource,
  V3EntityRule,
  V3HostEndpointSpec,
  V3NetworkSetSpec,
  V3NodeSpec,
  V3PolicySpec,
  V3ProfileSpec,
  V3Rule,
  V3TierSpec,
  V3WorkloadEndpointSpec,
} from './model/resources.js';
// The model every input converts into (the shape of a Snapshot), every type by name.
export type {
  Direction,
  Endpoint,
  EndpointPort,
  EntityMatch,
  HostEndpoint,
  IcmpMatch,
  IpVersion,
  Labels,
  NetworkSet,
  NodeInfo,
  Policy,
  PolicyKind,
  PolicyType,
  PortMatch,
  Profile,
  ProtocolMatch,
  Rule,
  RuleAction,
  Snapshot,
  StagedAction,
  Tier,
  TierDefaultAction,
  WorkloadEndpoint,
} from './model/types.js';
export { formatIssue, type Issue } from './model/issues.js';

// Selector language (Calico grammar, canonical form, unique ids, compiled matchers).
export {
  andSelectors,
  labelRestrictionsSatisfiable,
  orSelectors,
  parseSelector,
  prefixSelectorLabels,
  selectorAll,
  SelectorParseError,
  validateSelector,
  type LabelRestriction,
  type LabelRestrictions,
  type Selector,
  type SelectorInput,
  type SelectorNode,
  type SelectorValidation,
} from './selector/index.js';

// Loading manifests (bounded reading of paths, text in, resources with positions out) and validation.
export {
  decodeUtf8,
  DEFAULT_LIMITS,
  describeRefusal,
  loadManifests,
  MANIFEST_FILE_PATTERN,
  readManifestPaths,
  type LoadedResource,
  type LoadInput,
  type LoadOptions,
  type LoadResult,
  type ManifestFileHandle,
  type ManifestFs,
  type ManifestPathsResult,
  type ManifestStat,
  type ReadManifestPathsOptions,
  type RefusalReason,
  type RefusedPath,
  type Utf8Result,
} from './load/index.js';
export {
  SUPPORTED_API_VERSIONS,
  SUPPORTED_KINDS,
  validateResource,
  type FieldPath,
  type Locate,
  type PathSegment,
  type Position,
  type SupportedKind,
  type ValidateOptions,
} from './validate/index.js';

// IP addresses and CIDRs (Go's parsing rules, canonical text, containment).
export { canonicalIp, cidrContains, formatIp, parseCidr, parseIp, parseIpStrict, type Cidr, type IpAddr } from './net/cidr.js';
export { parseIpAddrJson } from './net/ip-addr-json.js';

// Conversion of every input format into the internal model: the whole snapshot, or one resource.
export {
  buildSnapshot,
  convertAdminNetworkPolicy,
  convertCalicoNode,
  convertCalicoPolicy,
  convertGlobalNetworkSet,
  convertHostEndpoint,
  convertKubernetesNetworkPolicy,
  convertKubernetesNode,
  convertNamespace,
  convertNetworkSet,
  convertPod,
  convertProfile,
  convertServiceAccount,
  convertTier,
  convertWorkloadEndpoint,
  policyId,
  protocolName,
  protocolNumber,
  workloadInterfaceName,
  type AdminPolicyOptions,
  type BuildSnapshotOptions,
  type BuildSnapshotResult,
  type Converted,
  type ConvertOptions,
  type SourceLocator,
  type SourcePosition,
} from './convert/index.js';

// The reference semantics: evaluate(), explain(), matrix().
export {
  describeDecision,
  evaluate,
  explain,
  matrix,
  parseFailsafePorts,
  resolvePeer,
  type Decision,
  type DecisionStage,
  type DirectionTrace,
  type EndpointToHostAction,
  type EvaluateOptions,
  type EvaluationResult,
  type FailsafePort,
  type Flow,
  type FlowPeer,
  type FlowSummary,
  type FlowVia,
  type MatrixCell,
  type MatrixPort,
  type PolicyTrace,
  type ProfileTrace,
  type ResolvedPeer,
  type RuleTrace,
  type StageTrace,
  type TierTrace,
  type Trace,
  type ViaTrace,
} from './evaluate/index.js';

// Analysis: exact change previews and reachability over equivalence classes.
export {
  diffSnapshots,
  reachability,
  formatDiff,
  formatReachability,
  groupChanges,
  peerGroup,
  workloadPrefix,
  type ChangeGroup,
  type DiffOptions,
  type DiffResult,
  type DiffStats,
  type FlowChange,
  type L4Spec,
  type PeerQuery,
  type PeerSet,
  type PortQuery,
  type NumberRange,
  type ProtocolRef,
  type ReachabilityOptions,
  type ReachabilityResult,
  type ReachablePath,
  type VerdictSummary,
} from './analysis/index.js';

// The dataplane contract, the do-nothing and recording dataplanes, the model dataplane, and the
// rule that binds host endpoints to interfaces (one rule for every dataplane).
export {
  applyMessage,
  bindHostEndpoints,
  canonicalDataplaneState,
  emptyDataplaneState,
  modelVerdict,
  NoopDataplane,
  protoText,
  RecordingDataplane,
} from './dataplane/index.js';
export type {
  BindHostEndpointsOptions,
  CompiledPolicy,
  CompiledProfile,
  CompiledRule,
  CompiledSide,
  Dataplane,
  DataplaneMessage,
  DataplaneMessageKind,
  DataplaneState,
  FailsafeEntry,
  HostEndpointBinding,
  HostEndpointBindings,
  HostEndpointState,
  HostLink,
  HostMetadataState,
  IpSetState,
  IpSetType,
  ModelDirectionVerdict,
  ModelOptions,
  ModelVerdict,
  PortRange,
  RecordingDataplaneOptions,
  TierRef,
  WorkloadEndpointState,
} from './dataplane/index.js';

// Flow records in Calico's (Goldmane's) shape, policy-hit strings, hits from evaluate() traces.
export {
  directionHits,
  formatPolicyHit,
  parseFlowRecordLine,
  parsePolicyHit,
  policyTraceHits,
  reporterAction,
  validateFlowRecord,
  type FlowAction,
  type FlowEndpointType,
  type FlowKey,
  type FlowRecord,
  type FlowReporter,
  type ParsedFlowRecord,
  type ParsedPolicyHit,
  type PolicyHit,
  type PolicyHitKind,
  type PolicyHitTrigger,
  type PolicyTraceHits,
} from './flows/index.js';

// The Source port: how resources enter (files, a watched directory, etcd, Kubernetes, OpenStack).
export {
  applySourceMessages,
  createFilesSource,
  formatResourceKey,
  resourceKey,
  ResyncTracker,
  type FilesSource,
  type ResourceKey,
  type Source,
  type SourceMessage,
  type SourcePhase,
  type SourceProblem,
  type SourceSink,
  type SourceStatus,
} from './source/index.js';

// The Engine: incremental calculation graph from resource updates to one host's dataplane state.
export { createEngine, type Engine, type EngineOptions, type EngineStats } from './engine/index.js';
