/**
 * The Engine: an incremental calculation graph from resource upserts/deletes to the exact state
 * one host (or every host) must enforce, emitted as minimal, ordered batches of dataplane
 * messages. The wiring file: every box below is one file named by its role.
 *
 *   upsert / delete (any kind, any order)
 *        │
 *        ▼
 *   ResourceCache ──────────────── converters (same as buildSnapshot); resolves profiles
 *        │  policy / tier / profile / endpoint / network set / node changes (only real changes)
 *        ├──────────────┬───────────────────────────┬───────────────────────┐
 *        ▼              ▼                           ▼                       ▼
 *   label-inheritance-  policy selectors      profile references      host metadata
 *   resolver: shapes    │                      of local endpoints        │
 *   (own + profile      │                           │                    │
 *    labelsToApply)     │                           │                    │
 *        │ effective    ▼                           │                    │
 *        │ labels   LabelIndex #1 ◀── local endpoints' labels            │
 *        │          (policies × local endpoints)    │                    │
 *        │              │ matches → endpoint dirty, policy active refcount
 *        │              ▼                           ▼                    │
 *        │        ┌── flush ─────────────────────────────────────┐       │
 *        │        │ active-rules-calculator: compile active      │       │
 *        │        │ policies/profiles, refcount referenced sets  │       │
 *        │        └──────────────┬───────────────────────────────┘       │
 *        ▼                       ▼                                       │
 *   IpSetMemberCalculator (LabelIndex #2: set selectors × label shapes   │
 *   of ALL entities: endpoints cluster-wide and network sets;            │
 *   members refcounted; named-port sets)                                 │
 *        │                       │ policy-sorter: endpoint tier lists    │
 *        ▼                       ▼                                       ▼
 *   message order: metadata, set creates/updates ─▶ profiles/policies ─▶ endpoints
 *                  ─▶ policy/profile removals ─▶ set deletions ─▶ in-sync (first flush)
 *        │
 *        ▼
 *   Dataplane.apply(batch)
 *
 * Pure and deterministic: no I/O, no clocks; message order inside each phase is sorted by id.
 */
import type { Resource } from '../model/resources.js';
import type { EndpointPort, HostEndpoint, NetworkSet, NodeInfo, Policy, Profile, Tier, WorkloadEndpoint } from '../model/types.js';
import type {
  CompiledPolicy,
  CompiledProfile,
  Dataplane,
  DataplaneMessage,
  FailsafeEntry,
  HostMetadataState,
} from '../dataplane/messages.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../evaluate/failsafe.js';
import { compareBytewise } from '../convert/strings.js';
import { compilePolicy, compileProfile, selectorRef } from './active-rules-calculator.js';
import { flatString } from './flat-string.js';
import { type EntityAddresses, type IpSetSpec, IpSetMemberCalculator } from './ipset-member-calculator.js';
import { LabelIndex } from './label-index.js';
import { LabelInheritanceResolver, type LabelShape } from './label-inheritance-resolver.js';
import { hostEndpointState, workloadEndpointState } from './policy-sorter.js';
import { ResourceCache } from './resource-cache.js';

export interface EngineOptions {
  /** The node whose endpoints this engine computes; `undefined` = every node (analysis tools). */
  readonly node?: string;
  readonly dataplane: Dataplane;
  /** Felix `FailsafeInboundHostPorts` for host endpoints (default: Calico's). */
  readonly failsafeInbound?: readonly FailsafeEntry[];
  readonly failsafeOutbound?: readonly FailsafeEntry[];
}

export interface EngineStats {
  /** Local endpoints (workload + host). */
  readonly localEndpoints: number;
  /** Every entity that can be an IP set member (endpoints cluster-wide and network sets). */
  readonly entities: number;
  /** Distinct (labels, profiles) combinations among entities: the IP set label index's items. */
  readonly labelShapes: number;
  readonly policies: number;
  readonly activePolicies: number;
  readonly activeProfiles: number;
  readonly ipSets: number;
  /** Selector evaluations so far (both label indexes): the Engine's unit of work. */
  readonly selectorEvaluations: number;
}

