/**
 * `diffSnapshots(before, after)`: the exact set of flows whose verdict changes, for every pair of
 * peers (endpoints present in both snapshots, and outside addresses), every protocol, port and
 * ICMP type/code — computed over equivalence classes, never by sampling.
 *
 * Work is proportional to what the change touches. A class can only change its egress (ingress)
 * decisions when its own labels, named ports or profiles changed, when a changed policy selects it
 * before or after, or when one of its policies has a rule whose selector or named port now matches
 * a different set of addresses. Only flows with a source of the first kind ("egress-dirty") or a
 * destination of the second ("ingress-dirty") can change; each dirty class is compared against
 * every other class, and the other classes are first grouped by what the dirty class's rules can
 * tell apart, so a one-policy change at 100k endpoints evaluates a handful of representatives.
 */
import type { Decision } from '../evaluate/types.js';
import type { Endpoint, Labels, Policy, Profile, Rule, Snapshot } from '../model/types.js';
import { endpointAddresses } from '../evaluate/evaluate.js';
import { ipKey, parseCidr } from '../net/cidr.js';
import { Analysis, type Program } from './analysis.js';
import { bucket, compareFlowSets, type Entry, l4Spec, mergeResults, type PairResult, pairsOf, peerSet, witnessOf } from './assemble.js';
import { combineMaps, type L4Map, someCell } from './l4.js';
import { groupChanges } from './report.js';
import type { DiffOptions, DiffResult, FlowChange, VerdictSummary } from './types.js';
import { buildUniverse, endpointKeyOf, labelsPrint, pairable, type PeerClass, type Side, type Universe } from './universe.js';

interface ChangeCell {
  readonly opened: boolean;
  readonly before: readonly [Decision, Decision];
  readonly after: readonly [Decision, Decision];
  readonly key: string;
}

const jsonMemo = new WeakMap<object, string>();
function json(o: object): string {
  let j = jsonMemo.get(o);
  if (j === undefined) jsonMemo.set(o, (j = JSON.stringify(o)));
  return j;
}

function tierPrint(side: Side, name: string): string {
  const t = side.index.tier(name);
  return `${t.order}:${t.defaultAction}:${t.declared}`;
}

function samePolicy(a: Policy, b: Policy, A: Side, B: Side): boolean {
  // One index: the same tiers on both sides.
  if (A.index !== B.index && tierPrint(A, a.tier) !== tierPrint(B, b.tier)) return false;
  return a === b || json(a) === json(b);
}

function* ruleSelectors(rule: Rule): Generator<string> {
  for (const e of [rule.source, rule.destination]) {
    if (e.selector !== undefined) yield e.selector;
    if (e.notSelector !== undefined) yield e.notSelector;
  }
}

function* ruleNamedPorts(rule: Rule): Generator<string> {
  for (const e of [rule.source, rule.destination]) {
    for (const p of [...(e.ports ?? []), ...(e.notPorts ?? [])]) if (p.kind === 'named') yield p.name;
  }
}

function rulesOf(p: Policy | Profile): Rule[] {
  return [...p.ingress, ...p.egress];
}

/** Labels of something whose address membership changed (either side may be absent). */
interface MembershipChange {
  readonly before?: Labels;
  readonly after?: Labels;
  /** Count a selector as affected when it matches either side (not only when they disagree). */
  readonly either: boolean;
  readonly portNames: readonly string[];
}

interface Dirty {
  readonly egress: Set<PeerClass>;
  readonly ingress: Set<PeerClass>;
}

