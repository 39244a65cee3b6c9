/**
 * Field tables for every supported kind, following the upstream APIs' JSON field names. Policy
 * kinds are closed (unknown fields are reported as likely typos); Kubernetes Pods, Nodes,
 * Namespaces and ServiceAccounts and Calico Nodes are open, since we read only a few of their
 * many fields.
 */
import { S, type Shape } from './schema.js';

const objectMeta = S.object(
  {
    name: S.string(),
    generateName: S.string(),
    namespace: S.string(),
    labels: S.stringMap(),
    annotations: S.stringMap(),
    uid: S.string(),
    resourceVersion: S.string(),
    generation: S.int(),
    creationTimestamp: S.any(),
    deletionTimestamp: S.any(),
    deletionGracePeriodSeconds: S.int(),
    ownerReferences: S.list(S.any()),
    finalizers: S.list(S.string()),
    managedFields: S.list(S.any()),
    selfLink: S.string(),
  },
  { required: ['name'] },
);

function resource(spec: Shape | undefined, extra: Record<string, Shape> = {}, open = false): Shape {
  return S.object(
    {
      apiVersion: S.string(),
      kind: S.string(),
      metadata: objectMeta,
      ...(spec ? { spec } : {}),
      status: S.any(),
      ...extra,
    },
    { required: ['metadata'], open },
  );
}

// ---------------------------------------------------------------------------------------------
// projectcalico.org/v3
// ---------------------------------------------------------------------------------------------

const strings = S.list(S.string());

const icmp = S.object({ type: S.int(), code: S.int() });

const entityRule = S.object({
  nets: S.list(S.string()),
  notNets: S.list(S.string()),
  selector: S.string(),
  notSelector: S.string(),
  namespaceSelector: S.string(),
  ports: S.list(S.intOrString()),
  notPorts: S.list(S.intOrString()),
  serviceAccounts: S.object({ names: strings, selector: S.string() }),
  services: S.object({ name: S.string(), namespace: S.string() }),
  domains: strings,
});

export const calicoRule = S.object(
  {
    action: S.oneOf('Allow', 'Deny', 'Log', 'Pass'),
    ipVersion: S.int(),
    protocol: S.intOrString(),
    notProtocol: S.intOrString(),
    icmp,
    notICMP: icmp,
    source: entityRule,
    destination: entityRule,
    http: S.object({ methods: strings, paths: S.list(S.object({ exact: S.string(), prefix: S.string() })) }),
    metadata: S.object({ annotations: S.stringMap() }),
  },
  { required: ['action'] },
);

const MAX_RULES = 1024;
const rules = S.list(calicoRule, { maxItems: MAX_RULES });
const policyTypes = S.list(S.oneOf('Ingress', 'Egress'));

const networkPolicyFields = {
  tier: S.string(),
  order: S.number(),
  selector: S.string(),
  serviceAccountSelector: S.string(),
  types: policyTypes,
  ingress: rules,
  egress: rules,
  performanceHints: S.list(S.oneOf('AssumeNeededOnEveryNode')),
};

const globalNetworkPolicyFields = {
  ...networkPolicyFields,
  namespaceSelector: S.string(),
  doNotTrack: S.bool(),
  preDNAT: S.bool(),
  applyOnForward: S.bool(),
};

const stagedAction = S.oneOf('Set', 'Delete', 'Learn', 'Ignore');

const endpointPort = S.object({ name: S.string(), protocol: S.intOrString(), port: S.int() }, { required: ['name', 'port'] });

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

export const labelSelector = S.object({
  matchLabels: S.stringMap(),
  matchExpressions: S.list(
    S.object(
      { key: S.string(), operator: S.oneOf('In', 'NotIn', 'Exists', 'DoesNotExist'), values: strings },
      { required: ['key', 'operator'] },
    ),
  ),
});

const k8sProtocol = S.oneOf('TCP', 'UDP', 'SCTP');

const k8sNetworkPolicyPeer = S.object({
  podSelector: labelSelector,
  namespaceSelector: labelSelector,
  ipBlock: S.object({ cidr: S.string(), except: strings }, { required: ['cidr'] }),
});

