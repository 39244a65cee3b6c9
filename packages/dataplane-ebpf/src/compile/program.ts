/**
 * Slot programs: for one (endpoint, direction, local address) the ordered block sequence the
 * datapath must apply, with everything about the local side (its address, its IP set
 * memberships, its named ports, the family) resolved now. What remains depends only on the
 * peer's class (peer conditions), the protocol, the destination port field and the source-port
 * class. Never reads verdict rows or map encodings.
 */
import {
  type Cidr,
  type CompiledPolicy,
  type CompiledProfile,
  type CompiledRule,
  type CompiledSide,
  type DataplaneState,
  type FailsafeEntry,
  type HostEndpointState,
  type IpAddr,
  type TierRef,
  type WorkloadEndpointState,
  cidrContains,
  formatIp,
  parseCidr,
  protoText,
} from '@gingham/core';

export type Action = 'Allow' | 'Deny' | 'Pass' | 'Log';
export type PortField = 'd' | 's';

/** A port condition, constant on the elementary intervals of its field. */
export interface PortCond {
  readonly field: PortField;
  readonly neg: boolean;
  readonly ranges: readonly (readonly [number, number])[];
  /** Local named ports as `[protocol, port]` (resolved from the local address's membership). */
  readonly localNamed: readonly (readonly [number, number])[];
  /** Peer named-port sets: (peer, proto, port) must be in one of them (condition `np:<id>:<proto>:<port>`). */
  readonly peerNamed: readonly string[];
}

export interface IrRule {
  readonly action: Action;
  readonly policy: string;
  readonly rule: number;
  readonly protocol?: number;
  readonly notProtocol?: number;
  /** Every group must have one key in the peer's class signature. */
  readonly peerAnyOf: readonly (readonly string[])[];
  /** No key may be in the peer's class signature. */
  readonly peerNoneOf: readonly string[];
  readonly ports: readonly PortCond[];
  readonly icmp?: { readonly type: number; readonly code?: number };
  readonly notIcmp?: { readonly type: number; readonly code?: number };
}

export type BlockKind = 'failsafe' | 'tier' | 'profile';

export interface Block {
  readonly kind: BlockKind;
  readonly name: string;
  readonly defaultAction: 'Deny' | 'Pass';
  readonly rules: readonly IrRule[];
  /** A doNotTrack tier: its Allow and Deny decide without conntrack (verdict flag FLAG_UNTRACKED). */
  readonly untracked?: boolean;
}

export interface Program {
  readonly family: 4 | 6;
  readonly blocks: readonly Block[];
  /** What nothing decided gets: Deny for endpoints (no profile matched), Allow for a host endpoint's forwarding slot. */
  readonly finalAllow?: boolean;
  /** Sorted start points of the source-port elementary intervals (first is 0); length 1 = no source-port condition. */
  readonly sportStarts: readonly number[];
}

export type EndpointState = WorkloadEndpointState | HostEndpointState;

const PROTO_BY_TEXT: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };

/** Parses a `net-port-proto` member; undefined when it can never match (not a host, not canonical). */
export function parseNamedMember(m: string): { host: IpAddr; hostText: string; protocol: number; port: number } | undefined {
  const comma = m.indexOf(',');
  if (comma < 0) return undefined;
  const cidrText = m.slice(0, comma);
  const pp = m.slice(comma + 1);
  const colon = pp.lastIndexOf(':');
  if (colon < 0) return undefined;
  const pt = pp.slice(0, colon);
  const portText = pp.slice(colon + 1);
  const c = parseCidr(cidrText);
  if (!c) return undefined;
  const host: IpAddr = c.version === 4 ? { version: 4, value: c.base } : { version: 6, value: c.base };
  if (`${formatIp(host)}/${c.version === 4 ? 32 : 128}` !== cidrText) return undefined;
  const protocol = PROTO_BY_TEXT[pt] ?? (/^\d+$/.test(pt) ? Number(pt) : NaN);
  if (!Number.isInteger(protocol) || protoText(protocol) !== pt) return undefined;
  const port = Number(portText);
  if (!Number.isInteger(port) || String(port) !== portText) return undefined;
  return { host, hostText: cidrText, protocol, port };
}

