/**
 * From `evaluate()`'s trace to policy hits, as Felix's collector and its user-space checker
 * (`StagedAsEnforced`) produce them: per tier walked, the policy whose rule decided (Allow, Deny,
 * Pass) or, when no rule of an applied tier matched, an end-of-tier hit (rule -1) naming the
 * tier's first selecting policy with the tier's default action; then the profile that decided,
 * or a `__PROFILE__` deny at -1 when none did. Staged policies appear only in the pending trace;
 * a tier of only staged policies ends in Pass there. Failsafe verdicts have no policy hits.
 */
import type { DirectionTrace, EvaluationResult, PolicyTrace, TierTrace } from '../evaluate/types.js';
import { NO_MATCH, policyKindOfShort } from './policy-hit.js';
import type { FlowReporter, PolicyHit, PolicyHitKind, PolicyHitTrigger, PolicyTraceHits } from './types.js';

type Named = Pick<PolicyHitTrigger, 'kind' | 'name' | 'namespace'>;

/** `np/shop/db` → the hit's kind, namespace and name (Gingham's policy ids use Calico's short kinds). */
export function policyIdentity(policyId: string): Named {
  const [short, a, b] = policyId.split('/') as [string, string | undefined, string | undefined];
  const kind = (policyKindOfShort(short) ?? 'GlobalNetworkPolicy') as Exclude<PolicyHitKind, 'EndOfTier'>;
  return b === undefined ? { kind, namespace: '', name: a ?? policyId } : { kind, namespace: a ?? '', name: b };
}

const lower = (a: 'Allow' | 'Deny' | 'Pass'): 'allow' | 'deny' | 'pass' => (a === 'Allow' ? 'allow' : a === 'Deny' ? 'deny' : 'pass');

function tierHits(tier: TierTrace, out: PolicyHit[]): void {
  const decided = tier.policies.find((p) => p.result !== 'no-match');
  if (decided) {
    const rule = [...decided.rules].reverse().find((r) => r.matched && r.action !== 'Log');
    out.push({ ...policyIdentity(decided.policyId), tier: tier.tier, action: lower(decided.result as 'Allow' | 'Deny' | 'Pass'), policy_index: out.length, rule_index: rule?.index ?? -2 });
    return;
  }
  const first: PolicyTrace | undefined = tier.policies[0];
  if (!first) return;
  const action = tier.result === 'end-of-tier-pass' ? 'pass' : 'deny';
  out.push({ kind: 'EndOfTier', name: '', namespace: '', tier: tier.tier, action, policy_index: out.length, rule_index: -1, trigger: { ...policyIdentity(first.policyId), tier: tier.tier } });
}

/** The policy hits of one direction of a trace (the egress of the source, or the ingress of the destination). */
export function directionHits(trace: DirectionTrace): PolicyHit[] {
  const out: PolicyHit[] = [];
  for (const stage of trace.stages) {
    if (stage.stage === 'failsafe') continue;
    if (stage.stage === 'profiles') {
      const decided = stage.profiles.find((p) => p.result === 'Allow' || p.result === 'Deny');
      if (decided) {
        const rule = decided.rules.find((r) => r.matched && r.action !== 'Log');
        out.push({ kind: 'Profile', name: decided.profile, namespace: '', tier: '', action: lower(decided.result as 'Allow' | 'Deny'), policy_index: out.length, rule_index: rule?.index ?? -2 });
      } else if (trace.decision.stage === 'no-profiles' || trace.decision.stage === 'no-profile-matched') {
        out.push({ kind: 'EndOfTier', name: '', namespace: '', tier: '', action: 'deny', policy_index: out.length, rule_index: -1, trigger: { kind: 'Profile', name: NO_MATCH, namespace: '', tier: '' } });
      }
      continue;
    }
    for (const tier of stage.tiers) tierHits(tier, out);
  }
  return out;
}

/**
 * The enforced and pending hits of a flow as seen by `reporter` (`src`: the source's egress,
 * `dst`: the destination's ingress). Pending equals enforced when no staged policy applies.
 */
export function policyTraceHits(result: EvaluationResult, reporter: FlowReporter): PolicyTraceHits {
  const pick = (r: { readonly trace: EvaluationResult['trace'] }): DirectionTrace => (reporter === 'src' ? r.trace.egress : r.trace.ingress);
  const enforced = directionHits(pick(result));
  return { enforced, pending: result.staged ? directionHits(pick(result.staged)) : enforced };
}

/** The verdict `reporter`'s side gave (`allow`/`deny`), enforced or pending. */
export function reporterAction(result: EvaluationResult, reporter: FlowReporter, pending = false): 'allow' | 'deny' {
  const r = pending && result.staged ? result.staged : result;
  return (reporter === 'src' ? r.trace.egress : r.trace.ingress).allowed ? 'allow' : 'deny';
}
