/**
 * Kubernetes identity objects → model: Namespace → profile `kns.<ns>`, ServiceAccount → profile
 * `ksa.<ns>.<sa>`, Pod → workload endpoint, Node → node info. Mirrors libcalico-go's
 * `NamespaceToProfile`, `ServiceAccountToProfile`, the pod WEP converter and the WEP update
 * processor (synthetic labels, profile list, interface name).
 */
import type { EndpointPort, Labels, NodeInfo, Profile, Rule, WorkloadEndpoint } from '../model/types.js';
import type { K8sContainerPort, K8sNodeSpec, K8sNodeStatus, K8sPodSpec, K8sPodStatus, Resource } from '../model/resources.js';
import { sha1, toHex } from '../hash/index.js';
import { canonicalCidr, canonicalHostCidr, canonicalIp } from '../net/cidr.js';
import { protocolNumber } from './protocol.js';
import { type ConvertOptions, type Converted, Reporter } from './report.js';
import {
  LABEL_K8S_NAMESPACE_NAME,
  LABEL_NAME,
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  LABEL_SERVICE_ACCOUNT,
  NAMESPACE_LABEL_PREFIX,
  SERVICE_ACCOUNT_LABEL_PREFIX,
} from './selectors.js';
import { compareBytewise, putLabel, sortedLabels } from './strings.js';

export const NAMESPACE_PROFILE_PREFIX = 'kns.';
export const SERVICE_ACCOUNT_PROFILE_PREFIX = 'ksa.';
/** Calico sets `projectcalico.org/serviceaccount` only for names shorter than this. */
export const MAX_SERVICE_ACCOUNT_LABEL_LENGTH = 63;

const ALLOW_ALL: readonly Rule[] = [{ action: 'Allow', source: {}, destination: {} }];

export function namespaceProfileName(namespace: string): string {
  return `${NAMESPACE_PROFILE_PREFIX}${namespace}`;
}

export function serviceAccountProfileName(namespace: string, serviceAccount: string): string {
  return `${SERVICE_ACCOUNT_PROFILE_PREFIX}${namespace || 'default'}.${serviceAccount}`;
}

/** Host-side interface name Calico's CNI gives a pod: `cali` + 11 hex digits of SHA-1("<ns>.<pod>"). */
export function workloadInterfaceName(namespace: string, pod: string): string {
  return `cali${toHex(sha1(`${namespace}.${pod}`)).slice(0, 11)}`;
}

/**
 * The profile Calico derives from a namespace: allow-all in both directions, labels `pcns.<k>` and
 * `pcns.projectcalico.org/name`. The apiserver's immutable `kubernetes.io/metadata.name` label is
 * added when the manifest lacks it.
 */
export function namespaceProfile(namespace: string, labels: Labels = {}): Profile {
  const own: Record<string, string> = { ...labels, [LABEL_K8S_NAMESPACE_NAME]: namespace };
  const apply: Record<string, string> = {};
  for (const [k, v] of Object.entries(own)) putLabel(apply, `${NAMESPACE_LABEL_PREFIX}${k}`, v);
  putLabel(apply, `${NAMESPACE_LABEL_PREFIX}${LABEL_NAME}`, namespace);
  return { name: namespaceProfileName(namespace), labelsToApply: sortedLabels(apply), ingress: ALLOW_ALL, egress: ALLOW_ALL };
}

/** The profile Calico derives from a service account: no rules, labels `pcsa.<k>` and `pcsa.projectcalico.org/name`. */
export function serviceAccountProfile(namespace: string, name: string, labels: Labels = {}): Profile {
  const apply: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) putLabel(apply, `${SERVICE_ACCOUNT_LABEL_PREFIX}${k}`, v);
  putLabel(apply, `${SERVICE_ACCOUNT_LABEL_PREFIX}${LABEL_NAME}`, name);
  return { name: serviceAccountProfileName(namespace, name), labelsToApply: sortedLabels(apply), ingress: [], egress: [] };
}

export function convertNamespace(resource: Resource, options?: ConvertOptions): Converted<Profile> {
  const reporter = new Reporter(resource, options);
  const name = resource.metadata.name;
  const labels = resource.metadata.labels ?? {};
  const given = labels[LABEL_K8S_NAMESPACE_NAME];
  if (given !== undefined && given !== name) {
    reporter.warn(
      'namespace-name-label',
      `metadata.labels.${LABEL_K8S_NAMESPACE_NAME}`,
      `the apiserver forces ${LABEL_K8S_NAMESPACE_NAME}=${name}; "${given}" ignored`,
    );
  }
  return reporter.done(namespaceProfile(name, labels));
}

export function convertServiceAccount(resource: Resource, options?: ConvertOptions): Converted<Profile> {
  const reporter = new Reporter(resource, options);
  return reporter.done(serviceAccountProfile(resource.metadata.namespace || 'default', resource.metadata.name, resource.metadata.labels ?? {}));
}

/** A pod's service account name (`serviceAccountName`, the deprecated `serviceAccount`, else `default`). */
export function podServiceAccount(spec: K8sPodSpec | undefined): string {
  return spec?.serviceAccountName || spec?.serviceAccount || 'default';
}

