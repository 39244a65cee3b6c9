/**
 * Policy recommendation from flow records, as Calico Enterprise's recommendation engine does it:
 * the input is the allowed flows that only a profile allowed (their pending trace ends in a
 * `__PROFILE__` allow: nothing protects them) — and, so that enforcing the recommendation never
 * denies an observed flow, those a policy of a tier after the recommendation tier allowed (the
 * tier is placed after every declared tier, so only undeclared tiers qualify) — source-reported ones giving the source
 * namespace's egress and destination-reported ones the destination namespace's ingress. Each
 * namespace gets one StagedNetworkPolicy in the `namespace-isolation` tier whose rules allow
 * exactly the traffic classes seen, merged as the engine merges them:
 *
 *   1. namespace     a pod of another (or the same) namespace   key (namespace, protocol), ports merged
 *   2. network set   a (Global)NetworkSet                       key (set, protocol), ports merged
 *   3. private       other RFC 1918 addresses (and hosts there)  key (protocol), ports merged
 *   4. public        everything else                            key (protocol), ports merged
 *
 * (the engine's egress-to-domain and egress-to-service classes need record fields Gingham's
 * records do not carry). Rerun with the previous recommendation, the rules only grow, and the
 * status follows Learning → Stabilizing (unchanged for more than 2 × interval) → Stable
 * (unchanged for more than the stabilization period). Pure: the time of the run is given (by
 * default the end of the newest record), never read from a clock.
 */
import type { Resource, V3PolicySpec, V3Rule } from '../model/resources.js';
import type { Policy, Snapshot, Tier } from '../model/types.js';
import { indexSnapshot } from '../evaluate/snapshot-index.js';
import { compareTiers } from '../evaluate/snapshot-index.js';
import { convertCalicoPolicy } from '../convert/calico-policy.js';
import { convertTier } from '../convert/calico-resources.js';
import { compareBytewise } from '../convert/strings.js';
import { sha1, toHex } from '../hash/index.js';
import { parseIp } from '../net/cidr.js';
import { isPrivateAddress, PRIVATE_NETWORKS } from './flow-log.js';
import { formatRfc3339, parseRfc3339 } from './time.js';
import type { FlowRecord } from '../flows/types.js';
import { createFlowPreview } from './preview.js';
import type { EvaluateOptions } from '../evaluate/types.js';
import { diffSnapshots } from '../analysis/diff.js';
import type { ChangeGroup } from '../analysis/types.js';

export const RECOMMENDATION_TIER = 'namespace-isolation';
const KEY = 'policyrecommendation.tigera.io';
export const RECOMMENDATION_ANNOTATIONS = {
  status: `${KEY}/status`,
  lastUpdated: `${KEY}/lastUpdated`,
  scope: `${KEY}/scope`,
  namespace: `${KEY}/namespace`,
  name: `${KEY}/name`,
} as const;
/** Namespaces Calico leaves out by default (its scope selector). */
export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ['kube-', 'calico-', 'tigera-', 'openshift-'];

export type RecommendationStatus = 'Learning' | 'Stabilizing' | 'Stable';
export type RuleScope = 'Namespace' | 'NetworkSet' | 'Private' | 'Public';

export interface RecommendOptions {
  /** The cluster as it is (namespaces, network sets, tiers). */
  readonly snapshot: Snapshot;
  /** Earlier recommendations (StagedNetworkPolicies of the recommendation tier), rerun to grow them. */
  readonly previous?: readonly Resource[];
  /** Unix seconds the run happens at; default: the end of the newest record seen. */
  readonly now?: number;
  /** Calico's `interval` (default 150 s): unchanged for more than twice this → Stabilizing. */
  readonly interval?: number;
  /** Calico's `stabilizationPeriod` (default 600 s): unchanged for longer → Stable. */
  readonly stabilization?: number;
  /** Only these namespaces (default: every namespace with unprotected flows, less the excluded prefixes). */
  readonly namespaces?: readonly string[];
  /** Namespace name prefixes left out (default `kube-`, `calico-`, `tigera-`, `openshift-`); ignored for namespaces named in `namespaces`. */
  readonly excludeNamespaces?: readonly string[];
  /** Intra-namespace rules Pass to the next tier instead of allowing (Calico's `intraNamespacePassThroughTraffic`). */
  readonly passIntraNamespace?: boolean;
  /** `Learn` (default, as Calico: the recommender's own, previewed by nobody) or `Set` (staged for preview and enforcement). */
  readonly stagedAction?: 'Learn' | 'Set';
  readonly tier?: string;
}