function familyCidrTexts(texts: readonly string[], family: 4 | 6): string[] {
  return texts.filter((t) => parseCidr(t)?.version === family);
}

/**
 * Everything a slot program reads from the dataplane state besides the endpoint itself. The
 * compiler memoises these per run and records, per slot, which ones a program consulted and
 * what they answered: a slot whose endpoint, policy/profile objects and recorded answers are
 * unchanged keeps its program.
 */
export interface ProgramReads {
  policy(id: string): CompiledPolicy | undefined;
  profile(id: string): CompiledProfile | undefined;
  /** Whether `addr` (a local address) is in `nets` set `setId`. */
  inSet(setId: string, addr: IpAddr): boolean;
  /** `[protocol, port]` of the `net-port-proto` members of `setId` for host `addr`, in member order. */
  localNamedPorts(setId: string, addr: IpAddr): readonly (readonly [number, number])[];
  /** Every port any member of `net-port-proto` set `setId` carries, sorted. */
  peerNamedPorts(setId: string): readonly number[];
}

/** `ProgramReads` over one state, memoised (each set is parsed at most once per purpose). */
export function stateReads(state: DataplaneState): ProgramReads {
  const cidrs = new Map<string, Cidr[]>();
  const inSet = new Map<string, boolean>();
  const named = new Map<string, Map<string, [number, number][]>>();
  const peerPorts = new Map<string, number[]>();
  return {
    policy: (id) => state.policies.get(id),
    profile: (id) => state.profiles.get(id),
    inSet(setId, addr) {
      const k = `${setId}\u0000${formatIp(addr)}`;
      let v = inSet.get(k);
      if (v === undefined) {
        let cs = cidrs.get(setId);
        if (!cs) {
          cs = [];
          for (const m of state.ipSets.get(setId)?.members ?? []) {
            const c = parseCidr(m);
            if (c) cs.push(c);
          }
          cidrs.set(setId, cs);
        }
        v = cs.some((c) => cidrContains(c, addr));
        inSet.set(k, v);
      }
      return v;
    },
    localNamedPorts(setId, addr) {
      let byHost = named.get(setId);
      if (!byHost) {
        byHost = new Map();
        for (const m of state.ipSets.get(setId)?.members ?? []) {
          const p = parseNamedMember(m);
          if (!p) continue;
          const list = byHost.get(p.hostText);
          if (list) list.push([p.protocol, p.port]);
          else byHost.set(p.hostText, [[p.protocol, p.port]]);
        }
        named.set(setId, byHost);
      }
      return byHost.get(`${formatIp(addr)}/${addr.version === 4 ? 32 : 128}`) ?? [];
    },
    peerNamedPorts(setId) {
      let ports = peerPorts.get(setId);
      if (!ports) {
        const s = new Set<number>();
        for (const m of state.ipSets.get(setId)?.members ?? []) {
          const p = parseNamedMember(m);
          if (p) s.add(p.port);
        }
        ports = [...s].sort((a, b) => a - b);
        peerPorts.set(setId, ports);
      }
      return ports;
    },
  };
}

function localNamedPorts(reads: ProgramReads, ids: readonly string[], addr: IpAddr): [number, number][] {
  const out: [number, number][] = [];
  for (const id of ids) for (const [q, port] of reads.localNamedPorts(id, addr)) out.push([q, port]);
  return out;
}

const ranges = (rs: CompiledSide['ports']): [number, number][] => (rs ?? []).map((r) => [r.min, r.max]);

/** Local side: returns false when it can never match, else port conditions to keep. */
function localSide(reads: ProgramReads, s: CompiledSide, addr: IpAddr, field: PortField, out: PortCond[]): boolean {
  const fam = addr.version;
  if (s.nets && !familyCidrTexts(s.nets, fam).some((t) => cidrContains(parseCidr(t)!, addr))) return false;
  if (s.notNets && familyCidrTexts(s.notNets, fam).some((t) => cidrContains(parseCidr(t)!, addr))) return false;
  if (s.ipSetId !== undefined && !reads.inSet(s.ipSetId, addr)) return false;
  if (s.notIpSetId !== undefined && reads.inSet(s.notIpSetId, addr)) return false;
  if ((s.ports?.length ?? 0) + (s.namedPortIpSetIds?.length ?? 0) > 0) {
    out.push({ field, neg: false, ranges: ranges(s.ports), localNamed: localNamedPorts(reads, s.namedPortIpSetIds ?? [], addr), peerNamed: [] });
  }
  if ((s.notPorts?.length ?? 0) + (s.notNamedPortIpSetIds?.length ?? 0) > 0) {
    out.push({ field, neg: true, ranges: ranges(s.notPorts), localNamed: localNamedPorts(reads, s.notNamedPortIpSetIds ?? [], addr), peerNamed: [] });
  }
  return !(s.domains && s.domains.length > 0);
}

