/**
 * The resource cache: the Engine's front door. Holds what each external resource converted to
 * (with the same converters `buildSnapshot` uses) and resolves what depends on several
 * resources exactly as `buildSnapshot` does: namespace / service-account profiles (declared,
 * implicit when only referenced, shadowing Calico Profiles of the same name, the built-in
 * default-allow profile), tiers (built-in, declared, undeclared-but-referenced) and nodes
 * (Calico and Kubernetes views merged). Emits model-level changes only when a resolved value
 * actually changed. Never looks at selectors or endpoints' policies.
 *
 * Limitation: two resources converting to the same model id (a Pod and a WorkloadEndpoint with
 * one id) are not arbitrated as `buildSnapshot` does; the later upsert wins.
 */
import type { Resource } from '../model/resources.js';
import type { HostEndpoint, NetworkSet, NodeInfo, Policy, Profile, Tier, WorkloadEndpoint } from '../model/types.js';
import { convertAdminNetworkPolicy } from '../convert/admin-policy.js';
import { convertCalicoPolicy } from '../convert/calico-policy.js';
import {
  BUILTIN_TIERS,
  convertCalicoNode,
  convertGlobalNetworkSet,
  convertHostEndpoint,
  convertNetworkSet,
  convertProfile,
  convertTier,
  convertWorkloadEndpoint,
  DEFAULT_ALLOW_PROFILE,
  mergeNodeInfo,
} from '../convert/calico-resources.js';
import { convertKubernetesNetworkPolicy } from '../convert/kubernetes-policy.js';
import {
  convertKubernetesNode,
  convertNamespace,
  convertPod,
  convertServiceAccount,
  namespaceProfile,
  namespaceProfileName,
  serviceAccountProfile,
  serviceAccountProfileName,
} from '../convert/kubernetes-identity.js';
import { compareBytewise } from '../convert/strings.js';
import { flatString } from './flat-string.js';

export interface ModelListener {
  policy(id: string, policy: Policy | undefined): void;
  tier(name: string): void;
  profile(name: string, profile: Profile | undefined): void;
  /** `w` workload / `h` host endpoint, by model id. */
  endpoint(kind: 'w' | 'h', id: string, endpoint: WorkloadEndpoint | HostEndpoint | undefined): void;
  networkSet(key: string, set: NetworkSet | undefined): void;
  node(name: string, node: NodeInfo | undefined): void;
}

type Product =
  | { kind: 'policy'; id: string }
  | { kind: 'admin'; id: string }
  | { kind: 'tier'; name: string }
  | { kind: 'ns'; ns: string }
  | { kind: 'sa'; name: string }
  | { kind: 'profile'; name: string }
  | { kind: 'wep'; id: string; refs: ImplicitRefs }
  | { kind: 'hep'; id: string }
  | { kind: 'set'; key: string; ns: string | undefined }
  | { kind: 'node'; name: string; calico: boolean };

/** The namespace / service-account profiles an endpoint makes exist implicitly (as buildSnapshot does). */
interface ImplicitRefs {
  readonly ns?: string;
  readonly sa?: { readonly name: string; readonly ns: string; readonly sa: string };
}

function implicitRefsOf(w: WorkloadEndpoint): ImplicitRefs {
  const out: { ns?: string; sa?: { name: string; ns: string; sa: string } } = {};
  if (w.workload !== undefined && w.profiles[0] === namespaceProfileName(w.namespace)) out.ns = w.namespace;
  if (w.serviceAccount !== undefined && w.workload !== undefined) {
    const name = serviceAccountProfileName(w.namespace, w.serviceAccount);
    if (w.profiles.includes(name)) out.sa = { name, ns: w.namespace, sa: w.serviceAccount };
  }
  return out;
}

export function isCalicoResource(r: Resource): boolean {
  return r.apiVersion.startsWith('projectcalico.org/') || r.apiVersion.startsWith('crd.projectcalico.org/');
}

/**
 * Products by kind (with API family), namespace and name: nested maps keyed by the resource's
 * own strings, so 100k pods cost no key strings of their own.
 */
class ProductStore {
  private readonly root = new Map<string, Map<string, Map<string, Product>>>();

  get(kind: string, calico: boolean, ns: string, name: string): Product | undefined {
    return this.root.get(kindKey(kind, calico))?.get(ns)?.get(name);
  }

  set(kind: string, calico: boolean, ns: string, name: string, p: Product): void {
    const k = kindKey(kind, calico);
    let byNs = this.root.get(k);
    if (!byNs) this.root.set(k, (byNs = new Map()));
    let byName = byNs.get(ns);
    if (!byName) byNs.set(ns, (byName = new Map()));
    byName.set(name, p);
  }

