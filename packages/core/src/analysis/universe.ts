/**
 * The peers of an analysis and their equivalence classes, for one snapshot or a before/after pair.
 *
 * A peer ("point") is an endpoint at one of its addresses (or, for an endpoint without an address
 * of a family, the endpoint with no address), or an outside address. Points fall into classes:
 * two points are in one class when no rule of either snapshot can tell them apart, i.e. they have
 * the same kind, effective labels, profiles and named ports (before and after), share the same
 * co-owners of their address, and their addresses lie in regions contained by the same CIDRs,
 * network sets and failsafe nets. Outside addresses are classed by region alone (they own no
 * policy and carry no labels of their own). Everything about a flow between two points that
 * `evaluate()` looks at is then determined by the two classes and the layer-4 atom, so one
 * representative per class is evaluated and stands for every member.
 *
 * Endpoints compared across two snapshots must exist in both with the same addresses; the others
 * are reported as added, removed or readdressed and stay out of the comparison.
 */
import type { Endpoint, Rule, Snapshot } from '../model/types.js';
import { type Cidr, formatIp, type IpAddr, ipKey, parseCidr } from '../net/cidr.js';
import { endpointAddresses } from '../evaluate/evaluate.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../evaluate/failsafe.js';
import { indexSnapshot, PolicyView, type SnapshotIndex } from '../evaluate/snapshot-index.js';
import type { EvaluateOptions } from '../evaluate/types.js';
import { compareBytewise } from '../convert/strings.js';
import {
  type AddressSpace,
  addrValue,
  buildAddressSpace,
  firstFree,
  rangeToCidrs,
  regionEnd,
  regionOf,
  type SpaceItem,
  toAddr,
} from './address-space.js';
import { protocolUniverse, type ProtocolUniverse } from './l4.js';

/** One snapshot as the analysis sees it: its index and the policies in force. */
export interface Side {
  readonly label: 'before' | 'after';
  readonly snapshot: Snapshot;
  readonly index: SnapshotIndex;
  readonly view: PolicyView;
}

/** A member of a class: an endpoint at an address (or at none), or an outside region group. */
export interface Point {
  /** `w:<id>` / `h:<name>`; absent for outside points. */
  readonly endpointKey?: string;
  /** What `evaluate()` accepts for the endpoint: a workload id or a host endpoint name. */
  readonly ref?: string;
  /** How results name this peer: the endpoint ref, or its address when it has several of the family. */
  readonly peer?: string;
  readonly addr?: IpAddr;
}

export interface PeerClass {
  readonly id: number;
  readonly family: 4 | 6;
  readonly outside: boolean;
  /** The representative endpoint as each side holds it (endpoint classes). */
  readonly endpoints?: readonly [Endpoint, Endpoint];
  /** The representative address (absent: endpoints without an address of this family). */
  readonly addr?: IpAddr;
  readonly addrText?: string;
  readonly addrKey?: string;
  /** Endpoint classes whose endpoints have no address in any family. */
  readonly noAddressAtAll: boolean;
  readonly points: Point[];
  /** Outside classes: the address ranges (endpoint addresses inside them are not part of it). */
  readonly ranges?: (readonly [bigint, bigint])[];
  /** Endpoint classes: points per endpoint (to leave out flows from an endpoint to itself). */
  readonly perEndpoint: Map<string, number>;
}

export interface EndpointChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** In both snapshots, with different addresses. */
  readonly readdressed: readonly string[];
}

export interface Universe {
  readonly sides: readonly [Side, Side];
  /** True when both sides are the same snapshot view (a single-snapshot analysis). */
  readonly single: boolean;
  /** True when the after side reuses the before side's index (only policies differ). */
  readonly sharedIndex: boolean;
  readonly protocols: ProtocolUniverse;
  readonly classes: readonly PeerClass[];
  readonly byFamily: { readonly 4: readonly PeerClass[]; readonly 6: readonly PeerClass[] };
  readonly spaces: { readonly 4: AddressSpace; readonly 6: AddressSpace };
  readonly endpointChanges: EndpointChanges;
  /** Common endpoints by key, as each side holds them. */
  readonly common: ReadonlyMap<string, readonly [Endpoint, Endpoint]>;
  readonly options: EvaluateOptions | undefined;
}

export interface UniverseOptions {
  readonly evaluate?: EvaluateOptions;
  /** Extra CIDRs to cut the address space by (queries about address ranges). */
  readonly extraCidrs?: readonly string[];
  /** Use the staged view (staged policies enforced) for the after side. */
  readonly afterStaged?: boolean;
}

