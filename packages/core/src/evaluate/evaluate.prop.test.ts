import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type {
  HostEndpoint,
  Policy,
  PolicyKind,
  Rule,
  RuleAction,
  Snapshot,
  Tier,
  WorkloadEndpoint,
} from '../model/types.js';
import { BUILTIN_TIERS, DEFAULT_ALLOW_PROFILE } from '../convert/calico-resources.js';
import { namespaceProfile } from '../convert/kubernetes-identity.js';
import { customProfileArb, entityArb, labelsArb, NETWORK_SETS, PROFILE_NAMES, PROTOCOLS, SELECTORS } from '../analysis/test-fixtures.js';
import { evaluate } from './evaluate.js';
import type { EvaluationResult, Flow } from './types.js';

// Generators: the analysis fixtures' small universes (selectors, nets, ports, protocols, labels,
// profiles, network sets), with denser rules and policies of any action and tier (a `ghost` one).

function ruleArb(actions: readonly RuleAction[]): fc.Arbitrary<Rule> {
  return fc
    .record(
      {
        action: fc.constantFrom(...actions),
        protocol: fc.constantFrom(...PROTOCOLS),
        notProtocol: fc.constantFrom(...PROTOCOLS),
        icmp: fc.record({ type: fc.constantFrom(0, 8) }),
        source: entityArb,
        destination: entityArb,
      },
      { requiredKeys: ['action'] },
    )
    .map((r) => ({ ...r, source: r.source ?? {}, destination: r.destination ?? {} }) as Rule);
}

const USER_TIERS = ['t1', 't2', 't3'];

const tierArb = (name: string): fc.Arbitrary<Tier> =>
  fc
    .record({ order: fc.option(fc.constantFrom(1, 50, 1000, 1_000_000, 5_000_000), { nil: undefined }), defaultAction: fc.constantFrom('Deny', 'Pass') })
    .map(({ order, defaultAction }) => ({ name, defaultAction: defaultAction as Tier['defaultAction'], declared: true, ...(order === undefined ? {} : { order }) }));

const policyArb = (actions: readonly RuleAction[], tiers: readonly string[]): fc.Arbitrary<Policy> =>
  fc
    .record({
      name: fc.constantFrom('foo', 'foo-bar', 'foo.bar', 'foo0', 'p', 'q'),
      namespaced: fc.boolean(),
      tier: fc.constantFrom(...tiers),
      order: fc.option(fc.constantFrom(1, 5, 5, 10, 1000), { nil: undefined }),
      selector: fc.constantFrom(...SELECTORS),
      types: fc.subarray(['Ingress', 'Egress'] as const),
      ingress: fc.array(ruleArb(actions), { maxLength: 3 }),
      egress: fc.array(ruleArb(actions), { maxLength: 3 }),
      flavour: fc.constantFrom('normal', 'normal', 'normal', 'untracked', 'prednat'),
    })
    .map((p) => {
      const kind: PolicyKind = p.namespaced ? 'NetworkPolicy' : 'GlobalNetworkPolicy';
      const namespace = p.namespaced ? 'n1' : '';
      const selector = p.namespaced ? `(${p.selector} && projectcalico.org/namespace == "n1")` : p.selector;
      const policy: Policy = {
        id: p.namespaced ? `np/n1/${p.name}` : `gnp/${p.name}`,
        kind,
        name: p.name,
        namespace,
        tier: p.tier,
        ...(p.order === undefined ? {} : { order: p.order }),
        selector,
        types: [...p.types],
        ingress: p.ingress,
        egress: p.egress,
        doNotTrack: !p.namespaced && p.flavour === 'untracked',
        preDNAT: !p.namespaced && p.flavour === 'prednat',
        applyOnForward: !p.namespaced && p.flavour !== 'normal',
      };
      return policy;
    });

