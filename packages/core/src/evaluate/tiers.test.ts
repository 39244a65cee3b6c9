import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../model/types.js';
import { allowed, calicoPolicy, check, globalPolicy, k8sPolicy, namespace, pod, profile, snap, tier } from './test-fixtures.js';
import { evaluate } from './evaluate.js';

const base = [
  namespace('ns'),
  pod('ns', 'client', '10.0.0.1', { app: 'client' }),
  pod('ns', 'server', '10.0.0.2', { app: 'server' }),
];

const ingressTo = (name: string, order: number | undefined, rules: unknown[], extra: Record<string, unknown> = {}) =>
  globalPolicy(name, { selector: "app == 'server'", types: ['Ingress'], ingress: rules, ...(order === undefined ? {} : { order }), ...extra });

describe('tiers, policy order and actions', () => {
  it('with no policy a pod is reachable through its namespace profile', () => {
    const r = check(snap(...base), 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.decision).toMatchObject({ stage: 'profile', profile: 'kns.ns', action: 'Allow' });
  });

  it('a k8s NP selecting a pod makes ingress default-deny', () => {
    const s = snap(...base, k8sPolicy('ns', 'deny', { podSelector: { matchLabels: { app: 'server' } }, policyTypes: ['Ingress'] }));
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(false);
    expect(r.trace.ingress.decision).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'default' });
    expect(allowed(s, 'ns/server', 'ns/client', 80)).toBe(true);
  });

  it('Allow in an earlier tier skips later tiers and profiles', () => {
    const s = snap(
      ...base,
      tier('sec', 10),
      ingressTo('allow', 1, [{ action: 'Allow' }], { tier: 'sec' }),
      ingressTo('deny', 1, [{ action: 'Deny' }]),
    );
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.decision).toMatchObject({ stage: 'tier', tier: 'sec', policyId: 'gnp/allow', ruleIndex: 0 });
  });

  it('Deny in an earlier tier wins over Allow in a later tier', () => {
    const s = snap(...base, tier('sec', 10), ingressTo('deny', 1, [{ action: 'Deny' }], { tier: 'sec' }), ingressTo('allow', 1, [{ action: 'Allow' }]));
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(false);
  });

  it('Pass skips the rest of the tier', () => {
    const s = snap(
      ...base,
      tier('sec', 10),
      ingressTo('a-pass', 1, [{ action: 'Pass' }], { tier: 'sec' }),
      ingressTo('b-deny', 2, [{ action: 'Deny' }], { tier: 'sec' }),
    );
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    const tiers = r.trace.ingress.stages.find((st) => st.stage === 'normal');
    expect(tiers && 'tiers' in tiers ? tiers.tiers.map((t) => [t.tier, t.result, t.policies.length]) : []).toEqual([['sec', 'Pass', 1]]);
    expect(r.trace.ingress.decision).toMatchObject({ stage: 'profile', profile: 'kns.ns' });
  });

  it('Pass hands over to the next tier, whose rules then decide', () => {
    const s = snap(
      ...base,
      tier('sec', 10),
      ingressTo('pass', 1, [{ action: 'Pass' }], { tier: 'sec' }),
      ingressTo('deny', 1, [{ action: 'Deny', protocol: 'TCP', destination: { ports: [80] } }]),
    );
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(false);
    expect(allowed(s, 'ns/client', 'ns/server', 81)).toBe(false); // default tier applied, end-of-tier Deny
  });

  it('end of a tier whose default action is Pass continues to the next tier', () => {
    const s = snap(...base, tier('sec', 10, 'Pass'), ingressTo('nomatch', 1, [{ action: 'Deny', protocol: 'UDP' }], { tier: 'sec' }));
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.decision.stage).toBe('profile');
  });

  it('end of a tier whose default action is Deny drops when no rule matched', () => {
    const s = snap(...base, tier('sec', 10), ingressTo('nomatch', 1, [{ action: 'Allow', protocol: 'UDP' }], { tier: 'sec' }));
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(false);
    expect(r.trace.ingress.decision).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'sec' });
  });

  it('a tier with no policy applying to the endpoint is invisible', () => {
    const s = snap(...base, tier('sec', 10), globalPolicy('other', { tier: 'sec', selector: "app == 'nobody'", ingress: [{ action: 'Deny' }] }));
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.stages.map((st) => st.stage)).toEqual(['profiles']);
  });

  it('a policy that matches no rule falls through to the next policy in the tier', () => {
    const s = snap(...base, ingressTo('a', 1, [{ action: 'Deny', protocol: 'UDP' }]), ingressTo('b', 2, [{ action: 'Allow' }]));
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.decision).toMatchObject({ policyId: 'gnp/b' });
  });

  it('the first matching rule of a policy decides', () => {
    const s = snap(...base, ingressTo('p', 1, [{ action: 'Deny', protocol: 'TCP' }, { action: 'Allow' }]));
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(false);
    expect(allowed(s, 'ns/client', 'ns/server', 53, 'UDP')).toBe(true);
  });

  it('Log continues to the next rule', () => {
    const s = snap(...base, ingressTo('p', 1, [{ action: 'Log' }, { action: 'Allow' }]));
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.decision).toMatchObject({ policyId: 'gnp/p', ruleIndex: 1 });
  });

  it('a Log-only policy does not decide: the tier ends with its default action', () => {
    const s = snap(...base, ingressTo('p', 1, [{ action: 'Log' }]));
    expect(check(s, 'ns/client', 'ns/server', 80).trace.ingress.decision).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'default' });
  });

  it('policies in a tier run by ascending order', () => {
    const s = snap(...base, ingressTo('z-allow', 1, [{ action: 'Allow' }]), ingressTo('a-deny', 2, [{ action: 'Deny' }]));
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(true);
  });

  it('a policy without order runs after every ordered policy', () => {
    const s = snap(...base, ingressTo('a-deny', undefined, [{ action: 'Deny' }]), ingressTo('z-allow', 1e9, [{ action: 'Allow' }]));
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(true);
  });

  it('equal-order policies foo-bar runs before foo', () => {
    const s = snap(...base, ingressTo('foo', 5, [{ action: 'Deny' }]), ingressTo('foo-bar', 5, [{ action: 'Allow' }]));
    expect(check(s, 'ns/client', 'ns/server', 80).trace.ingress.decision).toMatchObject({ policyId: 'gnp/foo-bar', action: 'Allow' });
  });

  it('equal-order policies foo.bar runs before foo', () => {
    const s = snap(...base, ingressTo('foo', 5, [{ action: 'Deny' }]), ingressTo('foo.bar', 5, [{ action: 'Allow' }]));
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(true);
  });

  it('equal-order policies foo runs before foo0', () => {
    const s = snap(...base, ingressTo('foo0', 5, [{ action: 'Allow' }]), ingressTo('foo', 5, [{ action: 'Deny' }]));
    expect(check(s, 'ns/client', 'ns/server', 80).trace.ingress.decision).toMatchObject({ policyId: 'gnp/foo', action: 'Deny' });
  });

  it('equal-order ties compare name/namespace/kind: a namespaced policy sorts by its name first', () => {
    const s = snap(
      ...base,
      calicoPolicy('ns', 'b', { order: 5, selector: "app == 'server'", ingress: [{ action: 'Deny' }] }),
      ingressTo('a', 5, [{ action: 'Allow' }]),
    );
    expect(check(s, 'ns/client', 'ns/server', 80).trace.ingress.decision).toMatchObject({ policyId: 'gnp/a' });
  });

  it('tiers run by ascending order, ties broken by name', () => {
    const s = snap(
      ...base,
      tier('b', 10),
      tier('a', 10),
      ingressTo('in-b', 1, [{ action: 'Deny' }], { tier: 'b' }),
      ingressTo('in-a', 1, [{ action: 'Allow' }], { tier: 'a' }),
    );
    expect(check(s, 'ns/client', 'ns/server', 80).trace.ingress.decision).toMatchObject({ tier: 'a', action: 'Allow' });
  });

  it('a tier without order runs after ordered tiers', () => {
    const s = snap(
      ...base,
      tier('unordered', undefined),
      ingressTo('u', 1, [{ action: 'Deny' }], { tier: 'unordered' }),
      ingressTo('d', 1, [{ action: 'Allow' }]),
    );
    expect(check(s, 'ns/client', 'ns/server', 80).trace.ingress.decision).toMatchObject({ tier: 'default', action: 'Allow' });
  });

  it('a policy in an undeclared tier is enforced after every declared tier, and its tier ends in Deny', () => {
    const s = snap(...base, tier('late', 99_000_000, 'Pass'), ingressTo('ghost', 1, [{ action: 'Log' }], { tier: 'ghost' }), ingressTo('l', 1, [{ action: 'Pass' }], { tier: 'late' }));
    expect(s.tiers.find((t) => t.name === 'ghost')).toEqual({ name: 'ghost', defaultAction: 'Deny', declared: false });
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(false);
    expect(r.trace.ingress.decision).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'ghost' });
  });

  it('a policy without types applies only in the defaulted direction', () => {
    const s = snap(...base, globalPolicy('eg', { selector: "app == 'server'", egress: [{ action: 'Deny' }] }));
    expect(s.policies[0]!.types).toEqual(['Egress']);
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(true);
    expect(allowed(s, 'ns/server', 'ns/client', 80)).toBe(false);
  });

  it('an Ingress policy with no ingress rules denies all ingress (default deny)', () => {
    const s = snap(...base, globalPolicy('dd', { selector: "app == 'server'", types: ['Ingress'] }));
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(false);
  });

  it('both directions must allow: an egress deny at the source wins over an ingress allow', () => {
    const s = snap(
      ...base,
      globalPolicy('src-deny', { selector: "app == 'client'", types: ['Egress'], egress: [{ action: 'Deny' }] }),
      ingressTo('dst-allow', 1, [{ action: 'Allow' }]),
    );
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(false);
    expect(r.trace.egress.allowed).toBe(false);
    expect(r.trace.ingress.allowed).toBe(true);
  });

  it('an address outside every endpoint has no policy; only the endpoint side decides', () => {
    const s = snap(...base, k8sPolicy('ns', 'deny', { podSelector: {}, policyTypes: ['Egress'] }));
    const r = check(s, '192.0.2.1', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.egress.decision).toEqual({ stage: 'no-policy', action: 'Allow' });
    expect(allowed(s, 'ns/server', '192.0.2.1', 80)).toBe(false);
  });

  it('a Calico NetworkPolicy applies only to endpoints in its namespace', () => {
    const s = snap(
      ...base,
      namespace('other'),
      pod('other', 'server', '10.0.1.2', { app: 'server' }),
      calicoPolicy('ns', 'deny', { selector: "app == 'server'", ingress: [{ action: 'Deny' }] }),
    );
    expect(allowed(s, 'ns/client', 'ns/server', 80)).toBe(false);
    expect(allowed(s, 'ns/client', 'other/server', 80)).toBe(true);
  });
});

