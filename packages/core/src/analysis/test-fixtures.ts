/**
 * Test support for the analysis (never exported from the package): small random snapshots rich
 * in everything the analysis must get right (selectors, nets, notNets, named ports, port ranges,
 * ICMP, protocols, Pass, Log, tiers, untracked, pre-DNAT and applyOnForward host policies,
 * profiles, network sets, IPv6, endpoints without addresses, host endpoints (named and `*`) on
 * the workloads' nodes and elsewhere, Node addresses), edits of them, and an independent
 * brute-force enumeration of flows that knows nothing about classes or atoms.
 */
import fc from 'fast-check';
import type {
  EntityMatch,
  HostEndpoint,
  NetworkSet,
  Policy,
  PolicyKind,
  PortMatch,
  Profile,
  Rule,
  RuleAction,
  NodeInfo,
  Snapshot,
  Tier,
  WorkloadEndpoint,
} from '../model/types.js';
import type { EvaluateOptions, Flow, Trace } from '../evaluate/types.js';
import { BUILTIN_TIERS, DEFAULT_ALLOW_PROFILE } from '../convert/calico-resources.js';
import { namespaceProfile } from '../convert/kubernetes-identity.js';
import { endpointAddresses } from '../evaluate/evaluate.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../evaluate/failsafe.js';
import { type Cidr, formatIp, type IpAddr, parseCidr, parseIp } from '../net/cidr.js';
import type { L4Spec, PeerSet, VerdictSummary } from './types.js';

/** The random clusters' small universes (shared with evaluate's laws), so that selectors, nets and ports actually hit. */
export const SELECTORS = [
  'all()',
  'has(app)',
  'app == "a"',
  'app == "b"',
  'app in {"a", "c"}',
  '!has(app)',
  'tier == "x"',
  '(app == "a" && tier == "y")',
  'role == "node"',
  'pcns.team == "red"',
  'projectcalico.org/namespace == "n1"',
  'has(projectcalico.org/namespace)',
  '!has(projectcalico.org/namespace)',
  'kind == "partner"',
];
export const NETS = ['10.0.0.0/24', '10.0.0.1/32', '10.0.0.0/30', '192.168.0.0/16', '0.0.0.0/0', '203.0.113.0/24', 'fd00::/64', '10.0.0.2/31'];
export const PORTS: PortMatch[] = [
  { kind: 'range', min: 80, max: 80 },
  { kind: 'range', min: 1, max: 1024 },
  { kind: 'range', min: 8080, max: 8090 },
  { kind: 'range', min: 5432, max: 5432 },
  { kind: 'named', name: 'http' },
  { kind: 'named', name: 'dns' },
];
export const PROTOCOLS = [
  { number: 6, text: 'TCP' },
  { number: 17, text: 'UDP' },
  { number: 1, text: 'ICMP' },
  { number: 47, text: '47' },
];

export const labelsArb = fc.record({ app: fc.constantFrom('a', 'b', 'c'), tier: fc.constantFrom('x', 'y') }, { requiredKeys: [] });

export const entityArb: fc.Arbitrary<EntityMatch> = fc
  .record(
    {
      nets: fc.uniqueArray(fc.constantFrom(...NETS), { minLength: 1, maxLength: 2 }),
      notNets: fc.uniqueArray(fc.constantFrom(...NETS.filter((n) => n !== '0.0.0.0/0')), { minLength: 1, maxLength: 2 }),
      selector: fc.constantFrom(...SELECTORS),
      notSelector: fc.constantFrom(...SELECTORS),
      ports: fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 1, maxLength: 2 }),
      notPorts: fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 1, maxLength: 1 }),
    },
    { requiredKeys: [] },
  )
  .map((e) => e as EntityMatch);

/** Mostly small rules: one or two criteria, so that they often match. */
const sparseEntityArb: fc.Arbitrary<EntityMatch> = fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 3, arbitrary: entityArb });

