/**
 * Policy traces of live flows: for a connection's tuple and the enforcement point that reported
 * it, the enforced and pending hits (`policyTraceHits(evaluate(…))` on the snapshot the
 * dataplane enforces, staged policies as enforced for pending, as Felix's collector does), the
 * dataplane's own decision checked against the enforced trace's last hit. Hit lists are interned
 * (a flow keeps an integer), results cached per snapshot with a bound, keyed by the address pair
 * (interned ids), direction, protocol and port class (ports no rule or failsafe tells apart share
 * one entry) in a TupleTable: a cached lookup builds no string and allocates nothing.
 *
 * Why evaluate() at all: the kernel reports the hit that decided (policy, rule, action); the
 * tiers it passed through before it are not in the datapath's verdict rows. evaluate() on the
 * same state gives those, and when its last hit is not the kernel's (state changed between the
 * packet and the lookup) the record carries the kernel's hit alone and `mismatches` counts it.
 */
import {
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  evaluate,
  formatPolicyHit,
  NO_MATCH,
  policyIdentity,
  policyTraceHits,
  type EvaluateOptions,
  type FlowDecision,
  type PolicyHit,
  type PortMatch,
  type Rule,
  type Snapshot,
} from '@gingham/core';
import { AddressTable } from './address-table.js';
import { TupleTable } from './tuple-table.js';

export interface TraceQuery {
  readonly direction: 'ingress' | 'egress';
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  /** `src` and `dst` as ids of the resolver's `AddressTable`, when the caller has them (else interned from the texts). */
  readonly srcId?: number;
  readonly dstId?: number;
}

export interface TraceResult {
  /** Interned enforced hits (`TraceTable.hits(id)`). */
  readonly enforced: number;
  readonly pending: number;
  /** The pending verdict of the reporter's side. */
  readonly pendingAction: 'allow' | 'deny';
}

/** TCP, UDP, SCTP: the protocols whose ports evaluate() tests. */
const hasPorts = (protocol: number): boolean => protocol === 6 || protocol === 17 || protocol === 132;
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

function everyRule(s: Snapshot): Rule[] {
  return [...s.policies, ...s.profiles].flatMap((p) => [...p.ingress, ...p.egress]);
}

/** Does any rule of any policy or profile look at source ports? (If not, they are left out of cache keys.) */
function usesSourcePorts(rules: readonly Rule[]): boolean {
  return rules.some((r) => (r.source.ports?.length ?? 0) > 0 || (r.source.notPorts?.length ?? 0) > 0);
}

/**
 * The ports at which some port test of the snapshot can change its answer, sorted: each range's
 * ends (`min`, `max + 1`), every port an endpoint declares (`p`, `p + 1`) when a rule names a
 * port, each failsafe port, and 1 (port 0 apart). Two ports with as many boundaries at or below
 * them — the same class — get the same answer from every rule and failsafe, so the same trace:
 * the cache keys ports by class, and a node talking to many ephemeral ports evaluates each
 * (address pair, class) once, not each port.
 */
export function portBoundaries(snapshot: Snapshot, options: EvaluateOptions = {}): Int32Array {
  const bounds = new Set<number>([1]);
  let named = false;
  const add = (ports: readonly PortMatch[] | undefined): void => {
    for (const p of ports ?? []) {
      if (p.kind === 'named') named = true;
      else bounds.add(p.min).add(p.max + 1);
    }
  };
  for (const r of everyRule(snapshot)) {
    add(r.source.ports);
    add(r.source.notPorts);
    add(r.destination.ports);
    add(r.destination.notPorts);
  }
  if (named) for (const e of [...snapshot.workloadEndpoints, ...snapshot.hostEndpoints]) for (const p of e.ports) bounds.add(p.port).add(p.port + 1);
  for (const f of [...(options.failsafeInbound ?? DEFAULT_FAILSAFE_INBOUND), ...(options.failsafeOutbound ?? DEFAULT_FAILSAFE_OUTBOUND)]) bounds.add(f.port).add(f.port + 1);
  return Int32Array.from([...bounds].sort((a, b) => a - b));
}

/** The class of `port`: how many boundaries are at or below it. */
export function portClass(bounds: Int32Array, port: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bounds[mid]! <= port) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface TraceResolver {
  readonly snapshot: Snapshot;
  /** Enforced and pending hits of a flow at one enforcement point, with the dataplane's decision checked. */
  resolve(q: TraceQuery, decision: FlowDecision, action: 'allow' | 'deny'): TraceResult;
  /** Pending hits only (re-evaluation of a live flow). */
  pending(q: TraceQuery): { readonly pending: number; readonly pendingAction: 'allow' | 'deny' };
  /** Empties the cache, letting go of the addresses it holds (when the resolver is replaced). */
  release(): void;
  /** Traces whose last enforced hit was not the dataplane's decision. */
  readonly mismatches: number;
  readonly evaluations: number;
}

