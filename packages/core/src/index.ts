/**
 * @gingham/core: the pure policy core. No I/O, no `node:` imports, no clocks, no randomness.
 * Everything public is exported here and only here.
 */
export { GinghamError } from './errors.js';
export type * from './model/types.js';
export type * from './model/resources.js';
export type { Issue } from './model/issues.js';
export { formatIssue } from './model/issues.js';
export { base64UrlNoPad, makeUniqueId, sha1, sha224, sha256, toHex, utf8 } from './hash/index.js';

// Selector language (Calico grammar, canonical form, unique ids, compiled matchers).
export {
  parseSelector,
  validateSelector,
  selectorAll,
  selectorFromAst,
  clearSelectorCache,
  selectorCacheSize,
  SELECTOR_CACHE_LIMIT,
  SelectorParseError,
  parseSelectorAst,
  MAX_SELECTOR_NESTING,
  printSelector,
  quoteLiteral,
  compileSelector,
  interpretSelector,
  computeLabelRestrictions,
  labelRestrictionsSatisfiable,
  labelsSatisfyRestrictions,
  prefixSelectorLabels,
  prefixSelectorAst,
  andSelectors,
  orSelectors,
  MAX_LABEL_LENGTH,
  isValidLabelName,
  compareUtf8,
  toStringSet,
  makeAll,
  makeGlobal,
  makeHas,
  makeComparison,
  makeSet,
  makeNot,
  makeAndOr,
} from './selector/index.js';
export type {
  Selector,
  SelectorValidation,
  SelectorInput,
  LabelMatcher,
  LabelRestriction,
  LabelRestrictions,
  SelectorNode,
  AllNode,
  GlobalNode,
  HasNode,
  ComparisonKind,
  ComparisonNode,
  SetNode,
  NotNode,
  AndOrNode,
  LabelNode,
} from './selector/index.js';

// Loading manifests (text in, resources with positions out) and validation.
export {
  loadManifests,
  DEFAULT_LIMITS,
  type LoadInput,
  type LoadedResource,
  type LoadResult,
  type LoadOptions,
  readManifestPaths,
  ManifestPathError,
  MANIFEST_FILE_PATTERN,
  type ManifestFs,
} from './load/index.js';
export {
  validateResource,
  resourceDisplayName,
  SUPPORTED_KINDS,
  SUPPORTED_API_VERSIONS,
  formatPath,
  type ValidateOptions,
  type SupportedKind,
  type FieldPath,
  type PathSegment,
  type Locate,
  type Position,
} from './validate/index.js';

// IP addresses and CIDRs (Go's parsing rules, canonical text, containment).
export {
  parseIp,
  parseIpStrict,
  parseCidr,
  parseWrittenCidr,
  isStrictlyMasked,
  makeCidr,
  formatIp,
  formatCidr,
  canonicalCidr,
  canonicalHostCidr,
  canonicalIp,
  cidrContains,
  cidrContainsCidr,
  hostPrefix,
  type IpAddr,
  type Cidr,
  type WrittenCidr,
} from './net/cidr.js';
export { parseIpAddrJson } from './net/ip-addr-json.js';

// Conversion of every input format into the internal model.
export {
  buildSnapshot,
  type BuildSnapshotOptions,
  type BuildSnapshotResult,
  type ConvertOptions,
  type Converted,
  type SourceLocator,
  type SourcePosition,
  convertCalicoPolicy,
  convertKubernetesNetworkPolicy,
  convertAdminNetworkPolicy,
  type AdminPolicyOptions,
  convertNamespace,
  convertServiceAccount,
  convertPod,
  convertKubernetesNode,
  convertCalicoNode,
  convertWorkloadEndpoint,
  convertHostEndpoint,
  convertNetworkSet,
  convertGlobalNetworkSet,
  convertProfile,
  convertTier,
  BUILTIN_TIERS,
  DEFAULT_ALLOW_PROFILE,
  KUBE_ADMIN_TIER,
  KUBE_BASELINE_TIER,
  K8S_NETWORK_POLICY_ORDER,
  BASELINE_ADMIN_POLICY_ORDER,
  policyId,
  POLICY_ID_PREFIX,
  defaultPolicyTypes,
  k8sPolicyTypes,
  labelSelectorToCalico,
  namespaceProfileName,
  serviceAccountProfileName,
  workloadInterfaceName,
  protocolNumber,
  protocolName,
  compareBytewise,
} from './convert/index.js';

// The reference semantics: evaluate(), explain(), matrix().
export {
  evaluate,
  resolvePeer,
  explain,
  describeDecision,
  matrix,
  type MatrixPort,
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  parseFailsafePorts,
  compareTiers,
  comparePoliciesInTier,
  policySortKey,
  type Decision,
  type DecisionStage,
  type DirectionTrace,
  type EvaluateOptions,
  type EvaluationResult,
  type FailsafePort,
  type EndpointToHostAction,
  type Flow,
  type FlowPeer,
  type FlowSummary,
  type FlowVia,
  type MatrixCell,
  type PolicyTrace,
  type ProfileTrace,
  type ResolvedPeer,
  type RuleTrace,
  type StageTrace,
  type TierTrace,
  type Trace,
  type ViaTrace,
} from './evaluate/index.js';

// The dataplane contract, the do-nothing and recording dataplanes, and the model dataplane.
export {
  NoopDataplane,
  RecordingDataplane,
  modelVerdict,
  applyMessage,
  canonicalDataplaneState,
  emptyDataplaneState,
  endpointPolicyIds,
  ruleIpSetIds,
  protoText,
} from './dataplane/index.js';
export type {
  Dataplane,
  DataplaneMessage,
  DataplaneMessageKind,
  CompiledPolicy,
  CompiledProfile,
  CompiledRule,
  CompiledSide,
  PortRange,
  IpSetType,
  TierRef,
  WorkloadEndpointState,
  HostEndpointState,
  HostEndpointBinding,
  HostMetadataState,
  FailsafeEntry,
  DataplaneState,
  IpSetState,
  RecordingDataplaneOptions,
  ModelVerdict,
  ModelDirectionVerdict,
  ModelOptions,
} from './dataplane/index.js';

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
export { createEngine, enforceOnce, LabelIndex, namedPortSetId } from './engine/index.js';
export type { Engine, EngineOptions, EngineStats, EnforceOnceOptions } from './engine/index.js';
