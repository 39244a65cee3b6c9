/**
 * Runs a slot program once per (peer class, source-port class) over every protocol and
 * destination-port value, producing the verdict rows of that class: an interval sweep in rule
 * order with three states per elementary interval (undecided, passed-in-this-tier, decided),
 * which is Calico's tier semantics (Log continues, Pass leaves the tier, Allow/Deny decide,
 * an undecided tier ends in its default, profiles are Pass-default tiers, then Deny; a
 * forwarding program ends in Allow).
 */
import { ACTION_ALLOW, ACTION_DENY, FLAG_DEFAULT, FLAG_FAILSAFE, FLAG_LOG, FLAG_PROFILE, FLAG_UNTRACKED, NONE16, NONE32, type VerdictValue } from '../wire.js';
import { sigConds, sigFamily } from './classes.js';
import { mergeSegments, prefixEntries, type Segment } from './prefixes.js';
import type { IrRule, PortCond, Program } from './program.js';

export interface Row {
  readonly sport: number;
  readonly bits: number;
  readonly value: number;
  readonly verdict: VerdictValue;
}

const BASE_PROTOS = [1, 6, 17, 58, 132];
type Kind = 'port' | 'icmp' | 'none';

const kindOf = (q: number): Kind => (q === 6 || q === 17 || q === 132 ? 'port' : q === 1 || q === 58 ? 'icmp' : 'none');

export function verdictKey(v: VerdictValue): string {
  return `${v.action}/${v.flags}/${v.tier}/${v.policy}/${v.rule}`;
}

interface Cond {
  readonly neg: boolean;
  readonly ranges: readonly (readonly [number, number])[];
  readonly points: readonly number[];
}

function holds(c: Cond, v: number): boolean {
  const hit = c.ranges.some(([lo, hi]) => v >= lo && v <= hi) || c.points.includes(v);
  return hit !== c.neg;
}

/**
 * Verdict rows of `program` for the class `sig`. `policyNum` maps a policy/profile name to its
 * numeric id. Classes of the other family get no rows (such peers never reach this slot).
 */
