/**
 * The evaluation half of the analysis: per endpoint class and direction, the "program" that
 * `evaluate()` would run (the ordered tiers, policies and profiles of its plan), what the program
 * can tell apart about the two addresses of a flow (signatures), and direction verdicts over the
 * layer-4 atoms, computed by `evaluate()`'s own `runCheck` on one representative flow per
 * (program, own signature, peer signature, atom) and memoised. Flows that cross a node take the
 * checks of `evaluate()`'s own path plan (`path.ts`): a host endpoint's forwarding tiers run as
 * a program of their own, fixed decisions as constant maps.
 *
 * This file never decides a verdict itself: it only chooses which representative flows to ask
 * `runCheck` about, and proves (by construction of the signatures and cuts) that every other
 * flow of the same classes and atom would get the same answer.
 */
import type { Decision, EvaluateOptions } from '../evaluate/types.js';
import type { Direction, Endpoint, EntityMatch, HostEndpoint, Policy, Profile, Rule } from '../model/types.js';
import { type Cidr, cidrContains, parseCidr } from '../net/cidr.js';
import { hostSideTiers, runCheck } from '../evaluate/evaluate.js';
import { flowPath, inferCrossing, type PathCheck, type PathPeer } from '../evaluate/path.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../evaluate/failsafe.js';
import type { MatchContext } from '../evaluate/rule-match.js';
import type { Member, SnapshotIndex, TierPlan } from '../evaluate/snapshot-index.js';
import type { Selector } from '../selector/index.js';
import { constantMap, CutSet, fillMap, type L4Map, protocolShape } from './l4.js';
import { labelsPrint, type PeerClass, type Side, type Universe } from './universe.js';

/** Something a program's rules look at in one address of the flow. */
export type Pred =
  | { readonly kind: 'cidr'; readonly cidr: Cidr }
  /** IP-set membership: some endpoint or network set at the address has labels the selector matches. */
  | { readonly kind: 'sel'; readonly selector: string; readonly compiled: Selector | undefined }
  /** A named port, resolved against the address (dimension `a`: source port, `b`: destination port). */
  | { readonly kind: 'named'; readonly name: string; readonly selector: string | undefined; readonly dim: 'a' | 'b' };

/**
 * How a program's endpoint takes part in a flow (a `PathCheck` of `evaluate()`'s path plan):
 * its own policy, or a host endpoint policing a packet that passes through its node.
 */
export type CheckMode = { readonly kind: 'policy' } | { readonly kind: 'host-side'; readonly untracked: boolean; readonly forward: boolean };

const POLICY: CheckMode = { kind: 'policy' };

/** What one endpoint runs in one direction on one side. */
export interface Program {
  readonly id: number;
  readonly side: Side;
  readonly direction: Direction;
  /** An endpoint that runs exactly this program (what `runCheck` is called with). */
  readonly endpoint: Endpoint;
  /** The check it runs, less the endpoint and direction. */
  readonly mode: CheckMode;
  /** Criteria on the endpoint's own address (destination for ingress, source for egress). */
  readonly own: readonly Pred[];
  /** Criteria on the other address of the flow. */
  readonly peer: readonly Pred[];
  /** Names of the own / peer predicate lists (equal names: equal signatures, on the same index). */
  readonly ownKey: string;
  readonly peerKey: string;
  /** Every port, ICMP type and code boundary a rule or failsafe entry names. */
  readonly cuts: CutSet;
}

/** The values of a program's predicates for one class, and the named ports they resolved. */
export interface Sig {
  readonly key: string;
  readonly named: readonly { readonly dim: 'a' | 'b'; readonly protocol: number; readonly port: number }[];
}

const EMPTY_SIG: Sig = { key: '', named: [] };

type NamedPort = Sig['named'][number];

/**
 * Replaces `ids[0..n)` with the numbers 0.. of `keyOf(i)` in order of first appearance and returns
 * how many there are (`bound`: keys are below it; small bounds use an array, not a map).
 */
function renumber(ids: Int32Array, n: number, keyOf: (i: number) => number, bound: number): number {
  let count = 0;
  if (bound <= 1 << 20) {
    const seen = new Int32Array(bound).fill(-1);
    for (let i = 0; i < n; i++) {
      const k = keyOf(i);
      let v = seen[k]!;
      if (v < 0) seen[k] = v = count++;
      ids[i] = v;
    }
    return count;
  }
  const seen = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const k = keyOf(i);
    let v = seen.get(k);
    if (v === undefined) seen.set(k, (v = count++));
    ids[i] = v;
  }
  return count;
}