export function endpointKeyOf(e: Endpoint): string {
  return e.kind === 'WorkloadEndpoint' ? `w:${e.id}` : `h:${e.name}`;
}

export function endpointRef(e: Endpoint): string {
  return e.kind === 'WorkloadEndpoint' ? e.id : e.name;
}

/**
 * The after side reuses the before side's index when every array but the policies is the very
 * same object and every tier a policy names is known: then members, labels, IP sets and named
 * ports are identical, and only the policies in force (a new view) differ.
 */
function canShareIndex(before: Snapshot, after: Snapshot, index: SnapshotIndex): boolean {
  if (
    before.workloadEndpoints !== after.workloadEndpoints ||
    before.hostEndpoints !== after.hostEndpoints ||
    before.networkSets !== after.networkSets ||
    before.profiles !== after.profiles ||
    before.tiers !== after.tiers
  ) {
    return false;
  }
  for (const p of after.policies) if (index.tierRank(p.tier) === Number.MAX_SAFE_INTEGER) return false;
  return true;
}

export function makeSides(before: Snapshot, after: Snapshot | undefined, afterStaged: boolean): { sides: [Side, Side]; single: boolean; shared: boolean } {
  const a = indexSnapshot(before);
  const beforeSide: Side = { label: 'before', snapshot: before, index: a, view: a.enforced };
  if (after === undefined || (after === before && !afterStaged)) {
    return { sides: [beforeSide, { ...beforeSide, label: 'after' }], single: after === undefined, shared: true };
  }
  if (after === before) return { sides: [beforeSide, { label: 'after', snapshot: after, index: a, view: a.staged() }], single: false, shared: true };
  if (!afterStaged && canShareIndex(before, after, a)) {
    const view = new PolicyView(a, after.policies.filter((p) => !p.staged));
    return { sides: [beforeSide, { label: 'after', snapshot: after, index: a, view }], single: false, shared: true };
  }
  const b = indexSnapshot(after);
  return { sides: [beforeSide, { label: 'after', snapshot: after, index: b, view: afterStaged ? b.staged() : b.enforced }], single: false, shared: false };
}

const labelPrints = new WeakMap<object, string>();

/** A stable text for a label map (memoised per map object). */
export function labelsPrint(labels: object): string {
  let p = labelPrints.get(labels);
  if (p === undefined) {
    p = JSON.stringify(labels);
    labelPrints.set(labels, p);
  }
  return p;
}

function portsPrint(e: Endpoint): string {
  return e.ports.length === 0 ? '' : e.ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',');
}

function* rulesOf(s: Snapshot): Generator<Rule> {
  for (const p of s.policies) {
    yield* p.ingress;
    yield* p.egress;
  }
  for (const p of s.profiles) {
    yield* p.ingress;
    yield* p.egress;
  }
}

function isHostCidr(c: Cidr): boolean {
  return c.prefix === (c.version === 4 ? 32 : 128);
}

/** Every protocol number a rule of either snapshot names. */
function namedProtocols(snapshots: readonly Snapshot[]): Set<number> {
  const out = new Set<number>();
  for (const s of snapshots) {
    for (const r of rulesOf(s)) {
      if (r.protocol) out.add(r.protocol.number);
      if (r.notProtocol) out.add(r.notProtocol.number);
    }
  }
  return out;
}

function spaceItems(sides: readonly [Side, Side], single: boolean, options: UniverseOptions): SpaceItem[] {
  const items: SpaceItem[] = [];
  const seen = new Set<string>();
  const add = (key: string, text: string): void => {
    const id = `${key}|${text}`;
    if (seen.has(id)) return;
    const cidr = parseCidr(text);
    if (!cidr) return;
    seen.add(id);
    items.push({ key, cidr });
  };
  const snapshots = single ? [sides[0].snapshot] : [sides[0].snapshot, sides[1].snapshot];
  for (const s of snapshots) {
    for (const r of rulesOf(s)) {
      for (const side of [r.source, r.destination]) {
        for (const n of side.nets ?? []) add(`c:${n}`, n);
        for (const n of side.notNets ?? []) add(`c:${n}`, n);
      }
    }
  }
  const failsafe = [...(options.evaluate?.failsafeInbound ?? DEFAULT_FAILSAFE_INBOUND), ...(options.evaluate?.failsafeOutbound ?? DEFAULT_FAILSAFE_OUTBOUND)];
  for (const f of failsafe) if (f.net) add(`f:${f.net}`, f.net);
  for (const n of options.extraCidrs ?? []) add(`q:${n}`, n);
  const sideList = single ? [sides[0]] : sides;
  for (const side of sideList) {
    const tag = single || sides[0].index === sides[1].index ? '' : `${side.label}:`;
    for (const set of side.snapshot.networkSets) {
      const key = `${tag}s:${set.kind}/${set.id}:${labelsPrint(side.index.effectiveLabels(set))}`;
      for (const n of set.nets) add(key, n);
    }
    // Endpoint CIDRs wider than a host make every address inside them a member of the endpoint.
    for (const e of [...side.index.workloads.values(), ...side.index.hosts.values()]) {
      const texts = e.kind === 'WorkloadEndpoint' ? e.addresses : e.expectedIPs;
      for (const t of texts) {
        const c = parseCidr(t);
        if (c && !isHostCidr(c)) add(`${tag}e:${endpointKeyOf(e)}:${labelsPrint(side.index.effectiveLabels(e))}:${portsPrint(e)}`, t);
      }
    }
  }
  return items;
}

