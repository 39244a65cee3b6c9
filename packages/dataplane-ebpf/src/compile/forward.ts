/**
 * Forwarding slots: a host endpoint's checks on a packet the node forwards (and the `*`
 * endpoint's pre-DNAT check on a workload's packet to its host). Unlike endpoint slots, neither
 * address is the endpoint's own, so both are classified: each slot version carries its own
 * classes (`fwd_classes`, keyed by slot, version and side: source addresses by the conditions
 * on the source, destinations by those on the destination) and verdict rows for every (source
 * class, destination class) pair, `class = src << 16 | dst`. A slot changes as a whole: a new version's
 * classes and rows are written first, the version flips in one write, the old ones go last; so
 * it is gap-free without transition classes. Forwarding policy is rare and small; a label change
 * that touches it rewrites only that slot.
 *
 * Also the `ifaces` table: which slots apply to a packet arriving on / leaving by an interface
 * (key 0: the all-interfaces endpoint, for every interface without a named one, workload veths
 * included). Never reads verdict rows of endpoint slots.
 */
import { bindHostEndpoints, type DataplaneState, type HostEndpointState } from '@gingham/core';
import {
  encodeFwdClassKey,
  encodeIfaceValue,
  encodeSportKey,
  encodeU32Value,
  encodeVerdictKey,
  encodeVerdictValue,
  FLAG_FORWARD,
  IFACE_HAS_NAMED,
  type IfaceValue,
  NONE32,
  SLOT_HAS_SPORT,
} from '../wire.js';
import { computeRegions, sigConds, sigFamily, signature } from './classes.js';
import { classRows } from './evaluate.js';
import { prefixEntries } from './prefixes.js';
import { type ForwardKind, forwardProgram, type Program, programConditions, type ProgramReads, qualifyKey, unqualify } from './program.js';

/** One interface of the namespace the program is attached in. */
export interface HostInterface {
  readonly name: string;
  readonly ifindex: number;
  /** Its addresses (any family), for host endpoints bound by expected IPs. */
  readonly addresses: readonly string[];
}

/** What the compiler is told about the host it compiles for (never read from the system here). */
export interface HostFacts {
  /** The node: only its host endpoints take part in forwarding (default: every host endpoint of the state). */
  readonly node?: string;
  /** The namespace's interfaces, so that named and expected-IP host endpoints find their ifindex. */
  readonly interfaces?: readonly HostInterface[];
}

