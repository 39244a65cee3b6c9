/**
 * The per-snapshot index `evaluate()` builds once and caches (WeakMap keyed by the snapshot
 * object): sorted tiers and policies, compiled selectors, effective labels, an address → member
 * index that answers "is this address in the IP set of selector S" exactly as the dataplanes'
 * IP sets would, and per-endpoint memoised lists of applicable policies (found through a
 * label-restriction index, so 10k policies cost only what can match).
 *
 * Everything here is a cache: results never depend on what was asked before. The snapshot must
 * not be mutated after its first evaluation.
 */
import type {
  Endpoint,
  EndpointPort,
  HostEndpoint,
  Labels,
  NetworkSet,
  Policy,
  PolicyKind,
  Profile,
  Snapshot,
  Tier,
  WorkloadEndpoint,
} from '../model/types.js';
import { parseSelector, type Selector } from '../selector/index.js';
import { type Cidr, type IpAddr, ipKey, makeCidr, parseCidr, parseIp } from '../net/cidr.js';
import { compareBytewise } from '../convert/strings.js';

/** Something whose addresses can be members of a selector's IP set. */
export interface Member {
  readonly kind: 'WorkloadEndpoint' | 'HostEndpoint' | 'NetworkSet' | 'GlobalNetworkSet';
  readonly id: string;
  readonly labels: Labels;
  readonly cidrs: readonly Cidr[];
  /** Named ports (endpoints only). */
  readonly ports: readonly EndpointPort[];
}

export interface TierPlan {
  readonly tier: Tier;
  readonly policies: readonly Policy[];
}

/** Applicable tiers for one endpoint, per stage and direction. */
export interface EndpointPlan {
  readonly normal: { readonly ingress: readonly TierPlan[]; readonly egress: readonly TierPlan[] };
  readonly untracked: { readonly ingress: readonly TierPlan[]; readonly egress: readonly TierPlan[] };
  readonly preDnat: { readonly ingress: readonly TierPlan[] };
  /** `applyOnForward` normal policies (host endpoints only), for traffic forwarded through the endpoint. */
  readonly forward: { readonly ingress: readonly TierPlan[]; readonly egress: readonly TierPlan[] };
  /** Ids of the policies that apply per direction, in any stage (for "does a staged policy apply"). */
  readonly applied: { readonly ingress: ReadonlySet<string>; readonly egress: ReadonlySet<string> };
}

export function endpointKey(e: Endpoint): string {
  return e.kind === 'WorkloadEndpoint' ? `w:${e.id}` : `h:${e.id}`;
}

const INF = Number.POSITIVE_INFINITY;

/** Tier order (`TierLess`): declared first, then order ascending (missing last), then name bytewise. */
export function compareTiers(a: Tier, b: Tier): number {
  if (a.declared !== b.declared) return a.declared ? -1 : 1;
  const oa = a.order ?? INF;
  const ob = b.order ?? INF;
  if (oa !== ob) return oa < ob ? -1 : 1;
  return compareBytewise(a.name, b.name);
}

/** `<name>/<namespace>/<kind>`, Felix's tie-breaker for equal-order policies. */
export function policySortKey(p: { name: string; namespace: string; kind: PolicyKind }): string {
  return `${p.name}/${p.namespace}/${p.kind}`;
}

/** Policy order within a tier (`PolKVLess`): order ascending (missing = +Inf), then the sort key bytewise. */
export function comparePoliciesInTier(a: Policy, b: Policy): number {
  const oa = a.order ?? INF;
  const ob = b.order ?? INF;
  if (oa !== ob) return oa < ob ? -1 : 1;
  return compareBytewise(policySortKey(a), policySortKey(b)) || compareBytewise(a.id, b.id);
}

const STAGED_TO_ENFORCED: Readonly<Partial<Record<PolicyKind, { kind: PolicyKind; from: string; to: string }>>> = {
  StagedNetworkPolicy: { kind: 'NetworkPolicy', from: 'snp/', to: 'np/' },
  StagedGlobalNetworkPolicy: { kind: 'GlobalNetworkPolicy', from: 'sgnp/', to: 'gnp/' },
  StagedKubernetesNetworkPolicy: { kind: 'KubernetesNetworkPolicy', from: 'sknp/', to: 'knp/' },
};

/**
 * A set of enforced policies, sorted and indexed for fast "which policies select this
 * endpoint". One view holds the enforced policies; a second (built on demand) the policies as
 * they would be if staged policies were enforced.
 */