function endpointsOf(index: SnapshotIndex): Endpoint[] {
  return [...index.workloads.values(), ...index.hosts.values()];
}

function addressSet(e: Endpoint): string {
  return endpointAddresses(e)
    .map((a) => ipKey(a))
    .sort()
    .join(',');
}

export function buildUniverse(before: Snapshot, after: Snapshot | undefined, options: UniverseOptions = {}): Universe {
  const { sides, single, shared } = makeSides(before, after, options.afterStaged ?? false);
  const [A, B] = sides;

  // Endpoints present in both (same addresses), and the rest.
  const common = new Map<string, readonly [Endpoint, Endpoint]>();
  const added: string[] = [];
  const removed: string[] = [];
  const readdressed: string[] = [];
  const bEndpoints = new Map<string, Endpoint>();
  if (A.index !== B.index) for (const e of endpointsOf(B.index)) bEndpoints.set(endpointKeyOf(e), e);
  for (const e of endpointsOf(A.index)) {
    const key = endpointKeyOf(e);
    if (A.index === B.index) {
      common.set(key, [e, e]);
      continue;
    }
    const other = bEndpoints.get(key);
    bEndpoints.delete(key);
    if (!other) removed.push(endpointRef(e));
    else if (addressSet(e) !== addressSet(other)) readdressed.push(endpointRef(e));
    else common.set(key, [e, other]);
  }
  for (const e of bEndpoints.values()) added.push(endpointRef(e));

  const protocols = protocolUniverse(namedProtocols(single ? [before] : [A.snapshot, B.snapshot]));
  const items = spaceItems(sides, single, options);
  const spaces = { 4: buildAddressSpace(4, items), 6: buildAddressSpace(6, items) } as const;
  const regionIds = { 4: new Map<string, number>(), 6: new Map<string, number>() };
  const regionId = (family: 4 | 6, key: string): number => {
    const m = regionIds[family];
    let id = m.get(key);
    if (id === undefined) m.set(key, (id = m.size));
    return id;
  };

  // Who owns each host address, per side (every endpoint, compared or not).
  const owners = new Map<string, string[]>();
  const taken = { 4: new Set<bigint>(), 6: new Set<bigint>() };
  for (const side of single || A.index === B.index ? [A] : [A, B]) {
    for (const e of endpointsOf(side.index)) {
      for (const a of endpointAddresses(e)) {
        taken[a.version].add(addrValue(a));
        const k = ipKey(a);
        const print = `${side.label}:${endpointKeyOf(e)}:${labelsPrint(side.index.effectiveLabels(e))}:${portsPrint(e)}`;
        const list = owners.get(k);
        if (list) list.push(print);
        else owners.set(k, [print]);
      }
    }
  }

  const classes: PeerClass[] = [];
  const byFamily: { 4: PeerClass[]; 6: PeerClass[] } = { 4: [], 6: [] };
  const byKey = new Map<string, PeerClass>();
  const addPoint = (key: string, make: () => Omit<PeerClass, 'id' | 'points' | 'perEndpoint'>, point: Point): void => {
    let cls = byKey.get(key);
    if (!cls) {
      cls = { ...make(), id: classes.length, points: [], perEndpoint: new Map() };
      byKey.set(key, cls);
      classes.push(cls);
      byFamily[cls.family].push(cls);
    }
    cls.points.push(point);
    if (point.endpointKey) cls.perEndpoint.set(point.endpointKey, (cls.perEndpoint.get(point.endpointKey) ?? 0) + 1);
  };

  const keys = [...common.keys()].sort(compareBytewise);
  for (const key of keys) {
    const [ea, eb] = common.get(key)!;
    const addrs = endpointAddresses(ea);
    const identity = [
      ea.kind,
      labelsPrint(A.index.effectiveLabels(ea)),
      labelsPrint(B.index.effectiveLabels(eb)),
      ea.profiles.join(','),
      eb.profiles.join(','),
      portsPrint(ea),
      portsPrint(eb),
    ].join('|');
    const ref = endpointRef(ea);
    for (const family of [4, 6] as const) {
      const own = addrs.filter((a) => a.version === family);
      if (own.length === 0) {
        const none = addrs.length === 0;
        addPoint(`${family}|e|-|${none}|${identity}`, () => ({ family, outside: false, endpoints: [ea, eb], noAddressAtAll: none }), { endpointKey: key, ref, peer: ref });
        continue;
      }
      for (const addr of own) {
        const space = spaces[family];
        const region = regionId(family, space.keys[regionOf(space, addrValue(addr))]!);
        const coOwners = owners.get(ipKey(addr))!;
        const co = coOwners.length > 1 ? coOwners.slice().sort().join(';') : '';
        addPoint(
          `${family}|e|${region}|${co}|${identity}`,
          () => ({ family, outside: false, endpoints: [ea, eb], addr, addrText: formatIp(addr), addrKey: ipKey(addr), noAddressAtAll: false }),
          { endpointKey: key, ref, peer: own.length > 1 ? formatIp(addr) : ref, addr },
        );
      }
    }
  }

  // Outside addresses: regions grouped by what contains them, minus every endpoint address.
  for (const family of [4, 6] as const) {
    const space = spaces[family];
    const takenSorted = [...taken[family]].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const groups = new Map<string, (readonly [bigint, bigint])[]>();
    space.starts.forEach((start, i) => {
      const key = space.keys[i]!;
      const list = groups.get(key);
      const range = [start, regionEnd(space, i)] as const;
      if (list) list.push(range);
      else groups.set(key, [range]);
    });
    for (const [key, ranges] of groups) {
      let rep: bigint | undefined;
      for (const [lo, hi] of ranges) {
        rep = firstFree(lo, hi, takenSorted);
        if (rep !== undefined) break;
      }
      if (rep === undefined) continue;
      const addr = toAddr(family, rep);
      addPoint(
        `${family}|o|${regionId(family, key)}`,
        () => ({ family, outside: true, addr, addrText: formatIp(addr), addrKey: ipKey(addr), noAddressAtAll: false, ranges }),
        { addr },
      );
    }
  }

  return {
    sides,
    single,
    sharedIndex: shared,
    protocols,
    classes,
    byFamily,
    spaces,
    endpointChanges: { added: added.sort(compareBytewise), removed: removed.sort(compareBytewise), readdressed: readdressed.sort(compareBytewise) },
    common,
    options: options.evaluate,
  };
}