function peerSide(s: CompiledSide, family: 4 | 6, field: PortField, anyOf: string[][], noneOf: string[], out: PortCond[]): boolean {
  if (s.nets) anyOf.push(familyCidrTexts(s.nets, family).map((t) => `n:${t}`));
  if (s.notNets) noneOf.push(...familyCidrTexts(s.notNets, family).map((t) => `n:${t}`));
  if (s.ipSetId !== undefined) anyOf.push([`s:${s.ipSetId}`]);
  if (s.notIpSetId !== undefined) noneOf.push(`s:${s.notIpSetId}`);
  if ((s.ports?.length ?? 0) + (s.namedPortIpSetIds?.length ?? 0) > 0) {
    out.push({ field, neg: false, ranges: ranges(s.ports), localNamed: [], peerNamed: [...(s.namedPortIpSetIds ?? [])] });
  }
  if ((s.notPorts?.length ?? 0) + (s.notNamedPortIpSetIds?.length ?? 0) > 0) {
    out.push({ field, neg: true, ranges: ranges(s.notPorts), localNamed: [], peerNamed: [...(s.notNamedPortIpSetIds ?? [])] });
  }
  return !(s.domains && s.domains.length > 0);
}

/** The IR of a rule whose address and port conditions are `anyOf` / `noneOf` / `ports`. */
function ruleOf(r: CompiledRule, policy: string, index: number, anyOf: string[][], noneOf: string[], ports: PortCond[]): IrRule {
  return {
    action: r.action,
    policy,
    rule: index,
    ...(r.protocol !== undefined ? { protocol: r.protocol } : {}),
    ...(r.notProtocol !== undefined ? { notProtocol: r.notProtocol } : {}),
    peerAnyOf: anyOf,
    peerNoneOf: [...new Set(noneOf)].sort(),
    ports,
    ...(r.icmp ? { icmp: r.icmp } : {}),
    ...(r.notICMP ? { notIcmp: r.notICMP } : {}),
  };
}

/** One compiled rule for a slot, or undefined when it can never match there. */
export function irRule(reads: ProgramReads, r: CompiledRule, dir: 'ingress' | 'egress', local: IpAddr, policy: string, index: number): IrRule | undefined {
  const family = local.version;
  if (r.ipVersion !== undefined && r.ipVersion !== family) return undefined;
  for (const s of [r.source, r.destination]) {
    if (s.nets && familyCidrTexts(s.nets, family).length === 0) return undefined;
    if (s.notNets && familyCidrTexts(s.notNets, family).length === 0) return undefined;
  }
  const ports: PortCond[] = [];
  const anyOf: string[][] = [];
  const noneOf: string[] = [];
  const [localS, peerS] = dir === 'ingress' ? [r.destination, r.source] : [r.source, r.destination];
  const [localF, peerF]: [PortField, PortField] = dir === 'ingress' ? ['d', 's'] : ['s', 'd'];
  if (!localSide(reads, localS, local, localF, ports)) return undefined;
  if (!peerSide(peerS, family, peerF, anyOf, noneOf, ports)) return undefined;
  if (r.protocol !== undefined && r.notProtocol !== undefined && r.protocol === r.notProtocol) return undefined;
  return ruleOf(r, policy, index, anyOf, noneOf, ports);
}