export class PolicyView {
  readonly policies: readonly Policy[];
  /** Ids of policies that come from staged resources (staged view only). */
  readonly stagedIds: ReadonlySet<string>;
  /** Ids of enforced policies a staged policy replaces or deletes (staged view only). */
  readonly removedIds: ReadonlySet<string>;
  private readonly rank = new Map<Policy, number>();
  private readonly byValue = new Map<string, Map<string, Policy[]>>();
  private readonly byPresence = new Map<string, Policy[]>();
  private readonly unindexed: Policy[] = [];
  private readonly plans = new Map<string, EndpointPlan>();

  constructor(
    private readonly index: SnapshotIndex,
    policies: readonly Policy[],
    stagedIds: ReadonlySet<string> = new Set(),
    removedIds: ReadonlySet<string> = new Set(),
  ) {
    this.stagedIds = stagedIds;
    this.removedIds = removedIds;
    const sorted = [...policies].sort((a, b) => {
      const ta = index.tierRank(a.tier);
      const tb = index.tierRank(b.tier);
      return ta !== tb ? ta - tb : comparePoliciesInTier(a, b);
    });
    this.policies = sorted;
    sorted.forEach((p, i) => this.rank.set(p, i));
    // Two passes: count how many policies each (label, value) restriction would index, then
    // file every policy under its most selective restriction (fewest co-indexed policies).
    const restrictions = sorted.map((p) => this.restrictionsOf(p));
    const counts = new Map<string, number>();
    const countKey = (label: string, value: string): string => `${label}\0${value}`;
    for (const r of restrictions) {
      if (!r) continue;
      for (const [label, values] of r.values) for (const v of values) counts.set(countKey(label, v), (counts.get(countKey(label, v)) ?? 0) + 1);
    }
    sorted.forEach((p, i) => {
      const r = restrictions[i];
      if (r === undefined) return; // unparseable or unsatisfiable: selects nothing
      let best: [string, ReadonlySet<string>] | undefined;
      let bestCost = Number.POSITIVE_INFINITY;
      for (const [label, values] of r.values) {
        let cost = 0;
        for (const v of values) cost += counts.get(countKey(label, v)) ?? 0;
        if (cost < bestCost || (cost === bestCost && best !== undefined && compareBytewise(label, best[0]) < 0)) {
          best = [label, values];
          bestCost = cost;
        }
      }
      if (best) {
        const [label, values] = best;
        let m = this.byValue.get(label);
        if (!m) this.byValue.set(label, (m = new Map()));
        for (const v of values) {
          const list = m.get(v);
          if (list) list.push(p);
          else m.set(v, [p]);
        }
      } else if (r.present.length > 0) {
        const label = [...r.present].sort(compareBytewise)[0]!;
        const list = this.byPresence.get(label);
        if (list) list.push(p);
        else this.byPresence.set(label, [p]);
      } else this.unindexed.push(p);
    });
  }

  /** Index-relevant label restrictions of a policy selector; undefined when it can never match. */
  private restrictionsOf(p: Policy): { values: [string, ReadonlySet<string>][]; present: string[] } | undefined {
    let selector: Selector;
    try {
      selector = this.index.selector(p.selector);
    } catch {
      return undefined;
    }
    const values: [string, ReadonlySet<string>][] = [];
    const present: string[] = [];
    for (const [label, r] of selector.labelRestrictions()) {
      if (r.unsatisfiable) return undefined;
      if (r.mustHaveOneOf) values.push([label, r.mustHaveOneOf]);
      else if (r.mustBePresent) present.push(label);
    }
    return { values, present };
  }

  /** Policies whose selector matches these labels, in evaluation order. */
  selecting(labels: Labels): Policy[] {
    const candidates = new Set<Policy>(this.unindexed);
    for (const k of Object.keys(labels)) {
      const v = labels[k]!;
      const byV = this.byValue.get(k)?.get(v);
      if (byV) for (const p of byV) candidates.add(p);
      const byP = this.byPresence.get(k);
      if (byP) for (const p of byP) candidates.add(p);
    }
    const out: Policy[] = [];
    for (const p of candidates) if (this.index.selector(p.selector).matches(labels)) out.push(p);
    return out.sort((a, b) => this.rank.get(a)! - this.rank.get(b)!);
  }