/** Source sides: source ports are rare in real policies (and multiply the layer-4 grid). */
const sourceEntityArb: fc.Arbitrary<EntityMatch> = fc.tuple(sparseEntityArb, fc.integer({ min: 0, max: 5 })).map(([e, keep]) => {
  if (keep === 0) return e;
  const { ports: _p, notPorts: _n, ...rest } = e;
  return rest;
});

function ruleArb(actions: readonly RuleAction[]): fc.Arbitrary<Rule> {
  return fc
    .record(
      {
        action: fc.constantFrom(...actions),
        protocol: fc.constantFrom(...PROTOCOLS),
        notProtocol: fc.constantFrom(...PROTOCOLS),
        icmp: fc.record({ type: fc.constantFrom(0, 8), code: fc.constantFrom(0, 3) }, { requiredKeys: ['type'] }),
        source: sourceEntityArb,
        destination: sparseEntityArb,
      },
      { requiredKeys: ['action'] },
    )
    .map((r) => {
      const rule: { -readonly [K in keyof Rule]: Rule[K] } = { ...r, source: r.source ?? {}, destination: r.destination ?? {} } as Rule;
      // ICMP fields only with protocol ICMP (as validation requires), and ICMP implies IPv4.
      if (rule.icmp && rule.protocol?.number !== 1) delete rule.icmp;
      if (rule.protocol?.number === 1) rule.ipVersion = 4;
      return rule as Rule;
    });
}

const USER_TIERS = ['t1', 't2'];

const tierArb = (name: string): fc.Arbitrary<Tier> =>
  fc
    .record({ order: fc.option(fc.constantFrom(1, 50, 1_000_000, 5_000_000), { nil: undefined }), defaultAction: fc.constantFrom('Deny', 'Pass') })
    .map(({ order, defaultAction }) => ({ name, defaultAction: defaultAction as Tier['defaultAction'], declared: true, ...(order === undefined ? {} : { order }) }));

const POLICY_NAMES = ['p', 'q', 'r', 's'];

export const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    name: fc.constantFrom(...POLICY_NAMES),
    namespaced: fc.boolean(),
    tier: fc.constantFrom('default', 'kube-admin', 'kube-baseline', ...USER_TIERS),
    order: fc.option(fc.constantFrom(1, 5, 10, 1000), { nil: undefined }),
    selector: fc.constantFrom(...SELECTORS),
    types: fc.subarray(['Ingress', 'Egress'] as const),
    ingress: fc.array(ruleArb(['Allow', 'Deny', 'Pass', 'Log', 'Allow']), { maxLength: 3 }),
    egress: fc.array(ruleArb(['Allow', 'Deny', 'Pass', 'Log', 'Allow']), { maxLength: 3 }),
    flavour: fc.constantFrom('normal', 'normal', 'normal', 'normal', 'untracked', 'prednat', 'forward'),
  })
  .map((p) => {
    const kind: PolicyKind = p.namespaced ? 'NetworkPolicy' : 'GlobalNetworkPolicy';
    const selector = p.namespaced ? `(${p.selector} && projectcalico.org/namespace == "n1")` : p.selector;
    return {
      id: p.namespaced ? `np/n1/${p.name}` : `gnp/${p.name}`,
      kind,
      name: p.name,
      namespace: p.namespaced ? 'n1' : '',
      tier: p.tier,
      ...(p.order === undefined ? {} : { order: p.order }),
      selector,
      types: [...p.types],
      ingress: p.ingress,
      egress: p.egress,
      doNotTrack: !p.namespaced && p.flavour === 'untracked',
      preDNAT: !p.namespaced && p.flavour === 'prednat',
      applyOnForward: !p.namespaced && p.flavour !== 'normal',
      // (`forward`: a normal policy with applyOnForward, what polices traffic through a node.)
    } satisfies Policy;
  });

export const PROFILE_NAMES = ['kns.n1', 'kns.n2', 'projectcalico-default-allow', 'custom', 'missing'];
const NAMED_PORTS = [
  { name: 'http', protocol: 6, port: 8080 },
  { name: 'dns', protocol: 17, port: 53 },
  { name: 'http', protocol: 6, port: 80 },
  { name: 'http', protocol: 6, port: 9000 },
];