export interface Engine {
  /** Adds or replaces a resource (any supported kind, in any order). */
  upsert(resource: Resource): void;
  /** Deletes a resource; without `apiVersion`, both the Calico and the Kubernetes kind of that name. */
  delete(kind: string, namespace: string, name: string, apiVersion?: string): void;
  /** Sends everything that changed since the last flush as one batch (nothing if nothing changed, except the first flush's in-sync). */
  flush(): void | Promise<void>;
  state(): EngineStats;
}

/**
 * What the graph keeps per entity: its addresses, named ports and label shape. Three fields and
 * no per-entity strings of its own: at 100k endpoints every byte here counts 100k times.
 */
class EntityRecord implements EntityAddresses {
  shape!: LabelShape<EntityRecord>;
  constructor(
    readonly addrs: string | readonly string[],
    readonly ports: readonly EndpointPort[],
  ) {}
}

/** A local endpoint's record: also its model (for its message) and key. */
class LocalRecord extends EntityRecord {
  constructor(
    addrs: string | readonly string[],
    ports: readonly EndpointPort[],
    /** `w:<id>` / `h:<id>`: its key in the policy index and dirty sets. */
    readonly key: string,
    readonly model: WorkloadEndpoint | HostEndpoint,
  ) {
    super(addrs, ports);
  }
}

/** Creates an Engine for one node (or all nodes) that sends its output to `options.dataplane`. */
export function createEngine(options: EngineOptions): Engine {
  return new EngineImpl(options);
}

class EngineImpl implements Engine {
  private readonly dataplane: Dataplane;
  private readonly node: string | undefined;
  private readonly failsafe: { inbound: readonly FailsafeEntry[]; outbound: readonly FailsafeEntry[] };
  private readonly cache: ResourceCache;
  private readonly weps = new Map<string, EntityRecord>();
  private readonly heps = new Map<string, EntityRecord>();
  private readonly sets = new Map<string, EntityRecord>();
  /** Local endpoints by `w:<id>` / `h:<id>`. */
  private readonly locals = new Map<string, LocalRecord>();
  private readonly shapes: LabelInheritanceResolver<EntityRecord>;
  private readonly policyIndex: LabelIndex;
  private readonly ipsets: IpSetMemberCalculator;
  private readonly policyLocal = new Map<string, number>();
  private readonly profileLocal = new Map<string, number>();
  private readonly activeSets = new Map<string, readonly string[]>();
  private readonly desiredPolicies = new Map<string, CompiledPolicy>();
  private readonly desiredProfiles = new Map<string, CompiledProfile>();
  private readonly dirtyPolicies = new Set<string>();
  private readonly dirtyProfiles = new Set<string>();
  private readonly dirtyEndpoints = new Set<string>();
  private readonly dirtyNodes = new Set<string>();
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly emittedPolicies = new Map<string, string>();
  private readonly emittedProfiles = new Map<string, string>();
  private readonly emittedEndpoints = new Map<string, string>();
  private readonly emittedNodes = new Map<string, string>();
  private synced = false;

  constructor(options: EngineOptions) {
    this.dataplane = options.dataplane;
    this.node = options.node;
    this.failsafe = {
      inbound: options.failsafeInbound ?? DEFAULT_FAILSAFE_INBOUND,
      outbound: options.failsafeOutbound ?? DEFAULT_FAILSAFE_OUTBOUND,
    };
    this.policyIndex = new LabelIndex(
      (policyId, endpointKey) => this.policyMatch(policyId, endpointKey, 1),
      (policyId, endpointKey) => this.policyMatch(policyId, endpointKey, -1),
    );
    this.ipsets = new IpSetMemberCalculator((shapeId) => this.shapes.byId.get(shapeId)?.members ?? []);
    this.shapes = new LabelInheritanceResolver((name) => this.cache.profile(name));
    this.cache = new ResourceCache({
      policy: (id, p) => this.onPolicy(id, p),
      tier: (name) => this.onTier(name),
      profile: (name, p) => this.onProfile(name, p),
      endpoint: (kind, id, e) => this.onEntity(kind === 'w' ? this.weps : this.heps, kind, id, e),
      networkSet: (key, s) => this.onEntity(this.sets, 'n', key, s),
      node: (name, n) => this.onNode(name, n),
    });
    this.cache.start();
  }

