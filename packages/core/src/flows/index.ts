export type { FlowAction, FlowEndpointType, FlowKey, FlowRecord, FlowReporter, PolicyHit, PolicyHitKind, PolicyHitTrigger, PolicyTraceHits } from './types.js';
export { formatPolicyHit, NO_MATCH, parsePolicyHit, policyKindOfShort, policyKindShort, PROFILE_TIER, type ParsedPolicyHit } from './policy-hit.js';
export { directionHits, policyIdentity, policyTraceHits, reporterAction } from './trace-hits.js';
export { parseFlowRecordLine, validateFlowRecord, type ParsedFlowRecord } from './flow-record.js';
export type { FlowConnectionUpdate, FlowDecision, FlowSink, FlowSource, FlowSourcePollOptions, FlowSourceStats, FlowVerdictEvent } from './source.js';