/** A predicate's identity: equal keys, equal values for every address on one index. */
function predKey(pred: Pred): string {
  if (pred.kind === 'cidr') return `c:${pred.cidr.version}:${pred.cidr.base}/${pred.cidr.prefix}`;
  if (pred.kind === 'sel') return `s:${pred.selector}`;
  return `n:${pred.dim}:${pred.name}:${pred.selector ?? ''}`;
}

/**
 * One predicate's value for an address, as a signature spells it (`members`: the endpoints and
 * network sets at the address); the named ports it resolves are pushed to `named`.
 */
function predToken(index: SnapshotIndex, pred: Pred, addr: PeerClass['addr'], members: readonly Member[], named: NamedPort[]): string {
  if (!addr) return '-';
  if (pred.kind === 'cidr') return cidrContains(pred.cidr, addr) ? '1' : '0';
  if (pred.kind === 'sel') {
    if (pred.compiled) for (const m of members) if (pred.compiled.matches(m.labels)) return '1';
    return '0';
  }
  const found = new Set<string>();
  for (const m of index.membersAt(addr)) {
    if (m.kind !== 'WorkloadEndpoint' && m.kind !== 'HostEndpoint') continue;
    for (const p of m.ports) {
      if (p.name !== pred.name) continue;
      const k = `${p.protocol}:${p.port}`;
      if (found.has(k) || !index.inNamedPortSet(pred.name, p.protocol, p.port, addr, pred.selector)) continue;
      found.add(k);
      named.push({ dim: pred.dim, protocol: p.protocol, port: p.port });
    }
  }
  return `[${[...found].sort().join(',')}]`;
}

let nextObjectId = 1;
const objectIds = new WeakMap<object, number>();
function objectId(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = nextObjectId++));
  return id;
}

/** Counters of the work done (for benchmarks and tests of proportionality). */
export interface AnalysisStats {
  /** Endpoint and outside classes in the universe. */
  classes: number;
  /** Distinct programs built. */
  programs: number;
  /** `evaluateDirection` calls. */
  directionEvaluations: number;
  /** Direction maps computed (each is a grid of evaluations). */
  directionMaps: number;
  /** Class signatures computed. */
  signatures: number;
}

const NO_POLICY: Decision = Object.freeze({ stage: 'no-policy', action: 'Allow' });

/** The decision maps of every check of a class pair's path (`in` / `out`: the node's host endpoint). */
export interface PathMaps {
  readonly egress: L4Map<Decision>;
  readonly ingress: L4Map<Decision>;
  readonly in?: L4Map<Decision>;
  readonly out?: L4Map<Decision>;
}

export class Analysis {
  readonly stats: AnalysisStats;
  private readonly programs = new Map<string, Program>();
  private readonly programOfClass = new Map<string, Program>();
  private readonly programOfEndpoint = new Map<string, Program>();
  private readonly sigs = new Map<string, Sig[]>();
  private readonly labelKeys = new Map<SnapshotIndex, string[]>();
  private readonly labelIds = new Map<string, number>();
  private readonly columns = new Map<SnapshotIndex, Map<string, { values: Int32Array; tokens: number }>>();
  private readonly members = new Map<SnapshotIndex, (readonly Member[])[]>();
  private readonly maps = new Map<string, L4Map<Decision>>();
  private readonly decisions = new Map<string, Decision>();
  private readonly decisionIds = new Map<Decision, number>();
  private readonly noPolicy: L4Map<Decision>;
  private readonly fixedMaps = new Map<Decision, L4Map<Decision>>();
  /** A map with no value anywhere (a check the path does not have). */
  readonly absent: L4Map<undefined>;
  private readonly failsafe: { ingress: ReturnType<typeof failsafeEntries>; egress: ReturnType<typeof failsafeEntries> };

