/**
 * Analysis over equivalence classes: exact change previews (`diffSnapshots`) and reachability
 * (`reachability`), both computed with `evaluate()`'s semantics. See docs/lifecycle.md.
 */
export { diffSnapshots } from './diff.js';
export { reachability } from './reachability.js';
export { formatDiff, formatReachability, groupChanges, peerGroup, workloadPrefix } from './report.js';
export type {
  ChangeGroup,
  DiffOptions,
  DiffResult,
  DiffStats,
  FlowChange,
  L4Spec,
  PeerQuery,
  PeerSet,
  PortQuery,
  NumberRange,
  ProtocolRef,
  ReachabilityOptions,
  ReachabilityResult,
  ReachablePath,
  VerdictSummary,
} from './types.js';
