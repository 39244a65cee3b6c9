/**
 * The peers of an analysis and their equivalence classes, for one snapshot or a before/after pair.
 *
 * A peer ("point") is an endpoint at one of its addresses (or, for an endpoint without an address
 * of a family, the endpoint with no address), or an outside address. Points fall into classes:
 * two points are in one class when no rule of either snapshot can tell them apart, i.e. they have
 * the same kind, effective labels, profiles and named ports (before and after), share the same
 * co-owners of their address, and their addresses lie in regions contained by the same CIDRs,
 * network sets and failsafe nets; endpoints on a node where a flow can cross the node (a
 * workload with a host endpoint or Node address there) also share that node, and a `*` host
 * endpoint is never classed with a named one. Outside addresses are classed by region alone
 * (they own no policy and carry no labels of their own; Node addresses cut regions of their own). Everything about a flow between two points that
 * `evaluate()` looks at is then determined by the two classes and the layer-4 atom, so one
 * representative per class is evaluated and stands for every member.
 *
 * Endpoints compared across two snapshots must exist in both with the same addresses; the others
 * are reported as added, removed or readdressed and stay out of the comparison.
 */
import type { Endpoint, Rule, Snapshot } from '../model/types.js';
import { type Cidr, formatIp, type IpAddr, ipKey, parseCidr, parseIp } from '../net/cidr.js';
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
  /** Workload endpoint classes (the ones a flow on one node needs at one end). */
  readonly workload: boolean;
  /**
   * The nodes, on either side, where this class's flows to its neighbours cross the node (see
   * `mayCross`): an endpoint's node when that node has a workload and a host endpoint or a Node
   * address; for outside classes, the nodes whose Node addresses they are. Empty elsewhere.
   */
  readonly sites: readonly string[];
  /** Workload classes: the sites where the node has a `*` host endpoint (pod → pod crosses it). */
  readonly starSites: readonly string[];
  /**
   * The class key without the sites: classes with one twin differ only in their node, so every
   * program sees them alike and they decide alike towards any peer they do not cross with.
   */
  readonly twin: string;
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
    before.tiers !== after.tiers ||
    before.nodes !== after.nodes
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

/**
 * Per index: nodes where a flow between two ends on the node can be judged differently from its
 * two ends' policies alone (`evaluate()`'s inferred crossing: a workload and a host endpoint or
 * Node address there, or two workloads under a `*` host endpoint, which needs a host endpoint),
 * and the Node addresses of those nodes.
 */
interface SiteInfo {
  readonly special: ReadonlySet<string>;
  /** Special nodes with a `*` host endpoint. */
  readonly starred: ReadonlySet<string>;
  /** `ipKey` → special nodes with that Node address. */
  readonly nodeAt: ReadonlyMap<string, readonly string[]>;
  readonly addresses: readonly { readonly node: string; readonly addr: IpAddr }[];
}

function sitesOf(index: SnapshotIndex): SiteInfo {
  const withWorkloads = new Set<string>();
  for (const w of index.workloads.values()) withWorkloads.add(w.node);
  const parsed: { node: string; addr: IpAddr }[] = [];
  for (const n of index.snapshot.nodes) {
    if (!withWorkloads.has(n.name)) continue;
    for (const t of n.addresses) {
      const addr = parseIp(t.split('/')[0]!);
      if (addr) parsed.push({ node: n.name, addr });
    }
  }
  const special = new Set<string>();
  const starred = new Set<string>();
  for (const h of index.hosts.values()) if (withWorkloads.has(h.node)) special.add(h.node);
  for (const node of special) if (index.starHost(node)) starred.add(node);
  for (const a of parsed) special.add(a.node);
  const nodeAt = new Map<string, string[]>();
  for (const { node, addr } of parsed) {
    const k = ipKey(addr);
    const list = nodeAt.get(k);
    if (!list) nodeAt.set(k, [node]);
    else if (!list.includes(node)) list.push(node);
  }
  return { special, starred, nodeAt, addresses: parsed };
}

/**
 * Whether flows between two classes may cross a node (`evaluate()` infers one when both ends are
 * on one node and one of them is a workload): such pairs are judged along their whole path;
 * every other pair by the source's egress and the destination's ingress alone.
 */