const k8sNetworkPolicyPort = S.object({ protocol: k8sProtocol, port: S.intOrString(), endPort: S.int() });

const k8sNetworkPolicyFields = {
  podSelector: labelSelector,
  policyTypes,
  ingress: S.list(S.object({ from: S.list(k8sNetworkPolicyPeer), ports: S.list(k8sNetworkPolicyPort) })),
  egress: S.list(S.object({ to: S.list(k8sNetworkPolicyPeer), ports: S.list(k8sNetworkPolicyPort) })),
};

const containerPort = S.object(
  { name: S.string(), containerPort: S.int(), protocol: k8sProtocol, hostPort: S.int(), hostIP: S.string() },
  { required: ['containerPort'] },
);
const container = S.object({ name: S.string(), ports: S.list(containerPort) }, { open: true });

// AdminNetworkPolicy / BaselineAdminNetworkPolicy (v1alpha1), ClusterNetworkPolicy (v1alpha2)

const podsPeer = S.object({ namespaceSelector: labelSelector, podSelector: labelSelector }, { required: ['namespaceSelector', 'podSelector'] });
const subject = S.object({ namespaces: labelSelector, pods: podsPeer });
const ingressPeer = S.object({ namespaces: labelSelector, pods: podsPeer });
const egressPeer = S.object({
  namespaces: labelSelector,
  pods: podsPeer,
  nodes: labelSelector,
  networks: S.list(S.string(), { minItems: 1, maxItems: 25 }),
  domainNames: S.list(S.string(), { minItems: 1, maxItems: 25 }),
});
const anpPort = S.object({
  portNumber: S.object({ protocol: k8sProtocol, port: S.int() }, { required: ['port'] }),
  namedPort: S.string(),
  portRange: S.object({ protocol: k8sProtocol, start: S.int(), end: S.int() }, { required: ['start', 'end'] }),
});

function anpRule(actions: string[], peerKey: 'from' | 'to', peer: Shape, maxItems: number, cnp: boolean): Shape {
  const cnpPort = S.object({ number: S.int(), range: S.object({ start: S.int(), end: S.int() }, { required: ['start', 'end'] }) });
  const protocol = S.object({
    tcp: S.object({ destinationPort: cnpPort }),
    udp: S.object({ destinationPort: cnpPort }),
    sctp: S.object({ destinationPort: cnpPort }),
    destinationNamedPort: S.string(),
  });
  return S.object(
    {
      name: S.string({ maxLength: 100 }),
      action: S.oneOf(...actions),
      [peerKey]: S.list(peer, { minItems: 1, maxItems }),
      ports: S.list(anpPort, { minItems: 1, maxItems }),
      ...(cnp ? { protocols: S.list(protocol, { minItems: 1, maxItems }) } : {}),
    },
    { required: ['action', peerKey] },
  );
}

function anpSpec(actions: string[], opts: { priority: boolean; tier: boolean; maxItems: number }): Shape {
  const cnp = opts.tier;
  return S.object(
    {
      ...(opts.tier ? { tier: S.oneOf('Admin', 'Baseline') } : {}),
      ...(opts.priority ? { priority: S.int() } : {}),
      subject,
      ingress: S.list(anpRule(actions, 'from', ingressPeer, opts.maxItems, cnp), { maxItems: opts.maxItems }),
      egress: S.list(anpRule(actions, 'to', egressPeer, opts.maxItems, cnp), { maxItems: opts.maxItems }),
    },
    { required: [...(opts.tier ? ['tier'] : []), ...(opts.priority ? ['priority'] : []), 'subject'] },
  );
}

