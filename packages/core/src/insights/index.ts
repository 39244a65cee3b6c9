/**
 * Insights over flow records: simulated flow logs, policy recommendation, staged-policy preview,
 * the service graph and compliance reports. Pure analyses returning data; rendering lives with
 * the callers (the CLI).
 */
export { aggregatedName, addressSide, endpointSide, flowLogRecords, isPrivateAddress, PRIVATE_NETWORKS, type FlowLogOptions, type FlowObservation, type FlowSide } from './flow-log.js';
export {
  createRecommender,
  recommendPolicies,
  recommendationClosure,
  verifyRecommendation,
  withRecommendations,
  DEFAULT_EXCLUDED_NAMESPACES,
  RECOMMENDATION_ANNOTATIONS,
  RECOMMENDATION_TIER,
  type NamespaceRecommendation,
  type RecommendationCheck,
  type RecommendationClosure,
  type RecommendationStatus,
  type RecommendOptions,
  type RecommendResult,
  type Recommender,
  type RuleScope,
} from './recommend.js';
export { formatRfc3339, parseRfc3339 } from './time.js';
export { createFlowPreview, previewFlows, type FlowPreview, type PreviewGroup, type PreviewOptions, type PreviewOutcome, type PreviewSummary, type PreviewVerdict, type RecordPreview } from './preview.js';
export type { ResolvedSide } from './flow-peers.js';
export { createServiceGraph, serviceGraph, type GraphEdge, type GraphFlow, type GraphNode, type GraphNodeKind, type GraphStats, type ServiceGraph, type ServiceGraphBuilder, type ServiceGraphOptions } from './service-graph.js';
export { complianceReport, type ComplianceOptions, type ComplianceReport, type ComplianceReportType, type ComplianceSummary, type EndpointCompliance, type ExposureWitnesses, type NamespaceCompliance, type PeerTraffic } from './compliance.js';