  constructor(
    readonly universe: Universe,
    /** Cuts every direction map gets (e.g. the ports a query asks about). */
    private readonly extraCuts?: CutSet,
  ) {
    this.stats = { classes: universe.classes.length, programs: 0, directionEvaluations: 0, directionMaps: 0, signatures: 0 };
    this.noPolicy = constantMap(universe.protocols, this.intern(NO_POLICY));
    this.absent = constantMap(universe.protocols, undefined);
    this.failsafe = { ingress: failsafeEntries(universe.options, 'ingress'), egress: failsafeEntries(universe.options, 'egress') };
  }

  /** Interned decisions: equal decisions are the same object (compare with `===`). */
  intern(d: Decision): Decision {
    const key = `${d.stage}|${d.action}|${d.tier ?? ''}|${d.policyId ?? ''}|${d.ruleIndex ?? ''}|${d.ruleName ?? ''}|${d.profile ?? ''}|${d.failsafe ?? ''}`;
    let out = this.decisions.get(key);
    if (!out) {
      this.decisions.set(key, (out = d));
      this.decisionIds.set(d, this.decisionIds.size);
    }
    return out;
  }

  /** A small number naming an interned decision. */
  decisionId(d: Decision): number {
    return this.decisionIds.get(d) ?? this.decisionIds.get(this.intern(d))!;
  }

  /** The program an endpoint class runs on a side in a direction (undefined for outside classes). */
  program(side: Side, cls: PeerClass, direction: Direction): Program | undefined {
    if (cls.outside || !cls.endpoints) return undefined;
    const memoKey = `${side.label}|${cls.id}|${direction}`;
    const memo = this.programOfClass.get(memoKey);
    if (memo) return memo;
    const program = this.programFor(side, cls.endpoints[side.label === 'before' ? 0 : 1], direction, POLICY);
    this.programOfClass.set(memoKey, program);
    return program;
  }

  /**
   * The program an endpoint runs on a side in a direction, in a mode. A host-side check runs the
   * tiers `hostSideTiers` names (evaluate()'s own choice), without profiles or failsafes.
   */
  programFor(side: Side, endpoint: Endpoint, direction: Direction, mode: CheckMode): Program {
    const modeKey = mode.kind === 'policy' ? 'p' : `h${mode.untracked ? 1 : 0}${mode.forward ? 1 : 0}`;
    const memoKey = `${side.label}|${endpoint.kind}|${endpoint.id}|${direction}|${modeKey}`;
    const memo = this.programOfEndpoint.get(memoKey);
    if (memo) return memo;
    const plan = side.view.plan(endpoint);
    const host = mode.kind === 'host-side' ? hostSideTiers(plan, direction, mode) : undefined;
    const stages: (readonly TierPlan[])[] = host
      ? [host.untracked, host.preDnat, host.forward]
      : endpoint.kind === 'HostEndpoint'
        ? [plan.untracked[direction], direction === 'ingress' ? plan.preDnat.ingress : [], plan.normal[direction]]
        : [plan.normal[direction]];
    // A host-side check has no profiles and no failsafes.
    const profiles = host ? [] : endpoint.profiles.map((name) => side.index.profiles.get(name));
    // Keyed by the index, not the side: in a before/after pair sharing one index, an endpoint whose
    // policies did not change runs one program on both sides.
    const key = [
      objectId(side.index),
      direction,
      modeKey,
      endpoint.kind,
      ...stages.map((tiers) => tiers.map((t) => `${t.tier.name}:${t.tier.order}:${t.tier.defaultAction}:${t.tier.declared}=${t.policies.map(objectId).join(',')}`).join(';')),
      profiles.map((p, i) => (p ? objectId(p) : `missing:${endpoint.profiles[i]}`)).join(','),
    ].join('|');
    let program = this.programs.get(key);
    if (!program) {
      const policies = stages.flatMap((tiers) => tiers.flatMap((t) => t.policies));
      program = buildProgram(this.programs.size + 1, side, direction, endpoint, mode, policies, profiles, this.universe, endpoint.kind === 'HostEndpoint' && !host ? this.failsafe[direction] : []);
      this.programs.set(key, program);
      this.stats.programs++;
    }
    this.programOfEndpoint.set(memoKey, program);
    return program;
  }

