/**
 * `buildSnapshot`: every supported resource → one `Snapshot`, plus issues. Resources are
 * dispatched by kind (and API group, where Calico and Kubernetes share a kind name), nodes
 * first (admin policies need them), then identities, endpoints and policies. Built-in tiers and
 * the `projectcalico-default-allow` profile always exist; namespaces and service accounts that
 * endpoints reference without declaring get implicit profiles. Output arrays are sorted by id,
 * so input order never shows in the result.
 */
import type { Issue } from '../model/issues.js';
import type { Resource } from '../model/resources.js';
import type { HostEndpoint, NetworkSet, NodeInfo, Policy, Profile, Snapshot, Tier, WorkloadEndpoint } from '../model/types.js';
import { convertAdminNetworkPolicy } from './admin-policy.js';
import { convertCalicoPolicy } from './calico-policy.js';
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
} from './calico-resources.js';
import { convertKubernetesNetworkPolicy } from './kubernetes-policy.js';
import {
  convertKubernetesNode,
  convertNamespace,
  convertPod,
  convertServiceAccount,
  namespaceProfile,
  namespaceProfileName,
  serviceAccountProfile,
  serviceAccountProfileName,
} from './kubernetes-identity.js';
import { type ConvertOptions, type Converted, Reporter } from './report.js';
import { compareBytewise, stableJson } from './strings.js';

export interface BuildSnapshotOptions extends ConvertOptions {}

export interface BuildSnapshotResult {
  readonly snapshot: Snapshot;
  readonly issues: Issue[];
}

function isCalico(r: Resource): boolean {
  return r.apiVersion.startsWith('projectcalico.org/') || r.apiVersion.startsWith('crd.projectcalico.org/');
}

/** Kinds that carry no policy semantics but appear in manifests; skipped silently. */
const SILENT_KINDS = new Set([
  'List',
  'ConfigMap',
  'Secret',
  'Service',
  'EndpointSlice',
  'Endpoints',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'IPPool',
  'IPReservation',
  'BGPConfiguration',
  'BGPPeer',
  'BGPFilter',
  'FelixConfiguration',
  'KubeControllersConfiguration',
  'ClusterInformation',
  'CalicoNodeStatus',
]);

/** Keeps one value per key; on duplicates keeps the one with the larger stable JSON (order-independent) and reports. */
class Collection<T> {
  private readonly items = new Map<string, { value: T; json?: string }>();
  constructor(private readonly what: string) {}