  upsert(resource: Resource): void {
    this.cache.upsert(resource);
  }

  delete(kind: string, namespace: string, name: string, apiVersion?: string): void {
    this.cache.delete(kind, namespace, name, apiVersion);
  }

  state(): EngineStats {
    return {
      localEndpoints: this.locals.size,
      entities: this.weps.size + this.heps.size + this.sets.size,
      labelShapes: this.shapes.size,
      policies: this.cache.policies.size,
      activePolicies: this.desiredPolicies.size,
      activeProfiles: this.desiredProfiles.size,
      ipSets: this.ipsets.sets.size,
      selectorEvaluations: this.policyIndex.evaluations + this.ipsets.index.evaluations,
    };
  }

  // ---- graph inputs ----------------------------------------------------------------------

  private isLocal(e: WorkloadEndpoint | HostEndpoint | NetworkSet): boolean {
    if (e.kind !== 'WorkloadEndpoint' && e.kind !== 'HostEndpoint') return false;
    return this.node === undefined || e.node === this.node;
  }

  private onEntity(
    map: Map<string, EntityRecord>,
    kind: 'w' | 'h' | 'n',
    id: string,
    e: WorkloadEndpoint | HostEndpoint | NetworkSet | undefined,
  ): void {
    const old = map.get(id);
    if (old) {
      // Leave the old shape with the old addresses (re-joined below with the new ones).
      this.ipsets.withdraw(old, old.shape.id);
      if (this.shapes.release(old.shape, old)) this.ipsets.index.deleteItem(old.shape.id);
      map.delete(id);
    }
    const wasLocal = old instanceof LocalRecord ? old : undefined;
    const local = e !== undefined && this.isLocal(e);
    const key = wasLocal ? wasLocal.key : local ? `${kind}:${id}` : undefined;
    if (wasLocal && !local) {
      this.policyIndex.deleteItem(wasLocal.key);
      this.locals.delete(wasLocal.key);
    }
    if (wasLocal) this.useProfiles(wasLocal.shape.profiles, -1);
    if (key !== undefined) this.dirtyEndpoints.add(key);
    if (!e) return;
    const cidrs = e.kind === 'WorkloadEndpoint' ? e.addresses : e.kind === 'HostEndpoint' ? e.expectedIPs : e.nets;
    const addrs = cidrs.length === 1 ? flatString(cidrs[0]!) : cidrs.length === 0 ? NO_ADDRS : cidrs.map(flatString);
    const ports = e.kind === 'WorkloadEndpoint' || e.kind === 'HostEndpoint' ? internPorts(e.ports) : NO_PORTS;
    const rec = local && (e.kind === 'WorkloadEndpoint' || e.kind === 'HostEndpoint') ? new LocalRecord(addrs, ports, key!, e) : new EntityRecord(addrs, ports);
    const { shape, created } = this.shapes.acquire(e.labels, e.profiles, rec);
    rec.shape = shape;
    map.set(id, rec);
    if (created) this.ipsets.index.upsertItem(shape.id, shape.labels);
    else this.ipsets.restore(rec, shape.id);
    if (rec instanceof LocalRecord) {
      this.locals.set(rec.key, rec);
      this.policyIndex.upsertItem(rec.key, shape.labels);
      this.useProfiles(shape.profiles, 1);
    }
  }

  private useProfiles(names: readonly string[], delta: number): void {
    for (const name of new Set(names)) {
      const n = (this.profileLocal.get(name) ?? 0) + delta;
      if (n === 0) this.profileLocal.delete(name);
      else this.profileLocal.set(name, n);
      if (n === 0 || n === delta) this.dirtyProfiles.add(name);
    }
  }

  private onProfile(name: string, _p: Profile | undefined): void {
    this.dirtyProfiles.add(name);
    // Label inheritance: shapes using this profile may have new effective labels.
    for (const shape of [...this.shapes.shapesUsing(name)]) {
      const changed = this.shapes.refresh(shape);
      if (changed) this.ipsets.index.upsertItem(shape.id, shape.labels);
      for (const rec of shape.members) {
        if (!(rec instanceof LocalRecord)) continue;
        this.dirtyEndpoints.add(rec.key); // profile existence changes its profile ids
        if (changed) this.policyIndex.upsertItem(rec.key, shape.labels);
      }
    }
  }