/** An encoded map entry owned by one forwarding slot version. */
export interface FwdEntry {
  readonly map: 'fwd_classes' | 'sports' | 'verdicts';
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface FwdSlotMemory {
  readonly key: string;
  readonly id: number;
  readonly version: number;
  readonly flags: number;
  readonly fingerprint: string;
  /** Signatures by class id (this slot version's own classes), of source and of destination addresses. */
  readonly classes: { readonly S: readonly string[]; readonly D: readonly string[] };
  /** The programs and what they were built from (never written anywhere). */
  readonly cache: FwdProgramCache;
  readonly entries: readonly FwdEntry[];
}

function byId<T extends { id: string }>(m: Map<string, T>): T[] {
  return [...m.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Host endpoints that take part, the all-interfaces one per node, and the interface bindings. */
export function hostBindings(state: DataplaneState, facts: HostFacts): { heps: HostEndpointState[]; stars: Map<string, HostEndpointState>; byIfindex: Map<number, HostEndpointState> } {
  const heps = byId(state.hostEndpoints).filter((h) => facts.node === undefined || h.node === facts.node);
  const stars = new Map<string, HostEndpointState>();
  for (const h of heps) if (h.binding.kind === 'all-interfaces' && !stars.has(h.node)) stars.set(h.node, h);
  const workloads = new Set([...state.workloadEndpoints.values()].map((w) => w.interfaceName));
  // Core's binding rule (the one the iptables dataplane renders), over the interfaces that exist here.
  const present = (facts.interfaces ?? []).filter((i) => i.ifindex > 0);
  const bound = bindHostEndpoints(heps, present.map((i) => ({ ifname: i.name, addresses: i.addresses })), { isWorkloadInterface: (ifname) => workloads.has(ifname) }).interfaces;
  const byIfindex = new Map<number, HostEndpointState>();
  for (const i of present) {
    const h = bound.get(i.name);
    if (h) byIfindex.set(i.ifindex, h);
  }
  return { heps, stars, byIfindex };
}

/** Slot keys of a host endpoint's forwarding checks. */
export function forwardKey(kind: ForwardKind, h: HostEndpointState): string {
  return `${kind}|h:${h.id}`;
}

/** The forwarding slots wanted: the kinds each host endpoint needs (pre-in only for all-interfaces ones). */
export function forwardSlots(bindings: ReturnType<typeof hostBindings>): Map<string, { h: HostEndpointState; kind: ForwardKind }> {
  const out = new Map<string, { h: HostEndpointState; kind: ForwardKind }>();
  const want = new Set<HostEndpointState>([...bindings.stars.values(), ...bindings.byIfindex.values()]);
  for (const h of want) {
    for (const kind of ['fwd-in', 'fwd-out', 'pre-in'] as const) {
      if (kind === 'pre-in' && h.binding.kind !== 'all-interfaces') continue;
      out.set(forwardKey(kind, h), { h, kind });
    }
  }
  return out;
}

type Regions = { addr: { family: 4 | 6; bytes: Uint8Array }; prefix: number; sig: string }[];

/**
 * The programs (one per family, sharing source-port classes), and the classes of each side:
 * source addresses are classified by the conditions on the source only, destinations by those
 * on the destination, so a slot has |source classes| x |destination classes| pairs.
 */
/** What a forwarding slot's programs were built from: reused while the endpoint, policy objects and named-port lists are the same. */
export interface FwdProgramCache {
  readonly h: HostEndpointState;
  readonly policies: ReadonlyMap<string, unknown>;
  readonly peerNamed: ReadonlyMap<string, string>;
  readonly programs: Record<4 | 6, Program>;
  /** JSON of the programs (part of the fingerprint). */
  readonly text: string;
}

function programsOf(reads: ProgramReads, h: HostEndpointState, kind: ForwardKind, cache: FwdProgramCache | undefined): FwdProgramCache {
  if (
    cache &&
    cache.h === h &&
    [...cache.policies].every(([id, p]) => reads.policy(id) === p) &&
    [...cache.peerNamed].every(([id, ports]) => JSON.stringify(reads.peerNamedPorts(id)) === ports)
  ) {
    return cache;
  }
  const policies = new Map<string, unknown>();
  const peerNamed = new Map<string, string>();
  const rec: ProgramReads = {
    ...reads,
    policy: (id) => {
      const p = reads.policy(id);
      policies.set(id, p);
      return p;
    },
    peerNamedPorts: (id) => {
      const ports = reads.peerNamedPorts(id);
      peerNamed.set(id, JSON.stringify(ports));
      return ports;
    },
  };
  const p4 = forwardProgram(rec, h, kind, 4);
  const p6 = forwardProgram(rec, h, kind, 6);
  const starts = [...new Set([...p4.sportStarts, ...p6.sportStarts])].sort((a, b) => a - b);
  const programs = { 4: { ...p4, sportStarts: starts }, 6: { ...p6, sportStarts: starts } };
  return { h, policies, peerNamed, programs, text: JSON.stringify(programs) };
}

export function planForwardSlot(
  state: DataplaneState,
  reads: ProgramReads,
  h: HostEndpointState,
  kind: ForwardKind,
  cache?: FwdProgramCache,
): { programs: Record<4 | 6, Program>; sides: Record<'S' | 'D', { classes: string[]; regions: Regions }>; fingerprint: string; cache: FwdProgramCache } {
  const built = programsOf(reads, h, kind, cache);
  const programs = built.programs;
  const p4 = programs[4];
  const p6 = programs[6];
  const keys = { S: new Set<string>(), D: new Set<string>() };
  const named = { S: new Set<string>(), D: new Set<string>() };
  const sideOf = (k: string): 'S' | 'D' => ((k.startsWith('np:') ? k[3] : k.startsWith('n:') || k.startsWith('s:') ? k[2] : k[0]) === 'S' ? 'S' : 'D');
  for (const p of [p4, p6]) {
    const c = programConditions(p);
    for (const k of c.keys) keys[sideOf(k)].add(unqualify(k));
    for (const id of c.namedSets) named[sideOf(id)].add(unqualify(id));
  }
  const side = (x: 'S' | 'D'): { classes: string[]; regions: Regions } => {
    const regions = [...computeRegions(state, keys[x], named[x]).entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
    return { classes: [...new Set(regions.map((r) => r.sig))].sort(), regions };
  };
  const sides = { S: side('S'), D: side('D') };
  const fingerprint = `${built.text}\n${JSON.stringify((['S', 'D'] as const).map((x) => sides[x].regions.map((r) => [r.addr.family, Buffer.from(r.addr.bytes).toString('hex'), r.prefix, r.sig])))}`;
  return { programs, sides, fingerprint, cache: built };
}

function qualified(sig: string, side: 'S' | 'D'): string[] {
  return [...sigConds(sig)].map((k) => qualifyKey(k, side));
}

/** Every map entry of one forwarding slot version. Destination classes are keyed with family + 0x10. */
export function forwardEntries(plan: ReturnType<typeof planForwardSlot>, id: number, version: number, policyNum: (name: string) => number): { entries: FwdEntry[]; flags: number } {
  const entries: FwdEntry[] = [];
  for (const x of ['S', 'D'] as const) {
    const { classes, regions } = plan.sides[x];
    if (classes.length > 0xffff) throw new Error(`ebpf compile: forwarding slot ${id} has ${classes.length} ${x === 'S' ? 'source' : 'destination'} classes (at most 65,535)`);
    const classId = new Map(classes.map((sig, i) => [sig, i]));
    for (const r of regions) {
      const addr = x === 'S' ? r.addr : { family: r.addr.family, bytes: r.addr.bytes };
      entries.push({ map: 'fwd_classes', key: encodeFwdClassKey(id, version, addr, r.prefix, x === 'D'), value: encodeU32Value(classId.get(r.sig)!) });
    }
  }
  const starts = plan.programs[4].sportStarts;
  const flags = starts.length > 1 ? SLOT_HAS_SPORT : 0;
  if (flags) {
    const segs = starts.map((lo, k) => ({ lo, hi: k + 1 < starts.length ? starts[k + 1]! - 1 : 0xffff, v: k, key: String(k) }));
    for (const e of prefixEntries(segs, 16)) entries.push({ map: 'sports', key: encodeSportKey(id, version, e.bits, e.value), value: encodeU32Value(e.v) });
  }
  plan.sides.S.classes.forEach((a, ai) => {
    const fam = sigFamily(a);
    plan.sides.D.classes.forEach((b, bi) => {
      if (sigFamily(b) !== fam) return;
      const pair = signature(fam, [...qualified(a, 'S'), ...qualified(b, 'D')]);
      for (const row of classRows(plan.programs[fam], pair, policyNum)) {
        const v = { ...row.verdict, flags: row.verdict.flags | FLAG_FORWARD };
        entries.push({ map: 'verdicts', key: encodeVerdictKey(id, version, (ai << 16) | bi, row.sport, row.bits, row.value), value: encodeVerdictValue(v) });
      }
    });
  });
  return { entries, flags };
}

/** The `ifaces` table: key 0 for the all-interfaces endpoint, one entry per interface with a named one. */
export function ifaceTable(bindings: ReturnType<typeof hostBindings>, slotId: (key: string) => number | undefined): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const value = (h: HostEndpointState, withPre: boolean): IfaceValue => ({
    fwdIn: slotId(forwardKey('fwd-in', h)) ?? NONE32,
    fwdOut: slotId(forwardKey('fwd-out', h)) ?? NONE32,
    preIn: withPre ? (slotId(forwardKey('pre-in', h)) ?? NONE32) : NONE32,
    flags: 0,
  });
  // One node's program: its own all-interfaces endpoint (the state of a node has at most one
  // node's). The default entry exists whenever a host endpoint does, so the program needs no
  // lookup at all without one, and one for every interface without an entry of its own.
  const star = [...bindings.stars.values()][0];
  const named = bindings.byIfindex.size > 0 ? IFACE_HAS_NAMED : 0;
  if (star) out.set(0, encodeIfaceValue({ ...value(star, true), flags: named }));
  else if (named) out.set(0, encodeIfaceValue({ fwdIn: NONE32, fwdOut: NONE32, preIn: NONE32, flags: named }));
  for (const [ifindex, h] of bindings.byIfindex) out.set(ifindex, encodeIfaceValue(value(h, false)));
  return out;
}