export function classRows(program: Program, sig: string, policyNum: (name: string) => number): Row[] {
  if (sigFamily(sig) !== program.family) return [];
  const conds = sigConds(sig);
  const named = new Map<string, number[]>();
  for (const k of conds) {
    if (!k.startsWith('np:')) continue;
    const lastColon = k.lastIndexOf(':');
    const head = k.slice(3, lastColon);
    const list = named.get(head);
    const port = Number(k.slice(lastColon + 1));
    if (list) list.push(port);
    else named.set(head, [port]);
  }
  const peerPorts = (setId: string, q: number): number[] => named.get(`${setId}:${q}`) ?? [];
  const blocks = program.blocks.map((b) => ({
    b,
    rules: b.rules.filter((r) => r.peerAnyOf.every((g) => g.some((k) => conds.has(k))) && !r.peerNoneOf.some((k) => conds.has(k))),
  }));
  const protos = new Set(BASE_PROTOS);
  for (const { rules } of blocks) {
    for (const r of rules) {
      if (r.protocol !== undefined) protos.add(r.protocol);
      if (r.notProtocol !== undefined) protos.add(r.notProtocol);
    }
  }
  const specific = [...protos].filter((q) => q >= 0 && q <= 255).sort((a, b) => a - b);

  const toCond = (c: PortCond, q: number): Cond => ({
    neg: c.neg,
    ranges: c.ranges,
    points: [...c.localNamed.filter(([p]) => p === q).map(([, port]) => port), ...c.peerNamed.flatMap((id) => peerPorts(id, q))],
  });

  /** Verdicts over the elementary intervals of one protocol (one sport representative). */
  const sweep = (q: number, sport: number | undefined): Segment<VerdictValue>[] => {
    const kind = kindOf(q);
    type Live = { r: IrRule; d: Cond[] };
    const live: Live[][] = blocks.map(({ rules }) =>
      rules.flatMap((r): Live[] => {
        if (r.protocol !== undefined && r.protocol !== q) return [];
        if (r.notProtocol !== undefined && r.notProtocol === q) return [];
        if (kind === 'port') {
          if (r.icmp || r.notIcmp) return [];
          const d: Cond[] = [];
          for (const c of r.ports) {
            const cc = toCond(c, q);
            if (c.field === 's') {
              if (sport === undefined || !holds(cc, sport)) return [];
            } else d.push(cc);
          }
          return [{ r, d }];
        }
        if (r.ports.length > 0) return [];
        if (kind === 'none') return r.icmp || r.notIcmp ? [] : [{ r, d: [] }];
        const d: Cond[] = [];
        const icmpRange = (m: { type: number; code?: number }): [number, number] =>
          m.code === undefined ? [(m.type & 0xff) << 8, ((m.type & 0xff) << 8) | 0xff] : [((m.type & 0xff) << 8) | (m.code & 0xff), ((m.type & 0xff) << 8) | (m.code & 0xff)];
        if (r.icmp) d.push({ neg: false, ranges: [icmpRange(r.icmp)], points: [] });
        if (r.notIcmp) d.push({ neg: true, ranges: [icmpRange(r.notIcmp)], points: [] });
        return [{ r, d }];
      }),
    );
    // Elementary intervals.
    const cut = new Set<number>([0]);
    if (kind !== 'none') {
      for (const ls of live) {
        for (const { d } of ls) {
          for (const c of d) {
            for (const [lo, hi] of c.ranges) {
              cut.add(Math.max(0, lo));
              if (hi + 1 <= 0xffff) cut.add(hi + 1);
            }
            for (const p of c.points) {
              cut.add(p);
              if (p + 1 <= 0xffff) cut.add(p + 1);
            }
          }
        }
      }
    }
    const starts = [...cut].filter((x) => x >= 0 && x <= 0xffff).sort((a, b) => a - b);
    const n = starts.length;
    const decided: (VerdictValue | undefined)[] = new Array(n).fill(undefined);
    const logged = new Uint8Array(n);
    const passed = new Uint8Array(n);
    const find = (x: number): number => {
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= x) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    const each = (d: readonly Cond[], f: (i: number) => void): void => {
      const first = d[0];
      if (first && !first.neg && first.points.length === 0) {
        for (const [lo, hi] of first.ranges) {
          if (hi < lo || hi < 0 || lo > 0xffff) continue;
          const a = find(Math.max(0, lo));
          for (let i = a; i < n && starts[i]! <= hi; i++) if (d.every((c) => holds(c, starts[i]!))) f(i);
        }
        return;
      }
      for (let i = 0; i < n; i++) if (d.every((c) => holds(c, starts[i]!))) f(i);
    };
    blocks.forEach(({ b }, bi) => {
      passed.fill(0);
      const flagsOf = (b.kind === 'profile' ? FLAG_PROFILE : b.kind === 'failsafe' ? FLAG_FAILSAFE : 0) | (b.untracked ? FLAG_UNTRACKED : 0);
      for (const { r, d } of live[bi]!) {
        each(d, (i) => {
          if (decided[i] || passed[i]) return;
          if (r.action === 'Log') logged[i] = 1;
          else if (r.action === 'Pass') passed[i] = 1;
          else {
            decided[i] = {
              action: r.action === 'Allow' ? ACTION_ALLOW : ACTION_DENY,
              flags: flagsOf | (logged[i] ? FLAG_LOG : 0),
              tier: bi,
              policy: policyNum(r.policy),
              rule: r.rule,
            };
          }
        });
      }
      if (b.defaultAction === 'Deny') {
        for (let i = 0; i < n; i++) {
          if (!decided[i] && !passed[i]) decided[i] = { action: ACTION_DENY, flags: FLAG_DEFAULT | (logged[i] ? FLAG_LOG : 0), tier: bi, policy: NONE32, rule: NONE16 };
        }
      }
    });
    const base = q < 0 ? 0 : q << 16;
    const segs: Segment<VerdictValue>[] = [];
    for (let i = 0; i < n; i++) {
      const v = decided[i] ?? { action: program.finalAllow ? ACTION_ALLOW : ACTION_DENY, flags: FLAG_DEFAULT | (logged[i] ? FLAG_LOG : 0), tier: NONE16, policy: NONE32, rule: NONE16 };
      segs.push({ lo: base + starts[i]!, hi: base + (i + 1 < n ? starts[i + 1]! - 1 : 0xffff), v, key: verdictKey(v) });
    }
    return segs;
  };

  const other = sweep(-1, undefined)[0]!;
  const fixed = new Map<number, Segment<VerdictValue>[]>();
  for (const q of specific) if (kindOf(q) !== 'port') fixed.set(q, sweep(q, undefined));
  const rows: Row[] = [];
  program.sportStarts.forEach((sportRep, k) => {
    const segs: Segment<VerdictValue>[] = [];
    let next = 0;
    for (const q of specific) {
      if (next < q << 16) segs.push({ lo: next, hi: (q << 16) - 1, v: other.v, key: other.key });
      segs.push(...(fixed.get(q) ?? sweep(q, sportRep)));
      next = (q + 1) << 16;
    }
    if (next <= 0xffffff) segs.push({ lo: next, hi: 0xffffff, v: other.v, key: other.key });
    for (const e of prefixEntries(mergeSegments(segs), 24)) rows.push({ sport: k, bits: e.bits, value: e.value, verdict: e.v });
  });
  return rows;
}
