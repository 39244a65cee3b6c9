/**
 * Staged-policy preview over recorded flows: for each record, the verdict of its reporting side
 * (the source's egress or the destination's ingress) with the policies as enforced and with the
 * staged ones enforced too (`stagedAction: Set` replaces or adds, `Delete` removes: Calico OSS
 * never sends staged deletes to Felix, so only an offline evaluator can preview them), and the
 * step that decides each. A record stands for every peer its aggregated names cover (see
 * flow-peers.ts): it is `changed` when the staged policies change the verdict for all of them,
 * `uncertain` when for some, `unchanged` when for none, `unresolved` when a side names nothing
 * in the manifests. A record whose recorded action differs from today's enforced verdict is
 * flagged as drift (the enforced policies changed since). Pure; each distinct record key is
 * evaluated once, so long flow logs cost their distinct flows, and a record's peer pairs are
 * evaluated once per pair of equivalence classes (the analysis' peer classes, enforced and staged
 * policies alike): one `evaluate()` stands for every pair of its classes, across records too.
 */
import type { Snapshot } from '../model/types.js';
import type { Decision, EvaluateOptions, EvaluationResult } from '../evaluate/types.js';
import { evaluate } from '../evaluate/evaluate.js';
import { describeDecision } from '../evaluate/explain.js';
import { indexSnapshot } from '../evaluate/snapshot-index.js';
import { compareBytewise } from '../convert/strings.js';
import { formatIp, parseIp } from '../net/cidr.js';
import { protocolNumber } from '../convert/protocol.js';
import { buildUniverse, mayCross, type PeerClass } from '../analysis/universe.js';
import type { FlowRecord, FlowReporter } from '../flows/types.js';
import { FlowPeerResolver, isAddressPeer, type ResolvedSide } from './flow-peers.js';

export type PreviewOutcome = 'unchanged' | 'changed' | 'uncertain' | 'unresolved';

/** A verdict of the reporting side over the record's peers. */
export interface PreviewVerdict {
  /** `mixed` when the record's peers get different verdicts. */
  readonly action: 'allow' | 'deny' | 'mixed';
  /** The deciding steps (distinct), e.g. `policy knp/shop/db rule 0 in tier default`. */
  readonly decidedBy: readonly string[];
}

export interface RecordPreview {
  readonly outcome: PreviewOutcome;
  readonly reporter: FlowReporter;
  /** What the record says happened. */
  readonly recorded: 'allow' | 'deny';
  /** Today's enforced policies. */
  readonly before: PreviewVerdict;
  /** With the staged policies enforced. */
  readonly after: PreviewVerdict;
  /** The recorded action is not today's enforced verdict for all peers (the policies changed since). */
  readonly drift: boolean;
  /** Peer pairs evaluated, and how many of them the staged policies change. */
  readonly pairs: number;
  readonly changedPairs: number;
  /** How each side's name was matched to today's endpoints. */
  readonly match: { readonly source: ResolvedSide['match']; readonly dest: ResolvedSide['match'] };
}

/** Changed or uncertain records grouped for people. */
export interface PreviewGroup {
  readonly outcome: 'changed' | 'uncertain';
  /** `namespace/name` of a pod group, `host <name>`, a network set, `public network` / `private network`. */
  readonly from: string;
  readonly to: string;
  readonly protocol: string;
  readonly port: number;
  readonly reporter: FlowReporter;
  readonly before: PreviewVerdict;
  readonly after: PreviewVerdict;
  readonly records: number;
  readonly connections: number;
}

export interface PreviewSummary {
  readonly records: number;
  readonly unchanged: number;
  readonly changed: number;
  readonly uncertain: number;
  readonly unresolved: number;
  /** Changed records that were denied before and allowed after / the reverse. */
  readonly opened: number;
  readonly closed: number;
  readonly drift: number;
  /** True when the snapshot has staged policies (else nothing can change). */
  readonly staged: boolean;
  readonly groups: readonly PreviewGroup[];
}

export interface PreviewOptions {
  readonly evaluate?: EvaluateOptions;
  /** Most peers evaluated per side of a record (default 32): wider groups are sampled evenly. */
  readonly maxPeersPerSide?: number;
}

/** A previewer: ask about records one by one (streaming), then for the summary. */
export interface FlowPreview {
  preview(record: FlowRecord): RecordPreview;
  summary(): PreviewSummary;
}

function step(d: Decision): string {
  return describeDecision(d);
}