const wepArb = (i: number): fc.Arbitrary<WorkloadEndpoint> =>
  fc
    .record({
      ns: fc.constantFrom('n1', 'n2'),
      node: fc.constantFrom('node-1', 'node-1', 'node-0'),
      labels: labelsArb,
      family: fc.constantFrom('4', '4', '46', '6'),
      profiles: fc.oneof(fc.constant(['kns.n1']), fc.uniqueArray(fc.constantFrom(...PROFILE_NAMES), { maxLength: 3 })),
      ports: fc.subarray(NAMED_PORTS),
    })
    .map(({ ns, node, labels, family, profiles, ports }) => ({
      kind: 'WorkloadEndpoint' as const,
      id: `${ns}/w${i}`,
      name: `w${i}`,
      namespace: ns,
      node,
      interfaceName: `cali${i}`,
      addresses: [...(family.includes('4') ? [`10.0.0.${i + 1}/32`] : []), ...(family.includes('6') ? [`fd00::${i + 1}/128`] : [])],
      labels: { ...labels, 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s' },
      profiles,
      ports,
    }));

/** Host endpoints: `h<i>` on `node-<i>` by default (the workloads' nodes are node-0 and node-1). */
const hepArb = (i: number): fc.Arbitrary<HostEndpoint> =>
  fc
    .record({
      profiles: fc.subarray(['projectcalico-default-allow', 'custom']),
      withIp: fc.boolean(),
      node: fc.constantFrom(`node-${i}`, `node-${i}`, 'node-1'),
      star: fc.boolean(),
      labels: fc.constantFrom<Record<string, string>>({ role: 'node' }, { role: 'node', app: 'a' }),
    })
    .map(({ profiles, withIp, node, star, labels }) => ({
    kind: 'HostEndpoint' as const,
    id: `h${i}`,
    name: `h${i}`,
    node,
    interfaceName: star ? '*' : 'eth0',
    expectedIPs: withIp ? [`192.168.0.${i + 1}/32`] : [],
    labels,
    profiles,
    ports: [{ name: 'http', protocol: 6, port: 8080 }],
  }));

export const customProfileArb: fc.Arbitrary<Profile> = fc
  .record({
    ingress: fc.array(ruleArb(['Allow', 'Deny', 'Pass', 'Log']), { maxLength: 2 }),
    egress: fc.array(ruleArb(['Allow', 'Deny', 'Pass', 'Log']), { maxLength: 2 }),
    labels: labelsArb,
  })
  .map(({ ingress, egress, labels }) => ({ name: 'custom', labelsToApply: labels, ingress, egress }));

export const NETWORK_SETS: NetworkSet[] = [
  { kind: 'NetworkSet', id: 'n1/partners', name: 'partners', namespace: 'n1', labels: { kind: 'partner', 'projectcalico.org/namespace': 'n1' }, profiles: ['kns.n1'], nets: ['203.0.113.0/24'] },
  { kind: 'GlobalNetworkSet', id: 'world', name: 'world', namespace: '', labels: { kind: 'partner' }, profiles: [], nets: ['198.51.100.0/24', '10.0.0.0/30'] },
];

/** Node resources: addresses of their own, one a host endpoint's too, one inside a rule's CIDR. */
const NODES: NodeInfo[] = [
  { name: 'node-1', addresses: ['192.168.7.1', '192.168.0.2'], podCIDRs: [], labels: {} },
  { name: 'node-0', addresses: ['10.0.0.200', 'fd00::c8'], podCIDRs: [], labels: {} },
];

function withTiers(policies: readonly Policy[], userTiers: readonly Tier[]): Tier[] {
  const tiers: Tier[] = [...BUILTIN_TIERS, ...userTiers];
  for (const p of policies) if (!tiers.some((t) => t.name === p.tier)) tiers.push({ name: p.tier, defaultAction: 'Deny', declared: false });
  return tiers;
}

function uniqueById(policies: readonly Policy[]): Policy[] {
  const m = new Map<string, Policy>();
  for (const p of policies) m.set(p.id, p);
  return [...m.values()];
}

export const snapshotArb: fc.Arbitrary<Snapshot> = fc
  .record({
    weps: fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => wepArb(i)))),
    heps: fc.integer({ min: 0, max: 3 }).chain((n) => (n === 0 ? fc.constant([] as HostEndpoint[]) : fc.tuple(...Array.from({ length: n }, (_, i) => hepArb(i))))),
    nodes: fc.subarray(NODES),
    userTiers: fc.subarray(USER_TIERS).chain((names) => (names.length === 0 ? fc.constant([] as Tier[]) : fc.tuple(...names.map(tierArb)))),
    policies: fc.array(policyArb, { maxLength: 5 }),
    custom: customProfileArb,
    withSets: fc.boolean(),
  })
  .map(({ weps, heps, nodes, userTiers, policies, custom, withSets }) => {
    const unique = uniqueById(policies);
    return {
      tiers: withTiers(unique, userTiers),
      policies: unique,
      profiles: [namespaceProfile('n1', { team: 'red' }), namespaceProfile('n2', { team: 'blue' }), DEFAULT_ALLOW_PROFILE, custom],
      workloadEndpoints: weps,
      hostEndpoints: heps,
      networkSets: withSets ? NETWORK_SETS : [],
      nodes,
    } satisfies Snapshot;
  });