interface CacheEntry {
  readonly enforced: number;
  readonly pending: number;
  readonly pendingAction: 'allow' | 'deny';
  readonly last: PolicyHit | undefined;
  /** The last decision checked against `last` (sources reuse decision objects) and the answer. */
  checked: FlowDecision | undefined;
  checkedAction: 'allow' | 'deny';
  same: boolean;
}

/**
 * A resolver over one snapshot, interning into `table`. Results are cached by the query's tuple,
 * its ports by class (`portBoundaries`), in a `TupleTable` keyed by address ids of `addresses`
 * (the caller's, when it passes ids in its queries): no key string per lookup.
 */
export function createTraceResolver(snapshot: Snapshot, table: TraceTable, options: EvaluateOptions = {}, addresses = new AddressTable()): TraceResolver {
  const cache = new TupleTable(CACHE_LIMIT, 0, 0, { initial: 1024, addresses });
  const entries: CacheEntry[] = [];
  const rules = everyRule(snapshot);
  const sportMatters = usesSourcePorts(rules);
  const bounds = portBoundaries(snapshot, options);
  // The class of every port, looked up instead of searched for on each event.
  const classes = new Int32Array(65_536);
  for (let p = 0, c = portClass(bounds, 0); p < 65_536; p++) {
    while (c < bounds.length && bounds[c]! <= p) c++;
    classes[p] = c;
  }
  const classOf = (port: number): number => (port === (port & 0xffff) ? classes[port]! : portClass(bounds, port));
  const tiers = new Map(snapshot.policies.map((p) => [p.id, p.tier]));
  const tierOf = (id: string): string => tiers.get(id) ?? '';
  let mismatches = 0;
  let evaluations = 0;

  const evaluateFlow = (q: TraceQuery) => {
    evaluations++;
    const icmp = q.protocol === 1 || q.protocol === 58;
    const result = evaluate(
      snapshot,
      {
        src: q.src,
        dst: q.dst,
        protocol: q.protocol,
        ...(hasPorts(q.protocol) ? { srcPort: q.srcPort, dstPort: q.dstPort } : {}),
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

  const cached = (q: TraceQuery): CacheEntry => {
    // Ports by class where evaluate() tests them; ICMP's type and code as they are; else none.
    const ports = hasPorts(q.protocol);
    const w0 = ((ports && sportMatters ? classOf(q.srcPort) << 9 : 0) | (q.direction === 'egress' ? 0x100 : 0) | q.protocol) | 0;
    const w1 = ports ? classOf(q.dstPort) : q.protocol === 1 || q.protocol === 58 ? q.dstPort : 0;
    const a = q.srcId ?? addresses.intern(q.src);
    const b = q.dstId ?? addresses.intern(q.dst);
    const i = cache.find(a, b, w0, w1);
    if (i >= 0) return entries[i]!;
    // Held while the cache may be emptied under them (a new id is held by no one yet).
    addresses.ref(a);
    addresses.ref(b);
    try {
      const { hits, pendingAction } = evaluateFlow(q);
      const c: CacheEntry = { enforced: table.intern(hits.enforced), pending: table.intern(hits.pending), pendingAction, last: hits.enforced.at(-1), checked: undefined, checkedAction: 'allow', same: false };
      if (cache.size >= CACHE_LIMIT) {
        cache.clear();
        entries.length = 0;
      }
      entries[cache.upsert(a, b, w0, w1)] = c;
      return c;
    } finally {
      addresses.unref(a);
      addresses.unref(b);
    }
  };

  return {
    snapshot,
    resolve(q, decision, action) {
      const c = cached(q);
      if (c.checked !== decision || c.checkedAction !== action) {
        c.checked = decision;
        c.checkedAction = action;
        c.same = sameDecision(c.last, decision, action);
      }
      if (c.same) return c;
      mismatches++;
      return { enforced: table.intern([decisionHit(decision, action, tierOf)]), pending: c.pending, pendingAction: c.pendingAction };
    },
    pending(q) {
      const c = cached(q);
      return { pending: c.pending, pendingAction: c.pendingAction };
    },
    release() {
      cache.clear();
      entries.length = 0;
    },
    get mismatches() {
      return mismatches;
    },
    get evaluations() {
      return evaluations;
    },
  };
}