/** The classes whose egress / ingress decisions may differ between the two sides. */
function dirtyClasses(u: Universe): Dirty {
  const [A, B] = u.sides;
  const egress = new Set<PeerClass>();
  const ingress = new Set<PeerClass>();
  if (u.single || (A.index === B.index && A.view === B.view)) return { egress, ingress };

  // Policies that differ (added, removed, edited, or in a tier whose order or default changed).
  const pa = new Map(A.view.policies.map((p) => [p.id, p]));
  const pb = new Map(B.view.policies.map((p) => [p.id, p]));
  const changed = new Set<string>();
  for (const [id, p] of pa) {
    const q = pb.get(id);
    if (!q || !samePolicy(p, q, A, B)) changed.add(id);
  }
  for (const id of pb.keys()) if (!pa.has(id)) changed.add(id);

  // Profiles that differ.
  const changedProfiles = new Set<string>();
  if (A.index !== B.index) {
    for (const name of new Set([...A.index.profiles.keys(), ...B.index.profiles.keys()])) {
      const x = A.index.profiles.get(name);
      const y = B.index.profiles.get(name);
      if (!x || !y || json(x) !== json(y)) changedProfiles.add(name);
    }
  }

  // Endpoints whose own identity changed, and everything whose address membership changed.
  const selfDirty = new Set<PeerClass>();
  const memberships: MembershipChange[] = [];
  if (A.index !== B.index) {
    for (const cls of u.classes) {
      if (cls.outside || !cls.endpoints) continue;
      const [ea, eb] = cls.endpoints;
      const la = A.index.effectiveLabels(ea);
      const lb = B.index.effectiveLabels(eb);
      const labelsChanged = labelsPrint(la) !== labelsPrint(lb);
      const portsChanged = json(ea.ports) !== json(eb.ports);
      const profilesChanged = ea.profiles.join(',') !== eb.profiles.join(',') || ea.profiles.some((n) => changedProfiles.has(n)) || eb.profiles.some((n) => changedProfiles.has(n));
      if (labelsChanged || portsChanged || profilesChanged) selfDirty.add(cls);
      if (labelsChanged || portsChanged) {
        memberships.push({ before: la, after: lb, either: false, portNames: [...ea.ports, ...eb.ports].map((p) => p.name) });
      }
    }
    const setsA = new Map(A.snapshot.networkSets.map((s) => [`${s.kind}/${s.id}`, s]));
    const setsB = new Map(B.snapshot.networkSets.map((s) => [`${s.kind}/${s.id}`, s]));
    for (const key of new Set([...setsA.keys(), ...setsB.keys()])) {
      const x = setsA.get(key);
      const y = setsB.get(key);
      const lx = x ? A.index.effectiveLabels(x) : undefined;
      const ly = y ? B.index.effectiveLabels(y) : undefined;
      if (x && y && json(x.nets) === json(y.nets) && labelsPrint(lx!) === labelsPrint(ly!)) continue;
      memberships.push({ ...(lx ? { before: lx } : {}), ...(ly ? { after: ly } : {}), either: true, portNames: [] });
    }
    // Endpoints in one snapshot only that share an address with a compared endpoint or cover a
    // wider CIDR: their labels and named ports change what those addresses are members of.
    const compared = new Set<string>();
    for (const cls of u.classes) if (!cls.outside) for (const p of cls.points) if (p.addr) compared.add(ipKey(p.addr));
    for (const side of [A, B]) {
      for (const e of [...side.index.workloads.values(), ...side.index.hosts.values()]) {
        if (u.common.has(endpointKeyOf(e))) continue;
        const texts = e.kind === 'WorkloadEndpoint' ? e.addresses : e.expectedIPs;
        const wide = texts.some((t) => {
          const c = parseCidr(t);
          return c !== undefined && c.prefix !== (c.version === 4 ? 32 : 128);
        });
        if (!wide && !endpointAddresses(e).some((a) => compared.has(ipKey(a)))) continue;
        const labels = side.index.effectiveLabels(e);
        memberships.push({ ...(side.label === 'before' ? { before: labels } : { after: labels }), either: true, portNames: e.ports.map((p) => p.name) });
      }
    }
  }

  // Rules whose selectors or named ports now match other addresses make their policies dirty.
  if (memberships.length > 0) {
    const affectedSelectors = new Set<string>();
    const affectedNames = new Set<string>();
    for (const m of memberships) for (const n of m.portNames) affectedNames.add(n);
    const checked = new Set<string>();
    const consider = (selector: string): void => {
      if (checked.has(selector)) return;
      checked.add(selector);
      let s;
      try {
        s = A.index.selector(selector);
      } catch {
        return;
      }
      for (const m of memberships) {
        const x = m.before ? s.matches(m.before) : false;
        const y = m.after ? s.matches(m.after) : false;
        if (x !== y || (m.either && (x || y))) {
          affectedSelectors.add(selector);
          return;
        }
      }
    };
    const touches = (rules: readonly Rule[]): boolean => {
      for (const r of rules) {
        for (const sel of ruleSelectors(r)) {
          consider(sel);
          if (affectedSelectors.has(sel)) return true;
        }
        for (const n of ruleNamedPorts(r)) if (affectedNames.has(n)) return true;
      }
      return false;
    };
    for (const side of [A, B]) {
      for (const p of side.view.policies) if (!changed.has(p.id) && touches(rulesOf(p))) changed.add(p.id);
      for (const p of side.index.profiles.values()) if (!changedProfiles.has(p.name) && touches(rulesOf(p))) changedProfiles.add(p.name);
    }
  }

  // Which classes a changed policy selects, before or after. Conservative: a policy counts for
  // every direction its types name, whatever the endpoint kind (extra dirt only costs time).
  const selectors: { matches: (labels: Labels) => boolean; side: Side; ingress: boolean; egress: boolean }[] = [];
  for (const [side, list] of [
    [A, A.view.policies],
    [B, B.view.policies],
  ] as const) {
    for (const p of list) {
      if (!changed.has(p.id)) continue;
      let sel;
      try {
        sel = side.index.selector(p.selector);
      } catch {
        continue; // an unparseable selector selects nothing
      }
      const both = p.types.length === 0;
      selectors.push({ matches: (l) => sel.matches(l), side, ingress: both || p.types.includes('Ingress'), egress: both || p.types.includes('Egress') });
    }
  }
  // Per endpoint pair (a class of each family usually shares its representative).
  const verdicts = new Map<Endpoint, { egress: boolean; ingress: boolean }>();
  for (const cls of u.classes) {
    if (cls.outside || !cls.endpoints) continue;
    const [ea, eb] = cls.endpoints;
    if (selfDirty.has(cls) || (changedProfiles.size > 0 && (ea.profiles.some((n) => changedProfiles.has(n)) || eb.profiles.some((n) => changedProfiles.has(n))))) {
      egress.add(cls);
      ingress.add(cls);
      continue;
    }
    if (selectors.length === 0) continue;
    let v = ea === eb ? verdicts.get(ea) : undefined;
    if (!v) {
      v = { egress: false, ingress: false };
      for (const s of selectors) {
        if ((!s.egress || v.egress) && (!s.ingress || v.ingress)) continue;
        if (!s.matches(s.side.index.effectiveLabels(s.side === A ? ea : eb))) continue;
        if (s.egress) v.egress = true;
        if (s.ingress) v.ingress = true;
      }
      if (ea === eb) verdicts.set(ea, v);
    }
    if (v.egress) egress.add(cls);
    if (v.ingress) ingress.add(cls);
  }
  return { egress, ingress };
}