/** Drops user labels that would let an endpoint pose as another namespace / service account. */
export function withoutInheritedPrefixes(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith(NAMESPACE_LABEL_PREFIX) || k.startsWith(SERVICE_ACCOUNT_LABEL_PREFIX)) continue;
    putLabel(out, k, v);
  }
  return out;
}

function containerPorts(spec: K8sPodSpec | undefined, reporter: Reporter): EndpointPort[] {
  const out: EndpointPort[] = [];
  const add = (ports: readonly K8sContainerPort[] | undefined, path: string): void => {
    (ports ?? []).forEach((p, i) => {
      if (!p.name) return;
      const protocol = protocolNumber(p.protocol ?? 'TCP');
      if (protocol === undefined) {
        reporter.warn('invalid-port', `${path}[${i}].protocol`, `unknown protocol "${p.protocol}"; named port ignored`);
        return;
      }
      out.push({ name: p.name, protocol, port: p.containerPort });
    });
  };
  (spec?.containers ?? []).forEach((c, i) => add(c.ports, `spec.containers[${i}].ports`));
  // Restartable init containers (sidecars) run for the pod's lifetime and serve their ports too.
  (spec?.initContainers ?? []).forEach((c, i) => {
    if (c.restartPolicy === 'Always') add(c.ports, `spec.initContainers[${i}].ports`);
  });
  return out;
}

/**
 * Converts a Pod. Host-network pods and finished pods (Succeeded/Failed) are not endpoints
 * (value undefined, no issue for host-network pods). Pods without IPs become endpoints without
 * addresses (policy still applies to them; nothing can match their address).
 */
export function convertPod(resource: Resource<string, K8sPodSpec>, options?: ConvertOptions): Converted<WorkloadEndpoint> {
  const reporter = new Reporter(resource, options);
  const spec = resource.spec;
  if (spec?.hostNetwork) return reporter.skip();
  const status = (resource.status ?? {}) as K8sPodStatus;
  if (status.phase === 'Succeeded' || status.phase === 'Failed') {
    reporter.warn('pod-finished', 'status.phase', `pod is ${status.phase}: not an endpoint (its IPs may be reused)`);
    return reporter.skip();
  }
  const namespace = resource.metadata.namespace || 'default';
  const name = resource.metadata.name;
  const sa = podServiceAccount(spec);
  const labels: Record<string, string> = withoutInheritedPrefixes(resource.metadata.labels ?? {});
  labels[LABEL_NAMESPACE] = namespace;
  labels[LABEL_ORCHESTRATOR] = 'k8s';
  if (sa.length < MAX_SERVICE_ACCOUNT_LABEL_LENGTH) labels[LABEL_SERVICE_ACCOUNT] = sa;
  else delete labels[LABEL_SERVICE_ACCOUNT];
  const rawIps: string[] =
    status.podIPs && status.podIPs.length > 0 ? status.podIPs.map((p) => p.ip) : status.podIP ? [status.podIP] : [];
  const addresses: string[] = [];
  rawIps.forEach((ip, i) => {
    const c = canonicalHostCidr(ip);
    if (c === undefined) reporter.warn('invalid-ip', `status.podIPs[${i}]`, `invalid pod IP "${ip}" ignored`);
    else if (!addresses.includes(c)) addresses.push(c);
  });
  const wep: WorkloadEndpoint = {
    kind: 'WorkloadEndpoint',
    id: `${namespace}/${name}`,
    name,
    namespace,
    node: spec?.nodeName ?? '',
    interfaceName: workloadInterfaceName(namespace, name),
    addresses,
    labels: sortedLabels(labels),
    profiles: [namespaceProfileName(namespace), serviceAccountProfileName(namespace, sa)],
    ports: containerPorts(spec, reporter),
    workload: `${namespace}/${name}`,
    serviceAccount: sa,
  };
  return reporter.done(wep);
}

/** Converts a Kubernetes Node: addresses (InternalIP/ExternalIP), pod CIDRs and labels. */
export function convertKubernetesNode(resource: Resource<string, K8sNodeSpec>, options?: ConvertOptions): Converted<NodeInfo> {
  const reporter = new Reporter(resource, options);
  const status = (resource.status ?? {}) as K8sNodeStatus;
  const addresses = new Set<string>();
  (status.addresses ?? []).forEach((a) => {
    if (a.type !== 'InternalIP' && a.type !== 'ExternalIP') return;
    const ip = canonicalIp(a.address);
    if (ip) addresses.add(ip);
  });
  const rawCidrs = resource.spec?.podCIDRs?.length ? resource.spec.podCIDRs : resource.spec?.podCIDR ? [resource.spec.podCIDR] : [];
  const podCIDRs: string[] = [];
  rawCidrs.forEach((c, i) => {
    const canon = canonicalCidr(c);
    if (!canon) reporter.warn('invalid-cidr', `spec.podCIDRs[${i}]`, `invalid pod CIDR "${c}" ignored`);
    else if (!podCIDRs.includes(canon)) podCIDRs.push(canon);
  });
  return reporter.done({
    name: resource.metadata.name,
    addresses: [...addresses].sort(compareBytewise),
    podCIDRs,
    labels: sortedLabels(resource.metadata.labels ?? {}),
  });
}