  private onPolicy(id: string, p: Policy | undefined): void {
    this.dirtyPolicies.add(id);
    // Endpoints it selected may need new tier lists even if the selection is unchanged.
    for (const key of this.policyIndex.itemsMatching(id)) this.dirtyEndpoints.add(key);
    if (p) this.policyIndex.upsertSelector(id, selectorRef(p.selector).selector);
    else this.policyIndex.deleteSelector(id);
  }

  private policyMatch(policyId: string, endpointKey: string, delta: number): void {
    this.dirtyEndpoints.add(endpointKey);
    const n = (this.policyLocal.get(policyId) ?? 0) + delta;
    if (n === 0) this.policyLocal.delete(policyId);
    else this.policyLocal.set(policyId, n);
    if (n === 0 || n === delta) this.dirtyPolicies.add(policyId);
  }

  private onTier(_name: string): void {
    // Tier order / default action feed every local endpoint's tier lists; tiers change rarely.
    for (const key of this.locals.keys()) this.dirtyEndpoints.add(key);
  }

  private onNode(name: string, n: NodeInfo | undefined): void {
    if (n) this.nodes.set(name, n);
    else this.nodes.delete(name);
    this.dirtyNodes.add(name);
  }

  // ---- flush -----------------------------------------------------------------------------

  private tierOf = (name: string): Tier => this.cache.tier(name) ?? { name, defaultAction: 'Deny', declared: false };

  private updateSetRefs(key: string, sets: Map<string, IpSetSpec> | undefined): void {
    const before = this.activeSets.get(key) ?? [];
    if (sets) for (const [id, spec] of sets) this.ipsets.addRef(id, spec);
    for (const id of before) this.ipsets.removeRef(id);
    if (sets && sets.size > 0) this.activeSets.set(key, [...sets.keys()]);
    else this.activeSets.delete(key);
  }

  flush(): void | Promise<void> {
    // 1. Active policies and profiles: compile, reference-count their IP sets.
    for (const id of this.dirtyPolicies) {
      const p = this.cache.policies.get(id);
      const c = p && (this.policyLocal.get(id) ?? 0) > 0 ? compilePolicy(p) : undefined;
      this.updateSetRefs(`p:${id}`, c?.sets);
      if (c) this.desiredPolicies.set(id, c.policy);
      else this.desiredPolicies.delete(id);
    }
    for (const name of this.dirtyProfiles) {
      const p = this.cache.profile(name);
      const c = p && (this.profileLocal.get(name) ?? 0) > 0 ? compileProfile(p) : undefined;
      this.updateSetRefs(`r:${name}`, c?.sets);
      if (c) this.desiredProfiles.set(name, c.profile);
      else this.desiredProfiles.delete(name);
    }

    const sorted = <T>(it: Iterable<T>): T[] => [...it].sort((a, b) => compareBytewise(String(a), String(b)));
    const head: DataplaneMessage[] = [];
    const upserts: DataplaneMessage[] = [];
    const endpoints: DataplaneMessage[] = [];
    const removals: DataplaneMessage[] = [];
    const setDeletes: DataplaneMessage[] = [];

    // 2. Host metadata.
    for (const name of sorted(this.dirtyNodes)) {
      const n = this.nodes.get(name);
      const host = n ? hostMetadata(n) : undefined;
      const json = host && JSON.stringify(host);
      if (json === this.emittedNodes.get(name)) continue;
      if (host && json) {
        head.push({ kind: 'host-metadata-upsert', host });
        this.emittedNodes.set(name, json);
      } else {
        head.push({ kind: 'host-metadata-remove', node: name });
        this.emittedNodes.delete(name);
      }
    }

    // 3. IP sets: create / update now, delete last.
    const sets = this.ipsets.flush();
    head.push(...sets.updates);
    setDeletes.push(...sets.deletes);

    // 4. Profiles and policies: upserts before endpoints reference them, removals after.
    for (const name of sorted(this.dirtyProfiles)) {
      const c = this.desiredProfiles.get(name);
      const json = c && JSON.stringify(c);
      if (json === this.emittedProfiles.get(name)) continue;
      if (c && json) {
        upserts.push({ kind: 'profile-upsert', profile: c });
        this.emittedProfiles.set(name, json);
      } else {
        removals.push({ kind: 'profile-remove', id: name });
        this.emittedProfiles.delete(name);
      }
    }
    for (const id of sorted(this.dirtyPolicies)) {
      const c = this.desiredPolicies.get(id);
      const json = c && JSON.stringify(c);
      if (json === this.emittedPolicies.get(id)) continue;
      if (c && json) {
        upserts.push({ kind: 'policy-upsert', policy: c });
        this.emittedPolicies.set(id, json);
      } else {
        removals.push({ kind: 'policy-remove', id });
        this.emittedPolicies.delete(id);
      }
    }

    // 5. Endpoints.
    for (const key of sorted(this.dirtyEndpoints)) {
      const rec = this.locals.get(key);
      const msg = rec ? this.endpointMessage(key, rec) : undefined;
      const json = msg && JSON.stringify(msg);
      const was = this.emittedEndpoints.get(key);
      if (json === was) continue;
      if (msg && json) {
        endpoints.push(msg);
        this.emittedEndpoints.set(key, json);
      } else if (was !== undefined) {
        const id = key.slice(2);
        endpoints.push(key.startsWith('w:') ? { kind: 'workload-endpoint-remove', id } : { kind: 'host-endpoint-remove', id });
        this.emittedEndpoints.delete(key);
      }
    }
    this.dirtyPolicies.clear();
    this.dirtyProfiles.clear();
    this.dirtyEndpoints.clear();
    this.dirtyNodes.clear();

    const batch = [...head, ...upserts, ...endpoints, ...removals, ...setDeletes];
    if (!this.synced) {
      batch.push({ kind: 'in-sync' });
      this.synced = true;
    }
    if (batch.length === 0) return;
    return this.dataplane.apply(batch);
  }