/** `evaluate()` options: Felix's DefaultEndpointToHostAction default (ACCEPT) or DROP. */
export const optionsArb: fc.Arbitrary<EvaluateOptions | undefined> = fc.constantFrom(undefined, undefined, { endpointToHostAction: 'DROP' as const });

/** What an analysis entry says about a flow, from `evaluate()`'s result (`in` / `out`: the crossed node's host endpoint). */
export function verdictOf(r: { readonly allowed: boolean; readonly trace: Trace }): VerdictSummary {
  const { via } = r.trace;
  return {
    allowed: r.allowed,
    egress: r.trace.egress.decision,
    ingress: r.trace.ingress.decision,
    ...(via?.in ? { in: via.in.decision } : {}),
    ...(via?.out ? { out: via.out.decision } : {}),
  };
}

/** An edit of a snapshot; policy-only edits keep every other array (the shared-index path). */
export type Edit =
  | { readonly kind: 'policy'; readonly policy: Policy }
  | { readonly kind: 'remove'; readonly index: number }
  | { readonly kind: 'order'; readonly index: number; readonly order: number | undefined }
  | { readonly kind: 'tier'; readonly defaultAction: 'Deny' | 'Pass'; readonly order: number }
  | { readonly kind: 'labels'; readonly index: number; readonly labels: Record<string, string> }
  | { readonly kind: 'ports'; readonly index: number; readonly ports: WorkloadEndpoint['ports'] }
  | { readonly kind: 'sets'; readonly nets: readonly string[] }
  | { readonly kind: 'profile'; readonly profile: Profile }
  | { readonly kind: 'host'; readonly index: number; readonly node: string; readonly star: boolean }
  | { readonly kind: 'nodes'; readonly nodes: readonly NodeInfo[] }
  | { readonly kind: 'policies'; readonly policies: readonly Policy[] };