export function mayCross(s: PeerClass, d: PeerClass): boolean {
  return sharedSite(s, d) !== undefined;
}

/**
 * The first node where flows between the two classes cross it (where a pair is handled once):
 * a workload and a host endpoint or Node address of its node, or two workloads of a node with a
 * `*` host endpoint (without one, pod → pod on a node meets only the two pods' policies).
 */
export function sharedSite(s: PeerClass, d: PeerClass): string | undefined {
  if (!(s.workload || d.workload)) return undefined;
  const both = s.workload && d.workload;
  const x = both ? s.starSites : s.sites;
  const y = both ? d.starSites : d.sites;
  if (x.length === 0 || y.length === 0) return undefined;
  for (const n of x) if (y.includes(n)) return n;
  return undefined;
}

function portsPrint(e: Endpoint): string {
  return e.ports.length === 0 ? '' : e.ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',');
}

/** What the analysis needs from a policy's or profile's rules (memoised per object). */
interface RuleFacts {
  readonly cidrs: readonly string[];
  readonly protocols: readonly number[];
}

const ruleFacts = new WeakMap<object, RuleFacts>();

function factsOf(p: { readonly ingress: readonly Rule[]; readonly egress: readonly Rule[] }): RuleFacts {
  let f = ruleFacts.get(p);
  if (f) return f;
  const cidrs: string[] = [];
  const protocols: number[] = [];
  for (const r of [...p.ingress, ...p.egress]) {
    if (r.protocol) protocols.push(r.protocol.number);
    if (r.notProtocol) protocols.push(r.notProtocol.number);
    for (const side of [r.source, r.destination]) {
      if (side.nets) cidrs.push(...side.nets);
      if (side.notNets) cidrs.push(...side.notNets);
    }
  }
  f = { cidrs, protocols };
  ruleFacts.set(p, f);
  return f;
}

function* factsIn(s: Snapshot): Generator<RuleFacts> {
  for (const p of s.policies) yield factsOf(p);
  for (const p of s.profiles) yield factsOf(p);
}

function isHostCidr(c: Cidr): boolean {
  return c.prefix === (c.version === 4 ? 32 : 128);
}

/** Every protocol number a rule of either snapshot names. */
function namedProtocols(snapshots: readonly Snapshot[]): Set<number> {
  const out = new Set<number>();
  for (const s of snapshots) for (const f of factsIn(s)) for (const p of f.protocols) out.add(p);
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
  for (const s of snapshots) for (const f of factsIn(s)) for (const n of f.cidrs) add(`c:${n}`, n);
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
    for (const w of indexInfo(side.index).wide) add(`${tag}e:${w.key}`, w.cidr);
    // Node addresses: a flow between one and a workload of that node crosses the node.
    for (const { node, addr } of indexInfo(side.index).sites.addresses) add(`${tag}N:${node}`, `${formatIp(addr)}/${addr.version === 4 ? 32 : 128}`);
  }
  return items;
}

interface EndpointInfo {
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly ref: string;
  readonly addrs: readonly IpAddr[];
  /** Kind, effective labels, profiles and named ports: what the endpoint's class depends on. */
  readonly print: string;
}

/** Per index, computed once: endpoints sorted by key, their addresses and prints, taken addresses. */
interface IndexInfo {
  readonly endpoints: readonly EndpointInfo[];
  readonly byKey: ReadonlyMap<string, EndpointInfo>;
  /** Every endpoint host address, sorted, per family. */
  readonly taken: { readonly 4: readonly bigint[]; readonly 6: readonly bigint[] };
  /** `ipKey`s owned by more than one endpoint. */
  readonly shared: ReadonlySet<string>;
  /** Owners of the shared addresses. */
  readonly owners: ReadonlyMap<string, readonly EndpointInfo[]>;
  /** Endpoint CIDRs wider than a host, keyed by what the endpoint is. */
  readonly wide: readonly { readonly key: string; readonly cidr: string }[];
  readonly sites: SiteInfo;
}

const indexInfos = new WeakMap<SnapshotIndex, IndexInfo>();