  /** The values of a program's own or peer predicates for a class. */
  sig(program: Program | undefined, which: 'own' | 'peer', cls: PeerClass): Sig {
    if (!program) return EMPTY_SIG;
    const preds = program[which];
    if (preds.length === 0) return EMPTY_SIG;
    // Memoised per predicate list, not per program: programs that differ only in ports share them.
    const listKey = which === 'own' ? program.ownKey : program.peerKey;
    let byClass = this.sigs.get(listKey);
    if (!byClass) this.sigs.set(listKey, (byClass = []));
    const memo = byClass[cls.id];
    if (memo) return memo;
    this.stats.signatures++;
    const { index } = program.side;
    const addr = cls.addr;
    let key = '';
    const named: NamedPort[] = [];
    // The endpoints and network sets at the class's address (what IP-set membership looks at).
    const members = addr ? this.membersOf(program.side, cls) : [];
    for (const pred of preds) key += predToken(index, pred, addr, members, named);
    const sig: Sig = { key, named };
    byClass[cls.id] = sig;
    return sig;
  }

  /**
   * `classes` partitioned by their signature under a program's own or peer predicates, each part
   * further split by `tag(c)`: the same parts as grouping by `tag(c)` and `sig(program, which, c).key`,
   * in order of first appearance. Computed a predicate at a time: a predicate's values over every
   * class are computed once per index and shared by every program that names it, so partitioning
   * for many programs costs integers, not a signature string per class and program.
   */
  partitionBySig(program: Program | undefined, which: 'own' | 'peer', classes: readonly PeerClass[], tag: (c: PeerClass) => number): PeerClass[][] {
    const preds = program ? program[which] : [];
    // Part ids, renumbered 0.. in order of first appearance after each predicate splits them.
    const ids = new Int32Array(classes.length);
    let count = renumber(ids, classes.length, (i) => tag(classes[i]!), Number.MAX_SAFE_INTEGER);
    for (const pred of preds) {
      const column = this.column(program!.side, pred);
      if (column.tokens === 1) continue;
      count = renumber(ids, classes.length, (i) => ids[i]! * column.tokens + column.values[classes[i]!.id]!, count * column.tokens);
    }
    const parts: PeerClass[][] = Array.from({ length: count }, () => []);
    for (let i = 0; i < classes.length; i++) parts[ids[i]!]!.push(classes[i]!);
    return parts;
  }

  /** One predicate's value (as a small number) for every class of the universe, on a side's index. */
  private column(side: Side, pred: Pred): { values: Int32Array; tokens: number } {
    let byIndex = this.columns.get(side.index);
    if (!byIndex) this.columns.set(side.index, (byIndex = new Map()));
    const key = predKey(pred);
    let column = byIndex.get(key);
    if (!column) {
      const tokens = new Map<string, number>();
      const values = new Int32Array(this.universe.classes.length);
      // A selector looks only at the labels at the address: classes with the same label maps there share its value.
      const byLabels = pred.kind === 'sel' ? new Map<string, number>() : undefined;
      for (const cls of this.universe.classes) {
        const labels = byLabels && cls.addr ? this.labelsKey(side, cls) : undefined;
        let v = labels === undefined ? undefined : byLabels!.get(labels);
        if (v === undefined) {
          const t = predToken(side.index, pred, cls.addr, cls.addr ? this.membersOf(side, cls) : [], []);
          v = tokens.get(t);
          if (v === undefined) tokens.set(t, (v = tokens.size));
          if (labels !== undefined) byLabels!.set(labels, v);
        }
        values[cls.id] = v;
      }
      byIndex.set(key, (column = { values, tokens: Math.max(1, tokens.size) }));
    }
    return column;
  }

  /** The label maps of the members at a class's address, as one text (equal texts: every selector agrees). */
  private labelsKey(side: Side, cls: PeerClass): string {
    let byClass = this.labelKeys.get(side.index);
    if (!byClass) this.labelKeys.set(side.index, (byClass = []));
    return (byClass[cls.id] ??= this.membersOf(side, cls)
      .map((m) => {
        const print = labelsPrint(m.labels);
        return this.labelIds.get(print) ?? this.labelIds.set(print, this.labelIds.size).size - 1;
      })
      .join(','));
  }

  /** Every endpoint and network set whose addresses contain the class's address, on a side. */
  private membersOf(side: Side, cls: PeerClass): readonly Member[] {
    let byClass = this.members.get(side.index);
    if (!byClass) this.members.set(side.index, (byClass = []));
    return (byClass[cls.id] ??= side.index.membersAt(cls.addr!));
  }