/** One peer pair's verdicts on the reporting side, with the deciding steps. */
interface PairVerdict {
  readonly before: 'allow' | 'deny';
  readonly after: 'allow' | 'deny';
  readonly beforeStep: string;
  readonly afterStep: string;
}

function verdictOf(actions: readonly ('allow' | 'deny')[], steps: readonly string[]): PreviewVerdict {
  const first = actions[0];
  const action = first === undefined ? 'deny' : actions.every((a) => a === first) ? first : 'mixed';
  return { action, decidedBy: [...new Set(steps)].sort(compareBytewise) };
}

function sample<T>(items: readonly T[], max: number): readonly T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.floor((i * items.length) / max)]!);
  return out;
}

function sideText(type: string, name: string, namespace: string): string {
  if (type === 'net') return name === 'pvt' ? 'private network' : name === 'pub' ? 'public network' : name;
  if (type === 'hep') return `host ${name}`;
  return namespace === '-' ? name : `${namespace}/${name}`;
}

/** Creates a previewer of the snapshot's staged policies over flow records. */
export function createFlowPreview(snapshot: Snapshot, options: PreviewOptions = {}): FlowPreview {
  return flowPreview(snapshot, options, true);
}

/**
 * A previewer that evaluates every peer pair (no class keys): the reference the property tests
 * hold `createFlowPreview` to. Not exported from the package.
 */
export function createFlowPreviewPerPair(snapshot: Snapshot, options: PreviewOptions = {}): FlowPreview {
  return flowPreview(snapshot, options, false);
}