/** The CIDRs of an outside class (every address in them that is not an endpoint address). */
export function outsideCidrs(cls: PeerClass): readonly string[] {
  if (!cls.ranges) return [];
  let out = cidrMemo.get(cls.ranges);
  if (!out) cidrMemo.set(cls.ranges, (out = cls.ranges.flatMap(([lo, hi]) => rangeToCidrs(cls.family, lo, hi))));
  return out;
}

const cidrMemo = new WeakMap<object, readonly string[]>();

/**
 * How many (source, destination) peer pairs a class pair stands for, leaving out an endpoint
 * talking to itself and pairs of two outside addresses; 0 when the pair is not in the domain.
 * Two endpoints without an address of the family pair up only in IPv4 and only when neither has
 * any address (what `evaluate()` would pick for them).
 */
export function pairCount(src: PeerClass, dst: PeerClass): number {
  if (src.outside && dst.outside) return 0;
  if (src.family !== dst.family) return 0;
  if (!src.addr && !dst.addr && !(src.family === 4 && src.noAddressAtAll && dst.noAddressAtAll)) return 0;
  let n = src.points.length * dst.points.length;
  // The same class (or parts of it): leave out each endpoint's flows to itself.
  if (src.id === dst.id) for (const [key, c] of src.perEndpoint) n -= c * (dst.perEndpoint.get(key) ?? 0);
  return n;
}

/** A class narrowed to some of its points (same representative, so the same evaluations). */
export function restrictClass(cls: PeerClass, keep: (p: Point) => boolean): PeerClass | undefined {
  const points = cls.points.filter(keep);
  if (points.length === 0) return undefined;
  if (points.length === cls.points.length) return cls;
  const perEndpoint = new Map<string, number>();
  for (const p of points) if (p.endpointKey) perEndpoint.set(p.endpointKey, (perEndpoint.get(p.endpointKey) ?? 0) + 1);
  return { ...cls, points, perEndpoint };
}