export interface NamespaceRecommendation {
  readonly namespace: string;
  readonly status: RecommendationStatus;
  /** The rules changed in this run (new traffic classes or ports). */
  readonly changed: boolean;
  /** Unix seconds of the last rule change. */
  readonly lastUpdated: number;
  /** Records that fed it in this run, per direction. */
  readonly flows: { readonly ingress: number; readonly egress: number };
  /** The StagedNetworkPolicy, ready to apply. */
  readonly policy: Resource<'StagedNetworkPolicy', V3PolicySpec>;
}

export interface RecommendResult {
  /** The time the run is taken to happen at (unix seconds). */
  readonly now: number;
  readonly recommendations: readonly NamespaceRecommendation[];
  /** The recommendation tier, when the snapshot does not declare it (placed after every other tier). */
  readonly tier?: Resource;
  /** What happened to the records. */
  readonly records: {
    readonly total: number;
    readonly used: number;
    readonly denied: number;
    /** Allowed by a policy of a tier before the recommendation's: enforcing it changes nothing for them. */
    readonly protected: number;
    /** Namespace out of scope, or a recommendation that is no longer learning. */
    readonly outOfScope: number;
    /** Neither side is a pod of a namespace in scope reporting, or a protocol-less record. */
    readonly unsupported: number;
  };
  /** Namespaces whose earlier recommendation is not `Learn` (activated or dismissed): left alone. */
  readonly notLearning: readonly string[];
}

interface RuleData {
  /** Sorted ports; `any` when a record carried no port (aggregated away). */
  ports: Set<number> | 'any';
  lastUpdated: number;
  action: 'Allow' | 'Pass';
}

interface NsState {
  readonly namespace: string;
  readonly rules: { ingress: Map<string, RuleData>; egress: Map<string, RuleData> };
  readonly flows: { ingress: number; egress: number };
  changed: boolean;
  readonly previous?: Resource<'StagedNetworkPolicy', V3PolicySpec>;
}

const PROTOCOL_NAMES: Readonly<Record<string, string>> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP', udplite: 'UDPLite', icmp: 'ICMP', icmpv6: 'ICMPv6' };
const PORTED = new Set(['TCP', 'UDP', 'SCTP', 'UDPLite']);

function protocolOf(proto: string): string | number | undefined {
  const named = PROTOCOL_NAMES[proto.toLowerCase()];
  if (named) return named;
  return /^\d{1,3}$/.test(proto) && Number(proto) >= 1 && Number(proto) <= 255 ? Number(proto) : undefined;
}

/** Rule keys: `<scope>|<protocol>|<peer>` where peer is a namespace, `ns:<namespace>/<name>`, `gns:<name>` or empty. */
function ruleKey(scope: RuleScope, protocol: string | number, peer = ''): string {
  return `${scope}|${protocol}|${peer}`;
}

function splitKey(key: string): { scope: RuleScope; protocol: string | number; peer: string } {
  const [scope, protocol, ...rest] = key.split('|');
  return { scope: scope as RuleScope, protocol: /^\d+$/.test(protocol!) ? Number(protocol) : protocol!, peer: rest.join('|') };
}

function suffixFor(namespace: string): string {
  const hex = toHex(sha1(`gingham-recommendation/${namespace}`));
  return BigInt(`0x${hex.slice(0, 12)}`).toString(36).padStart(5, '0').slice(-5);
}