function cellFactory(an: Analysis): (values: readonly unknown[]) => ChangeCell | undefined {
  const cells = new Map<string, ChangeCell>();
  return (values) => {
    const [ea, ia, eb, ib] = values as readonly [Decision, Decision, Decision, Decision];
    const before = ea.action === 'Allow' && ia.action === 'Allow';
    const after = eb.action === 'Allow' && ib.action === 'Allow';
    if (before === after) return undefined;
    const key = `${an.decisionId(ea)},${an.decisionId(ia)},${an.decisionId(eb)},${an.decisionId(ib)}`;
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { opened: after, before: [ea, ia], after: [eb, ib], key }));
    return cell;
  };
}

function changedPairs(u: Universe, an: Analysis, dirty: Dirty): PairResult<ChangeCell>[] {
  const [A, B] = u.sides;
  const cell = cellFactory(an);
  const out: PairResult<ChangeCell>[] = [];
  const record = (src: readonly PeerClass[], dst: readonly PeerClass[], maps: readonly L4Map<Decision>[]): void => {
    const map = combineMaps(maps, cell);
    if (someCell(map, (c) => c !== undefined)) out.push({ src, dst, map });
  };
  const differs = (x: L4Map<Decision>, y: L4Map<Decision>): boolean =>
    x !== y && someCell(combineMaps([x, y], ([p, q]) => (p as Decision).action !== (q as Decision).action), (d) => d);

  // Classes grouped by what a pair of programs can tell apart about them as peers (shared by
  // every dirty class running the same programs).
  const groupsMemo = new Map<string, PeerClass[][]>();
  // A class without an address pairs only with classes that have one (but for IPv4 endpoints
  // with no address at all, which pair with each other): no need to look at the others.
  const withAddress = { 4: u.byFamily[4].filter((c) => c.addr || c.noAddressAtAll), 6: u.byFamily[6].filter((c) => c.addr) };
  const peersGroupedBy = (pa: Program | undefined, pb: Program | undefined, of: PeerClass): PeerClass[][] => {
    const family = of.family;
    const same = pa?.peerKey === pb?.peerKey;
    const key = `${pa?.peerKey ?? '-'}#${same ? '=' : (pb?.peerKey ?? '-')}#${family}#${of.addr ? 1 : 0}`;
    let groups = groupsMemo.get(key);
    if (!groups) {
      groups = [
        ...bucket(of.addr ? u.byFamily[family] : withAddress[family], (c) =>
          same ? `${an.sig(pa, 'peer', c).key}#${c.addr ? 1 : 0}` : `${an.sig(pa, 'peer', c).key}#${an.sig(pb, 'peer', c).key}#${c.addr ? 1 : 0}`,
        ).values(),
      ];
      groupsMemo.set(key, groups);
    }
    return groups;
  };

  // A class's role in a direction: its programs and what they see of its own address. Classes
  // with one role decide alike towards any peer, so one representative is evaluated per role.
  const roles = { egress: new Map<PeerClass, string>(), ingress: new Map<PeerClass, string>() };
  const roleOf = (cls: PeerClass, direction: 'egress' | 'ingress', bothSides: boolean): string => {
    let r = roles[direction].get(cls);
    if (r === undefined) {
      const pa = an.program(A, cls, direction);
      const pb = bothSides ? an.program(B, cls, direction) : pa;
      r = `${pa?.id ?? '-'}|${an.sig(pa, 'own', cls).key}|${pb?.id ?? '-'}|${an.sig(pb, 'own', cls).key}|${cls.addr ? 1 : 0}`;
      roles[direction].set(cls, r);
    }
    return r;
  };

  // Destinations whose ingress may differ, against every source.
  for (const dst of [...dirty.ingress].sort((x, y) => x.id - y.id)) {
    const pa = an.program(A, dst, 'ingress');
    const pb = an.program(B, dst, 'ingress');
    for (const all of peersGroupedBy(pa, pb, dst)) {
      const group = all.filter((s) => pairable(s, dst));
      if (group.length === 0) continue;
      const rep = group[0]!;
      const inA = an.directionMap(A, 'ingress', dst, rep);
      const inB = an.directionMap(B, 'ingress', dst, rep);
      const inDiffers = differs(inA, inB);
      // One evaluation per egress role; sources with the same egress decisions change alike.
      const touched = group.filter((src) => inDiffers || dirty.egress.has(src));
      const decided = new Map<PeerClass, readonly [L4Map<Decision>, L4Map<Decision>]>();
      for (const members of bucket(touched, (src) => roleOf(src, 'egress', dirty.egress.has(src))).values()) {
        const rep = members[0]!;
        const egA = an.directionMap(A, 'egress', rep, dst);
        const maps = [egA, dirty.egress.has(rep) ? an.directionMap(B, 'egress', rep, dst) : egA] as const;
        for (const m of members) decided.set(m, maps);
      }
      for (const [egA, byA] of bucket(touched, (src) => decided.get(src)![0])) {
        for (const [egB, srcs] of bucket(byA, (src) => decided.get(src)![1])) record(srcs, [dst], [egA, inA, egB, inB]);
      }
    }
  }
  // Sources whose egress may differ, against every destination not handled above.
  for (const src of [...dirty.egress].sort((x, y) => x.id - y.id)) {
    const pa = an.program(A, src, 'egress');
    const pb = an.program(B, src, 'egress');
    for (const all of peersGroupedBy(pa, pb, src)) {
      const group = all.filter((d) => !dirty.ingress.has(d) && pairable(src, d));
      if (group.length === 0) continue;
      const rep = group[0]!;
      const egA = an.directionMap(A, 'egress', src, rep);
      const egB = an.directionMap(B, 'egress', src, rep);
      if (!differs(egA, egB)) continue;
      // One evaluation per ingress role (these destinations decide alike on both sides).
      const decided = new Map<PeerClass, L4Map<Decision>>();
      for (const members of bucket(group, (dst) => roleOf(dst, 'ingress', false)).values()) {
        const inA = an.directionMap(A, 'ingress', members[0]!, src);
        for (const m of members) decided.set(m, inA);
      }
      for (const [inA, dsts] of bucket(group, (dst) => decided.get(dst)!)) record([src], dsts, [egA, inA, egB, inA]);
    }
  }
  return out;
}

