/**
 * `explain(result)`: renders an evaluation for a person. Plain text, one fact a line, indented
 * by structure (direction → stage → tier → policy → rule); no colours, no trailing spaces.
 */
import type { Decision, DirectionTrace, EvaluationResult, FlowSummary, ResolvedPeer, StageTrace, TierTrace, Trace } from './types.js';

function peer(p: ResolvedPeer, address: string | undefined): string {
  if (p.kind === 'address') return p.ref;
  const id = p.endpointId ?? p.ref;
  return address ? `${id} (${address})` : `${id} (no IPv4/IPv6 address)`;
}

function flowLine(f: FlowSummary): string {
  const parts = [f.protocolName];
  if (f.srcPort !== undefined) parts.push(`sport ${f.srcPort}`);
  if (f.dstPort !== undefined) parts.push(`dport ${f.dstPort}`);
  if (f.icmp) parts.push(`icmp ${f.icmp.type}${f.icmp.code !== undefined ? `/${f.icmp.code}` : ''}`);
  return `${peer(f.src, f.srcAddress)} -> ${peer(f.dst, f.dstAddress)}  ${parts.join(' ')}`;
}

export function describeDecision(d: Decision): string {
  const rule = d.ruleIndex !== undefined ? ` rule ${d.ruleIndex}${d.ruleName ? ` "${d.ruleName}"` : ''}` : '';
  switch (d.stage) {
    case 'no-policy':
      return 'not an endpoint: no policy applies';
    case 'failsafe':
      return `failsafe port ${d.failsafe ?? ''} (host endpoint)`.trim();
    case 'untracked':
      return `untracked policy ${d.policyId}${rule} in tier ${d.tier}`;
    case 'pre-dnat':
      return `pre-DNAT policy ${d.policyId}${rule} in tier ${d.tier}`;
    case 'forward':
      return `applyOnForward policy ${d.policyId}${rule} in tier ${d.tier}`;
    case 'forward-default':
      return 'forwarded, and no applyOnForward policy decided (allowed by default)';
    case 'local-host':
      return 'host to its own workload (never policed)';
    case 'endpoint-to-host':
      return `workload to its own host: DefaultEndpointToHostAction ${d.action === 'Allow' ? 'allows' : 'drops'}`;
    case 'tier':
      return `policy ${d.policyId}${rule} in tier ${d.tier}`;
    case 'end-of-tier':
      return `end of tier ${d.tier}: no policy allowed the traffic (default action Deny)`;
    case 'profile':
      return `profile ${d.profile}${rule}`;
    case 'no-profile-matched':
      return 'no tier decided and no profile allowed the traffic';
    case 'no-profiles':
      return 'no tier decided and the endpoint has no profiles';
  }
}

const TIER_RESULT: Record<TierTrace['result'], string> = {
  Allow: 'Allow',
  Deny: 'Deny',
  Pass: 'Pass → next tier',
  'end-of-tier-pass': 'end of tier, default Pass → next tier',
  'end-of-tier-deny': 'end of tier, default Deny',
};