  /** Applicable tiers for an endpoint (memoised). */
  plan(endpoint: Endpoint): EndpointPlan {
    const key = endpointKey(endpoint);
    const cached = this.plans.get(key);
    if (cached) return cached;
    const labels = this.index.effectiveLabels(endpoint);
    const selected = this.selecting(labels);
    const isHost = endpoint.kind === 'HostEndpoint';
    // Calico ignores doNotTrack policy on all-interfaces (`*`) host endpoints.
    const star = isHost && endpoint.interfaceName === '*';
    const buckets = {
      normalIngress: [] as Policy[],
      normalEgress: [] as Policy[],
      forwardIngress: [] as Policy[],
      forwardEgress: [] as Policy[],
      untrackedIngress: [] as Policy[],
      untrackedEgress: [] as Policy[],
      preDnatIngress: [] as Policy[],
    };
    const applied = { ingress: new Set<string>(), egress: new Set<string>() };
    for (const p of selected) {
      // Felix treats an empty types list as both directions (back-compat).
      const ingress = p.types.length === 0 || p.types.includes('Ingress');
      const egress = p.types.length === 0 || p.types.includes('Egress');
      if (p.doNotTrack) {
        if (!isHost || star) continue;
        if (ingress) buckets.untrackedIngress.push(p);
        if (egress) buckets.untrackedEgress.push(p);
      } else if (p.preDNAT) {
        if (!isHost) continue;
        if (ingress) buckets.preDnatIngress.push(p);
      } else {
        if (ingress) buckets.normalIngress.push(p);
        if (egress) buckets.normalEgress.push(p);
        if (isHost && p.applyOnForward) {
          if (ingress) buckets.forwardIngress.push(p);
          if (egress) buckets.forwardEgress.push(p);
        }
      }
      // (Workloads never reach here for untracked / pre-DNAT policies; pre-DNAT is ingress-only.)
      if (ingress) applied.ingress.add(p.id);
      if (egress && !p.preDNAT) applied.egress.add(p.id);
    }
    const plan: EndpointPlan = {
      normal: { ingress: this.group(buckets.normalIngress), egress: this.group(buckets.normalEgress) },
      untracked: { ingress: this.group(buckets.untrackedIngress), egress: this.group(buckets.untrackedEgress) },
      preDnat: { ingress: this.group(buckets.preDnatIngress) },
      forward: { ingress: this.group(buckets.forwardIngress), egress: this.group(buckets.forwardEgress) },
      applied,
    };
    this.plans.set(key, plan);
    return plan;
  }

  private group(policies: readonly Policy[]): TierPlan[] {
    const out: TierPlan[] = [];
    let current: { tier: Tier; policies: Policy[] } | undefined;
    for (const p of policies) {
      if (!current || current.tier.name !== p.tier) {
        current = { tier: this.index.tier(p.tier), policies: [] };
        out.push(current);
      }
      current.policies.push(p);
    }
    return out;
  }
}

export class SnapshotIndex {
  readonly snapshot: Snapshot;
  readonly profiles = new Map<string, Profile>();
  readonly workloads = new Map<string, WorkloadEndpoint>();
  readonly workloadsByName = new Map<string, WorkloadEndpoint[]>();
  readonly hosts = new Map<string, HostEndpoint>();
  readonly enforced: PolicyView;
  private readonly tiers = new Map<string, Tier>();
  private readonly tierRanks = new Map<string, number>();
  private readonly selectors = new Map<string, Selector>();
  private readonly labelsMemo = new Map<object, Labels>();
  private readonly members: Member[] = [];
  /** version → prefix → masked base → members. */
  private readonly prefixGroups: { 4: Map<number, Map<string, Member[]>>; 6: Map<number, Map<string, Member[]>> } = {
    4: new Map(),
    6: new Map(),
  };
  private readonly membersAtMemo = new Map<string, readonly Member[]>();
  private readonly inSetMemo = new Map<string, Map<string, boolean>>();
  private stagedView: PolicyView | undefined;
  readonly hasStaged: boolean;
  /** Nodes named by Node resources or by any endpoint. */
  readonly nodeNames = new Set<string>();
  /** Node -> its own addresses (Node resources), as `ipKey`s. */
  private readonly nodeAddrs = new Map<string, Set<string>>();
  /** Node -> its all-interfaces (`*`) host endpoint: the lowest id wins, as in Felix. */
  private readonly stars = new Map<string, HostEndpoint>();