  private endpointMessage(key: string, rec: LocalRecord): DataplaneMessage {
    const model = rec.model;
    const selected: Policy[] = [];
    for (const id of this.policyIndex.selectorsMatching(key)) selected.push(this.cache.policies.get(id)!);
    const profiles = rec.shape.profiles;
    const profileIds = profiles.filter((p, i) => this.cache.profile(p) !== undefined && profiles.indexOf(p) === i);
    if (model.kind === 'WorkloadEndpoint') {
      return { kind: 'workload-endpoint-upsert', endpoint: workloadEndpointState(model, selected, this.tierOf, profileIds) };
    }
    return { kind: 'host-endpoint-upsert', endpoint: hostEndpointState(model, selected, this.tierOf, profileIds, this.failsafe) };
  }
}

const NO_PORTS: readonly EndpointPort[] = [];
const NO_ADDRS: readonly string[] = [];
const portPool = new Map<string, readonly EndpointPort[]>();

/** Endpoints of one workload declare the same ports: share one array. */
function internPorts(ports: readonly EndpointPort[]): readonly EndpointPort[] {
  if (ports.length === 0) return NO_PORTS;
  const key = JSON.stringify(ports);
  const shared = portPool.get(key);
  if (shared) return shared;
  if (portPool.size < 10_000) portPool.set(key, ports);
  return ports;
}

function hostMetadata(n: NodeInfo): HostMetadataState {
  const out: { -readonly [K in keyof HostMetadataState]: HostMetadataState[K] } = {
    node: n.name,
    addresses: n.addresses,
    podCIDRs: n.podCIDRs,
  };
  if (n.bgpIPv4Address !== undefined) out.ipv4Address = n.bgpIPv4Address;
  if (n.bgpIPv6Address !== undefined) out.ipv6Address = n.bgpIPv6Address;
  if (n.wireguardPublicKey !== undefined) out.wireguardPublicKey = n.wireguardPublicKey;
  if (n.wireguardPublicKeyV6 !== undefined) out.wireguardPublicKeyV6 = n.wireguardPublicKeyV6;
  if (n.wireguardInterfaceIPv4Address !== undefined) out.wireguardInterfaceIPv4Address = n.wireguardInterfaceIPv4Address;
  if (n.wireguardInterfaceIPv6Address !== undefined) out.wireguardInterfaceIPv6Address = n.wireguardInterfaceIPv6Address;
  return out;
}