function stageLines(stage: StageTrace, out: string[]): void {
  const pad = '    ';
  switch (stage.stage) {
    case 'failsafe':
      out.push(`  failsafe ports: ${stage.matched ? `matched ${stage.entry}` : 'no match'}`);
      return;
    case 'profiles':
      out.push('  profiles:');
      if (stage.profiles.length === 0) out.push(`${pad}(none)`);
      for (const p of stage.profiles) {
        if (p.missing) {
          out.push(`${pad}profile ${p.profile}: not in the snapshot, skipped`);
          continue;
        }
        out.push(`${pad}profile ${p.profile}: ${p.result === 'no-match' ? 'no rule matched' : p.result}`);
        for (const r of p.rules) out.push(`${pad}  rule ${r.index} ${r.action}${r.name ? ` "${r.name}"` : ''}: ${r.matched ? 'matched' : `no match (${r.reason})`}`);
      }
      return;
    default: {
      const title =
        stage.stage === 'normal' ? 'tiers' : stage.stage === 'untracked' ? 'untracked tiers' : stage.stage === 'forward' ? 'applyOnForward tiers' : 'pre-DNAT tiers';
      out.push(`  ${title}:`);
      for (const t of stage.tiers) {
        out.push(`${pad}tier ${t.tier}${t.declared ? '' : ' (undeclared)'} (default ${t.defaultAction}): ${TIER_RESULT[t.result]}`);
        for (const p of t.policies) {
          const order = p.order !== undefined ? `order ${p.order}` : 'no order';
          const result = p.result === 'no-match' ? 'no rule matched' : p.result;
          out.push(`${pad}  policy ${p.policyId}${p.staged ? ' [staged]' : ''} (${order}): ${result}`);
          if (p.rules.length === 0) out.push(`${pad}    (no rules for this direction)`);
          for (const r of p.rules) {
            out.push(`${pad}    rule ${r.index} ${r.action}${r.name ? ` "${r.name}"` : ''}: ${r.matched ? 'matched' : `no match (${r.reason})`}`);
          }
        }
      }
    }
  }
}

function directionLines(d: DirectionTrace, out: string[], title?: string): void {
  const who = d.endpoint ? `${d.endpoint.kind === 'HostEndpoint' ? 'host endpoint' : 'workload'} ${d.endpoint.id}` : 'outside address';
  out.push(`${title ?? d.direction} of ${who}: ${d.allowed ? 'ALLOW' : 'DENY'} by ${describeDecision(d.decision)}`);
  for (const s of d.stages) stageLines(s, out);
}

/** The checks in the order a packet meets them: a packet that starts on the node meets its arrival HEP before its own egress. */
function orderedChecks(t: Trace): { d: DirectionTrace; title?: string }[] {
  const node = t.via?.node ?? '';
  const hin = t.via?.in ? [{ d: t.via.in, title: `arrival at node ${node}: ingress` }] : [];
  const hout = t.via?.out ? [{ d: t.via.out, title: `departure from node ${node}: egress` }] : [];
  return t.via?.from === 'workload'
    ? [...hin, { d: t.egress }, { d: t.ingress }, ...hout]
    : [{ d: t.egress }, ...hin, { d: t.ingress }, ...hout];
}

function traceLines(t: Trace, out: string[]): void {
  out.push(flowLine(t.flow));
  // An inferred crossing between two workloads with no host endpoint check on the way says nothing new.
  const quiet = t.flow.via?.inferred === true && !t.via?.in && !t.via?.out && t.via?.from === 'workload' && t.via?.to === 'workload';
  if (t.flow.via && !quiet) {
    const parts = [`via node ${t.flow.via.node}${t.flow.via.inferred ? ' (both ends are on it)' : ''}`];
    if (t.flow.via.in) parts.push(`in through ${t.flow.via.in}`);
    if (t.flow.via.out) parts.push(`out through ${t.flow.via.out}`);
    out.push(parts.join(', '));
  }
  for (const c of orderedChecks(t)) directionLines(c.d, out, c.title);
}

/** A multi-line, human-readable account of an evaluation: verdict, then each direction's path. */
export function explain(result: EvaluationResult): string {
  const out: string[] = [];
  out.push(`${result.allowed ? 'ALLOWED' : 'DENIED'}: ${verdictReason(result)}`);
  traceLines(result.trace, out);
  if (result.staged) {
    out.push('');
    out.push(`staged preview (staged policies enforced): ${result.staged.allowed ? 'ALLOWED' : 'DENIED'}`);
    for (const c of orderedChecks(result.staged.trace)) directionLines(c.d, out, c.title);
  }
  return out.join('\n');
}

function verdictReason(result: EvaluationResult): string {
  for (const c of orderedChecks(result.trace)) {
    if (!c.d.allowed) return `${c.title ?? c.d.direction} denied by ${describeDecision(c.d.decision)}`;
  }
  return result.trace.via?.in || result.trace.via?.out ? 'every check on the way allows' : 'egress and ingress both allow';
}