  delete(kind: string, calico: boolean, ns: string, name: string): void {
    const byNs = this.root.get(kindKey(kind, calico));
    const byName = byNs?.get(ns);
    if (!byName) return;
    byName.delete(name);
    if (byName.size === 0) byNs!.delete(ns);
  }
}

function kindKey(kind: string, calico: boolean): string {
  return calico ? `c:${kind}` : `k:${kind}`;
}

const NAMESPACED = new Set(['Pod', 'NetworkPolicy', 'StagedNetworkPolicy', 'StagedKubernetesNetworkPolicy', 'NetworkSet', 'WorkloadEndpoint', 'ServiceAccount']);

export class ResourceCache {
  private readonly products = new ProductStore();
  private readonly admin = new Map<string, Resource>();
  private readonly refsPool = new Map<string, ImplicitRefs>();
  readonly policies = new Map<string, Policy>();
  private readonly declaredTiers = new Map<string, Tier>();
  private readonly tierUse = new Map<string, number>();
  private readonly nsDeclared = new Map<string, Profile>();
  private readonly saDeclared = new Map<string, Profile>();
  private readonly calicoProfiles = new Map<string, Profile>();
  private readonly nsImplicit = new Map<string, number>();
  private readonly saImplicit = new Map<string, { ns: string; sa: string; count: number }>();
  private readonly resolvedProfiles = new Map<string, { profile: Profile; json: string }>();
  private readonly calicoNodes = new Map<string, NodeInfo>();
  private readonly k8sNodes = new Map<string, NodeInfo>();
  private readonly nodeJson = new Map<string, string>();

  constructor(private readonly out: ModelListener) {}

  /** The resolved tier: declared or built-in, else undeclared (Deny, sorted last) when policies name it. */
  tier(name: string): Tier | undefined {
    const t = this.declaredTiers.get(name) ?? BUILTIN_TIERS.find((b) => b.name === name);
    if (t) return t;
    return (this.tierUse.get(name) ?? 0) > 0 ? { name, defaultAction: 'Deny', declared: false } : undefined;
  }

  profile(name: string): Profile | undefined {
    return this.resolvedProfiles.get(name)?.profile;
  }

  /** Emits the built-in profile and tiers (call once, before any upsert). */
  start(): void {
    this.refreshProfile(DEFAULT_ALLOW_PROFILE.name);
    for (const t of BUILTIN_TIERS) this.out.tier(t.name);
  }

  upsert(r: Resource): void {
    if (!r || typeof r !== 'object' || !r.metadata || typeof r.metadata.name !== 'string') return;
    const calico = isCalicoResource(r);
    const ns = NAMESPACED.has(r.kind) ? r.metadata.namespace || 'default' : '';
    const name = r.metadata.name;
    const product = this.convert(r, calico);
    const old = this.products.get(r.kind, calico, ns, name);
    // A new identity (or nothing) replaces the old product; the same identity is updated in place.
    if (old && (!product || identity(old) !== identity(product.p))) this.remove(old);
    if (!product) {
      this.products.delete(r.kind, calico, ns, name);
      this.admin.delete(`${r.kind}\0${ns}\0${name}`);
      return;
    }
    this.products.set(r.kind, calico, ns, name, product.p);
    if (product.p.kind === 'admin') this.admin.set(`${r.kind}\0${ns}\0${name}`, r);
    product.apply();
    // Implicit refs of the replaced version are released after the new ones are taken (no flapping).
    if (old && identity(old) === identity(product.p)) this.release(old);
  }

  delete(kind: string, namespace: string, name: string, apiVersion?: string): void {
    const families = apiVersion === undefined ? [true, false] : [isCalicoResource({ apiVersion, kind, metadata: { name } })];
    for (const calico of families) {
      const ns = NAMESPACED.has(kind) ? namespace || 'default' : '';
      const p = this.products.get(kind, calico, ns, name);
      if (!p) continue;
      this.products.delete(kind, calico, ns, name);
      if (p.kind === 'admin') this.admin.delete(`${kind}\0${ns}\0${name}`);
      this.remove(p);
    }
  }