function verdict(cells: readonly [Decision, Decision], allowed: boolean): VerdictSummary {
  return { allowed, egress: cells[0], ingress: cells[1] };
}

function toChange(u: Universe, e: Entry<ChangeCell>): FlowChange {
  return {
    change: e.value.opened ? 'opened' : 'closed',
    ipVersion: e.src[0]!.family,
    from: peerSet(e.src),
    to: peerSet(e.dst),
    ...l4Spec(u, e.protocol, e.a, e.b),
    pairs: pairsOf(e.src, e.dst),
    before: verdict(e.value.before, !e.value.opened),
    after: verdict(e.value.after, e.value.opened),
    witness: witnessOf(e),
  };
}

function compareChanges(x: FlowChange, y: FlowChange): number {
  if (x.change !== y.change) return x.change === 'opened' ? -1 : 1;
  return compareFlowSets(x, y);
}

/**
 * Every flow whose verdict differs between `before` and `after`: newly allowed (`opened`) and
 * newly denied (`closed`), exactly, with the deciding policy and rule on both sides, a witness
 * flow each, and groups for people. Endpoints that are in only one snapshot (or changed
 * addresses) are listed in `endpoints` and not compared. Pure; throws only for programmer errors.
 *
 * Passing an `after` made from `before` by replacing policies (every other array the same
 * object) lets the analysis reuse `before`'s index: the cost is then proportional to what the
 * changed policies select and what their rules can tell apart.
 */
export function diffSnapshots(before: Snapshot, after: Snapshot, options: DiffOptions = {}): DiffResult {
  const u = buildUniverse(before, after, { ...(options.evaluate ? { evaluate: options.evaluate } : {}), afterStaged: options.afterStaged ?? false });
  const an = new Analysis(u);
  const dirty = dirtyClasses(u);
  const results = changedPairs(u, an, dirty);
  const changes = mergeResults(results, (c) => c.key)
    .map((e) => toChange(u, e))
    .sort(compareChanges);
  const opened = changes.filter((c) => c.change === 'opened').length;
  const { endpointChanges } = u;
  return {
    empty: changes.length === 0 && endpointChanges.added.length === 0 && endpointChanges.removed.length === 0 && endpointChanges.readdressed.length === 0,
    opened,
    closed: changes.length - opened,
    changes,
    groups: groupChanges(changes),
    endpoints: endpointChanges,
    stats: { ...an.stats, dirtyEgress: dirty.egress.size, dirtyIngress: dirty.ingress.size, sharedIndex: u.sharedIndex },
  };
}