  constructor(snapshot: Snapshot) {
    this.snapshot = snapshot;
    for (const p of snapshot.profiles) if (!this.profiles.has(p.name)) this.profiles.set(p.name, p);
    const tiers = [...snapshot.tiers].sort(compareTiers);
    for (const t of tiers) if (!this.tiers.has(t.name)) this.tiers.set(t.name, t);
    // Tiers only named by policies (hand-built snapshots): undeclared, Deny, after every declared tier.
    const referenced = new Set(snapshot.policies.map((p) => p.tier).filter((t) => !this.tiers.has(t)));
    for (const name of [...referenced].sort(compareBytewise)) this.tiers.set(name, { name, defaultAction: 'Deny', declared: false });
    [...this.tiers.values()].sort(compareTiers).forEach((t, i) => this.tierRanks.set(t.name, i));

    for (const w of [...snapshot.workloadEndpoints].sort((a, b) => compareBytewise(a.id, b.id))) {
      if (this.workloads.has(w.id)) continue;
      this.workloads.set(w.id, w);
      this.nodeNames.add(w.node);
      const list = this.workloadsByName.get(w.name);
      if (list) list.push(w);
      else this.workloadsByName.set(w.name, [w]);
      this.addMember({ kind: 'WorkloadEndpoint', id: w.id, labels: this.effectiveLabels(w), cidrs: parseAll(w.addresses), ports: w.ports });
    }
    for (const h of [...snapshot.hostEndpoints].sort((a, b) => compareBytewise(a.id, b.id))) {
      if (this.hosts.has(h.name)) continue;
      this.hosts.set(h.name, h);
      this.nodeNames.add(h.node);
      if (h.interfaceName === '*' && !this.stars.has(h.node)) this.stars.set(h.node, h);
      this.addMember({ kind: 'HostEndpoint', id: h.id, labels: this.effectiveLabels(h), cidrs: parseAll(h.expectedIPs), ports: h.ports });
    }
    for (const s of [...snapshot.networkSets].sort((a, b) => compareBytewise(`${a.kind}/${a.id}`, `${b.kind}/${b.id}`))) {
      this.addMember({ kind: s.kind, id: s.id, labels: this.effectiveLabels(s), cidrs: parseAll(s.nets), ports: [] });
    }
    for (const n of snapshot.nodes) {
      this.nodeNames.add(n.name);
      let addrs = this.nodeAddrs.get(n.name);
      if (!addrs) this.nodeAddrs.set(n.name, (addrs = new Set()));
      for (const t of n.addresses) {
        const a = parseIp(t.split('/')[0]!);
        if (a) addrs.add(ipKey(a));
      }
    }
    const enforced = snapshot.policies.filter((p) => !p.staged);
    this.hasStaged = enforced.length !== snapshot.policies.length;
    this.enforced = new PolicyView(this, enforced);
  }

  /** The node's all-interfaces (`*`) host endpoint, if any. */
  starHost(node: string): HostEndpoint | undefined {
    return this.stars.get(node);
  }

  /** Whether `addr` is one of the node's own addresses (its Node resource). */
  isNodeAddress(node: string, addr: IpAddr): boolean {
    return this.nodeAddrs.get(node)?.has(ipKey(addr)) ?? false;
  }

  tier(name: string): Tier {
    return this.tiers.get(name) ?? { name, defaultAction: 'Deny', declared: false };
  }

  tierRank(name: string): number {
    return this.tierRanks.get(name) ?? Number.MAX_SAFE_INTEGER;
  }

  /** Compiled selector (memoised). Throws SelectorParseError for invalid text. */
  selector(text: string): Selector {
    let s = this.selectors.get(text);
    if (!s) {
      s = parseSelector(text);
      this.selectors.set(text, s);
    }
    return s;
  }