/** Parses a rule of an earlier recommendation back into its key and data (by its scope annotation, as Calico's engine does). */
function readRule(rule: V3Rule, direction: 'ingress' | 'egress', fallbackTime: number): [string, RuleData] | undefined {
  const a = rule.metadata?.annotations ?? {};
  const scope = a[RECOMMENDATION_ANNOTATIONS.scope] as RuleScope | undefined;
  const protocol = rule.protocol;
  if (!scope || protocol === undefined) return undefined;
  const peerEntity = direction === 'egress' ? rule.destination : rule.source;
  let peer = '';
  if (scope === 'Namespace') peer = a[RECOMMENDATION_ANNOTATIONS.namespace] ?? '';
  else if (scope === 'NetworkSet') {
    const global = peerEntity?.namespaceSelector === 'global()';
    const name = a[RECOMMENDATION_ANNOTATIONS.name] ?? '';
    peer = global ? `gns:${name}` : `ns:${a[RECOMMENDATION_ANNOTATIONS.namespace] ?? ''}/${name}`;
  } else if (scope !== 'Private' && scope !== 'Public') return undefined;
  const ports = rule.destination?.ports;
  const data: RuleData = {
    ports: ports === undefined || ports.length === 0 ? 'any' : new Set(ports.filter((p): p is number => typeof p === 'number')),
    lastUpdated: parseRfc3339(a[RECOMMENDATION_ANNOTATIONS.lastUpdated] ?? '') ?? fallbackTime,
    action: rule.action === 'Pass' ? 'Pass' : 'Allow',
  };
  const proto = protocolOf(String(protocol));
  if (proto === undefined) return undefined;
  return [ruleKey(scope, proto, peer), data];
}

function portsList(ports: Set<number> | 'any'): number[] | undefined {
  return ports === 'any' ? undefined : [...ports].sort((a, b) => a - b);
}

/** Calico's rule order: by scope class, then protocol, then ports, then the selector. */
const SCOPE_ORDER: readonly RuleScope[] = ['Namespace', 'NetworkSet', 'Private', 'Public'];

function buildRule(key: string, data: RuleData, direction: 'ingress' | 'egress', networkSetSelector: (peer: string) => { selector?: string; nets?: string[]; namespaceSelector?: string }): V3Rule {
  const { scope, protocol, peer } = splitKey(key);
  const annotations: Record<string, string> = { [RECOMMENDATION_ANNOTATIONS.lastUpdated]: formatRfc3339(data.lastUpdated), [RECOMMENDATION_ANNOTATIONS.scope]: scope };
  const entity: Record<string, unknown> = {};
  if (scope === 'Namespace') {
    annotations[RECOMMENDATION_ANNOTATIONS.namespace] = peer;
    annotations[`${KEY}/warnings`] = 'NonServicePortsAndProtocol';
    entity.namespaceSelector = `projectcalico.org/name == '${peer}'`;
  } else if (scope === 'NetworkSet') {
    const global = peer.startsWith('gns:');
    const [ns, name] = global ? ['', peer.slice(4)] : peer.slice(3).split('/') as [string, string];
    annotations[RECOMMENDATION_ANNOTATIONS.name] = name;
    annotations[RECOMMENDATION_ANNOTATIONS.namespace] = global ? '' : ns;
    Object.assign(entity, networkSetSelector(peer));
  } else if (scope === 'Private') entity.nets = [...PRIVATE_NETWORKS];
  const ports = PORTED.has(String(protocol)) ? portsList(data.ports) : undefined;
  const destination: Record<string, unknown> = direction === 'egress' ? { ...entity } : {};
  if (ports) destination.ports = ports;
  const rule: Record<string, unknown> = { action: data.action, protocol, metadata: { annotations: Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => compareBytewise(a, b))) } };
  if (direction === 'ingress' && Object.keys(entity).length > 0) rule.source = entity;
  if (Object.keys(destination).length > 0) rule.destination = destination;
  return rule as unknown as V3Rule;
}

function compareRules(a: [string, RuleData], b: [string, RuleData]): number {
  const ka = splitKey(a[0]);
  const kb = splitKey(b[0]);
  const so = SCOPE_ORDER.indexOf(ka.scope) - SCOPE_ORDER.indexOf(kb.scope);
  if (so !== 0) return so;
  const pa = String(ka.protocol);
  const pb = String(kb.protocol);
  if (pa !== pb) return compareBytewise(pa, pb);
  const ports = (x: RuleData): string => (x.ports === 'any' ? '' : portsList(x.ports)!.map((p) => String(p).padStart(5, '0')).join(','));
  return compareBytewise(ports(a[1]), ports(b[1])) || compareBytewise(ka.peer, kb.peer);
}

/** An incremental recommender: feed it records (any number, any order), then ask for the result. */
export interface Recommender {
  add(record: FlowRecord): void;
  result(): RecommendResult;
}

/**
 * Creates a recommender. Each record costs a few map lookups, so a million records take seconds.
 */