function indexInfo(index: SnapshotIndex): IndexInfo {
  const cached = indexInfos.get(index);
  if (cached) return cached;
  const endpoints: EndpointInfo[] = [];
  for (const e of [...index.workloads.values(), ...index.hosts.values()]) {
    endpoints.push({
      endpoint: e,
      key: endpointKeyOf(e),
      ref: endpointRef(e),
      addrs: endpointAddresses(e),
      // A `*` host endpoint ignores doNotTrack policy: its binding is part of what it is.
      print: `${e.kind}|${labelsPrint(index.effectiveLabels(e))}|${e.profiles.join(',')}|${portsPrint(e)}${e.kind === 'HostEndpoint' && e.interfaceName === '*' ? '|*' : ''}`,
    });
  }
  endpoints.sort((x, y) => compareBytewise(x.key, y.key));
  const seen = new Set<string>();
  const shared = new Set<string>();
  const taken: { 4: bigint[]; 6: bigint[] } = { 4: [], 6: [] };
  for (const info of endpoints) {
    for (const a of info.addrs) {
      const k = ipKey(a);
      if (seen.has(k)) shared.add(k);
      else {
        seen.add(k);
        taken[a.version].push(addrValue(a));
      }
    }
  }
  const byValue = (x: bigint, y: bigint): number => (x < y ? -1 : x > y ? 1 : 0);
  taken[4].sort(byValue);
  taken[6].sort(byValue);
  const owners = new Map<string, EndpointInfo[]>();
  if (shared.size > 0) {
    for (const info of endpoints) {
      for (const a of info.addrs) {
        const k = ipKey(a);
        if (!shared.has(k)) continue;
        const list = owners.get(k);
        if (list) list.push(info);
        else owners.set(k, [info]);
      }
    }
  }
  const wide: { key: string; cidr: string }[] = [];
  for (const info of endpoints) {
    const e = info.endpoint;
    for (const t of e.kind === 'WorkloadEndpoint' ? e.addresses : e.expectedIPs) {
      if (!t.includes('/') || t.endsWith('/32') || t.endsWith('/128')) continue;
      const c = parseCidr(t);
      if (c && !isHostCidr(c)) wide.push({ key: `${info.key}:${info.print}`, cidr: t });
    }
  }
  const out: IndexInfo = { endpoints, byKey: new Map(endpoints.map((i) => [i.key, i])), taken, shared, owners, wide, sites: sitesOf(index) };
  indexInfos.set(index, out);
  return out;
}

function mergeSorted(x: readonly bigint[], y: readonly bigint[]): bigint[] {
  const out: bigint[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const v = j >= y.length || (i < x.length && x[i]! <= y[j]!) ? x[i++]! : y[j++]!;
    if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
  }
  return out;
}

/** What the peers of an analysis are; depends only on the two indexes and the address cuts. */
interface Peers {
  readonly classes: readonly PeerClass[];
  readonly byFamily: { readonly 4: readonly PeerClass[]; readonly 6: readonly PeerClass[] };
  readonly spaces: { readonly 4: AddressSpace; readonly 6: AddressSpace };
  readonly endpointChanges: EndpointChanges;
  readonly common: ReadonlyMap<string, readonly [Endpoint, Endpoint]>;
}

/** The last peers built per before-index (a second analysis of the same snapshots reuses them). */
const peersCache = new WeakMap<SnapshotIndex, { readonly after: SnapshotIndex; readonly key: string; readonly peers: Peers }>();