  /**
   * The decisions of `own`'s program in `direction` for flows between `own` and `peer`, over the
   * layer-4 atoms. Outside classes have no policy: Allow everywhere.
   */
  directionMap(side: Side, direction: Direction, own: PeerClass, peer: PeerClass): L4Map<Decision> {
    const program = this.program(side, own, direction);
    return program ? this.checkMap(program, own, peer) : this.noPolicy;
  }

  /**
   * The decisions of every check on the path of flows from `src` to `dst` on a side: the plan
   * is `evaluate()`'s own (`inferCrossing` + `flowPath`) for the two classes' representatives,
   * which stand for every pair of their members (classes split by node where it matters).
   */
  pathMaps(side: Side, src: PeerClass, dst: PeerClass): PathMaps {
    const i = side.label === 'before' ? 0 : 1;
    const s: PathPeer = { ...(src.endpoints ? { endpoint: src.endpoints[i] } : {}), ...(src.addr ? { given: src.addr } : {}) };
    const d: PathPeer = { ...(dst.endpoints ? { endpoint: dst.endpoints[i] } : {}), ...(dst.addr ? { given: dst.addr } : {}) };
    const options = this.universe.options;
    const path = flowPath(side.index, inferCrossing(side.index, s, d), s, d, options);
    const map = (check: PathCheck): L4Map<Decision> => {
      if (check.kind === 'fixed') {
        const decision = this.intern(check.decision);
        let m = this.fixedMaps.get(decision);
        if (!m) this.fixedMaps.set(decision, (m = constantMap(this.universe.protocols, decision)));
        return m;
      }
      const own = check.direction === 'egress' ? src : dst;
      const peer = check.direction === 'egress' ? dst : src;
      if (check.kind === 'policy') {
        if (!check.endpoint) return this.noPolicy;
        if (check.endpoint === (check.direction === 'egress' ? s : d).endpoint) return this.directionMap(side, check.direction, own, peer);
        return this.checkMap(this.programFor(side, check.endpoint, check.direction, POLICY), own, peer);
      }
      return this.checkMap(this.programFor(side, check.endpoint, check.direction, { kind: 'host-side', untracked: check.untracked, forward: check.forward }), own, peer);
    };
    return {
      egress: map(path.egress),
      ingress: map(path.ingress),
      ...(path.in ? { in: map(path.in) } : {}),
      ...(path.out ? { out: map(path.out) } : {}),
    };
  }

  /** A program's decisions for flows between `own` (its endpoint's side of the flow) and `peer`. */
  private checkMap(program: Program, own: PeerClass, peer: PeerClass): L4Map<Decision> {
    const { direction } = program;
    const ownSig = this.sig(program, 'own', own);
    const peerSig = this.sig(program, 'peer', peer);
    const memoKey = `${program.id}|${own.family}|${ownSig.key}|${peerSig.key}|${own.addr ? 1 : 0}${peer.addr ? 1 : 0}`;
    const memo = this.maps.get(memoKey);
    if (memo) return memo;
    this.stats.directionMaps++;
    const cuts = new CutSet(this.universe.protocols);
    cuts.addAll(program.cuts);
    if (this.extraCuts) cuts.addAll(this.extraCuts);
    for (const n of [...ownSig.named, ...peerSig.named]) cuts.addRange(n.dim, n.port, n.port, 'ports', n.protocol);
    const src = direction === 'egress' ? own : peer;
    const dst = direction === 'egress' ? peer : own;
    const base = {
      family: own.family,
      ...(src.addr ? { src: src.addr, srcText: src.addrText!, srcKey: src.addrKey! } : {}),
      ...(dst.addr ? { dst: dst.addr, dstText: dst.addrText!, dstKey: dst.addrKey! } : {}),
    };
    const options: EvaluateOptions | undefined = this.universe.options;
    const check: PathCheck =
      program.mode.kind === 'policy'
        ? { kind: 'policy', endpoint: program.endpoint, direction }
        : { kind: 'host-side', endpoint: program.endpoint as HostEndpoint, direction, untracked: program.mode.untracked, forward: program.mode.forward };
    const map = fillMap(cuts.grids(), (protocol, a, b) => {
      const shape = protocolShape(protocol);
      const ctx: MatchContext =
        shape === 'ports'
          ? { ...base, protocol, srcPort: a, dstPort: b }
          : shape === 'icmp'
            ? { ...base, protocol, icmp: { type: a, code: b } }
            : { ...base, protocol };
      this.stats.directionEvaluations++;
      // The program's own side: a program shared by both sides is evaluated where it was built.
      return this.intern(runCheck(program.side.index, program.side.view, check, ctx, options).decision);
    });
    this.maps.set(memoKey, map);
    return map;
  }
}