export function createRecommender(options: RecommendOptions): Recommender {
  const index = indexSnapshot(options.snapshot);
  const tierName = options.tier ?? RECOMMENDATION_TIER;
  const only = options.namespaces ? new Set(options.namespaces) : undefined;
  const excluded = options.excludeNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES;
  const interval = options.interval ?? 150;
  const stabilization = options.stabilization ?? 600;
  const states = new Map<string, NsState>();
  const notLearning = new Set<string>();
  const previousByNs = new Map<string, Resource<'StagedNetworkPolicy', V3PolicySpec>>();
  for (const r of options.previous ?? []) {
    if (r.kind !== 'StagedNetworkPolicy') continue;
    const spec = (r.spec ?? {}) as V3PolicySpec;
    if ((spec.tier ?? 'default') !== tierName || r.metadata.labels?.[`${KEY}/scope`] !== 'namespace') continue;
    const ns = r.metadata.namespace ?? 'default';
    if ((spec.stagedAction ?? 'Set') !== 'Learn') notLearning.add(ns);
    else previousByNs.set(ns, r as Resource<'StagedNetworkPolicy', V3PolicySpec>);
  }
  const counts = { total: 0, used: 0, denied: 0, protected: 0, outOfScope: 0, unsupported: 0 };
  // Where the recommendation tier sits: declared in the snapshot, or new after every declared tier.
  const declaredTier = options.snapshot.tiers.find((t) => t.name === tierName && t.declared);
  const lastOrder = Math.max(0, ...options.snapshot.tiers.filter((t) => t.declared && t.order !== undefined).map((t) => t.order!));
  const recTier: Tier = declaredTier ?? { name: tierName, order: lastOrder + 1_000_000, defaultAction: 'Deny', declared: true };
  const tierAfter = new Map<string, boolean>();
  for (const t of options.snapshot.tiers) tierAfter.set(t.name, t.name === tierName || compareTiers(t, recTier) > 0);
  /**
   * Whether enforcing the recommendation would meet this record: its (pending) verdict was an
   * allow decided after the recommendation tier, by a profile (Calico's "unprotected") or by a
   * policy of a later tier (or of a tier the snapshot does not declare, which sorts last).
   */
  const reachesTier = (record: FlowRecord): boolean => {
    const hits = record.policies.pending;
    const last = hits[hits.length - 1];
    if (!last || last.action !== 'allow') return false;
    if (last.kind === 'Profile') return true;
    return tierAfter.get(last.tier) ?? true;
  };
  let newest = 0;
  const pending: [NsState, 'ingress' | 'egress', string, number | undefined][] = [];

  const inScope = (ns: string): boolean => {
    if (notLearning.has(ns)) return false;
    if (only) return only.has(ns);
    return !excluded.some((p) => ns.startsWith(p));
  };
  const stateOf = (ns: string): NsState => {
    let s = states.get(ns);
    if (!s) {
      const previous = previousByNs.get(ns);
      s = { namespace: ns, rules: { ingress: new Map(), egress: new Map() }, flows: { ingress: 0, egress: 0 }, changed: false, ...(previous ? { previous } : {}) };
      if (previous) {
        const spec = previous.spec ?? {};
        const since = parseRfc3339(previous.metadata.annotations?.[RECOMMENDATION_ANNOTATIONS.lastUpdated] ?? '') ?? 0;
        for (const dir of ['ingress', 'egress'] as const) {
          for (const rule of spec[dir] ?? []) {
            const read = readRule(rule, dir, since);
            if (read) s.rules[dir].set(read[0], read[1]);
          }
        }
      }
      states.set(ns, s);
    }
    return s;
  };
  for (const ns of previousByNs.keys()) if (inScope(ns)) stateOf(ns);

  /** The rule key for the remote side of a record. */
  const remoteKey = (type: string, name: string, namespace: string, protocol: string | number): string | undefined => {
    switch (type) {
      case 'wep':
        return namespace === '-' ? undefined : ruleKey('Namespace', protocol, namespace);
      case 'ns':
        return ruleKey('NetworkSet', protocol, namespace === '-' ? `gns:${name}` : `ns:${namespace}/${name}`);
      case 'net':
        return name === 'pvt' ? ruleKey('Private', protocol) : ruleKey('Public', protocol);
      case 'hep': {
        // Felix names a host by its addresses unless host endpoint flow logs are on: private or public.
        const host = index.hosts.get(name);
        const addrs = (host?.expectedIPs ?? []).map((t) => parseIp(t.split('/')[0]!));
        const priv = addrs.length > 0 && addrs.every((a) => a !== undefined && isPrivateAddress(a));
        return ruleKey(priv ? 'Private' : 'Public', protocol);
      }
      default:
        return undefined;
    }
  };

  return {
    add(record) {
      counts.total++;
      if (record.end_time > newest) newest = record.end_time;
      if (record.action !== 'allow') {
        counts.denied++;
        return;
      }
      if (!reachesTier(record)) {
        counts.protected++;
        return;
      }
      const egress = record.reporter === 'src';
      const localType = egress ? record.source_type : record.dest_type;
      const localNs = egress ? record.source_namespace : record.dest_namespace;
      const protocol = protocolOf(record.proto);
      if (localType !== 'wep' || localNs === '-' || protocol === undefined) {
        counts.unsupported++;
        return;
      }
      if (!inScope(localNs)) {
        counts.outOfScope++;
        return;
      }
      const key = egress
        ? remoteKey(record.dest_type, record.dest_name, record.dest_namespace, protocol)
        : remoteKey(record.source_type, record.source_name, record.source_namespace, protocol);
      if (key === undefined) {
        counts.unsupported++;
        return;
      }
      counts.used++;
      const state = stateOf(localNs);
      const dir = egress ? 'egress' : 'ingress';
      state.flows[dir]++;
      const port = PORTED.has(String(protocol)) && record.dest_port > 0 ? record.dest_port : undefined;
      const intra = options.passIntraNamespace === true && record.source_namespace === record.dest_namespace && record.source_type === 'wep' && record.dest_type === 'wep';
      const existing = state.rules[dir].get(key);
      if (existing) {
        if (existing.ports === 'any') return;
        if (port === undefined) {
          existing.ports = 'any';
          pending.push([state, dir, key, undefined]);
        } else if (!existing.ports.has(port)) {
          existing.ports.add(port);
          pending.push([state, dir, key, port]);
        }
        return;
      }
      state.rules[dir].set(key, { ports: port === undefined ? 'any' : new Set([port]), lastUpdated: -1, action: intra ? 'Pass' : 'Allow' });
      pending.push([state, dir, key, port]);
    },

    result() {
      const now = options.now ?? newest;
      // Every rule created or widened in this run was updated now.
      for (const [state, dir, key] of pending) {
        state.rules[dir].get(key)!.lastUpdated = now;
        state.changed = true;
      }
      pending.length = 0;
      const netSetSelector = (peer: string): { selector?: string; nets?: string[]; namespaceSelector?: string } => {
        const global = peer.startsWith('gns:');
        const id = global ? peer.slice(4) : peer.slice(3);
        const set = options.snapshot.networkSets.find((s) => s.id === id && (s.kind === 'GlobalNetworkSet') === global);
        const namespaceSelector = global ? 'global()' : `projectcalico.org/name == '${id.split('/')[0]}'`;
        if (!set) return { namespaceSelector, selector: `projectcalico.org/name == '${id.split('/').pop()}' && projectcalico.org/kind == 'NetworkSet'` };
        // Select the set by its own labels when they pick it alone among network sets and endpoints; else by its nets.
        const own = Object.keys(set.labels).filter((k) => k !== 'projectcalico.org/namespace').sort(compareBytewise);
        if (own.length > 0) {
          const selector = own.map((k) => `${k} == '${set.labels[k]!.replace(/'/g, '')}'`).join(' && ');
          const compiled = index.selector(selector);
          const others = [
            ...options.snapshot.networkSets.filter((s) => s !== set && ((s.kind === 'GlobalNetworkSet') === global) && (global || s.namespace === set.namespace)),
            ...options.snapshot.workloadEndpoints.filter((w) => global ? false : w.namespace === set.namespace),
          ];
          if (!others.some((o) => compiled.matches(index.effectiveLabels(o)))) return { namespaceSelector, selector };
        }
        return { nets: [...set.nets] };
      };
      const recommendations: NamespaceRecommendation[] = [];
      for (const state of [...states.values()].sort((a, b) => compareBytewise(a.namespace, b.namespace))) {
        const egress = [...state.rules.egress.entries()].sort(compareRules).map(([k, d]) => buildRule(k, d, 'egress', netSetSelector));
        const ingress = [...state.rules.ingress.entries()].sort(compareRules).map(([k, d]) => buildRule(k, d, 'ingress', netSetSelector));
        if (egress.length + ingress.length === 0) continue;
        const prevAnn = state.previous?.metadata.annotations ?? {};
        const prevStatus = (prevAnn[RECOMMENDATION_ANNOTATIONS.status] ?? 'Learning') as RecommendationStatus;
        const prevUpdated = parseRfc3339(prevAnn[RECOMMENDATION_ANNOTATIONS.lastUpdated] ?? '');
        const lastUpdated = state.changed || prevUpdated === undefined ? now : prevUpdated;
        let status: RecommendationStatus = state.changed || !state.previous ? 'Learning' : prevStatus;
        const since = now - lastUpdated;
        if (!state.changed && state.previous) {
          if (since > stabilization) status = 'Stable';
          else if (since > 2 * interval && status !== 'Stable') status = 'Stabilizing';
        }
        const stagedAction = options.stagedAction ?? 'Learn';
        const types = [...(egress.length > 0 ? ['Egress' as const] : []), ...(ingress.length > 0 ? ['Ingress' as const] : [])];
        const name = state.previous?.metadata.name ?? `${tierName}.${state.namespace}-${suffixFor(state.namespace)}`;
        const policy: Resource<'StagedNetworkPolicy', V3PolicySpec> = {
          apiVersion: 'projectcalico.org/v3',
          kind: 'StagedNetworkPolicy',
          metadata: {
            name,
            namespace: state.namespace,
            labels: {
              [`${KEY}/scope`]: 'namespace',
              'projectcalico.org/spec.stagedAction': stagedAction,
              'projectcalico.org/tier': tierName,
            },
            annotations: {
              [RECOMMENDATION_ANNOTATIONS.lastUpdated]: formatRfc3339(lastUpdated),
              [RECOMMENDATION_ANNOTATIONS.status]: status,
            },
          },
          spec: {
            stagedAction,
            tier: tierName,
            order: 100,
            selector: `projectcalico.org/namespace == '${state.namespace}'`,
            types,
            ...(egress.length > 0 ? { egress } : {}),
            ...(ingress.length > 0 ? { ingress } : {}),
          },
        };
        recommendations.push({ namespace: state.namespace, status, changed: state.changed, lastUpdated, flows: { ...state.flows }, policy });
      }
      let tier: Resource | undefined;
      if (!declaredTier && recommendations.length > 0) {
        tier = { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: tierName }, spec: { order: recTier.order, defaultAction: 'Deny' } };
      }
      return { now, recommendations, ...(tier ? { tier } : {}), records: { ...counts }, notLearning: [...notLearning].sort(compareBytewise) };
    },
  };
}