export const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: policyArb.map((policy): Edit => ({ kind: 'policy', policy })) },
  { weight: 2, arbitrary: fc.nat().map((index): Edit => ({ kind: 'remove', index })) },
  { weight: 1, arbitrary: fc.record({ index: fc.nat(), order: fc.option(fc.constantFrom(0, 2, 7, 2000), { nil: undefined }) }).map((r): Edit => ({ kind: 'order', ...r })) },
  { weight: 1, arbitrary: fc.record({ defaultAction: fc.constantFrom('Deny' as const, 'Pass' as const), order: fc.constantFrom(1, 2_000_000) }).map((r): Edit => ({ kind: 'tier', ...r })) },
  { weight: 2, arbitrary: fc.record({ index: fc.nat(), labels: labelsArb }).map((r): Edit => ({ kind: 'labels', ...r })) },
  { weight: 1, arbitrary: fc.record({ index: fc.nat(), ports: fc.subarray(NAMED_PORTS) }).map((r): Edit => ({ kind: 'ports', ...r })) },
  { weight: 1, arbitrary: fc.subarray(['203.0.113.0/25', '10.0.0.0/31', '192.168.0.0/24', 'fd00::2/128'], { minLength: 1 }).map((nets): Edit => ({ kind: 'sets', nets })) },
  { weight: 1, arbitrary: customProfileArb.map((profile): Edit => ({ kind: 'profile', profile })) },
  { weight: 1, arbitrary: fc.record({ index: fc.nat(), node: fc.constantFrom('node-0', 'node-1', 'node-2'), star: fc.boolean() }).map((r): Edit => ({ kind: 'host', ...r })) },
  { weight: 1, arbitrary: fc.subarray(NODES).map((nodes): Edit => ({ kind: 'nodes', nodes })) },
  { weight: 1, arbitrary: fc.array(policyArb, { maxLength: 5 }).map((policies): Edit => ({ kind: 'policies', policies })) },
);

export function applyEdit(s: Snapshot, edit: Edit): Snapshot {
  const withPolicies = (policies: readonly Policy[]): Snapshot => {
    const tiers = withTiers(policies, s.tiers.filter((t) => t.declared && !BUILTIN_TIERS.some((b) => b.name === t.name)));
    const sameTiers = tiers.length === s.tiers.length && tiers.every((t, i) => t.name === s.tiers[i]!.name);
    return { ...s, policies, ...(sameTiers ? {} : { tiers }) };
  };
  switch (edit.kind) {
    case 'policy':
      return withPolicies(uniqueById([...s.policies.filter((p) => p.id !== edit.policy.id), edit.policy]));
    case 'remove':
      return s.policies.length === 0 ? s : withPolicies(s.policies.filter((_, i) => i !== edit.index % s.policies.length));
    case 'order': {
      if (s.policies.length === 0) return s;
      const i = edit.index % s.policies.length;
      return withPolicies(
        s.policies.map((p, j) => {
          if (j !== i) return p;
          const { order: _order, ...rest } = p;
          return edit.order === undefined ? rest : { ...rest, order: edit.order };
        }),
      );
    }
    case 'tier':
      return { ...s, tiers: [...s.tiers.filter((t) => t.name !== 't1'), { name: 't1', declared: true, defaultAction: edit.defaultAction, order: edit.order }] };
    case 'labels': {
      const i = edit.index % s.workloadEndpoints.length;
      return {
        ...s,
        workloadEndpoints: s.workloadEndpoints.map((w, j) =>
          j === i ? { ...w, labels: { ...edit.labels, 'projectcalico.org/namespace': w.namespace, 'projectcalico.org/orchestrator': 'k8s' } } : w,
        ),
      };
    }
    case 'ports': {
      const i = edit.index % s.workloadEndpoints.length;
      return { ...s, workloadEndpoints: s.workloadEndpoints.map((w, j) => (j === i ? { ...w, ports: edit.ports } : w)) };
    }
    case 'sets':
      return { ...s, networkSets: s.networkSets.length === 0 ? [{ ...NETWORK_SETS[1]!, nets: [...edit.nets] }] : s.networkSets.map((n, j) => (j === 0 ? { ...n, nets: [...edit.nets] } : n)) };
    case 'profile':
      return { ...s, profiles: s.profiles.map((p) => (p.name === 'custom' ? edit.profile : p)) };
    case 'policies':
      return withPolicies(uniqueById(edit.policies));
    case 'host': {
      if (s.hostEndpoints.length === 0) return s;
      const i = edit.index % s.hostEndpoints.length;
      return { ...s, hostEndpoints: s.hostEndpoints.map((h, j) => (j === i ? { ...h, node: edit.node, interfaceName: edit.star ? '*' : 'eth0' } : h)) };
    }
    case 'nodes':
      return { ...s, nodes: edit.nodes };
  }
}