const wepArb = (i: number): fc.Arbitrary<WorkloadEndpoint> =>
  fc
    .record({
      ns: fc.constantFrom('n1', 'n2'),
      labels: labelsArb,
      v6: fc.boolean(),
      profiles: fc.oneof(fc.constant(['kns.n1']), fc.uniqueArray(fc.constantFrom(...PROFILE_NAMES), { maxLength: 3 })),
      ports: fc.subarray([
        { name: 'http', protocol: 6, port: 8080 },
        { name: 'dns', protocol: 17, port: 53 },
        { name: 'http', protocol: 6, port: 80 },
      ]),
    })
    .map(({ ns, labels, v6, profiles, ports }) => ({
      kind: 'WorkloadEndpoint' as const,
      id: `${ns}/w${i}`,
      name: `w${i}`,
      namespace: ns,
      node: 'node-1',
      interfaceName: `cali${i}`,
      addresses: v6 ? [`10.0.0.${i + 1}/32`, `fd00::${i + 1}/128`] : [`10.0.0.${i + 1}/32`],
      labels: { ...labels, 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s' },
      profiles,
      ports,
    }));

const hepArb = (i: number): fc.Arbitrary<HostEndpoint> =>
  fc.record({ profiles: fc.subarray(['projectcalico-default-allow', 'custom']), withIp: fc.boolean() }).map(({ profiles, withIp }) => ({
    kind: 'HostEndpoint' as const,
    id: `h${i}`,
    name: `h${i}`,
    node: `node-${i}`,
    interfaceName: 'eth0',
    expectedIPs: withIp ? [`192.168.0.${i + 1}/32`] : [],
    labels: { role: 'node' },
    profiles,
    ports: [{ name: 'http', protocol: 6, port: 8080 }],
  }));

const snapshotArb: fc.Arbitrary<Snapshot> = fc
  .record({
    weps: fc.integer({ min: 1, max: 5 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => wepArb(i)))),
    heps: fc.integer({ min: 0, max: 2 }).chain((n) => (n === 0 ? fc.constant([] as HostEndpoint[]) : fc.tuple(...Array.from({ length: n }, (_, i) => hepArb(i))))),
    userTiers: fc.subarray(USER_TIERS).chain((names) => (names.length === 0 ? fc.constant([] as Tier[]) : fc.tuple(...names.map(tierArb)))),
    policies: fc.array(policyArb(['Allow', 'Deny', 'Pass', 'Log'], ['default', 'kube-admin', 'kube-baseline', ...USER_TIERS, 'ghost']), { maxLength: 8 }),
    custom: customProfileArb,
    withSets: fc.boolean(),
  })
  .map(({ weps, heps, userTiers, policies, custom, withSets }) => {
    const unique = new Map<string, Policy>();
    for (const p of policies) unique.set(p.id, p);
    const tiers: Tier[] = [...BUILTIN_TIERS, ...userTiers];
    for (const p of unique.values()) if (!tiers.some((t) => t.name === p.tier)) tiers.push({ name: p.tier, defaultAction: 'Deny', declared: false });
    return {
      tiers,
      policies: [...unique.values()],
      profiles: [namespaceProfile('n1', { team: 'red' }), namespaceProfile('n2', { team: 'blue' }), DEFAULT_ALLOW_PROFILE, custom],
      workloadEndpoints: weps,
      hostEndpoints: heps,
      networkSets: withSets ? NETWORK_SETS : [],
      nodes: [],
    } satisfies Snapshot;
  });

function peersOf(s: Snapshot): string[] {
  return [...s.workloadEndpoints.map((w) => w.id), ...s.hostEndpoints.map((h) => h.name), '192.0.2.1', '203.0.113.5', '10.0.0.2', 'fd00::99'];
}

const flowSpecArb = fc.record({
  src: fc.nat(),
  dst: fc.nat(),
  protocol: fc.constantFrom('TCP', 'UDP', 'ICMP'),
  dstPort: fc.constantFrom(22, 53, 80, 8080, 9999, undefined),
  srcPort: fc.constantFrom(40000, 80, undefined),
  icmpType: fc.constantFrom(0, 8),
});
type FlowSpec = typeof flowSpecArb extends fc.Arbitrary<infer T> ? T : never;

function flowsFor(s: Snapshot, specs: readonly FlowSpec[]): Flow[] {
  const peers = peersOf(s);
  return specs.map((f) => ({
    src: peers[f.src % peers.length]!,
    dst: peers[f.dst % peers.length]!,
    protocol: f.protocol,
    ...(f.protocol === 'ICMP' ? { icmp: { type: f.icmpType } } : {}),
    ...(f.protocol !== 'ICMP' && f.dstPort !== undefined ? { dstPort: f.dstPort } : {}),
    ...(f.protocol !== 'ICMP' && f.srcPort !== undefined ? { srcPort: f.srcPort } : {}),
  }));
}

/** A structurally new copy (fresh object identity, so nothing is served from the index cache). */
function clone(s: Snapshot): Snapshot {
  return JSON.parse(JSON.stringify(s)) as Snapshot;
}

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const verdicts = (s: Snapshot, flows: readonly Flow[]): boolean[] => flows.map((f) => evaluate(s, f).allowed);
const enforcedOnly = (r: EvaluationResult) => ({ allowed: r.allowed, trace: r.trace });

const flowsArb = fc.array(flowSpecArb, { minLength: 1, maxLength: 12 });
const params = { numRuns: 150 };

// ---------------------------------------------------------------------------------------------