function buildPeers(A: Side, B: Side, items: readonly SpaceItem[]): Peers {
  const ia = indexInfo(A.index);
  const ib = A.index === B.index ? ia : indexInfo(B.index);

  // Endpoints present in both (same addresses), and the rest.
  const common = new Map<string, readonly [Endpoint, Endpoint]>();
  const compared: (readonly [EndpointInfo, EndpointInfo])[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  const readdressed: string[] = [];
  for (const a of ia.endpoints) {
    const b = ia === ib ? a : ib.byKey.get(a.key);
    if (!b) removed.push(a.ref);
    else if (a !== b && addressSet(a.addrs) !== addressSet(b.addrs)) readdressed.push(a.ref);
    else {
      common.set(a.key, [a.endpoint, b.endpoint]);
      compared.push([a, b]);
    }
  }
  if (ia !== ib) for (const b of ib.endpoints) if (!ia.byKey.has(b.key)) added.push(b.ref);

  const spaces = { 4: buildAddressSpace(4, items), 6: buildAddressSpace(6, items) } as const;
  const regionIds = { 4: new Map<string, number>(), 6: new Map<string, number>() };
  const regionId = (family: 4 | 6, key: string): number => {
    const m = regionIds[family];
    let id = m.get(key);
    if (id === undefined) m.set(key, (id = m.size));
    return id;
  };
  // Per family, the region id of each region index (regions with equal keys share an id).
  const regionIdAt = { 4: spaces[4].keys.map((k) => regionId(4, k)), 6: spaces[6].keys.map((k) => regionId(6, k)) };
  const coOwners = (k: string): string => {
    const parts: string[] = [];
    for (const [label, info] of [
      ['before', ia],
      ['after', ib],
    ] as const) {
      if (label === 'after' && ib === ia) break;
      for (const o of info.owners.get(k) ?? []) parts.push(`${label}:${o.key}:${o.print}`);
    }
    return parts.length > 1 ? parts.sort().join(';') : '';
  };

  const classes: PeerClass[] = [];
  const byFamily: { 4: PeerClass[]; 6: PeerClass[] } = { 4: [], 6: [] };
  const byKey = new Map<string, PeerClass>();
  const sa = ia.sites;
  const sb = ib.sites;
  const addPoint = (key: string, make: () => Omit<PeerClass, 'id' | 'points' | 'perEndpoint'>, point: Point): void => {
    let cls = byKey.get(key);
    if (!cls) {
      // Every class gets every field, in one order: one hidden class for the hot loops.
      const m = make();
      cls = {
        id: classes.length,
        family: m.family,
        outside: m.outside,
        endpoints: m.endpoints,
        addr: m.addr,
        addrText: m.addrText,
        addrKey: m.addrKey,
        noAddressAtAll: m.noAddressAtAll,
        points: [],
        ranges: m.ranges,
        perEndpoint: new Map(),
        workload: m.workload,
        sites: m.sites,
        starSites: m.starSites,
        twin: m.twin,
      };
      byKey.set(key, cls);
      classes.push(cls);
      byFamily[cls.family].push(cls);
    }
    cls.points.push(point);
    if (point.endpointKey) cls.perEndpoint.set(point.endpointKey, (cls.perEndpoint.get(point.endpointKey) ?? 0) + 1);
  };

  for (const [a, b] of compared) {
    const ea = a.endpoint;
    const eb = b.endpoint;
    const sites: string[] = [];
    if (sa.special.has(ea.node)) sites.push(ea.node);
    if (sb.special.has(eb.node) && !sites.includes(eb.node)) sites.push(eb.node);
    const workload = ea.kind === 'WorkloadEndpoint';
    const starSites = workload ? sites.filter((n) => sa.starred.has(n) || sb.starred.has(n)) : [];
    const print = a === b ? a.print : `${a.print}#${b.print}`;
    // The site on each side apart: an endpoint that leaves a special node (or joins one) is not
    // the twin of one that stays, though the union of their sites is the same.
    const identity = `${print}@${sa.special.has(ea.node) ? ea.node : ''}/${sb.special.has(eb.node) ? eb.node : ''}`;
    const addrs = a.addrs;
    for (const family of [4, 6] as const) {
      let count = 0;
      for (const x of addrs) if (x.version === family) count++;
      if (count === 0) {
        const none = addrs.length === 0;
        addPoint(`${family}|e|-|${none}|${identity}`, () => ({ family, outside: false, endpoints: [ea, eb], noAddressAtAll: none, workload, sites, starSites, twin: `${family}|e|-|${none}|${print}` }), { endpointKey: a.key, ref: a.ref, peer: a.ref });
        continue;
      }
      for (const addr of addrs) {
        if (addr.version !== family) continue;
        const region = regionIdAt[family][regionOf(spaces[family], addrValue(addr))]!;
        const k = ipKey(addr);
        const co = ia.shared.has(k) || ib.shared.has(k) ? coOwners(k) : '';
        addPoint(
          `${family}|e|${region}|${co}|${identity}`,
          () => ({ family, outside: false, endpoints: [ea, eb], addr, addrText: formatIp(addr), addrKey: k, noAddressAtAll: false, workload, sites, starSites, twin: `${family}|e|${region}|${co}|${print}` }),
          { endpointKey: a.key, ref: a.ref, peer: count > 1 ? formatIp(addr) : a.ref, addr },
        );
      }
    }
  }

  // Outside addresses: regions grouped by what contains them, minus every endpoint address.
  for (const family of [4, 6] as const) {
    const space = spaces[family];
    const takenSorted = ia === ib ? ia.taken[family] : mergeSorted(ia.taken[family], ib.taken[family]);
    const groups = new Map<number, (readonly [bigint, bigint])[]>();
    space.starts.forEach((start, i) => {
      const id = regionIdAt[family][i]!;
      const list = groups.get(id);
      const range = [start, regionEnd(space, i)] as const;
      if (list) list.push(range);
      else groups.set(id, [range]);
    });
    for (const [id, ranges] of groups) {
      let rep: bigint | undefined;
      for (const [lo, hi] of ranges) {
        rep = firstFree(lo, hi, takenSorted);
        if (rep !== undefined) break;
      }
      if (rep === undefined) continue;
      const addr = toAddr(family, rep);
      const k = ipKey(addr);
      // Every address of the class is a Node address of the same nodes (they cut the space).
      const sites = [...new Set([...(sa.nodeAt.get(k) ?? []), ...(sb.nodeAt.get(k) ?? [])])];
      addPoint(`${family}|o|${id}`, () => ({ family, outside: true, addr, addrText: formatIp(addr), addrKey: k, noAddressAtAll: false, ranges, workload: false, sites, starSites: [], twin: `${family}|o|${id}` }), { addr });
    }
  }

  return {
    classes,
    byFamily,
    spaces,
    endpointChanges: { added: added.sort(compareBytewise), removed: removed.sort(compareBytewise), readdressed: readdressed.sort(compareBytewise) },
    common,
  };
}

function addressSet(addrs: readonly IpAddr[]): string {
  return addrs
    .map((a) => ipKey(a))
    .sort()
    .join(',');
}

export function buildUniverse(before: Snapshot, after: Snapshot | undefined, options: UniverseOptions = {}): Universe {
  const { sides, single, shared } = makeSides(before, after, options.afterStaged ?? false);
  const [A, B] = sides;
  const protocols = protocolUniverse(namedProtocols(single ? [before] : [A.snapshot, B.snapshot]));
  const items = spaceItems(sides, single, options);
  const key = items
    .map((i) => `${i.key}@${i.cidr.version}:${i.cidr.base}/${i.cidr.prefix}`)
    .sort()
    .join('\n');
  const cached = peersCache.get(A.index);
  let peers: Peers;
  if (cached && cached.after === B.index && cached.key === key) peers = cached.peers;
  else {
    peers = buildPeers(A, B, items);
    peersCache.set(A.index, { after: B.index, key, peers });
  }
  return { sides, single, sharedIndex: shared, protocols, ...peers, options: options.evaluate };
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
/** `pairCount(src, dst) > 0`, cheaply (the hot path of grouping every class against a dirty one). */
export function pairable(src: PeerClass, dst: PeerClass): boolean {
  if (src.outside && dst.outside) return false;
  if (src.id === dst.id || (!src.addr && !dst.addr)) return pairCount(src, dst) > 0;
  return src.family === dst.family;
}

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
  return { id: cls.id, family: cls.family, outside: cls.outside, endpoints: cls.endpoints, addr: cls.addr, addrText: cls.addrText, addrKey: cls.addrKey, noAddressAtAll: cls.noAddressAtAll, points, ranges: cls.ranges, perEndpoint, workload: cls.workload, sites: cls.sites, starSites: cls.starSites, twin: cls.twin };
}
