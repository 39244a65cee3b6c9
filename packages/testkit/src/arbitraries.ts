/**
 * fast-check arbitraries for small random clusters and update streams. The identity universe
 * is tiny (2 namespaces, 6 pods per namespace, a few policies, sets and host endpoints) so that
 * selectors, nets, named ports and Pass actually interact; each resource identity has a fixed
 * address, so two endpoints never share one.
 */
import fc from 'fast-check';
import type { Resource } from '@gingham/core';

export type ClusterOp =
  | { readonly op: 'upsert'; readonly resource: Resource }
  | { readonly op: 'delete'; readonly kind: string; readonly namespace: string; readonly name: string; readonly apiVersion: string };

/** Identity of a resource in a stream: kind, API family, namespace, name. */
export function resourceIdentity(r: Resource): string {
  return `${r.kind}|${r.apiVersion}|${r.metadata.namespace ?? ''}|${r.metadata.name}`;
}

export const NAMESPACES = ['n1', 'n2'] as const;
export const NODES = ['node-a', 'node-b'] as const;

const LABEL_SELECTORS = [
  'all()',
  "app == 'a'",
  "app == 'b'",
  "app in {'a', 'c'}",
  'has(app)',
  '!has(app)',
  "tier == 'x'",
  "app == 'a' && tier == 'y'",
  "app != 'b'",
  "role == 'node'",
  "threat == 'yes'",
  "pcns.team == 'red'",
  'has(host-endpoint)',
];
const NS_SELECTORS = ["team == 'red'", "team == 'blue'", 'all()', 'has(team)'];
const NETS = ['10.0.0.0/24', '10.0.1.0/28', '10.1.0.0/16', '192.168.0.0/16', '10.0.2.0/24', '0.0.0.0/0'];
const NOT_NETS = ['10.0.0.0/30', '10.1.0.0/16', '192.168.0.0/16', '10.0.2.0/24'];

const optional = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined, freq: 2 });
/** Present about a quarter of the time (rule fields: most rules constrain one or two things). */
const sometimes = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });

function labels(entries: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v;
  return out;
}

export const arbNamespace: fc.Arbitrary<Resource> = fc
  .record({ ns: fc.constantFrom(...NAMESPACES), team: optional(fc.constantFrom('red', 'blue')) })
  .map(({ ns, team }) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: labels({ team }) } }));