function flowPreview(snapshot: Snapshot, options: PreviewOptions, byClass: boolean): FlowPreview {
  const index = indexSnapshot(snapshot);
  const resolver = new FlowPeerResolver(snapshot, index);
  const max = options.maxPeersPerSide ?? 32;
  const memo = new Map<string, Omit<RecordPreview, 'recorded' | 'drift'> & { beforeActions: Set<string> }>();
  const counts = { records: 0, unchanged: 0, changed: 0, uncertain: 0, unresolved: 0, opened: 0, closed: 0, drift: 0 };
  const groups = new Map<string, { g: Omit<PreviewGroup, 'records' | 'connections'>; records: number; connections: number }>();

  /** A peer at each of its address families (the record does not say which one the flow used). */
  const families = new Map<string, Map<4 | 6, string>>();
  const atFamilies = (peer: string): Map<4 | 6, string> => {
    let out = families.get(peer);
    if (!out) families.set(peer, (out = addressesOf(peer)));
    return out;
  };
  const addressesOf = (peer: string): Map<4 | 6, string> => {
    if (isAddressPeer(peer)) return new Map([[peer.includes(':') ? 6 : 4, peer]]);
    const w = index.workloads.get(peer);
    const texts = w ? w.addresses : index.hosts.get(peer)?.expectedIPs ?? [];
    const out = new Map<4 | 6, string>();
    for (const t of texts) {
      const f = t.includes(':') ? 6 : 4;
      if (!out.has(f)) out.set(f, t.split('/')[0]!);
    }
    return out;
  };

  /**
   * Peer classes of endpoint points (`ref|address`) whose address names that endpoint alone (what
   * `evaluate()` resolves the address to); built on the first record that needs them.
   */
  let classes: Map<string, PeerClass> | undefined;
  const classOf = (peer: string, addr: string): PeerClass | undefined => {
    if (!classes) {
      classes = new Map();
      const u = buildUniverse(snapshot, index.hasStaged ? snapshot : undefined, { afterStaged: index.hasStaged, ...(options.evaluate ? { evaluate: options.evaluate } : {}) });
      for (const cls of u.classes) {
        if (cls.outside) continue;
        for (const p of cls.points) {
          if (p.ref === undefined || p.addr === undefined) continue;
          const owners = index.membersAt(p.addr).filter((m) => m.kind === 'WorkloadEndpoint' || m.kind === 'HostEndpoint');
          if (owners.length === 1) classes.set(`${p.ref}|${formatIp(p.addr)}`, cls);
        }
      }
    }
    const ip = parseIp(addr);
    return ip ? classes.get(`${peer}|${formatIp(ip)}`) : undefined;
  };
  const sideKeys = new Map<string, { key: string; cls?: PeerClass }>();
  /** A side's class (an endpoint point of a known class), else its literal key, memoised. */
  const sideOf = (peer: string, addr: string): { key: string; cls?: PeerClass } => {
    const k = `${peer}@${addr}`;
    let out = sideKeys.get(k);
    if (!out) {
      const cls = byClass && !isAddressPeer(peer) ? classOf(peer, addr) : undefined;
      sideKeys.set(k, (out = cls ? { key: `c${cls.id}`, cls } : { key: `${isAddressPeer(peer) ? 'a' : 'e'}${k}` }));
    }
    return out;
  };
  /**
   * What decides a pair's evaluation: two endpoint classes (by their twin, the class less its node,
   * when the pair cannot cross a node: twins decide alike towards peers they do not cross with),
   * an endpoint class and an outside address, or the two addresses themselves.
   */
  const pairKey = (s: string, sAddr: string, d: string, dAddr: string): string => {
    const sc = sideOf(s, sAddr);
    const dc = sideOf(d, dAddr);
    if (sc.cls && dc.cls) return mayCross(sc.cls, dc.cls) ? `x${sc.key}>${dc.key}` : `t${sc.cls.twin}>${dc.cls.twin}`;
    return `${sc.key}>${dc.key}`;
  };
  /** The reporting side's verdicts by pair key, reporter, protocol and port (`undefined`: not a flow `evaluate()` takes). */
  const verdicts = new Map<string, PairVerdict | undefined>();
  const verdictAt = (r: FlowRecord, s: string, sAddr: string, d: string, dAddr: string): PairVerdict | undefined => {
    const key = `${pairKey(s, sAddr, d, dAddr)}|${r.reporter}|${r.proto}|${r.dest_port}`;
    if (verdicts.has(key)) return verdicts.get(key);
    let v: PairVerdict | undefined;
    try {
      const result = evaluate(snapshot, { src: sAddr, dst: dAddr, protocol: r.proto, ...(r.dest_port > 0 ? { dstPort: r.dest_port } : {}) }, options.evaluate);
      const side = (x: { trace: EvaluationResult['trace'] }) => (r.reporter === 'src' ? x.trace.egress : x.trace.ingress);
      const b = side(result);
      const a = side(result.staged ?? result);
      v = { before: b.allowed ? 'allow' : 'deny', after: a.allowed ? 'allow' : 'deny', beforeStep: step(b.decision), afterStep: step(a.decision) };
    } catch {
      v = undefined;
    }
    verdicts.set(key, v);
    return v;
  };

  /**
   * A side's peers with an address of the family, by their side key (class), in order; memoised
   * per peer list (a resolved side is one list object across the records that name it).
   */
  const grouped = new WeakMap<readonly string[], Map<4 | 6, Map<string, { key: string; peers: string[] }>>>();
  const groupSide = (peers: readonly string[], family: 4 | 6): Map<string, { key: string; peers: string[] }> => {
    let byFamily = grouped.get(peers);
    if (!byFamily) grouped.set(peers, (byFamily = new Map()));
    let out = byFamily.get(family);
    if (out) return out;
    byFamily.set(family, (out = new Map()));
    for (const p of peers) {
      const addr = atFamilies(p).get(family);
      if (addr === undefined) continue;
      const { key } = sideOf(p, addr);
      const g = out.get(key);
      if (g) g.peers.push(p);
      else out.set(key, { key, peers: [p] });
    }
    return out;
  };

  const compute = (r: FlowRecord): Omit<RecordPreview, 'recorded' | 'drift'> & { beforeActions: Set<string> } => {
    const src = resolver.resolve(r.source_type, r.source_name, r.source_namespace, r.source_labels);
    const dst = resolver.resolve(r.dest_type, r.dest_name, r.dest_namespace, r.dest_labels);
    const match = { source: src.match, dest: dst.match };
    const before: ('allow' | 'deny')[] = [];
    const after: ('allow' | 'deny')[] = [];
    const beforeSteps: string[] = [];
    const afterSteps: string[] = [];
    let pairs = 0;
    let changedPairs = 0;
    const tally = (v: PairVerdict | undefined, n: number): void => {
      if (v === undefined || n === 0) return;
      pairs += n;
      before.push(v.before);
      after.push(v.after);
      beforeSteps.push(v.beforeStep);
      afterSteps.push(v.afterStep);
      if (v.before !== v.after) changedPairs += n;
    };
    const sources = sample(src.peers, max);
    const dests = sample(dst.peers, max);
    // ICMP is IPv4's, ICMPv6 IPv6's: a record of either never stands for a pair of the other family.
    const protocol = protocolNumber(r.proto);
    const families: readonly (4 | 6)[] = protocol === 1 ? [4] : protocol === 58 ? [6] : [4, 6];
    if (!byClass) {
      for (const s of sources) {
        const sf = atFamilies(s);
        for (const d of dests) {
          if (s === d) continue;
          for (const [family, dAddr] of atFamilies(d)) {
            const sAddr = sf.get(family);
            if (sAddr !== undefined && families.includes(family)) tally(verdictAt(r, s, sAddr, d, dAddr), 1);
          }
        }
      }
    } else {
      // Each side's peers grouped by what decides their evaluation (their class, per family): one
      // evaluation per pair of groups stands for all its peer pairs (less a peer paired with itself).
      for (const family of families) {
        const ss = groupSide(sources, family);
        const ds = groupSide(dests, family);
        for (const gs of ss.values()) {
          for (const gd of ds.values()) {
            let n = gs.peers.length * gd.peers.length;
            let s = gs.peers[0]!;
            let d = gd.peers[0]!;
            if (gs.key === gd.key) {
              const mine = new Set(gs.peers);
              for (const x of gd.peers) if (mine.has(x)) n--;
              if (n === 0) continue;
              if (s === d) d = gd.peers.find((x) => x !== s) ?? d;
              if (s === d) s = gs.peers.find((x) => x !== d)!;
            }
            tally(verdictAt(r, s, atFamilies(s).get(family)!, d, atFamilies(d).get(family)!), n);
          }
        }
      }
    }
    const outcome: PreviewOutcome = pairs === 0 ? 'unresolved' : changedPairs === 0 ? 'unchanged' : changedPairs === pairs ? 'changed' : 'uncertain';
    return { outcome, reporter: r.reporter, before: verdictOf(before, beforeSteps), after: verdictOf(after, afterSteps), pairs, changedPairs, match, beforeActions: new Set(before) };
  };

  return {
    preview(r) {
      const key = [r.reporter, r.source_type, r.source_namespace, r.source_name, r.dest_type, r.dest_namespace, r.dest_name, r.proto, r.dest_port, r.source_labels.join(','), r.dest_labels.join(',')].join('|');
      let c = memo.get(key);
      if (!c) memo.set(key, (c = compute(r)));
      const drift = c.pairs > 0 && (c.beforeActions.size > 1 || !c.beforeActions.has(r.action));
      const { beforeActions: _b, ...rest } = c;
      const out: RecordPreview = { ...rest, recorded: r.action, drift };
      counts.records++;
      counts[out.outcome]++;
      if (drift) counts.drift++;
      if (out.outcome === 'changed') {
        if (out.before.action === 'deny' && out.after.action === 'allow') counts.opened++;
        else if (out.before.action === 'allow' && out.after.action === 'deny') counts.closed++;
      }
      if (out.outcome === 'changed' || out.outcome === 'uncertain') {
        const g = {
          outcome: out.outcome,
          from: sideText(r.source_type, r.source_name, r.source_namespace),
          to: sideText(r.dest_type, r.dest_name, r.dest_namespace),
          protocol: r.proto.toUpperCase(),
          port: r.dest_port,
          reporter: r.reporter,
          before: out.before,
          after: out.after,
        };
        const gk = JSON.stringify(g);
        const e = groups.get(gk);
        if (e) {
          e.records++;
          e.connections += r.num_connections_started;
        } else groups.set(gk, { g, records: 1, connections: r.num_connections_started });
      }
      return out;
    },
    summary() {
      const list = [...groups.values()]
        .map((e) => ({ ...e.g, records: e.records, connections: e.connections }))
        .sort((a, b) => (a.outcome === b.outcome ? 0 : a.outcome === 'changed' ? -1 : 1) || compareBytewise(a.from, b.from) || compareBytewise(a.to, b.to) || compareBytewise(a.protocol, b.protocol) || a.port - b.port || compareBytewise(a.reporter, b.reporter));
      return { ...counts, staged: index.hasStaged, groups: list };
    },
  };
}

/** Previews a batch of records (see `createFlowPreview`). */
export function previewFlows(snapshot: Snapshot, records: Iterable<FlowRecord>, options?: PreviewOptions): { readonly records: readonly RecordPreview[]; readonly summary: PreviewSummary } {
  const p = createFlowPreview(snapshot, options);
  const out: RecordPreview[] = [];
  for (const r of records) out.push(p.preview(r));
  return { records: out, summary: p.summary() };
}
