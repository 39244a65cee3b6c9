/**
 * Reducers: a raw Kubernetes object in, the resources the Engine reads out, before anything is
 * cached (client-go's transform-before-cache). A Pod keeps its name, namespace, labels, node,
 * service account, IPs, phase when finished, and only its *named* container ports; a Node becomes
 * its Kubernetes view, its Calico view and, opt-in, its automatic host endpoint; a Calico CRD
 * becomes its `projectcalico.org/v3` resource. Everything else (managedFields, status
 * conditions, images, env, volumes…) is dropped here, so 100k pods cost what the Engine needs.
 *
 * Strings many objects repeat (namespaces, node names, label values) are interned. Pure apart
 * from the interning table.
 */
import type { Resource } from '@gingham/core';
import { groupVersion, type ApiResource } from '../api/resource-types.js';
import { calicoResourceFromCrd } from './calico-crd.js';
import {
  autoHostEndpoint,
  CALICO_NODE_ANNOTATIONS,
  calicoNodeFromKubernetesNode,
  CREATED_BY_KUBE_CONTROLLERS,
  CREATED_BY_LABEL,
  nodeFacts,
} from './calico-node.js';

export interface ReduceOptions {
  /** Derive `<node>-auto-hep` host endpoints from Nodes as kube-controllers does (default false). */
  readonly autoHostEndpoints?: boolean;
  /** Keep annotations, uid, creationTimestamp and resourceVersion (for display; the agent never needs them). */
  readonly fullMetadata?: boolean;
}

export interface Reduced {
  /** The resources this object stands for (none for host-network and finished pods). */
  readonly outputs: readonly Resource[];
  /** Why the object was left out on purpose, to report as a problem. */
  readonly skipped?: string;
}

export type Reducer = (object: Record<string, unknown>) => Reduced;

type Meta = { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string; creationTimestamp?: string; resourceVersion?: string };

/**
 * Interns strings, and small JSON values, that many objects repeat (bounded: past the limit,
 * values are kept as they come). Interned values are shared between resources: never mutate them.
 */
export class Interner {
  private readonly table = new Map<string, string>();
  private readonly values = new Map<string, unknown>();
  constructor(
    private readonly limit = 500_000,
    /** Distinct values kept (each costs its JSON as the key): enough for the ReplicaSets of a large cluster. */
    private readonly valueLimit = 20_000,
  ) {}
  get(s: string): string {
    const had = this.table.get(s);
    if (had !== undefined) return had;
    if (this.table.size < this.limit) this.table.set(s, s);
    return s;
  }
  /** One shared instance per distinct JSON value (labels of a ReplicaSet's pods, container port lists). */
  value<T>(v: T): T {
    const key = JSON.stringify(v);
    const had = this.values.get(key);
    if (had !== undefined) return had as T;
    if (this.values.size < this.valueLimit) this.values.set(key, v);
    return v;
  }
  get size(): number {
    return this.table.size + this.values.size;
  }
}