/** A structurally new copy (fresh objects: nothing shared, nothing cached). */
export function clone(s: Snapshot): Snapshot {
  return JSON.parse(JSON.stringify(s)) as Snapshot;
}

// ---------------------------------------------------------------------------------------------
// Brute force: peers, protocols and ports enumerated from the snapshots' own numbers.

/** A peer of the brute force: an endpoint (at an address, or at none) or an outside address. */
export interface BrutePeer {
  /** What `evaluate()` is given. */
  readonly ref: string;
  readonly family: 4 | 6;
  /** The endpoint id/name, for endpoints. */
  readonly endpoint?: string;
  readonly addr?: IpAddr;
  /** How the analysis names it: the endpoint ref, or its address when it has several. */
  readonly name: string;
}

function* allRules(s: Snapshot): Generator<Rule> {
  for (const p of s.policies) yield* [...p.ingress, ...p.egress];
  for (const p of s.profiles) yield* [...p.ingress, ...p.egress];
}

function cidrTexts(s: Snapshot): string[] {
  const out: string[] = [];
  for (const r of allRules(s)) for (const e of [r.source, r.destination]) out.push(...(e.nets ?? []), ...(e.notNets ?? []));
  for (const n of s.networkSets) out.push(...n.nets);
  return out;
}

export function brutePeers(snapshots: readonly Snapshot[], extraOutside: readonly string[] = []): BrutePeer[] {
  const s0 = snapshots[0]!;
  const endpoints = [...s0.workloadEndpoints, ...s0.hostEndpoints];
  const taken = new Set<string>();
  for (const s of snapshots) for (const e of [...s.workloadEndpoints, ...s.hostEndpoints]) for (const a of endpointAddresses(e)) taken.add(formatIp(a));
  const peers: BrutePeer[] = [];
  for (const e of endpoints) {
    const ref = e.kind === 'WorkloadEndpoint' ? e.id : e.name;
    const addrs = endpointAddresses(e);
    for (const family of [4, 6] as const) {
      const own = addrs.filter((a) => a.version === family);
      if (own.length === 0) peers.push({ ref, family, endpoint: ref, name: ref });
      for (const a of own) peers.push({ ref: formatIp(a), family, endpoint: ref, addr: a, name: own.length > 1 ? formatIp(a) : ref });
    }
  }
  const outside = new Set<string>(['8.8.8.8', '198.18.0.1', 'fd00::99', '2001:db8::1', ...extraOutside]);
  for (const s of snapshots) for (const n of s.nodes) for (const a of n.addresses) outside.add(a);
  for (const s of snapshots) {
    for (const t of cidrTexts(s)) {
      const c = parseCidr(t);
      if (!c) continue;
      const bits = BigInt((c.version === 4 ? 32 : 128) - c.prefix);
      const lo = BigInt(c.base);
      const hi = lo + (1n << bits) - 1n;
      const max = c.version === 4 ? 0xffffffffn : (1n << 128n) - 1n;
      for (const v of [lo - 1n, lo, hi, hi + 1n]) {
        if (v < 0n || v > max) continue;
        outside.add(formatIp(c.version === 4 ? { version: 4, value: Number(v) } : { version: 6, value: v }));
      }
    }
  }
  for (const t of [...outside].sort()) {
    if (taken.has(t)) continue;
    const a = parseIp(t)!;
    peers.push({ ref: t, family: a.version, addr: a, name: t });
  }
  return peers;
}