function failsafeEntries(options: EvaluateOptions | undefined, direction: Direction): { protocol: number; port: number; net?: Cidr }[] {
  const list = direction === 'ingress' ? (options?.failsafeInbound ?? DEFAULT_FAILSAFE_INBOUND) : (options?.failsafeOutbound ?? DEFAULT_FAILSAFE_OUTBOUND);
  return list.map((f) => {
    const net = f.net ? parseCidr(f.net) : undefined;
    return { protocol: f.protocol === 'tcp' ? 6 : 17, port: f.port, ...(net ? { net } : {}) };
  });
}

function buildProgram(
  id: number,
  side: Side,
  direction: Direction,
  endpoint: Endpoint,
  mode: CheckMode,
  policies: readonly Policy[],
  profiles: readonly (Profile | undefined)[],
  universe: Universe,
  failsafe: readonly { protocol: number; port: number; net?: Cidr }[],
): Program {
  const own = new PredSet();
  const peer = new PredSet();
  const cuts = new CutSet(universe.protocols);
  const rules: Rule[] = [];
  for (const p of policies) rules.push(...(direction === 'ingress' ? p.ingress : p.egress));
  for (const p of profiles) if (p) rules.push(...(direction === 'ingress' ? p.ingress : p.egress));
  for (const rule of rules) {
    const proto = rule.protocol?.number;
    for (const which of ['source', 'destination'] as const) {
      const entity: EntityMatch = rule[which];
      const isOwn = (direction === 'ingress') === (which === 'destination');
      const preds = isOwn ? own : peer;
      const dim = which === 'source' ? 'a' : 'b';
      for (const n of [...(entity.nets ?? []), ...(entity.notNets ?? [])]) {
        const c = parseCidr(n);
        if (c) preds.add({ kind: 'cidr', cidr: c }, `c:${n}`);
      }
      for (const text of [entity.selector, entity.notSelector]) {
        if (text !== undefined) preds.add({ kind: 'sel', selector: text, compiled: compileOrUndefined(side, text) }, `s:${text}`);
      }
      for (const p of [...(entity.ports ?? []), ...(entity.notPorts ?? [])]) {
        if (p.kind === 'range') cuts.addRange(dim, p.min, p.max, 'ports', proto);
        else preds.add({ kind: 'named', name: p.name, selector: entity.selector, dim }, `n:${dim}:${p.name}:${entity.selector ?? ''}`);
      }
    }
    for (const m of [rule.icmp, rule.notICMP]) {
      if (!m) continue;
      cuts.addRange('a', m.type, m.type, 'icmp', proto);
      if (m.code !== undefined) cuts.addRange('b', m.code, m.code, 'icmp', proto);
    }
  }
  for (const f of failsafe) {
    cuts.addRange('b', f.port, f.port, 'ports', f.protocol);
    if (f.net) peer.add({ kind: 'cidr', cidr: f.net }, `f:${f.net.version}:${f.net.base}/${f.net.prefix}`);
  }
  const tag = objectId(side.index);
  return { id, side, direction, endpoint, mode, own: own.list, peer: peer.list, ownKey: `${tag}|own|${own.key()}`, peerKey: `${tag}|peer|${peer.key()}`, cuts };
}

/** A selector as the index compiles it; undefined for text that does not parse (it selects nothing). */
function compileOrUndefined(side: Side, text: string): Selector | undefined {
  try {
    return side.index.selector(text);
  } catch {
    return undefined;
  }
}

class PredSet {
  readonly list: Pred[] = [];
  private readonly keys = new Set<string>();
  key(): string {
    return [...this.keys].join('\u0000');
  }
  add(pred: Pred, key: string): void {
    if (this.keys.has(key)) return;
    this.keys.add(key);
    this.list.push(pred);
  }
}