  private convert(r: Resource, calico: boolean): { p: Product; apply: () => void } | undefined {
    const R = r as Resource<string, never>;
    switch (r.kind) {
      case 'Node': {
        const n = (calico ? convertCalicoNode(R) : convertKubernetesNode(R)).value;
        return n && { p: { kind: 'node', name: n.name, calico }, apply: () => this.setNode(n.name, calico, n) };
      }
      case 'Namespace': {
        const p = convertNamespace(r).value;
        const ns = r.metadata.name;
        return p && { p: { kind: 'ns', ns }, apply: () => (this.nsDeclared.set(ns, p), this.refreshProfile(p.name)) };
      }
      case 'ServiceAccount': {
        const p = convertServiceAccount(r).value;
        return p && { p: { kind: 'sa', name: p.name }, apply: () => (this.saDeclared.set(p.name, p), this.refreshProfile(p.name)) };
      }
      case 'Profile': {
        const p = convertProfile(R).value;
        return p && { p: { kind: 'profile', name: p.name }, apply: () => (this.calicoProfiles.set(p.name, p), this.refreshProfile(p.name)) };
      }
      case 'Pod':
      case 'WorkloadEndpoint': {
        const w = (r.kind === 'Pod' ? convertPod(R) : convertWorkloadEndpoint(R)).value;
        if (!w) return undefined;
        const refs = this.internRefs(implicitRefsOf(w));
        const id = flatString(w.id); // kept for every pod (here and as the Engine's map key)
        return { p: { kind: 'wep', id, refs }, apply: () => this.setWep(id, w, refs) };
      }
      case 'HostEndpoint': {
        const h = convertHostEndpoint(R).value;
        return h && { p: { kind: 'hep', id: h.id }, apply: () => this.out.endpoint('h', h.id, h) };
      }
      case 'NetworkSet':
      case 'GlobalNetworkSet': {
        const s = (r.kind === 'NetworkSet' ? convertNetworkSet(R) : convertGlobalNetworkSet(R)).value;
        const key = s && `${s.kind}/${s.id}`;
        if (!s || !key) return undefined;
        const ns = s.kind === 'NetworkSet' ? s.namespace : undefined;
        return { p: { kind: 'set', key, ns }, apply: () => this.setSet(key, s, ns) };
      }
      case 'Tier': {
        const t = convertTier(R).value;
        return t && { p: { kind: 'tier', name: t.name }, apply: () => (this.declaredTiers.set(t.name, t), this.out.tier(t.name)) };
      }
      case 'NetworkPolicy':
      case 'GlobalNetworkPolicy':
      case 'StagedNetworkPolicy':
      case 'StagedGlobalNetworkPolicy':
      case 'StagedKubernetesNetworkPolicy': {
        const k8s = r.kind === 'StagedKubernetesNetworkPolicy' || (r.kind === 'NetworkPolicy' && !calico);
        const p = (k8s ? convertKubernetesNetworkPolicy(R) : convertCalicoPolicy(R)).value;
        return p && { p: { kind: 'policy', id: p.id }, apply: () => this.setPolicy(p.id, p) };
      }
      case 'AdminNetworkPolicy':
      case 'BaselineAdminNetworkPolicy':
      case 'ClusterNetworkPolicy': {
        const p = convertAdminNetworkPolicy(R, { nodes: this.nodeList() }).value;
        return p && { p: { kind: 'admin', id: p.id }, apply: () => this.setPolicy(p.id, p) };
      }
      default:
        return undefined;
    }
  }

  private remove(p: Product): void {
    switch (p.kind) {
      case 'policy':
      case 'admin':
        this.setPolicy(p.id, undefined);
        break;
      case 'tier':
        this.declaredTiers.delete(p.name);
        this.out.tier(p.name);
        break;
      case 'ns':
        this.nsDeclared.delete(p.ns);
        this.refreshProfile(namespaceProfileName(p.ns));
        break;
      case 'sa':
        this.saDeclared.delete(p.name);
        this.refreshProfile(p.name);
        break;
      case 'profile':
        this.calicoProfiles.delete(p.name);
        this.refreshProfile(p.name);
        break;
      case 'wep':
        this.out.endpoint('w', p.id, undefined);
        this.release(p);
        break;
      case 'hep':
        this.out.endpoint('h', p.id, undefined);
        break;
      case 'set':
        this.out.networkSet(p.key, undefined);
        this.release(p);
        break;
      case 'node':
        this.setNode(p.name, p.calico, undefined);
        break;
    }
  }

  private setPolicy(id: string, p: Policy | undefined): void {
    const old = this.policies.get(id);
    if (old) this.useTier(old.tier, -1);
    if (p) {
      this.policies.set(id, p);
      this.useTier(p.tier, 1);
    } else this.policies.delete(id);
    this.out.policy(id, p);
  }

  private useTier(name: string, delta: number): void {
    const before = this.tierUse.get(name) ?? 0;
    const after = before + delta;
    if (after === 0) this.tierUse.delete(name);
    else this.tierUse.set(name, after);
    if ((before === 0) !== (after === 0) && !this.declaredTiers.has(name) && !BUILTIN_TIERS.some((t) => t.name === name)) this.out.tier(name);
  }

  private implicitRefs(refs: ImplicitRefs, delta: number): void {
    if (refs.ns !== undefined) this.nsRef(refs.ns, delta);
    if (refs.sa) {
      const { name, ns, sa } = refs.sa;
      const e = this.saImplicit.get(name) ?? { ns, sa, count: 0 };
      e.count += delta;
      if (e.count === 0) this.saImplicit.delete(name);
      else this.saImplicit.set(name, e);
      if (e.count === 0 || e.count === delta) this.refreshProfile(name);
    }
  }

