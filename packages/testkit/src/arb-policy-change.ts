/**
 * `arbPolicyChange(snapshot)`: plausible edits of a user's snapshot — an endpoint label set or
 * removed, a rule added (a variation of a rule the snapshot already has) or removed, a policy
 * moved to another order — as plain data, applied with `applyPolicyChange`. For properties of
 * the form "no edit of the application teams' policies opens X", checked exactly with
 * `assertNoPath` or `assertOpensNothing`.
 */
import fc from 'fast-check';
import type { Policy, PortMatch, Rule, Snapshot, WorkloadEndpoint } from '@gingham/core';
import { compiled } from './snapshot-peers.js';

export type PolicyChange =
  | { readonly kind: 'label'; readonly endpoint: string; readonly key: string; readonly value: string | null }
  | { readonly kind: 'add-rule'; readonly policy: string; readonly direction: 'ingress' | 'egress'; readonly index: number; readonly rule: Rule }
  | { readonly kind: 'remove-rule'; readonly policy: string; readonly direction: 'ingress' | 'egress'; readonly index: number }
  | { readonly kind: 'reorder'; readonly policy: string; readonly order: number | null };

export interface PolicyChangeOptions {
  /** Policies edits may touch (default: every enforced policy). */
  readonly policies?: (policy: Policy) => boolean;
  /** Workload endpoints that may be relabelled: a selector over their own labels, or a predicate (default: all). */
  readonly endpoints?: string | ((endpoint: WorkloadEndpoint) => boolean);
  /** Kinds of edit to draw (default: all four). */
  readonly kinds?: readonly PolicyChange['kind'][];
}

const KINDS: readonly PolicyChange['kind'][] = ['label', 'add-rule', 'remove-rule', 'reorder'];

/** Whether Calico actions other than Allow are legal in this kind of policy. */
function allowsOnly(p: Policy): boolean {
  return p.kind === 'KubernetesNetworkPolicy' || p.kind === 'StagedKubernetesNetworkPolicy';
}

/** A short sentence for people: `add an ingress rule to knp/shop/db: Allow TCP from app == "x" to ports 6000`. */
export function describePolicyChange(c: PolicyChange): string {
  switch (c.kind) {
    case 'label':
      return c.value === null ? `remove label ${c.key} from ${c.endpoint}` : `set label ${c.key}=${c.value} on ${c.endpoint}`;
    case 'add-rule':
      return `add ${c.direction} rule ${c.index} to ${c.policy}: ${JSON.stringify(c.rule)}`;
    case 'remove-rule':
      return `remove ${c.direction} rule ${c.index} of ${c.policy}`;
    case 'reorder':
      return c.order === null ? `remove the order of ${c.policy}` : `move ${c.policy} to order ${c.order}`;
  }
}