/** Whether `evaluate()` can be asked about this pair in the family the peers stand for. */
export function brutePair(src: BrutePeer, dst: BrutePeer, snapshot: Snapshot): boolean {
  if (src.family !== dst.family) return false;
  if (src.endpoint !== undefined && src.endpoint === dst.endpoint) return false;
  if (src.endpoint === undefined && dst.endpoint === undefined) return false;
  if (!src.addr && !dst.addr) {
    // Two address-less endpoints: evaluate() picks IPv4 only when neither has any address.
    if (src.family !== 4) return false;
    const addrs = (ref: string): number => {
      const e = [...snapshot.workloadEndpoints, ...snapshot.hostEndpoints].find((x) => (x.kind === 'WorkloadEndpoint' ? x.id : x.name) === ref)!;
      return endpointAddresses(e).length;
    };
    return addrs(src.endpoint!) === 0 && addrs(dst.endpoint!) === 0;
  }
  return true;
}

/** Layer-4 probes: each protocol with its boundary ports / ICMP types. */
export function bruteL4(snapshots: readonly Snapshot[], family: 4 | 6): Omit<Flow, 'src' | 'dst'>[] {
  const dst = new Set<number>([1, 65535, 40000]);
  const src = new Set<number>([49152]);
  const types = new Set<number>([0, 255]);
  const codes = new Set<number>([0]);
  const protocols = new Set<number>([6, 17, 1, 58, 47, 2, 132]);
  const addPort = (set: Set<number>, p: number): void => {
    for (const v of [p - 1, p, p + 1]) if (v >= 1 && v <= 65535) set.add(v);
  };
  for (const s of snapshots) {
    for (const r of allRules(s)) {
      if (r.protocol) protocols.add(r.protocol.number);
      if (r.notProtocol) protocols.add(r.notProtocol.number);
      for (const [side, set] of [
        [r.source, src],
        [r.destination, dst],
      ] as const) {
        for (const p of [...(side.ports ?? []), ...(side.notPorts ?? [])]) {
          if (p.kind === 'range') {
            addPort(set, p.min);
            addPort(set, p.max);
          }
        }
      }
      for (const m of [r.icmp, r.notICMP]) {
        if (!m) continue;
        for (const v of [m.type - 1, m.type, m.type + 1]) if (v >= 0 && v <= 255) types.add(v);
        if (m.code !== undefined) for (const v of [m.code - 1, m.code, m.code + 1]) if (v >= 0 && v <= 255) codes.add(v);
      }
    }
    for (const e of [...s.workloadEndpoints, ...s.hostEndpoints]) for (const p of e.ports) addPort(dst, p.port);
  }
  for (const f of [...DEFAULT_FAILSAFE_INBOUND, ...DEFAULT_FAILSAFE_OUTBOUND]) addPort(dst, f.port);
  const out: Omit<Flow, 'src' | 'dst'>[] = [];
  for (const protocol of [...protocols].sort((a, b) => a - b)) {
    if ([6, 17, 132, 136].includes(protocol)) {
      for (const sp of src) for (const dp of dst) out.push({ protocol, srcPort: sp, dstPort: dp });
    } else if (protocol === 1 || protocol === 58) {
      if ((protocol === 1) !== (family === 4)) {
        out.push({ protocol, icmp: { type: 8, code: 0 } });
        continue;
      }
      for (const type of types) for (const code of codes) out.push({ protocol, icmp: { type, code } });
    } else out.push({ protocol });
  }
  return out;
}

function sample<T>(items: readonly T[], n: number, seed: number): T[] {
  if (n >= items.length) return [...items];
  const out = [...items];
  let x = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.slice(0, Math.max(1, n));
}

/**
 * The brute-force flows of two snapshots: every peer pair × every probe when that is at most
 * `budget` flows, else every pair × a sample of probes plus a sample of pairs × every probe.
 */
