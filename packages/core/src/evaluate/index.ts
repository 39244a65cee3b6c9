/**
 * Evaluation: the reference verdict for a flow, with a trace, as Calico's dataplanes would
 * decide it. See docs/evaluation.md.
 */
export { evaluate, resolvePeer } from './evaluate.js';
export { explain, describeDecision } from './explain.js';
export { matrix, type MatrixPort } from './matrix.js';
export { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND, parseFailsafePorts } from './failsafe.js';
export { compareTiers, comparePoliciesInTier, policySortKey } from './snapshot-index.js';
export type {
  Decision,
  DecisionStage,
  DirectionTrace,
  EvaluateOptions,
  EvaluationResult,
  FailsafePort,
  EndpointToHostAction,
  Flow,
  FlowPeer,
  FlowSummary,
  FlowVia,
  MatrixCell,
  PolicyTrace,
  ProfileTrace,
  ResolvedPeer,
  RuleTrace,
  StageTrace,
  TierTrace,
  Trace,
  ViaTrace,
} from './types.js';