export const arbPod: fc.Arbitrary<Resource> = fc
  .record({
    i: fc.integer({ min: 0, max: 5 }),
    ns: fc.integer({ min: 0, max: NAMESPACES.length - 1 }),
    app: optional(fc.constantFrom('a', 'b', 'c')),
    tier: optional(fc.constantFrom('x', 'y')),
    node: fc.constantFrom(...NODES),
    alt: fc.boolean(),
    named: fc.boolean(),
    port: fc.constantFrom(80, 8080),
    sa: fc.constantFrom('default', 'builder'),
    v6: fc.boolean(),
  })
  .map(({ i, ns, app, tier, node, alt, named, port, sa, v6 }) => {
    const ip = `10.${alt ? 1 : 0}.${ns}.${i + 1}`;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p${i}`, namespace: NAMESPACES[ns], labels: labels({ app, tier }) },
      spec: {
        nodeName: node,
        serviceAccountName: sa,
        containers: [{ name: 'c', ports: named ? [{ name: 'http', containerPort: port, protocol: 'TCP' }] : [] }],
      },
      status: { phase: 'Running', podIP: ip, podIPs: v6 ? [{ ip }, { ip: `fd00::${ns}:${i + 1}` }] : [{ ip }] },
    } as Resource;
  });

const arbPorts = fc.constantFrom<(number | string)[] | undefined>(undefined, undefined, undefined, [80], ['http'], [8080, 'http'], ['1000:9000'], ['metrics']);

const arbEntity = fc
  .record({
    selector: sometimes(fc.constantFrom(...LABEL_SELECTORS)),
    notSelector: sometimes(fc.constantFrom("app == 'c'", "tier == 'x'", "threat == 'yes'")),
    namespaceSelector: sometimes(fc.constantFrom(...NS_SELECTORS)),
    nets: sometimes(fc.subarray(NETS, { minLength: 1, maxLength: 2 })),
    notNets: sometimes(fc.subarray(NOT_NETS, { minLength: 1, maxLength: 1 })),
    ports: arbPorts,
  })
  .map((e) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) if (v !== undefined) out[k] = v;
    return out;
  });

const arbRule = fc
  .record({
    action: fc.constantFrom('Allow', 'Deny', 'Pass', 'Log', 'Allow'),
    protocol: optional(fc.constantFrom('TCP', 'UDP')),
    source: fc.oneof(fc.constant({}), arbEntity),
    destination: fc.oneof(fc.constant({}), arbEntity),
  })
  .map(({ action, protocol, source, destination }) => {
    // Calico requires a protocol when ports are given.
    const needsProto = 'ports' in source || 'ports' in destination;
    const proto = protocol ?? (needsProto ? 'TCP' : undefined);
    return { action, ...(proto ? { protocol: proto } : {}), source, destination };
  });

const TIERS = ['default', 't1', 't2'] as const;

export const arbTier: fc.Arbitrary<Resource> = fc
  .record({ name: fc.constantFrom('t1', 't2'), order: optional(fc.integer({ min: 1, max: 300 })), defaultAction: fc.constantFrom('Deny', 'Pass') })
  .map(({ name, order, defaultAction }) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'Tier',
    metadata: { name },
    spec: { ...(order !== undefined ? { order } : {}), defaultAction },
  }));

const MODES = ['normal', 'normal', 'normal', 'forward', 'doNotTrack', 'preDNAT', 'staged'] as const;

function globalPolicy(selectors: readonly string[], modes: readonly (typeof MODES)[number][]): fc.Arbitrary<Resource> {
  return fc
  .record({
    i: fc.integer({ min: 0, max: 3 }),
    tier: fc.constantFrom(...TIERS),
    order: optional(fc.integer({ min: 0, max: 20 })),
    selector: fc.constantFrom(...selectors),
    namespaceSelector: optional(fc.constantFrom(...NS_SELECTORS)),
    types: fc.constantFrom(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
    ingress: fc.array(arbRule, { maxLength: 3 }),
    egress: fc.array(arbRule, { maxLength: 3 }),
    mode: fc.constantFrom(...modes),
  })
  .map(({ i, tier, order, selector, namespaceSelector, types, ingress, egress, mode }) => {
    const staged = mode === 'staged';
    const spec: Record<string, unknown> = {
      tier,
      selector,
      types: mode === 'preDNAT' ? ['Ingress'] : types,
      ingress,
      egress: mode === 'preDNAT' ? [] : egress,
    };
    if (order !== undefined) spec.order = order;
    if (namespaceSelector !== undefined) spec.namespaceSelector = namespaceSelector;
    if (mode === 'forward') spec.applyOnForward = true;
    if (mode === 'doNotTrack') Object.assign(spec, { doNotTrack: true, applyOnForward: true });
    if (mode === 'preDNAT') Object.assign(spec, { preDNAT: true, applyOnForward: true });
    if (staged) spec.stagedAction = 'Set';
    return {
      apiVersion: 'projectcalico.org/v3',
      kind: staged ? 'StagedGlobalNetworkPolicy' : 'GlobalNetworkPolicy',
      metadata: { name: tier === 'default' ? `g${i}` : `${tier}.g${i}` },
      spec,
    } as Resource;
  });
}

export const arbGlobalPolicy: fc.Arbitrary<Resource> = globalPolicy(LABEL_SELECTORS, MODES);

/** Global policies aimed at host endpoints: mostly applyOnForward, preDNAT and doNotTrack ones. */
export const arbHostPolicy: fc.Arbitrary<Resource> = globalPolicy(
  ['has(host-endpoint)', "role == 'node'", "role == 'edge'", 'all()'],
  ['forward', 'forward', 'preDNAT', 'doNotTrack', 'normal', 'staged'],
);

export const arbCalicoPolicy: fc.Arbitrary<Resource> = fc
  .record({
    i: fc.integer({ min: 0, max: 1 }),
    ns: fc.constantFrom(...NAMESPACES),
    tier: fc.constantFrom(...TIERS),
    order: optional(fc.integer({ min: 0, max: 20 })),
    selector: fc.constantFrom(...LABEL_SELECTORS),
    types: fc.constantFrom(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
    ingress: fc.array(arbRule, { maxLength: 2 }),
    egress: fc.array(arbRule, { maxLength: 2 }),
  })
  .map(({ i, ns, tier, order, selector, types, ingress, egress }) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: tier === 'default' ? `c${i}` : `${tier}.c${i}`, namespace: ns },
    spec: { tier, selector, types, ingress, egress, ...(order !== undefined ? { order } : {}) },
  }));

const arbK8sPeer = fc.oneof(
  fc.record({ podSelector: fc.constantFrom({}, { matchLabels: { app: 'a' } }, { matchLabels: { tier: 'x' } }) }),
  fc.record({
    namespaceSelector: fc.constantFrom({}, { matchLabels: { team: 'red' } }),
    podSelector: fc.constantFrom({}, { matchLabels: { app: 'b' } }),
  }),
  fc.record({ ipBlock: fc.constantFrom({ cidr: '10.0.0.0/16', except: ['10.0.1.0/24'] }, { cidr: '0.0.0.0/0' }) }),
);
const arbK8sPorts = fc.constantFrom(undefined, [{ protocol: 'TCP', port: 80 }], [{ protocol: 'TCP', port: 'http' }], [{ port: 8000, endPort: 9000 }]);

export const arbKubernetesPolicy: fc.Arbitrary<Resource> = fc
  .record({
    i: fc.integer({ min: 0, max: 2 }),
    ns: fc.constantFrom(...NAMESPACES),
    podSelector: fc.constantFrom({}, { matchLabels: { app: 'a' } }, { matchLabels: { app: 'b' } }, { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }),
    types: fc.constantFrom(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
    ingress: fc.array(fc.record({ from: fc.array(arbK8sPeer, { maxLength: 2 }), ports: arbK8sPorts }), { maxLength: 2 }),
    egress: fc.array(fc.record({ to: fc.array(arbK8sPeer, { maxLength: 2 }), ports: arbK8sPorts }), { maxLength: 2 }),
  })
  .map(({ i, ns, podSelector, types, ingress, egress }) => {
    const clean = (rules: Record<string, unknown>[]): Record<string, unknown>[] =>
      rules.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))));
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `k${i}`, namespace: ns },
      spec: { podSelector, policyTypes: types, ingress: clean(ingress), egress: clean(egress) },
    } as Resource;
  });

export const arbNetworkSet: fc.Arbitrary<Resource> = fc
  .record({
    i: fc.integer({ min: 0, max: 2 }),
    global: fc.boolean(),
    threat: fc.boolean(),
    nets: fc.subarray(['10.0.0.0/30', '10.0.1.4/30', '192.168.0.0/16', '10.0.2.0/28', '8.8.8.0/24'], { minLength: 1, maxLength: 2 }),
  })
  .map(({ i, global, threat, nets }) =>
    global
      ? { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: `gs${i}`, labels: labels({ threat: threat ? 'yes' : undefined, app: 'a' }) }, spec: { nets } }
      : { apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet', metadata: { name: `s${i}`, namespace: 'n1', labels: labels({ threat: threat ? 'yes' : undefined }) }, spec: { nets } },
  );

export const arbHostEndpoint: fc.Arbitrary<Resource> = fc
  .record({
    i: fc.integer({ min: 0, max: 1 }),
    node: fc.constantFrom(...NODES),
    iface: fc.constantFrom('eth0', '*', '*', undefined),
    role: optional(fc.constantFrom('node', 'edge')),
    profiles: fc.constantFrom([], ['projectcalico-default-allow'], ['edge-profile'], ['edge-profile', 'projectcalico-default-allow']),
    named: fc.boolean(),
  })
  .map(({ i, node, iface, role, profiles, named }) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: `hep${i}`, labels: labels({ role, 'host-endpoint': 'true' }) },
    spec: {
      node,
      ...(iface ? { interfaceName: iface } : {}),
      expectedIPs: [`10.0.2.${i + 1}`],
      profiles,
      ...(named ? { ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] } : {}),
    },
  }));

export const arbProfile: fc.Arbitrary<Resource> = fc
  .record({ team: optional(fc.constantFrom('red', 'blue')), ingress: fc.array(arbRule, { maxLength: 2 }), egress: fc.array(arbRule, { maxLength: 2 }) })
  .map(({ team, ingress, egress }) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'Profile',
    metadata: { name: 'edge-profile' },
    spec: { labelsToApply: labels({ 'pcns.team': team, app: 'c' }), ingress, egress },
  }));

/** Calico Nodes with one address each (node-a 10.0.3.3, node-b 192.168.3.4: both also outside addresses of flows). */
export const arbNode: fc.Arbitrary<Resource> = fc.constantFrom(...NODES).map((name) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'Node',
  metadata: { name },
  spec: { addresses: [{ address: name === 'node-a' ? '10.0.3.3' : '192.168.3.4' }] },
}));

/** Any resource of the small universe. */
export const arbResource: fc.Arbitrary<Resource> = fc.oneof(
  { weight: 2, arbitrary: arbNamespace },
  { weight: 6, arbitrary: arbPod },
  { weight: 1, arbitrary: arbTier },
  { weight: 3, arbitrary: arbGlobalPolicy },
  { weight: 2, arbitrary: arbCalicoPolicy },
  { weight: 2, arbitrary: arbKubernetesPolicy },
  { weight: 2, arbitrary: arbNetworkSet },
  { weight: 2, arbitrary: arbHostEndpoint },
  { weight: 1, arbitrary: arbProfile },
  { weight: 1, arbitrary: arbNode },
);

/** A small random cluster: resources with distinct identities (the last of each identity wins). */
export const arbCluster: fc.Arbitrary<Resource[]> = fc
  .tuple(
    fc.array(arbPod, { minLength: 2, maxLength: 8 }),
    fc.array(fc.oneof(arbGlobalPolicy, arbCalicoPolicy, arbKubernetesPolicy), { minLength: 1, maxLength: 5 }),
    fc.array(arbResource, { minLength: 1, maxLength: 20 }),
    // Host endpoints and policy for them, so that forwarded flows meet applyOnForward, preDNAT and doNotTrack tiers.
    fc.array(fc.oneof(arbHostEndpoint, arbHostPolicy), { maxLength: 3 }),
  )
  .map(([pods, policies, rest, hosts]) => dedupe([...pods, ...policies, ...rest, ...hosts]));

export function dedupe(resources: readonly Resource[]): Resource[] {
  const m = new Map<string, Resource>();
  for (const r of resources) m.set(resourceIdentity(r), r);
  return [...m.values()];
}

export function deleteOp(r: Resource): ClusterOp {
  return { op: 'delete', kind: r.kind, namespace: r.metadata.namespace ?? '', name: r.metadata.name, apiVersion: r.apiVersion };
}

/** An update stream: upserts (re-labels, edits) and deletes of resources of the small universe. */
export const arbUpdateStream: fc.Arbitrary<ClusterOp[]> = fc.array(
  fc.oneof({ weight: 4, arbitrary: arbResource.map((resource): ClusterOp => ({ op: 'upsert', resource })) }, { weight: 1, arbitrary: arbResource.map(deleteOp) }),
  { minLength: 1, maxLength: 25 },
);

/** The resources present after applying a stream to an empty cluster. */
export function applyOps(ops: readonly ClusterOp[], start: readonly Resource[] = []): Resource[] {
  const m = new Map<string, Resource>();
  for (const r of start) m.set(resourceIdentity(r), r);
  for (const o of ops) {
    if (o.op === 'upsert') m.set(resourceIdentity(o.resource), o.resource);
    else m.delete(`${o.kind}|${o.apiVersion}|${o.namespace}|${o.name}`);
  }
  return [...m.values()];
}

/** Outside addresses and endpoint addresses of the small universe (pods 10.{0,1}.{ns}.{i+1}, host endpoints 10.0.2.{i+1}). */
export const OUTSIDE_ADDRESSES = ['10.0.0.9', '192.168.3.4', '8.8.8.8', '10.0.1.5', '10.0.3.3', 'fd00::1:1', 'fd00::9'];

/** Flow peers over the small universe: pod ids, host endpoint names, endpoint and outside addresses. */
export const arbFlowPeer = fc.oneof(
  fc.tuple(fc.constantFrom(...NAMESPACES), fc.integer({ min: 0, max: 5 })).map(([ns, i]) => `${ns}/p${i}`),
  fc.tuple(fc.constantFrom(0, 1), fc.constantFrom(0, 1), fc.integer({ min: 0, max: 5 })).map(([alt, ns, i]) => `10.${alt}.${ns}.${i + 1}`),
  fc.constantFrom('hep0', 'hep1', '10.0.2.1', '10.0.2.2'),
  fc.constantFrom(...OUTSIDE_ADDRESSES),
);

/**
 * Where a flow crosses a node (`Flow.via`): mostly absent (then a flow between one node's
 * workloads, or a node and its own workload, crosses that node), else a node, or the host
 * endpoints it enters and leaves by.
 */
export const arbVia = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom(...NODES) },
  {
    weight: 1,
    arbitrary: fc
      .record({ in: fc.constantFrom('hep0', 'hep1', undefined), out: fc.constantFrom('hep0', 'hep1', undefined) })
      .map(({ in: i, out }) => (i === undefined && out === undefined ? 'node-a' : { ...(i ? { in: i } : {}), ...(out ? { out } : {}) })),
  },
);

export const arbFlow = fc
  .record({
    src: arbFlowPeer,
    dst: arbFlowPeer,
    protocol: fc.constantFrom('TCP', 'UDP', 'ICMP'),
    dstPort: fc.constantFrom(80, 8080, 22, 53, 5000, 10250),
    srcPort: fc.constantFrom(40000, 80),
    via: arbVia,
  })
  .map(({ via, ...f }) => (via === undefined ? f : { ...f, via }));