  add(key: string, value: T, resource: Resource, options: ConvertOptions | undefined, issues: Issue[]): void {
    const existing = this.items.get(key);
    if (existing) {
      const r = new Reporter(resource, options);
      r.warn('duplicate', '', `duplicate ${this.what} "${key}": one definition is ignored`);
      issues.push(...r.issues);
      // Keep the larger canonical JSON, so the winner does not depend on input order.
      const json = stableJson(value);
      existing.json ??= stableJson(existing.value);
      if (compareBytewise(json, existing.json) > 0) this.items.set(key, { value, json });
      return;
    }
    this.items.set(key, { value });
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  get(key: string): T | undefined {
    return this.items.get(key)?.value;
  }

  set(key: string, value: T): void {
    this.items.set(key, { value });
  }

  values(): T[] {
    return [...this.items.entries()].sort((a, b) => compareBytewise(a[0], b[0])).map(([, v]) => v.value);
  }
}

/**
 * Converts validated resources into a snapshot. Issues are warnings about what could not be
 * represented exactly (dropped rules, ignored fields, implicit namespaces) and errors for
 * resources that had to be skipped.
 */
export function buildSnapshot(resources: readonly Resource[], options?: BuildSnapshotOptions): BuildSnapshotResult {
  const issues: Issue[] = [];
  const take = <T>(c: Converted<T>): T | undefined => {
    issues.push(...c.issues);
    return c.value;
  };
  // Sort input so that issue order (and duplicate handling) never depends on input order.
  const sorted = [...resources].sort((a, b) => {
    const ka = `${a.kind}\0${a.metadata?.namespace ?? ''}\0${a.metadata?.name ?? ''}`;
    const kb = `${b.kind}\0${b.metadata?.namespace ?? ''}\0${b.metadata?.name ?? ''}`;
    return compareBytewise(ka, kb) || compareBytewise(stableJson(a), stableJson(b));
  });

  const calicoNodes = new Collection<NodeInfo>('Calico node');
  const k8sNodes = new Collection<NodeInfo>('Kubernetes node');
  const profiles = new Collection<Profile>('profile');
  const namespaceProfiles = new Collection<Profile>('namespace');
  const saProfiles = new Collection<Profile>('service account');
  const weps = new Collection<WorkloadEndpoint>('workload endpoint');
  const heps = new Collection<HostEndpoint>('host endpoint');
  const sets = new Collection<NetworkSet>('network set');
  const tiers = new Collection<Tier>('tier');
  const policies = new Collection<Policy>('policy');
  const policyResources: Resource[] = [];
  const adminResources: Resource[] = [];

  for (const r of sorted) {
    if (!r || typeof r !== 'object' || !r.metadata || typeof r.metadata.name !== 'string') continue;
    const calico = isCalico(r);
    switch (r.kind) {
      case 'Node': {
        const n = take(calico ? convertCalicoNode(r as Resource<string, never>, options) : convertKubernetesNode(r as Resource<string, never>, options));
        if (n) (calico ? calicoNodes : k8sNodes).add(n.name, n, r, options, issues);
        break;
      }
      case 'Namespace': {
        const p = take(convertNamespace(r, options));
        if (p) namespaceProfiles.add(r.metadata.name, p, r, options, issues);
        break;
      }
      case 'ServiceAccount': {
        const p = take(convertServiceAccount(r, options));
        if (p) saProfiles.add(p.name, p, r, options, issues);
        break;
      }
      case 'Profile': {
        const p = take(convertProfile(r as Resource<string, never>, options));
        if (p) profiles.add(p.name, p, r, options, issues);
        break;
      }
      case 'Pod': {
        const w = take(convertPod(r as Resource<string, never>, options));
        if (w) weps.add(w.id, w, r, options, issues);
        break;
      }
      case 'WorkloadEndpoint': {
        const w = take(convertWorkloadEndpoint(r as Resource<string, never>, options));
        if (w) weps.add(w.id, w, r, options, issues);
        break;
      }
      case 'HostEndpoint': {
        const h = take(convertHostEndpoint(r as Resource<string, never>, options));
        if (h) heps.add(h.id, h, r, options, issues);
        break;
      }
      case 'NetworkSet': {
        const s = take(convertNetworkSet(r as Resource<string, never>, options));
        if (s) sets.add(s.id, s, r, options, issues);
        break;
      }
      case 'GlobalNetworkSet': {
        const s = take(convertGlobalNetworkSet(r as Resource<string, never>, options));
        if (s) sets.add(`/${s.id}`, s, r, options, issues);
        break;
      }
      case 'Tier': {
        const t = take(convertTier(r as Resource<string, never>, options));
        if (t) tiers.add(t.name, t, r, options, issues);
        break;
      }
      case 'NetworkPolicy':
      case 'GlobalNetworkPolicy':
      case 'StagedNetworkPolicy':
      case 'StagedGlobalNetworkPolicy':
      case 'StagedKubernetesNetworkPolicy':
        policyResources.push(r);
        break;
      case 'AdminNetworkPolicy':
      case 'BaselineAdminNetworkPolicy':
      case 'ClusterNetworkPolicy':
        adminResources.push(r);
        break;
      default:
        if (!SILENT_KINDS.has(r.kind)) {
          const rep = new Reporter(r, options);
          rep.warn('ignored-kind', 'kind', `${r.apiVersion} ${r.kind} has no policy meaning for Gingham; ignored`);
          issues.push(...rep.issues);
        }
    }
  }

  // Nodes: one NodeInfo per name, Calico and Kubernetes views merged (Kubernetes labels win).
  const nodeNames = new Set<string>();
  for (const n of calicoNodes.values()) nodeNames.add(n.name);
  for (const n of k8sNodes.values()) nodeNames.add(n.name);
  const nodes: NodeInfo[] = [...nodeNames].sort(compareBytewise).map((name) => {
    const c = calicoNodes.get(name);
    const k = k8sNodes.get(name);
    return c && k ? mergeNodeInfo(c, k) : (c ?? k)!;
  });

  // Policies (after nodes: admin policies resolve `nodes` peers against them).
  for (const r of policyResources) {
    const converted =
      r.kind === 'StagedKubernetesNetworkPolicy' || (r.kind === 'NetworkPolicy' && !isCalico(r))
        ? convertKubernetesNetworkPolicy(r as Resource<string, never>, options)
        : convertCalicoPolicy(r as Resource<string, never>, options);
    const p = take(converted);
    if (p) policies.add(p.id, p, r, options, issues);
  }
  for (const r of adminResources) {
    const p = take(convertAdminNetworkPolicy(r as Resource<string, never>, { ...options, nodes }));
    if (p) policies.add(p.id, p, r, options, issues);
  }

  // Implicit namespace / service-account profiles for what endpoints reference.
  const implicitNamespaces = new Map<string, string>();
  const noteNamespace = (ns: string, by: string): void => {
    if (!namespaceProfiles.has(ns) && !implicitNamespaces.has(ns)) implicitNamespaces.set(ns, by);
  };
  const wepList = weps.values();
  for (const w of wepList) {
    if (w.workload !== undefined && w.profiles[0] === namespaceProfileName(w.namespace)) noteNamespace(w.namespace, `pod ${w.id}`);
  }
  const setList = sets.values();
  for (const s of setList) if (s.kind === 'NetworkSet') noteNamespace(s.namespace, `network set ${s.id}`);
  for (const [ns, by] of [...implicitNamespaces.entries()].sort((a, b) => compareBytewise(a[0], b[0]))) {
    namespaceProfiles.set(ns, namespaceProfile(ns));
    issues.push({
      severity: 'warning',
      code: 'implicit-namespace',
      message: `namespace "${ns}" is not declared; assumed to exist with no labels besides kubernetes.io/metadata.name (referenced by ${by})`,
      file: '<input>',
      line: 0,
      col: 0,
      kind: 'Namespace',
      name: ns,
      path: '',
    });
  }
  for (const w of wepList) {
    if (w.serviceAccount === undefined || w.workload === undefined) continue;
    const name = serviceAccountProfileName(w.namespace, w.serviceAccount);
    if (w.profiles.includes(name) && !saProfiles.has(name)) saProfiles.set(name, serviceAccountProfile(w.namespace, w.serviceAccount));
  }

  // Profiles: declared Calico profiles, namespace and service-account profiles, the built-in one.
  const profileMap = new Map<string, Profile>();
  for (const p of [...namespaceProfiles.values(), ...saProfiles.values()]) profileMap.set(p.name, p);
  for (const p of profiles.values()) {
    if (profileMap.has(p.name)) {
      issues.push({
        severity: 'warning',
        code: 'duplicate',
        message: `profile "${p.name}" is also derived from a Kubernetes namespace or service account; the Calico Profile is ignored`,
        file: '<input>',
        line: 0,
        col: 0,
        kind: 'Profile',
        name: p.name,
        path: '',
      });
      continue;
    }
    profileMap.set(p.name, p);
  }
  if (!profileMap.has(DEFAULT_ALLOW_PROFILE.name)) profileMap.set(DEFAULT_ALLOW_PROFILE.name, DEFAULT_ALLOW_PROFILE);

  // Tiers: built-ins, declared, and undeclared-but-referenced (Deny, sorted last).
  const tierMap = new Map<string, Tier>();
  for (const t of BUILTIN_TIERS) tierMap.set(t.name, t);
  for (const t of tiers.values()) tierMap.set(t.name, t);
  const policyList = policies.values();
  for (const p of policyList) {
    if (!tierMap.has(p.tier)) {
      tierMap.set(p.tier, { name: p.tier, defaultAction: 'Deny', declared: false });
      issues.push({
        severity: 'warning',
        code: 'undeclared-tier',
        message: `tier "${p.tier}" is not declared; Calico still enforces its policies, after every declared tier, with default action Deny`,
        file: '<input>',
        line: 0,
        col: 0,
        kind: 'Tier',
        name: p.tier,
        path: '',
      });
    }
  }

  const byName = <T extends { name: string }>(a: T, b: T): number => compareBytewise(a.name, b.name);
  const snapshot: Snapshot = {
    tiers: [...tierMap.values()].sort(byName),
    policies: policyList,
    profiles: [...profileMap.values()].sort(byName),
    workloadEndpoints: wepList,
    hostEndpoints: heps.values(),
    networkSets: setList,
    nodes,
  };
  return { snapshot, issues };
}