describe('profiles', () => {
  const wep = (profiles: string[]) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: 'vm1', namespace: 'ns', labels: { app: 'vm' } },
    spec: { node: 'n', interfaceName: 'tap0', ipNetworks: ['10.0.5.1/32'], profiles },
  });

  it('profile rules run only when no tier decided', () => {
    const s = snap(...base, wep(['deny-all']), profile('deny-all', { ingress: [{ action: 'Deny' }], egress: [{ action: 'Deny' }] }));
    expect(allowed(s, 'ns/client', 'ns/vm1', 80)).toBe(false);
    const withPolicy = snap(
      ...base,
      wep(['deny-all']),
      profile('deny-all', { ingress: [{ action: 'Deny' }] }),
      globalPolicy('allow-vm', { selector: "app == 'vm'", ingress: [{ action: 'Allow' }] }),
    );
    expect(allowed(withPolicy, 'ns/client', 'ns/vm1', 80)).toBe(true);
  });

  it('profile Deny drops', () => {
    const s = snap(...base, wep(['deny', 'allow']), profile('deny', { ingress: [{ action: 'Deny' }] }), profile('allow', { ingress: [{ action: 'Allow' }] }));
    const r = check(s, 'ns/client', 'ns/vm1', 80);
    expect(r.allowed).toBe(false);
    expect(r.trace.ingress.decision).toEqual({ stage: 'profile', action: 'Deny', profile: 'deny', ruleIndex: 0 });
  });

  it('profiles run in list order; the first to allow or deny decides', () => {
    const s = snap(...base, wep(['allow', 'deny']), profile('deny', { ingress: [{ action: 'Deny' }] }), profile('allow', { ingress: [{ action: 'Allow' }] }));
    expect(allowed(s, 'ns/client', 'ns/vm1', 80)).toBe(true);
  });

  it('profile Pass continues with the next profile', () => {
    const s = snap(...base, wep(['pass', 'allow']), profile('pass', { ingress: [{ action: 'Pass' }] }), profile('allow', { ingress: [{ action: 'Allow' }] }));
    expect(allowed(s, 'ns/client', 'ns/vm1', 80)).toBe(true);
  });

  it('no profile allowing means deny', () => {
    const s = snap(...base, wep(['empty']), profile('empty', {}));
    expect(check(s, 'ns/client', 'ns/vm1', 80).trace.ingress.decision).toEqual({ stage: 'no-profile-matched', action: 'Deny' });
  });

  it('an endpoint with no profiles and no policy is denied', () => {
    const s = snap(...base, wep([]));
    expect(check(s, 'ns/client', 'ns/vm1', 80).trace.ingress.decision).toEqual({ stage: 'no-profiles', action: 'Deny' });
  });

  it('a profile the snapshot does not contain is skipped', () => {
    const s = snap(...base, wep(['missing', 'projectcalico-default-allow']));
    const r = check(s, 'ns/client', 'ns/vm1', 80);
    expect(r.allowed).toBe(true);
    const stage = r.trace.ingress.stages.find((st) => st.stage === 'profiles');
    expect(stage && 'profiles' in stage ? stage.profiles[0] : undefined).toEqual({ profile: 'missing', missing: true, rules: [], result: 'no-match' });
  });

  it('profile labelsToApply are inherited; an endpoint label wins over a profile label', () => {
    const s: Snapshot = snap(
      ...base,
      wep(['p1', 'p2']),
      profile('p1', { labelsToApply: { app: 'from-profile', team: 'one' }, ingress: [{ action: 'Allow' }] }),
      profile('p2', { labelsToApply: { team: 'two', zone: 'z' } }),
      globalPolicy('sel', { selector: "app == 'vm' && team == 'one' && zone == 'z'", ingress: [{ action: 'Deny' }] }),
    );
    expect(allowed(s, 'ns/client', 'ns/vm1', 80)).toBe(false);
  });

  it('evaluate never depends on the order of snapshot arrays', () => {
    const s = snap(...base, tier('sec', 10), ingressTo('a', 1, [{ action: 'Pass' }], { tier: 'sec' }), ingressTo('b', 1, [{ action: 'Deny' }]));
    const reversed: Snapshot = {
      tiers: [...s.tiers].reverse(),
      policies: [...s.policies].reverse(),
      profiles: [...s.profiles].reverse(),
      workloadEndpoints: [...s.workloadEndpoints].reverse(),
      hostEndpoints: [...s.hostEndpoints].reverse(),
      networkSets: [...s.networkSets].reverse(),
      nodes: [...s.nodes].reverse(),
    };
    const flow = { src: 'ns/client', dst: 'ns/server', protocol: 'TCP', dstPort: 80 } as const;
    expect(evaluate(reversed, flow)).toEqual(evaluate(s, flow));
  });
});