/** The reducer for objects of one API resource. */
export function reducerFor(r: ApiResource, options: ReduceOptions = {}, interner = new Interner()): Reducer {
  const apiVersion = groupVersion(r);
  const full = options.fullMetadata === true;

  const labels = (l: Record<string, string> | undefined): Record<string, string> | undefined => {
    if (!l) return undefined;
    const out: Record<string, string> = {};
    let any = false;
    for (const k in l) {
      const v = l[k];
      if (typeof v !== 'string') continue;
      out[k] = interner.get(v);
      any = true;
    }
    return any ? interner.value(out) : undefined;
  };
  const metadata = (m: Meta, keepLabels: boolean): Resource['metadata'] => {
    const out: Record<string, unknown> = { name: m.name ?? '' };
    if (r.namespaced && m.namespace) out['namespace'] = interner.get(m.namespace);
    const l = keepLabels ? labels(m.labels) : undefined;
    if (l) out['labels'] = l;
    if (full) {
      if (m.annotations && Object.keys(m.annotations).length > 0) out['annotations'] = m.annotations;
      if (m.uid) out['uid'] = m.uid;
      if (m.creationTimestamp) out['creationTimestamp'] = m.creationTimestamp;
      if (m.resourceVersion) out['resourceVersion'] = m.resourceVersion;
    }
    return out as unknown as Resource['metadata'];
  };
  const metaOf = (o: Record<string, unknown>): Meta => (o['metadata'] ?? {}) as Meta;

  if (r.group === 'crd.projectcalico.org') {
    return (o) => {
      const out = calicoResourceFromCrd(r.kind, o, { fullMetadata: full });
      if (r.kind === 'HostEndpoint' && options.autoHostEndpoints && out.metadata.labels?.[CREATED_BY_LABEL] === CREATED_BY_KUBE_CONTROLLERS) {
        return { outputs: [], skipped: `an automatic host endpoint created by kube-controllers; this source derives ${out.metadata.name} from the Node itself (autoHostEndpoints)` };
      }
      return { outputs: [out] };
    };
  }

  switch (r.kind) {
    case 'Namespace':
    case 'ServiceAccount':
      return (o) => ({ outputs: [{ apiVersion, kind: r.kind, metadata: metadata(metaOf(o), true) }] });
    case 'Pod':
      return (o) => reducePod(o, metadata(metaOf(o), true), interner);
    case 'Node':
      return (o) => {
        const m = metaOf(o);
        const facts = nodeFacts(o);
        const kept: Record<string, string> = {};
        for (const a of CALICO_NODE_ANNOTATIONS) if (m.annotations?.[a]) kept[a] = m.annotations[a];
        const meta = metadata(m, true) as { annotations?: Record<string, string> };
        if (!full && Object.keys(kept).length > 0) meta.annotations = kept;
        const addresses = (facts.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => ({ type: a.type, address: a.address }));
        const k8s: Resource = {
          apiVersion,
          kind: 'Node',
          metadata: meta as Resource['metadata'],
          spec: facts.podCIDRs && facts.podCIDRs.length > 0 ? { podCIDRs: [...facts.podCIDRs] } : {},
          status: { addresses },
        };
        const calico = calicoNodeFromKubernetesNode(facts);
        return { outputs: options.autoHostEndpoints ? [k8s, calico, autoHostEndpoint(calico)] : [k8s, calico] };
      };
    default:
      // Kubernetes NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy.
      return (o) => ({ outputs: [{ apiVersion, kind: r.kind, metadata: metadata(metaOf(o), full), spec: (o['spec'] ?? {}) as Record<string, unknown> }] });
  }
}

type RawPort = { name?: string; containerPort?: number; protocol?: string };
type RawContainer = { name?: string; ports?: RawPort[]; restartPolicy?: string };

function reducePod(o: Record<string, unknown>, metadata: Resource['metadata'], interner: Interner): Reduced {
  const spec = (o['spec'] ?? {}) as { nodeName?: string; serviceAccountName?: string; serviceAccount?: string; hostNetwork?: boolean; containers?: RawContainer[]; initContainers?: RawContainer[] };
  const status = (o['status'] ?? {}) as { podIP?: string; podIPs?: { ip?: string }[]; phase?: string };
  // Calico makes no endpoint of host-network pods (they are the host) nor of finished pods (their IPs may be reused).
  if (spec.hostNetwork === true) return { outputs: [] };
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return { outputs: [] };
  const outSpec: Record<string, unknown> = {};
  if (spec.nodeName) outSpec['nodeName'] = interner.get(spec.nodeName);
  const sa = spec.serviceAccountName || spec.serviceAccount;
  if (sa) outSpec['serviceAccountName'] = interner.get(sa);
  const named = (c: RawContainer): RawContainer | undefined => {
    const ports = (c.ports ?? []).filter((p) => typeof p.name === 'string' && p.name !== '');
    if (ports.length === 0) return undefined;
    return {
      ...(c.name ? { name: c.name } : {}),
      ports: ports.map((p) => ({ name: interner.get(p.name!), containerPort: p.containerPort!, ...(p.protocol && p.protocol !== 'TCP' ? { protocol: p.protocol } : {}) })),
    };
  };
  const containers = (spec.containers ?? []).map(named).filter((c): c is RawContainer => c !== undefined);
  if (containers.length > 0) outSpec['containers'] = interner.value(containers);
  const sidecars = (spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map(named).filter((c): c is RawContainer => c !== undefined);
  if (sidecars.length > 0) outSpec['initContainers'] = interner.value(sidecars.map((c) => ({ ...c, restartPolicy: 'Always' })));
  const ips = status.podIPs && status.podIPs.length > 0 ? status.podIPs.map((p) => p.ip).filter((ip): ip is string => typeof ip === 'string') : status.podIP ? [status.podIP] : [];
  const outStatus = ips.length === 1 ? { podIP: ips[0] } : ips.length > 1 ? { podIPs: ips.map((ip) => ({ ip })) } : {};
  return { outputs: [{ apiVersion: 'v1', kind: 'Pod', metadata, spec: outSpec, status: outStatus }] };
}
