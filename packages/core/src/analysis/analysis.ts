/**
 * The evaluation half of the analysis: per endpoint class and direction, the "program" that
 * `evaluate()` would run (the ordered tiers, policies and profiles of its plan), what the program
 * can tell apart about the two addresses of a flow (signatures), and direction verdicts over the
 * layer-4 atoms, computed by `evaluate()`'s own `evaluateDirection` on one representative flow
 * per (program, own signature, peer signature, atom) and memoised.
 *
 * This file never decides a verdict itself: it only chooses which representative flows to ask
 * `evaluateDirection` about, and proves (by construction of the signatures and cuts) that every
 * other flow of the same classes and atom would get the same answer.
 */
import type { Decision, EvaluateOptions } from '../evaluate/types.js';
import type { Direction, Endpoint, EntityMatch, Policy, Profile, Rule } from '../model/types.js';
import { type Cidr, cidrContains, parseCidr } from '../net/cidr.js';
import { evaluateDirection } from '../evaluate/evaluate.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../evaluate/failsafe.js';
import type { MatchContext } from '../evaluate/rule-match.js';
import type { Member, SnapshotIndex, TierPlan } from '../evaluate/snapshot-index.js';
import type { Selector } from '../selector/index.js';
import { constantMap, CutSet, fillMap, type L4Map, protocolShape } from './l4.js';
import type { PeerClass, Side, Universe } from './universe.js';

/** Something a program's rules look at in one address of the flow. */
export type Pred =
  | { readonly kind: 'cidr'; readonly cidr: Cidr }
  /** IP-set membership: some endpoint or network set at the address has labels the selector matches. */
  | { readonly kind: 'sel'; readonly selector: string; readonly compiled: Selector | undefined }
  /** A named port, resolved against the address (dimension `a`: source port, `b`: destination port). */
  | { readonly kind: 'named'; readonly name: string; readonly selector: string | undefined; readonly dim: 'a' | 'b' };

/** What one endpoint runs in one direction on one side. */
export interface Program {
  readonly id: number;
  readonly side: Side;
  readonly direction: Direction;
  /** An endpoint that runs exactly this program (what `evaluateDirection` is called with). */
  readonly endpoint: Endpoint;
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

export class Analysis {
  readonly stats: AnalysisStats;
  private readonly programs = new Map<string, Program>();
  private readonly programOfClass = new Map<string, Program>();
  private readonly sigs = new Map<string, Sig[]>();
  private readonly members = new Map<SnapshotIndex, (readonly Member[])[]>();
  private readonly maps = new Map<string, L4Map<Decision>>();
  private readonly decisions = new Map<string, Decision>();
  private readonly decisionIds = new Map<Decision, number>();
  private readonly noPolicy: L4Map<Decision>;
  private readonly failsafe: { ingress: ReturnType<typeof failsafeEntries>; egress: ReturnType<typeof failsafeEntries> };

  constructor(
    readonly universe: Universe,
    /** Cuts every direction map gets (e.g. the ports a query asks about). */
    private readonly extraCuts?: CutSet,
  ) {
    this.stats = { classes: universe.classes.length, programs: 0, directionEvaluations: 0, directionMaps: 0, signatures: 0 };
    this.noPolicy = constantMap(universe.protocols, this.intern(NO_POLICY));
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
    const endpoint = cls.endpoints[side.label === 'before' ? 0 : 1];
    const plan = side.view.plan(endpoint);
    const stages: (readonly TierPlan[])[] =
      endpoint.kind === 'HostEndpoint'
        ? [plan.untracked[direction], direction === 'ingress' ? plan.preDnat.ingress : [], plan.normal[direction]]
        : [plan.normal[direction]];
    const profiles = endpoint.profiles.map((name) => side.index.profiles.get(name));
    // Keyed by the index, not the side: in a before/after pair sharing one index, an endpoint whose
    // policies did not change runs one program on both sides.
    const key = [
      objectId(side.index),
      direction,
      endpoint.kind,
      ...stages.map((tiers) => tiers.map((t) => `${t.tier.name}:${t.tier.order}:${t.tier.defaultAction}:${t.tier.declared}=${t.policies.map(objectId).join(',')}`).join(';')),
      profiles.map((p, i) => (p ? objectId(p) : `missing:${endpoint.profiles[i]}`)).join(','),
    ].join('|');
    let program = this.programs.get(key);
    if (!program) {
      const policies = stages.flatMap((tiers) => tiers.flatMap((t) => t.policies));
      program = buildProgram(this.programs.size + 1, side, direction, endpoint, policies, profiles, this.universe, endpoint.kind === 'HostEndpoint' ? this.failsafe[direction] : []);
      this.programs.set(key, program);
      this.stats.programs++;
    }
    this.programOfClass.set(memoKey, program);
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
    const named: { dim: 'a' | 'b'; protocol: number; port: number }[] = [];
    // The endpoints and network sets at the class's address (what IP-set membership looks at).
    const members = addr ? this.membersOf(program.side, cls) : [];
    for (const pred of preds) {
      if (!addr) {
        key += '-';
        continue;
      }
      if (pred.kind === 'cidr') key += cidrContains(pred.cidr, addr) ? '1' : '0';
      else if (pred.kind === 'sel') {
        let hit = false;
        if (pred.compiled) for (const m of members) if (pred.compiled.matches(m.labels)) {
          hit = true;
          break;
        }
        key += hit ? '1' : '0';
      } else {
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
        key += `[${[...found].sort().join(',')}]`;
      }
    }
    const sig: Sig = { key, named };
    byClass[cls.id] = sig;
    return sig;
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
    if (!program) return this.noPolicy;
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
      return this.intern(evaluateDirection(program.side.index, program.side.view, program.endpoint, direction, ctx, options).decision);
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
  return { id, side, direction, endpoint, own: own.list, peer: peer.list, ownKey: `${tag}|own|${own.key()}`, peerKey: `${tag}|peer|${peer.key()}`, cuts };
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