export function bruteFlows(snapshots: readonly Snapshot[], seed: number, budget = 2500): { src: BrutePeer; dst: BrutePeer; l4: Omit<Flow, 'src' | 'dst'> }[] {
  const peers = brutePeers(snapshots);
  const out: { src: BrutePeer; dst: BrutePeer; l4: Omit<Flow, 'src' | 'dst'> }[] = [];
  for (const family of [4, 6] as const) {
    const probes = bruteL4(snapshots, family);
    const ofFamily = peers.filter((p) => p.family === family);
    const pairs: [BrutePeer, BrutePeer][] = [];
    for (const s of ofFamily) for (const d of ofFamily) if (brutePair(s, d, snapshots[0]!)) pairs.push([s, d]);
    const share = family === 4 ? (budget * 2) / 3 : budget / 3;
    if (pairs.length * probes.length <= share) {
      for (const [src, dst] of pairs) for (const l4 of probes) out.push({ src, dst, l4 });
      continue;
    }
    const someProbes = sample(probes, Math.floor(share / 2 / Math.max(1, pairs.length)), seed);
    for (const [src, dst] of pairs) for (const l4 of someProbes) out.push({ src, dst, l4 });
    for (const [src, dst] of sample(pairs, Math.floor(share / 2 / probes.length), seed + 1)) for (const l4 of probes) out.push({ src, dst, l4 });
  }
  return out;
}

function inRanges(v: number, rs: readonly { from: number; to: number }[] | undefined): boolean {
  return rs !== undefined && rs.some((r) => v >= r.from && v <= r.to);
}

function inPeerSet(peer: BrutePeer, set: PeerSet): boolean {
  if (set.endpoints.includes(peer.name)) return true;
  if (peer.endpoint !== undefined || !peer.addr) return false;
  return parsedCidrs(set.outside).some((c) => c.version === peer.addr!.version && (BigInt(peer.addr!.value) & BigInt(c.mask)) === BigInt(c.base));
}

const parsedMemo = new WeakMap<object, Cidr[]>();
function parsedCidrs(list: readonly string[]): Cidr[] {
  let out = parsedMemo.get(list);
  if (!out) parsedMemo.set(list, (out = list.map((t) => parseCidr(t)!)));
  return out;
}

type Entry = L4Spec & { readonly ipVersion: 4 | 6; readonly from: PeerSet; readonly to: PeerSet };

/** Whether an analysis entry (a change or a path) covers a flow between two brute-force peers. */
export function covers(entry: Entry, src: BrutePeer, dst: BrutePeer, l4: Omit<Flow, 'src' | 'dst'>): boolean {
  if (entry.ipVersion !== src.family) return false;
  const p = typeof l4.protocol === 'number' ? l4.protocol : Number(l4.protocol);
  const protoOk = entry.protocol.name === 'other' ? !(entry.protocol.otherThan ?? []).includes(p) : entry.protocol.number === p;
  if (!protoOk) return false;
  if (entry.dstPorts && !(inRanges(l4.dstPort ?? -1, entry.dstPorts) && inRanges(l4.srcPort ?? -1, entry.srcPorts))) return false;
  if (entry.icmpTypes && !(inRanges(l4.icmp?.type ?? -1, entry.icmpTypes) && inRanges(l4.icmp?.code ?? -1, entry.icmpCodes))) return false;
  return inPeerSet(src, entry.from) && inPeerSet(dst, entry.to);
}

/** The entries covering a flow, found through an index by source peer. */
export function coveringChanges<E extends Entry>(entries: readonly E[], src: BrutePeer, dst: BrutePeer, l4: Omit<Flow, 'src' | 'dst'>): E[] {
  let index = indexMemo.get(entries) as Map<string, E[]> | undefined;
  if (!index) {
    index = new Map<string, E[]>();
    for (const e of entries) {
      const keys = [...e.from.endpoints, ...(e.from.outside.length > 0 ? ['*outside'] : [])];
      for (const k of keys) {
        const list = index.get(k);
        if (list) list.push(e);
        else index.set(k, [e]);
      }
    }
    indexMemo.set(entries, index);
  }
  const candidates = index.get(src.endpoint !== undefined ? src.name : '*outside') ?? [];
  return candidates.filter((c) => covers(c, src, dst, l4));
}

const indexMemo = new WeakMap<object, Map<string, unknown[]>>();