  /** One shared object per distinct (namespace, service account) reference pair. */
  private internRefs(refs: ImplicitRefs): ImplicitRefs {
    const key = `${refs.ns ?? ''}\0${refs.sa?.name ?? ''}`;
    const shared = this.refsPool.get(key);
    if (shared && shared.ns === refs.ns && shared.sa?.ns === refs.sa?.ns && shared.sa?.sa === refs.sa?.sa) return shared;
    if (this.refsPool.size < 100_000) this.refsPool.set(key, refs);
    return refs;
  }

  /** Drops the implicit profile references a replaced or removed product held. */
  private release(p: Product): void {
    if (p.kind === 'wep') this.implicitRefs(p.refs, -1);
    else if (p.kind === 'set' && p.ns !== undefined) this.nsRef(p.ns, -1);
  }

  private nsRef(ns: string, delta: number): void {
    const after = (this.nsImplicit.get(ns) ?? 0) + delta;
    if (after === 0) this.nsImplicit.delete(ns);
    else this.nsImplicit.set(ns, after);
    if (after === 0 || after === delta) this.refreshProfile(namespaceProfileName(ns));
  }

  private setWep(id: string, w: WorkloadEndpoint, refs: ImplicitRefs): void {
    this.implicitRefs(refs, 1);
    this.out.endpoint('w', id, w);
  }

  private setSet(key: string, s: NetworkSet, ns: string | undefined): void {
    if (ns !== undefined) this.nsRef(ns, 1);
    this.out.networkSet(key, s);
  }

  private resolveProfile(name: string): Profile | undefined {
    if (name.startsWith('kns.')) {
      const ns = name.slice(4);
      const p = this.nsDeclared.get(ns) ?? ((this.nsImplicit.get(ns) ?? 0) > 0 ? namespaceProfile(ns) : undefined);
      if (p) return p;
    }
    if (name.startsWith('ksa.')) {
      const declared = this.saDeclared.get(name);
      if (declared) return declared;
      const implicit = this.saImplicit.get(name);
      if (implicit) return serviceAccountProfile(implicit.ns, implicit.sa);
    }
    return this.calicoProfiles.get(name) ?? (name === DEFAULT_ALLOW_PROFILE.name ? DEFAULT_ALLOW_PROFILE : undefined);
  }

  private refreshProfile(name: string): void {
    const p = this.resolveProfile(name);
    const old = this.resolvedProfiles.get(name);
    if (!p) {
      if (!old) return;
      this.resolvedProfiles.delete(name);
      this.out.profile(name, undefined);
      return;
    }
    const json = JSON.stringify(p);
    if (old && old.json === json) return;
    this.resolvedProfiles.set(name, { profile: p, json });
    this.out.profile(name, p);
  }

  private nodeList(): NodeInfo[] {
    const names = [...new Set([...this.calicoNodes.keys(), ...this.k8sNodes.keys()])].sort(compareBytewise);
    return names.map((n) => this.mergedNode(n)!);
  }

  private mergedNode(name: string): NodeInfo | undefined {
    const c = this.calicoNodes.get(name);
    const k = this.k8sNodes.get(name);
    return c && k ? mergeNodeInfo(c, k) : (c ?? k);
  }

  private setNode(name: string, calico: boolean, n: NodeInfo | undefined): void {
    const map = calico ? this.calicoNodes : this.k8sNodes;
    if (n) map.set(name, n);
    else map.delete(name);
    const merged = this.mergedNode(name);
    const json = merged ? JSON.stringify(merged) : undefined;
    if (json === this.nodeJson.get(name)) return;
    if (json === undefined) this.nodeJson.delete(name);
    else this.nodeJson.set(name, json);
    this.out.node(name, merged);
    // Admin policies resolve `nodes` peers against the node list: re-convert them.
    for (const r of [...this.admin.values()]) {
      const p = convertAdminNetworkPolicy(r as Resource<string, never>, { nodes: this.nodeList() }).value;
      if (p && JSON.stringify(p) !== JSON.stringify(this.policies.get(p.id))) this.setPolicy(p.id, p);
    }
  }
}

/** What a product is (kind and model id), ignoring the details it carries. */
function identity(p: Product): string {
  switch (p.kind) {
    case 'policy':
    case 'admin':
    case 'wep':
    case 'hep':
      return `${p.kind}:${p.id}`;
    case 'tier':
    case 'sa':
    case 'profile':
      return `${p.kind}:${p.name}`;
    case 'ns':
      return `ns:${p.ns}`;
    case 'set':
      return `set:${p.key}`;
    case 'node':
      return `node:${p.calico}:${p.name}`;
  }
}