function failsafeBlock(entries: readonly FailsafeEntry[], family: 4 | 6): Block {
  const rules: IrRule[] = [];
  entries.forEach((f, i) => {
    const anyOf: string[][] = [];
    if (f.net !== undefined) {
      const c = parseCidr(f.net);
      if (!c || c.version !== family) return;
      anyOf.push([`n:${f.net}`]);
    }
    rules.push({
      action: 'Allow',
      policy: '<failsafe>',
      rule: i,
      protocol: f.protocol === 'tcp' ? 6 : 17,
      peerAnyOf: anyOf,
      peerNoneOf: [],
      ports: [{ field: 'd', neg: false, ranges: [[f.port, f.port]], localNamed: [], peerNamed: [] }],
    });
  });
  return { kind: 'failsafe', name: '<failsafe>', defaultAction: 'Pass', rules };
}

function tierBlocks(reads: ProgramReads, tiers: readonly TierRef[], dir: 'ingress' | 'egress', local: IpAddr, untracked = false): Block[] {
  return tiers.map((t) => {
    const rules: IrRule[] = [];
    for (const id of t.policyIds) {
      const p = reads.policy(id);
      if (!p || p.staged) continue;
      (dir === 'ingress' ? p.ingress : p.egress).forEach((r, i) => {
        const ir = irRule(reads, r, dir, local, id, i);
        if (ir) rules.push(ir);
      });
    }
    return untracked ? { kind: 'tier', name: t.name, defaultAction: t.defaultAction, rules, untracked } : { kind: 'tier', name: t.name, defaultAction: t.defaultAction, rules };
  });
}

function sportStarts(blocks: readonly Block[], peerNamedPorts: (setId: string) => readonly number[]): number[] {
  const starts = new Set<number>([0]);
  for (const b of blocks) {
    for (const r of b.rules) {
      for (const c of r.ports) {
        if (c.field !== 's') continue;
        const add = (lo: number, hi: number): void => {
          starts.add(Math.max(0, lo));
          if (hi + 1 <= 0xffff) starts.add(hi + 1);
        };
        for (const [lo, hi] of c.ranges) add(lo, hi);
        for (const [, p] of c.localNamed) add(p, p);
        for (const id of c.peerNamed) for (const p of peerNamedPorts(id)) add(p, p);
      }
    }
  }
  return [...starts].filter((s) => s >= 0 && s <= 0xffff).sort((a, b) => a - b);
}

/**
 * The program of one slot. It reads the state only through `reads` (source-port classes are
 * split at every port of the peer named-port sets of source-port conditions).
 */
export function slotProgram(reads: ProgramReads, e: EndpointState, dir: 'ingress' | 'egress', local: IpAddr): Program {
  const blocks: Block[] = [];
  if ('binding' in e) {
    blocks.push(failsafeBlock(dir === 'ingress' ? e.failsafeInbound : e.failsafeOutbound, local.version));
    blocks.push(...tierBlocks(reads, dir === 'ingress' ? e.untrackedIngressTiers : e.untrackedEgressTiers, dir, local, true));
    if (dir === 'ingress') blocks.push(...tierBlocks(reads, e.preDnatIngressTiers, dir, local));
  }
  blocks.push(...tierBlocks(reads, dir === 'ingress' ? e.ingressTiers : e.egressTiers, dir, local));
  for (const id of e.profileIds) {
    const p = reads.profile(id);
    if (!p) continue;
    const rules: IrRule[] = [];
    (dir === 'ingress' ? p.ingress : p.egress).forEach((r, i) => {
      const ir = irRule(reads, r, dir, local, id, i);
      if (ir) rules.push(ir);
    });
    blocks.push({ kind: 'profile', name: id, defaultAction: 'Pass', rules });
  }
  return { family: local.version, blocks, sportStarts: sportStarts(blocks, (id) => reads.peerNamedPorts(id)) };
}

/** Peer condition keys a program references: `s:`/`n:` keys and named-port set ids. */
export function programConditions(p: Program): { keys: Set<string>; namedSets: Set<string> } {
  const keys = new Set<string>();
  const namedSets = new Set<string>();
  for (const b of p.blocks) {
    for (const r of b.rules) {
      for (const g of r.peerAnyOf) for (const k of g) keys.add(k);
      for (const k of r.peerNoneOf) keys.add(k);
      for (const c of r.ports) for (const id of c.peerNamed) namedSets.add(id);
    }
  }
  return { keys, namedSets };
}

