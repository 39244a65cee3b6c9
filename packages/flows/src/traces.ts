/**
 * Policy traces of live flows: for a connection's tuple and the enforcement point that reported
 * it, the enforced and pending hits (`policyTraceHits(evaluate(…))` on the snapshot the
 * dataplane enforces, staged policies as enforced for pending, as Felix's collector does), the
 * dataplane's own decision checked against the enforced trace's last hit. Hit lists are interned
 * (a flow keeps an integer), results cached per snapshot with a bound.
 *
 * Why evaluate() at all: the kernel reports the hit that decided (policy, rule, action); the
 * tiers it passed through before it are not in the datapath's verdict rows. evaluate() on the
 * same state gives those, and when its last hit is not the kernel's (state changed between the
 * packet and the lookup) the record carries the kernel's hit alone and `mismatches` counts it.
 */
import {
  evaluate,
  formatPolicyHit,
  NO_MATCH,
  policyIdentity,
  policyTraceHits,
  type EvaluateOptions,
  type FlowDecision,
  type PolicyHit,
  type Snapshot,
} from '@gingham/core';

export interface TraceQuery {
  readonly direction: 'ingress' | 'egress';
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
}

export interface TraceResult {
  /** Interned enforced hits (`TraceTable.hits(id)`). */
  readonly enforced: number;
  readonly pending: number;
  /** The pending verdict of the reporter's side. */
  readonly pendingAction: 'allow' | 'deny';
}

const ICMP = new Set([1, 58]);
const PORTS = new Set([6, 17, 132]);
const CACHE_LIMIT = 65_536;

function decisionHit(d: FlowDecision, action: 'allow' | 'deny', tierOf: (policyId: string) => string): PolicyHit {
  switch (d.kind) {
    case 'rule':
      return { ...policyIdentity(d.policyId), tier: tierOf(d.policyId), action, policy_index: 0, rule_index: d.ruleIndex };
    case 'profile':
      return { kind: 'Profile', name: d.profile, namespace: '', tier: '', action, policy_index: 0, rule_index: d.ruleIndex };
    case 'end-of-tier':
      return { kind: 'EndOfTier', name: '', namespace: '', tier: d.tier ?? '', action, policy_index: 0, rule_index: -1 };
    case 'no-profile':
      return { kind: 'EndOfTier', name: '', namespace: '', tier: '', action, policy_index: 0, rule_index: -1, trigger: { kind: 'Profile', name: NO_MATCH, namespace: '', tier: '' } };
    case 'unknown':
      return { kind: 'EndOfTier', name: '', namespace: '', tier: '', action, policy_index: 0, rule_index: -2 };
  }
}

/** Whether `hit` (the enforced trace's last) is what the dataplane said decided. */
export function sameDecision(hit: PolicyHit | undefined, d: FlowDecision, action: 'allow' | 'deny'): boolean {
  if (!hit || hit.action !== action) return false;
  switch (d.kind) {
    case 'rule': {
      const id = policyIdentity(d.policyId);
      return hit.kind === id.kind && hit.name === id.name && hit.namespace === id.namespace && hit.rule_index === d.ruleIndex;
    }
    case 'profile':
      return hit.kind === 'Profile' && hit.name === d.profile && hit.rule_index === d.ruleIndex;
    case 'end-of-tier':
      return hit.kind === 'EndOfTier' && hit.trigger?.kind !== 'Profile' && (d.tier === undefined || hit.tier === d.tier);
    case 'no-profile':
      return hit.kind === 'EndOfTier' && hit.trigger?.kind === 'Profile';
    case 'unknown':
      return true;
  }
}

/** Interned hit lists: equal lists (by their hit strings and triggers) share one id. */
export class TraceTable {
  readonly #ids = new Map<string, number>();
  readonly #lists: (readonly PolicyHit[])[] = [];

