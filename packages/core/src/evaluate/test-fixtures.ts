/**
 * Terse resource builders for tests (Kubernetes and Calico manifests as plain objects) and a
 * `snap()` that converts them and fails on conversion errors. Test support only: not exported
 * from the package.
 */
import type { Resource } from '../model/resources.js';
import type { Snapshot } from '../model/types.js';
import { buildSnapshot } from '../convert/index.js';
import { evaluate } from './evaluate.js';
import type { EvaluationResult, Flow } from './types.js';

type Obj = Record<string, unknown>;
const CALICO = 'projectcalico.org/v3';

export function namespace(name: string, labels: Record<string, string> = {}): Resource {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export function serviceAccount(ns: string, name: string, labels: Record<string, string> = {}): Resource {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels } };
}

export interface PodOptions {
  readonly ports?: readonly { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
  readonly serviceAccount?: string;
  readonly node?: string;
  readonly ips?: readonly string[];
  readonly hostNetwork?: boolean;
}

/** A pod `ns/name` with one IP (or none when `ip` is ''). */
export function pod(ns: string, name: string, ip: string, labels: Record<string, string> = {}, options: PodOptions = {}): Resource {
  const ips = options.ips ?? (ip === '' ? [] : [ip]);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: {
      nodeName: options.node ?? 'node-1',
      ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}),
      ...(options.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'c', ports: options.ports ?? [] }],
    },
    status: ips.length > 0 ? { podIP: ips[0], podIPs: ips.map((i) => ({ ip: i })) } : {},
  };
}

export function k8sPolicy(ns: string, name: string, spec: Obj): Resource {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec };
}

export function calicoPolicy(ns: string, name: string, spec: Obj): Resource {
  return { apiVersion: CALICO, kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec };
}

export function globalPolicy(name: string, spec: Obj): Resource {
  return { apiVersion: CALICO, kind: 'GlobalNetworkPolicy', metadata: { name }, spec };
}

export function stagedGlobalPolicy(name: string, spec: Obj): Resource {
  return { apiVersion: CALICO, kind: 'StagedGlobalNetworkPolicy', metadata: { name }, spec };
}

export function tier(name: string, order: number | undefined, defaultAction?: 'Deny' | 'Pass'): Resource {
  return {
    apiVersion: CALICO,
    kind: 'Tier',
    metadata: { name },
    spec: { ...(order !== undefined ? { order } : {}), ...(defaultAction ? { defaultAction } : {}) },
  };
}

export function profile(name: string, spec: Obj): Resource {
  return { apiVersion: CALICO, kind: 'Profile', metadata: { name }, spec };
}

/**
 * A host endpoint on `eth0` of node `node-0` by default: not the pods' node (`node-1`), so a flow
 * between it and a pod is judged by the two endpoints' policies; pass `{ node: 'node-1' }` for a
 * host and its own workloads.
 */
export function hostEndpoint(name: string, ips: readonly string[], labels: Record<string, string> = {}, spec: Obj = {}): Resource {
  return { apiVersion: CALICO, kind: 'HostEndpoint', metadata: { name, labels }, spec: { node: 'node-0', interfaceName: 'eth0', expectedIPs: ips, ...spec } };
}

export function networkSet(ns: string, name: string, nets: readonly string[], labels: Record<string, string> = {}): Resource {
  return { apiVersion: CALICO, kind: 'NetworkSet', metadata: { name, namespace: ns, labels }, spec: { nets } };
}

export function globalNetworkSet(name: string, nets: readonly string[], labels: Record<string, string> = {}): Resource {
  return { apiVersion: CALICO, kind: 'GlobalNetworkSet', metadata: { name, labels }, spec: { nets } };
}

export function adminPolicy(name: string, spec: Obj): Resource {
  return { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'AdminNetworkPolicy', metadata: { name }, spec };
}

export function baselinePolicy(spec: Obj): Resource {
  return { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'BaselineAdminNetworkPolicy', metadata: { name: 'default' }, spec };
}

/** Builds a snapshot; throws if conversion reported an error. */
export function snap(...resources: Resource[]): Snapshot {
  const { snapshot, issues } = buildSnapshot(resources);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) throw new Error(`conversion errors: ${JSON.stringify(errors)}`);
  return snapshot;
}

/** `evaluate` with TCP as default protocol; `port` is the destination port. */
export function check(snapshot: Snapshot, src: string, dst: string, port?: number, protocol: Flow['protocol'] = 'TCP', extra: Partial<Flow> = {}): EvaluationResult {
  return evaluate(snapshot, { src, dst, protocol, ...(port === undefined ? {} : { dstPort: port }), ...extra });
}

export function allowed(snapshot: Snapshot, src: string, dst: string, port?: number, protocol: Flow['protocol'] = 'TCP', extra: Partial<Flow> = {}): boolean {
  return check(snapshot, src, dst, port, protocol, extra).allowed;
}