/** Edits of a snapshot. Throws when the options leave nothing to edit. */
export function arbPolicyChange(snapshot: Snapshot, options: PolicyChangeOptions = {}): fc.Arbitrary<PolicyChange> {
  const policies = snapshot.policies.filter((p) => !p.staged && (options.policies?.(p) ?? true));
  const endpointFilter = options.endpoints;
  const endpoints = snapshot.workloadEndpoints.filter((e) => {
    if (endpointFilter === undefined) return true;
    if (typeof endpointFilter === 'function') return endpointFilter(e);
    const s = compiled(endpointFilter);
    return s !== null && s.matches(e.labels);
  });
  const kinds = new Set(options.kinds ?? KINDS);
  const arms: fc.Arbitrary<PolicyChange>[] = [];

  // Labels: user keys seen on endpoints (not the synthetic projectcalico.org/* ones), values seen for them.
  const values = new Map<string, Set<string>>();
  for (const e of snapshot.workloadEndpoints) {
    for (const [k, v] of Object.entries(e.labels)) {
      if (k.startsWith('projectcalico.org/')) continue;
      if (!values.has(k)) values.set(k, new Set());
      values.get(k)!.add(v);
    }
  }
  const keys = [...values.keys()].sort();
  if (kinds.has('label') && endpoints.length > 0 && keys.length > 0) {
    arms.push(
      fc.record({ e: fc.nat({ max: endpoints.length - 1 }), k: fc.nat({ max: keys.length - 1 }), v: fc.nat(), remove: fc.boolean() }).map(({ e, k, v, remove }): PolicyChange => {
        const key = keys[k]!;
        const options = [...values.get(key)!].sort();
        return { kind: 'label', endpoint: endpoints[e]!.id, key, value: remove ? null : options[v % options.length]! };
      }),
    );
  }

  // Rules: variations of the snapshot's own rules (its selectors, nets, protocols), with a port it mentions.
  const rules = snapshot.policies.flatMap((p) => [...p.ingress, ...p.egress]).filter((r) => r.action !== 'Log');
  const ports: PortMatch[] = [...new Map(rules.flatMap((r) => r.destination.ports ?? []).map((p) => [JSON.stringify(p), p])).values()];
  const withRules = policies;
  if (kinds.has('add-rule') && withRules.length > 0 && rules.length > 0) {
    arms.push(
      fc
        .record({ p: fc.nat({ max: withRules.length - 1 }), r: fc.nat({ max: rules.length - 1 }), port: fc.nat({ max: ports.length }), action: fc.constantFrom('Allow', 'Deny', 'Pass'), at: fc.nat(), ingress: fc.boolean() })
        .map(({ p, r, port, action, at, ingress }): PolicyChange => {
          const policy = withRules[p]!;
          const direction = policy.types.length === 1 ? (policy.types[0] === 'Ingress' ? 'ingress' : 'egress') : ingress ? 'ingress' : 'egress';
          const template = rules[r]!;
          const list = direction === 'ingress' ? policy.ingress : policy.egress;
          const dstPorts = port < ports.length ? [ports[port]!] : undefined;
          const rule: Rule = {
            ...template,
            action: allowsOnly(policy) ? 'Allow' : (action as Rule['action']),
            ...(dstPorts && !template.protocol ? { protocol: { number: 6, text: 'TCP' } } : {}),
            destination: { ...template.destination, ...(dstPorts ? { ports: dstPorts } : {}) },
          };
          return { kind: 'add-rule', policy: policy.id, direction, index: at % (list.length + 1), rule };
        }),
    );
  }
  const withAnyRule = policies.filter((p) => p.ingress.length + p.egress.length > 0);
  if (kinds.has('remove-rule') && withAnyRule.length > 0) {
    arms.push(
      fc.record({ p: fc.nat({ max: withAnyRule.length - 1 }), i: fc.nat() }).map(({ p, i }): PolicyChange => {
        const policy = withAnyRule[p]!;
        const all = [...policy.ingress.map((_, n) => ['ingress', n] as const), ...policy.egress.map((_, n) => ['egress', n] as const)];
        const [direction, index] = all[i % all.length]!;
        return { kind: 'remove-rule', policy: policy.id, direction, index };
      }),
    );
  }
  const orders = [...new Set(snapshot.policies.flatMap((p) => (p.order === undefined ? [] : [p.order - 1, p.order, p.order + 1])))].sort((a, b) => a - b);
  if (kinds.has('reorder') && policies.length > 0) {
    arms.push(
      fc.record({ p: fc.nat({ max: policies.length - 1 }), o: fc.nat({ max: orders.length }) }).map(({ p, o }): PolicyChange => ({ kind: 'reorder', policy: policies[p]!.id, order: o < orders.length ? orders[o]! : null })),
    );
  }
  if (arms.length === 0) throw new Error('gingham: arbPolicyChange: nothing to edit (no matching policies or endpoints)');
  return fc.oneof(...arms);
}

/** The snapshot after an edit (every untouched array is the same object). */
export function applyPolicyChange(snapshot: Snapshot, change: PolicyChange): Snapshot {
  if (change.kind === 'label') {
    return {
      ...snapshot,
      workloadEndpoints: snapshot.workloadEndpoints.map((e) => {
        if (e.id !== change.endpoint) return e;
        const labels: Record<string, string> = { ...e.labels };
        if (change.value === null) delete labels[change.key];
        else labels[change.key] = change.value;
        return { ...e, labels };
      }),
    };
  }
  return {
    ...snapshot,
    policies: snapshot.policies.map((p): Policy => {
      if (p.id !== change.policy) return p;
      if (change.kind === 'reorder') {
        const { order: _order, ...rest } = p;
        return change.order === null ? rest : { ...rest, order: change.order };
      }
      const list = change.direction === 'ingress' ? p.ingress : p.egress;
      const next = change.kind === 'add-rule' ? [...list.slice(0, change.index), change.rule, ...list.slice(change.index)] : list.filter((_, i) => i !== change.index);
      return change.direction === 'ingress' ? { ...p, ingress: next } : { ...p, egress: next };
    }),
  };
}