/** Recommendations for a batch of records (see `createRecommender`). */
export function recommendPolicies(records: Iterable<FlowRecord>, options: RecommendOptions): RecommendResult {
  const r = createRecommender(options);
  for (const record of records) r.add(record);
  return r.result();
}

/**
 * The snapshot with the recommendations in it (their tier too, when new), staged as `stagedAction`
 * (`Set` to preview or diff what enforcing them does). Every other part of the snapshot is the
 * same object.
 */
export function withRecommendations(snapshot: Snapshot, result: RecommendResult, stagedAction: 'Set' | 'Learn' = 'Set'): Snapshot {
  const policies: Policy[] = [];
  for (const rec of result.recommendations) {
    const resource = { ...rec.policy, spec: { ...rec.policy.spec, stagedAction } };
    const converted = convertCalicoPolicy(resource);
    if (converted.value) policies.push(converted.value);
  }
  const ids = new Set(policies.map((p) => p.id));
  let tiers: readonly Tier[] = snapshot.tiers;
  if (result.tier) {
    const t = convertTier(result.tier as Resource<string, never>).value;
    if (t) tiers = [...snapshot.tiers, t].sort(compareTiers);
  }
  return { ...snapshot, tiers, policies: [...snapshot.policies.filter((p) => !ids.has(p.id)), ...policies] };
}