  intern(hits: readonly PolicyHit[]): number {
    const key = hits.map((h) => `${formatPolicyHit(h)}${h.trigger ? `>${h.trigger.kind}` : ''}`).join(';');
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#lists.length;
      this.#ids.set(key, id);
      this.#lists.push(hits);
    }
    return id;
  }

  hits(id: number): readonly PolicyHit[] {
    return this.#lists[id] ?? [];
  }

  get size(): number {
    return this.#lists.length;
  }
}

/** Does any rule of any policy or profile look at source ports? (If not, they are left out of cache keys.) */
function usesSourcePorts(s: Snapshot): boolean {
  const has = (rules: readonly { source: { ports?: readonly unknown[]; notPorts?: readonly unknown[] } }[]): boolean =>
    rules.some((r) => (r.source.ports?.length ?? 0) > 0 || (r.source.notPorts?.length ?? 0) > 0);
  return s.policies.some((p) => has(p.ingress) || has(p.egress)) || s.profiles.some((p) => has(p.ingress) || has(p.egress));
}

export interface TraceResolver {
  readonly snapshot: Snapshot;
  /** Enforced and pending hits of a flow at one enforcement point, with the dataplane's decision checked. */
  resolve(q: TraceQuery, decision: FlowDecision, action: 'allow' | 'deny'): TraceResult;
  /** Pending hits only (re-evaluation of a live flow). */
  pending(q: TraceQuery): { readonly pending: number; readonly pendingAction: 'allow' | 'deny' };
  /** Traces whose last enforced hit was not the dataplane's decision. */
  readonly mismatches: number;
  readonly evaluations: number;
}

/** A resolver over one snapshot, interning into `table`. */
export function createTraceResolver(snapshot: Snapshot, table: TraceTable, options: EvaluateOptions = {}): TraceResolver {
  const cache = new Map<string, { enforced: number; pending: number; pendingAction: 'allow' | 'deny'; last: PolicyHit | undefined }>();
  const sportMatters = usesSourcePorts(snapshot);
  const tiers = new Map(snapshot.policies.map((p) => [p.id, p.tier]));
  const tierOf = (id: string): string => tiers.get(id) ?? '';
  let mismatches = 0;
  let evaluations = 0;

  const evaluateFlow = (q: TraceQuery) => {
    evaluations++;
    const icmp = ICMP.has(q.protocol);
    const result = evaluate(
      snapshot,
      {
        src: q.src,
        dst: q.dst,
        protocol: q.protocol,
        ...(PORTS.has(q.protocol) ? { srcPort: q.srcPort, dstPort: q.dstPort } : {}),
        ...(icmp ? { icmp: { type: q.dstPort >> 8, code: q.dstPort & 0xff } } : {}),
      },
      options,
    );
    const reporter = q.direction === 'egress' ? 'src' : 'dst';
    const hits = policyTraceHits(result, reporter);
    const staged = result.staged ?? result;
    const side = reporter === 'src' ? staged.trace.egress : staged.trace.ingress;
    return { hits, pendingAction: side.allowed ? ('allow' as const) : ('deny' as const) };
  };

  const cached = (q: TraceQuery) => {
    const key = `${q.direction === 'egress' ? 'e' : 'i'}|${q.src}|${q.dst}|${q.protocol}|${sportMatters ? q.srcPort : ''}|${q.dstPort}`;
    let c = cache.get(key);
    if (!c) {
      const { hits, pendingAction } = evaluateFlow(q);
      c = { enforced: table.intern(hits.enforced), pending: table.intern(hits.pending), pendingAction, last: hits.enforced.at(-1) };
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(key, c);
    }
    return c;
  };

  return {
    snapshot,
    resolve(q, decision, action) {
      const c = cached(q);
      if (sameDecision(c.last, decision, action)) return c;
      mismatches++;
      return { enforced: table.intern([decisionHit(decision, action, tierOf)]), pending: c.pending, pendingAction: c.pendingAction };
    },
    pending(q) {
      const c = cached(q);
      return { pending: c.pending, pendingAction: c.pendingAction };
    },
    get mismatches() {
      return mismatches;
    },
    get evaluations() {
      return evaluations;
    },
  };
}