/** The three forwarding checks of a host endpoint (see docs/ebpf-datapath.md, "Forwarding"). */
export type ForwardKind = 'fwd-in' | 'fwd-out' | 'pre-in';

/** `n:`/`s:` keys and named-port set ids of one side of a pair program carry the side: `S|` (source) or `D|` (destination). */
export function qualifyKey(k: string, side: 'S' | 'D'): string {
  if (k.startsWith('np:')) return `np:${side}|${k.slice(3)}`;
  return `${k.slice(0, 2)}${side}|${k.slice(2)}`;
}

/** The raw key (or set id) of a qualified one. */
export function unqualify(k: string): string {
  if (k.startsWith('np:')) return `np:${k.slice(5)}`;
  if (k.startsWith('n:') || k.startsWith('s:')) return `${k.slice(0, 2)}${k.slice(4)}`;
  return k.slice(2);
}

/** A rule of a pair program: conditions on both addresses, nothing resolved at compile time. */
function pairRule(r: CompiledRule, family: 4 | 6, policy: string, index: number): IrRule | undefined {
  if (r.ipVersion !== undefined && r.ipVersion !== family) return undefined;
  for (const side of [r.source, r.destination]) {
    if (side.nets && familyCidrTexts(side.nets, family).length === 0) return undefined;
    if (side.notNets && familyCidrTexts(side.notNets, family).length === 0) return undefined;
  }
  if (r.protocol !== undefined && r.notProtocol !== undefined && r.protocol === r.notProtocol) return undefined;
  const anyOf: string[][] = [];
  const noneOf: string[] = [];
  const ports: PortCond[] = [];
  for (const [s, field, side] of [[r.source, 's', 'S'], [r.destination, 'd', 'D']] as const) {
    const a: string[][] = [];
    const n: string[] = [];
    const pc: PortCond[] = [];
    if (!peerSide(s, family, field, a, n, pc)) return undefined;
    anyOf.push(...a.map((g) => g.map((k) => qualifyKey(k, side))));
    noneOf.push(...n.map((k) => qualifyKey(k, side)));
    ports.push(...pc.map((c) => ({ ...c, peerNamed: c.peerNamed.map((id) => `${side}|${id}`) })));
  }
  return ruleOf(r, policy, index, anyOf, noneOf, ports);
}

/**
 * A host endpoint's forwarding check for one family, over both addresses of the packet (its own
 * classes, `S|`/`D|`-qualified): `fwd-in` on arrival (untracked, pre-DNAT, applyOnForward ingress
 * tiers), `fwd-out` on departure (applyOnForward egress tiers), `pre-in` for a workload's packet
 * to its host (pre-DNAT only). Untracked and pre-DNAT tiers end in Pass (the Engine says so); what
 * no tier decides is allowed. No failsafes (they guard the host itself), no profiles.
 */
export function forwardProgram(reads: ProgramReads, h: HostEndpointState, kind: ForwardKind, family: 4 | 6): Program {
  const dir = kind === 'fwd-out' ? 'egress' : 'ingress';
  const tiers = (list: readonly TierRef[], untracked: boolean): Block[] =>
    list.map((t) => {
      const rules: IrRule[] = [];
      for (const id of t.policyIds) {
        const p = reads.policy(id);
        if (!p || p.staged) continue;
        (dir === 'ingress' ? p.ingress : p.egress).forEach((r, i) => {
          const ir = pairRule(r, family, id, i);
          if (ir) rules.push(ir);
        });
      }
      return untracked ? { kind: 'tier', name: t.name, defaultAction: t.defaultAction, rules, untracked } : { kind: 'tier', name: t.name, defaultAction: t.defaultAction, rules };
    });
  const blocks: Block[] =
    kind === 'fwd-out'
      ? tiers(h.forwardEgressTiers, false)
      : kind === 'pre-in'
        ? tiers(h.preDnatIngressTiers, false)
        : [...tiers(h.untrackedIngressTiers, true), ...tiers(h.preDnatIngressTiers, false), ...tiers(h.forwardIngressTiers, false)];
  return { family, blocks, finalAllow: true, sportStarts: sportStarts(blocks, (id) => reads.peerNamedPorts(id.slice(2))) };
}
