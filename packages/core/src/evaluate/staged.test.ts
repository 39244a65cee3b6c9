import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { check, globalPolicy, k8sPolicy, namespace, pod, snap, stagedGlobalPolicy } from './test-fixtures.js';

const base: Resource[] = [namespace('ns'), pod('ns', 'client', '10.0.0.1', { app: 'client' }), pod('ns', 'server', '10.0.0.2', { app: 'server' })];
const stagedK8s = (name: string, spec: Record<string, unknown>): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'StagedKubernetesNetworkPolicy',
  metadata: { name, namespace: 'ns' },
  spec,
});

describe('staged policies', () => {
  it('have no staged preview when no staged policy applies', () => {
    const s = snap(...base, stagedGlobalPolicy('other', { selector: "app == 'nobody'", ingress: [{ action: 'Deny' }] }));
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.staged).toBeUndefined();
  });

  it('never change the enforced verdict, and preview a staged deny', () => {
    const s = snap(...base, stagedGlobalPolicy('deny', { selector: "app == 'server'", ingress: [{ action: 'Deny' }] }));
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.staged?.allowed).toBe(false);
    expect(r.staged?.trace.ingress.decision).toMatchObject({ policyId: 'sgnp/deny', action: 'Deny' });
  });

  it('a staged Set replaces the enforced policy of the same name', () => {
    const s = snap(
      ...base,
      globalPolicy('p', { selector: "app == 'server'", ingress: [{ action: 'Deny' }] }),
      stagedGlobalPolicy('p', { selector: "app == 'server'", ingress: [{ action: 'Allow' }] }),
    );
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(false);
    expect(r.staged?.allowed).toBe(true);
    const normal = r.staged?.trace.ingress.stages.find((st) => st.stage === 'normal');
    const policies = normal && 'tiers' in normal ? normal.tiers.flatMap((t) => t.policies.map((p) => [p.policyId, p.staged ?? false])) : [];
    expect(policies).toEqual([['sgnp/p', true]]);
  });

  it('a staged Delete removes the enforced policy of the same name', () => {
    const s = snap(
      ...base,
      globalPolicy('p', { selector: "app == 'server'", ingress: [{ action: 'Deny' }] }),
      stagedGlobalPolicy('p', { stagedAction: 'Delete' }),
    );
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(false);
    expect(r.staged?.allowed).toBe(true);
  });

  it('a StagedKubernetesNetworkPolicy previews as a Kubernetes NetworkPolicy', () => {
    const s = snap(...base, stagedK8s('iso', { podSelector: { matchLabels: { app: 'server' } }, policyTypes: ['Ingress'] }));
    expect(s.policies[0]).toMatchObject({ id: 'sknp/ns/iso', tier: 'default', order: 1000, staged: { action: 'Set' } });
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.staged?.trace.ingress.decision).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'default' });
  });

  it('a staged Kubernetes policy replaces the enforced one of the same name', () => {
    const s = snap(
      ...base,
      k8sPolicy('ns', 'iso', { podSelector: { matchLabels: { app: 'server' } }, policyTypes: ['Ingress'] }),
      stagedK8s('iso', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{}] }),
    );
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(false);
    expect(r.staged?.allowed).toBe(true);
  });

  it('a tier whose only applicable policies are staged is invisible to enforcement', () => {
    const s = snap(
      ...base,
      { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'sec' }, spec: { order: 1 } },
      stagedGlobalPolicy('only-staged', { tier: 'sec', selector: "app == 'server'", ingress: [{ action: 'Log' }] }),
    );
    const r = check(s, 'ns/client', 'ns/server', 80);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.stages.map((st) => st.stage)).toEqual(['profiles']);
    expect(r.staged?.allowed).toBe(false);
  });
});