describe('evaluate laws', () => {
  test.prop([snapshotArb, flowsArb, fc.integer()], params)('input order does not matter: shuffling every snapshot array gives the same results', (s, specs, seed) => {
    const shuffled: Snapshot = {
      tiers: shuffle(s.tiers, seed),
      policies: shuffle(s.policies, seed + 1),
      profiles: shuffle(s.profiles, seed + 2),
      workloadEndpoints: shuffle(s.workloadEndpoints, seed + 3),
      hostEndpoints: shuffle(s.hostEndpoints, seed + 4),
      networkSets: shuffle(s.networkSets, seed + 5),
      nodes: shuffle(s.nodes, seed + 6),
    };
    const flows = flowsFor(s, specs);
    for (const f of flows) expect(evaluate(shuffled, f)).toEqual(evaluate(s, f));
  });

  test.prop([snapshotArb, flowsArb], params)('results do not depend on which flows were evaluated before (caches are invisible)', (s, specs) => {
    const flows = flowsFor(s, specs);
    const forward = verdicts(clone(s), flows);
    const backward = verdicts(clone(s), [...flows].reverse()).reverse();
    expect(backward).toEqual(forward);
  });

  const passTierArb = fc.record({
    order: fc.option(fc.constantFrom(0, 1, 999, 1000, 1_000_000, 20_000_000), { nil: undefined }),
    variant: fc.constantFrom('default-pass', 'unconditional-pass'),
    policies: fc.array(policyArb(['Pass', 'Log'], ['passing']), { minLength: 1, maxLength: 4 }),
  });

  test.prop([snapshotArb, passTierArb, flowsArb], params)('Pass law: a tier whose policies only Pass never changes a verdict', (s, extra, specs) => {
    const unconditional: Rule = { action: 'Pass', source: {}, destination: {} };
    const policies = extra.policies.map((p, i) => {
      const renamed = { ...p, id: `gnp/passing-${i}`, name: `passing-${i}`, tier: 'passing' };
      return extra.variant === 'default-pass'
        ? renamed
        : { ...renamed, ingress: [...p.ingress, unconditional], egress: [...p.egress, unconditional] };
    });
    const withPass: Snapshot = {
      ...s,
      tiers: [...s.tiers, { name: 'passing', defaultAction: extra.variant === 'default-pass' ? 'Pass' : 'Deny', declared: true, ...(extra.order === undefined ? {} : { order: extra.order }) }],
      policies: [...s.policies, ...policies],
    };
    const flows = flowsFor(s, specs);
    expect(verdicts(withPass, flows)).toEqual(verdicts(s, flows));
  });

  test.prop([snapshotArb, fc.array(policyArb(['Allow'], ['last']), { minLength: 1, maxLength: 3 }), flowsArb], params)(
    'an Allow-only policy in a new last tier never changes a direction an earlier tier decided',
    (s, extra, specs) => {
      // Undeclared tiers sort after every declared one, by name: this one sorts after every existing tier.
      const withLast: Snapshot = {
        ...s,
        tiers: [...s.tiers, { name: 'zzz-last', defaultAction: 'Deny', declared: false }],
        policies: [...s.policies, ...extra.map((p, i) => ({ ...p, id: `gnp/last-${i}`, name: `last-${i}`, tier: 'zzz-last', doNotTrack: false, preDNAT: false }))],
      };
      const decided = new Set(['tier', 'end-of-tier', 'untracked', 'pre-dnat', 'failsafe']);
      for (const f of flowsFor(s, specs)) {
        const before = evaluate(s, f).trace;
        const after = evaluate(withLast, f).trace;
        for (const dir of ['egress', 'ingress'] as const) {
          if (decided.has(before[dir].decision.stage)) expect(after[dir].decision).toEqual(before[dir].decision);
        }
      }
    },
  );

  const stagedArb = fc.array(
    fc.record({
      base: policyArb(['Allow', 'Deny', 'Pass', 'Log'], ['default', 't1', 'ghost', 'staged-tier']),
      kind: fc.constantFrom('StagedNetworkPolicy', 'StagedGlobalNetworkPolicy', 'StagedKubernetesNetworkPolicy'),
      action: fc.constantFrom('Set', 'Delete', 'Learn', 'Ignore'),
    }),
    { minLength: 1, maxLength: 4 },
  );

  test.prop([snapshotArb, stagedArb, flowsArb], params)('staged policies never change the enforced verdict', (s, staged, specs) => {
    const prefix = { StagedNetworkPolicy: 'snp/n1/', StagedGlobalNetworkPolicy: 'sgnp/', StagedKubernetesNetworkPolicy: 'sknp/n1/' } as const;
    const stagedPolicies: Policy[] = staged.map(({ base, kind, action }) => ({
      ...base,
      id: `${prefix[kind]}${base.name}`,
      kind,
      namespace: kind === 'StagedGlobalNetworkPolicy' ? '' : 'n1',
      staged: { action },
    }));
    const unique = new Map(stagedPolicies.map((p) => [p.id, p]));
    const withStaged: Snapshot = { ...s, policies: [...s.policies, ...unique.values()] };
    for (const f of flowsFor(s, specs)) {
      const plain = evaluate(s, f);
      const mixed = evaluate(withStaged, f);
      expect(enforcedOnly(mixed)).toEqual(enforcedOnly(plain));
      expect(plain.staged).toBeUndefined();
    }
  });
});