/** What enforcing the recommendations does to the observed allowed flows. */
export interface RecommendationCheck {
  /** Distinct allowed records (allowed as enforced and with the cluster's staged policies) checked. */
  readonly observed: number;
  /** Still allowed with the recommendations enforced. */
  readonly kept: number;
  /** Records the recommendations would deny (for some or all of their peers): should be none. */
  readonly broken: readonly FlowRecord[];
}

/**
 * The snapshot as its staged view (staged Set and Delete applied, as enforced policies): what the
 * cluster allows once what is staged today is enforced.
 */
function stagedEnforced(snapshot: Snapshot): Snapshot {
  const index = indexSnapshot(snapshot);
  return index.hasStaged ? { ...snapshot, policies: index.staged().policies } : snapshot;
}

/**
 * Checks a recommendation against the records it came from: every allowed record (as recorded
 * and in the cluster's own staged view today) must stay allowed with the recommendations
 * enforced (`stagedAction: Set`), for every pair of today's peers its names cover. Exact and per
 * equivalence class: one previewer over today's staged view with the recommendations staged on
 * it (its "before" is today, its "after" today with the recommendations), every peer of a side
 * (no sampling), one evaluation per pair of peer classes, memoised across records; each distinct
 * record key is checked once.
 */
export function verifyRecommendation(snapshot: Snapshot, result: RecommendResult, records: Iterable<FlowRecord>): RecommendationCheck {
  const preview = createFlowPreview(withRecommendations(stagedEnforced(snapshot), result, 'Set'), { maxPeersPerSide: Number.POSITIVE_INFINITY });
  let observed = 0;
  let kept = 0;
  const broken: FlowRecord[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    if (r.action !== 'allow') continue;
    // No policy decided it (a host to its own workload is never policed): enforcing policies
    // cannot change the observed flow, whatever else an aggregated name (`pvt`) stands for. Kept
    // apart from policed records of the same names, which are still checked.
    const unpoliced = r.policies.pending.length === 0 && r.policies.enforced.length === 0;
    const key = [unpoliced ? '-' : '+', r.reporter, r.source_type, r.source_namespace, r.source_name, r.dest_type, r.dest_namespace, r.dest_name, r.proto, r.dest_port].join('|');
    if (seen.has(key)) continue;
    seen.add(key);
    if (unpoliced) {
      observed++;
      kept++;
      continue;
    }
    const p = preview.preview(r);
    if (p.outcome === 'unresolved' || p.before.action !== 'allow') continue;
    observed++;
    if (p.after.action === 'allow') kept++;
    else broken.push(r);
  }
  return { observed, kept, broken };
}