  /** Own labels plus, for each missing key, the value from the first profile defining it. */
  effectiveLabels(entity: WorkloadEndpoint | HostEndpoint | NetworkSet): Labels {
    const cached = this.labelsMemo.get(entity);
    if (cached) return cached;
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(entity.labels)) out[k] = v;
    for (const name of entity.profiles) {
      const profile = this.profiles.get(name);
      if (!profile) continue;
      for (const [k, v] of Object.entries(profile.labelsToApply)) if (!(k in out)) out[k] = v;
    }
    this.labelsMemo.set(entity, out);
    return out;
  }

  private addMember(m: Member): void {
    this.members.push(m);
    for (const c of m.cidrs) {
      const groups = this.prefixGroups[c.version];
      let g = groups.get(c.prefix);
      if (!g) groups.set(c.prefix, (g = new Map()));
      const key = c.base.toString(16);
      const list = g.get(key);
      if (list) {
        if (!list.includes(m)) list.push(m);
      } else g.set(key, [m]);
    }
  }

  /** Every endpoint / network set whose addresses contain `addr` (memoised per address). */
  membersAt(addr: IpAddr): readonly Member[] {
    const key = ipKey(addr);
    const cached = this.membersAtMemo.get(key);
    if (cached) return cached;
    const out: Member[] = [];
    for (const [prefix, g] of this.prefixGroups[addr.version]) {
      const base = makeCidr(addr, prefix).base;
      const list = g.get(base.toString(16));
      if (list) for (const m of list) if (!out.includes(m)) out.push(m);
    }
    this.membersAtMemo.set(key, out);
    return out;
  }

  /**
   * Whether `addr` is in the IP set of `selectorText`: some workload endpoint (addresses), host
   * endpoint (expectedIPs) or network set (nets) containing it has effective labels matching.
   */
  inSelectorSet(selectorText: string, addr: IpAddr, addrKey?: string): boolean {
    let bySel = this.inSetMemo.get(selectorText);
    if (!bySel) this.inSetMemo.set(selectorText, (bySel = new Map()));
    const key = addrKey ?? ipKey(addr);
    const cached = bySel.get(key);
    if (cached !== undefined) return cached;
    let result = false;
    const members = this.membersAt(addr);
    if (members.length > 0) {
      let sel: Selector | undefined;
      try {
        sel = this.selector(selectorText);
      } catch {
        sel = undefined;
      }
      if (sel) for (const m of members) if (sel.matches(m.labels)) {
        result = true;
        break;
      }
    }
    bySel.set(key, result);
    return result;
  }

  /**
   * Named-port membership: an endpoint containing `addr`, matching `selectorText` (when given),
   * declares port `name` with this protocol and port number.
   */
  inNamedPortSet(name: string, protocol: number, port: number, addr: IpAddr, selectorText: string | undefined): boolean {
    for (const m of this.membersAt(addr)) {
      if (m.kind !== 'WorkloadEndpoint' && m.kind !== 'HostEndpoint') continue;
      if (!m.ports.some((p) => p.name === name && p.protocol === protocol && p.port === port)) continue;
      if (selectorText !== undefined) {
        let ok = false;
        try {
          ok = this.selector(selectorText).matches(m.labels);
        } catch {
          ok = false;
        }
        if (!ok) continue;
      }
      return true;
    }
    return false;
  }

  /** The policies as they would be if staged policies were enforced (built on first use). */
  staged(): PolicyView {
    if (this.stagedView) return this.stagedView;
    const enforced = new Map<string, Policy>();
    for (const p of this.snapshot.policies) if (!p.staged) enforced.set(p.id, p);
    const stagedIds = new Set<string>();
    const removedIds = new Set<string>();
    const stagedPolicies = this.snapshot.policies
      .filter((p) => p.staged)
      .sort((a, b) => compareBytewise(a.id, b.id));
    for (const p of stagedPolicies) {
      const mapping = STAGED_TO_ENFORCED[p.kind];
      if (!mapping || !p.staged) continue;
      const counterpart = mapping.to + p.id.slice(mapping.from.length);
      if (p.staged.action !== 'Set' && p.staged.action !== 'Delete') continue; // Learn / Ignore change nothing
      if (enforced.delete(counterpart)) removedIds.add(counterpart);
      if (p.staged.action === 'Delete') continue;
      const { staged: _staged, ...rest } = p;
      const asEnforced: Policy = { ...rest, kind: mapping.kind };
      enforced.set(p.id, asEnforced);
      stagedIds.add(p.id);
    }
    this.stagedView = new PolicyView(this, [...enforced.values()], stagedIds, removedIds);
    return this.stagedView;
  }
}

function parseAll(texts: readonly string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const t of texts) {
    const c = parseCidr(t);
    if (c) out.push(c);
  }
  return out;
}

const cache = new WeakMap<Snapshot, SnapshotIndex>();

/** The (cached) index for a snapshot. */
export function indexSnapshot(snapshot: Snapshot): SnapshotIndex {
  let idx = cache.get(snapshot);
  if (!idx) {
    idx = new SnapshotIndex(snapshot);
    cache.set(snapshot, idx);
  }
  return idx;
}