/** Shapes by `apiVersion` + `kind`. */
export const SHAPES: Readonly<Record<string, Shape>> = {
  'projectcalico.org/v3 Tier': resource(S.object({ order: S.number(), defaultAction: S.oneOf('Deny', 'Pass') })),
  'projectcalico.org/v3 NetworkPolicy': resource(S.object(networkPolicyFields)),
  'projectcalico.org/v3 GlobalNetworkPolicy': resource(S.object(globalNetworkPolicyFields)),
  'projectcalico.org/v3 StagedNetworkPolicy': resource(S.object({ ...networkPolicyFields, stagedAction })),
  'projectcalico.org/v3 StagedGlobalNetworkPolicy': resource(S.object({ ...globalNetworkPolicyFields, stagedAction })),
  'projectcalico.org/v3 StagedKubernetesNetworkPolicy': resource(S.object({ ...k8sNetworkPolicyFields, stagedAction })),
  'projectcalico.org/v3 NetworkSet': resource(S.object({ nets: strings, allowedEgressDomains: strings })),
  'projectcalico.org/v3 GlobalNetworkSet': resource(S.object({ nets: strings, allowedEgressDomains: strings })),
  'projectcalico.org/v3 HostEndpoint': resource(
    S.object({ node: S.string(), interfaceName: S.string(), expectedIPs: strings, profiles: strings, ports: S.list(endpointPort) }),
  ),
  'projectcalico.org/v3 WorkloadEndpoint': resource(
    S.object({
      orchestrator: S.string(),
      workload: S.string(),
      node: S.string(),
      containerID: S.string(),
      pod: S.string(),
      endpoint: S.string(),
      serviceAccountName: S.string(),
      ipNetworks: strings,
      ipNATs: S.list(S.object({ internalIP: S.string(), externalIP: S.string() })),
      ipv4Gateway: S.string(),
      ipv6Gateway: S.string(),
      allowSpoofedSourcePrefixes: strings,
      profiles: strings,
      interfaceName: S.string(),
      mac: S.string(),
      ports: S.list(
        S.object({ name: S.string(), protocol: S.intOrString(), port: S.int(), hostPort: S.int(), hostIP: S.string() }, { required: ['port'] }),
      ),
      qosControls: S.any(),
    }),
  ),
  'projectcalico.org/v3 Profile': resource(S.object({ ingress: rules, egress: rules, labelsToApply: S.stringMap() })),
  'projectcalico.org/v3 Node': resource(
    S.object(
      {
        addresses: S.list(S.object({ address: S.string(), type: S.string() }, { open: true })),
        bgp: S.object({ ipv4Address: S.string(), ipv6Address: S.string(), ipv4IPIPTunnelAddr: S.string() }, { open: true }),
        wireguard: S.object({ interfaceIPv4Address: S.string(), interfaceIPv6Address: S.string() }, { open: true }),
        ipv4VXLANTunnelAddr: S.string(),
        orchRefs: S.list(S.object({ nodeName: S.string(), orchestrator: S.string() }, { open: true })),
      },
      { open: true },
    ),
  ),
  'v1 Namespace': resource(S.any(), {}, true),
  'v1 ServiceAccount': resource(undefined, {}, true),
  'v1 Pod': resource(
    S.object(
      {
        nodeName: S.string(),
        serviceAccountName: S.string(),
        serviceAccount: S.string(),
        hostNetwork: S.bool(),
        containers: S.list(container),
        initContainers: S.list(container),
      },
      { open: true },
    ),
    { status: S.object({ podIP: S.string(), podIPs: S.list(S.object({ ip: S.string() }, { open: true })), phase: S.string() }, { open: true }) },
    true,
  ),
  'v1 Node': resource(
    S.object({ podCIDR: S.string(), podCIDRs: strings }, { open: true }),
    { status: S.object({ addresses: S.list(S.object({ type: S.string(), address: S.string() }, { open: true })) }, { open: true }) },
    true,
  ),
  'networking.k8s.io/v1 NetworkPolicy': resource(S.object(k8sNetworkPolicyFields, { required: ['podSelector'] })),
  'policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy': resource(
    anpSpec(['Allow', 'Deny', 'Pass'], { priority: true, tier: false, maxItems: 100 }),
  ),
  'policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy': resource(
    anpSpec(['Allow', 'Deny'], { priority: false, tier: false, maxItems: 100 }),
  ),
  'policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy': resource(
    anpSpec(['Accept', 'Deny', 'Pass'], { priority: true, tier: true, maxItems: 25 }),
  ),
};