/** What enforcing a recommendation closes that no record showed, measured exactly with `diffSnapshots`. */
export interface RecommendationClosure {
  /** Flow sets (equivalence classes with one verdict before and after) allowed today and denied with the recommendations enforced. */
  readonly closed: number;
  /** Flow sets it would open: none, unless a recommendation tier sits before a tier that denies. */
  readonly opened: number;
  /** (Source peer, destination peer) pairs over the closed sets; an outside CIDR set counts as one peer. */
  readonly closedPairs: number;
  /** The closed traffic grouped for people (by namespace/workload prefix, protocol and ports), biggest first. */
  readonly groups: readonly ChangeGroup[];
}

/**
 * How much unobserved traffic the recommendations close: today's enforced policies against the
 * same with the recommended policies enforced (the cluster's own staged policies left out on both
 * sides). Exact over every address, protocol and port.
 */
export function recommendationClosure(snapshot: Snapshot, result: RecommendResult, options: { readonly evaluate?: EvaluateOptions } = {}): RecommendationClosure {
  const staged = withRecommendations(snapshot, result, 'Set');
  const existing = new Set(snapshot.policies);
  // The recommendations as enforced policies: the same rules, no staged marker.
  const after: Snapshot = {
    ...staged,
    policies: staged.policies.map((p) => {
      if (existing.has(p)) return p;
      const { staged: _staged, ...enforced } = p;
      return { ...enforced, id: `recommended:${p.id}` };
    }),
  };
  const diff = diffSnapshots(snapshot, after, options.evaluate ? { evaluate: options.evaluate } : {});
  const closedPairs = diff.changes.reduce((n, c) => n + (c.change === 'closed' ? c.pairs : 0), 0);
  const groups = diff.groups.filter((g) => g.change === 'closed').sort((a, b) => b.pairs - a.pairs || compareBytewise(`${a.from} ${a.to}`, `${b.from} ${b.to}`));
  return { closed: diff.closed, opened: diff.opened, closedPairs, groups };
}
