/**
 * `NoopDataplane` (accepts everything, keeps nothing) and `RecordingDataplane` (keeps the
 * state the messages describe, the batches, and every contract violation it observes: a
 * reference to something missing, or a deletion of something still referenced). Tests and the
 * model dataplane read its state; it must never fix up a violation silently.
 */
import type {
  CompiledPolicy,
  CompiledProfile,
  CompiledRule,
  Dataplane,
  DataplaneMessage,
  HostEndpointState,
  HostMetadataState,
  IpSetType,
  TierRef,
  WorkloadEndpointState,
} from './messages.js';

/** A dataplane that ignores every message. */
export class NoopDataplane implements Dataplane {
  apply(_messages: readonly DataplaneMessage[]): void {}
}

export interface IpSetState {
  readonly type: IpSetType;
  readonly members: Set<string>;
}

/** What a dataplane holds after applying a message stream. */
export interface DataplaneState {
  readonly ipSets: Map<string, IpSetState>;
  readonly policies: Map<string, CompiledPolicy>;
  readonly profiles: Map<string, CompiledProfile>;
  readonly workloadEndpoints: Map<string, WorkloadEndpointState>;
  readonly hostEndpoints: Map<string, HostEndpointState>;
  readonly hosts: Map<string, HostMetadataState>;
  inSync: boolean;
}

export function emptyDataplaneState(): DataplaneState {
  return {
    ipSets: new Map(),
    policies: new Map(),
    profiles: new Map(),
    workloadEndpoints: new Map(),
    hostEndpoints: new Map(),
    hosts: new Map(),
    inSync: false,
  };
}

/** IP set ids a compiled rule list references. */
export function ruleIpSetIds(rules: readonly CompiledRule[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    for (const s of [r.source, r.destination]) {
      if (s.ipSetId !== undefined) out.push(s.ipSetId);
      if (s.notIpSetId !== undefined) out.push(s.notIpSetId);
      if (s.namedPortIpSetIds) out.push(...s.namedPortIpSetIds);
      if (s.notNamedPortIpSetIds) out.push(...s.notNamedPortIpSetIds);
    }
  }
  return out;
}

function tierPolicyIds(tiers: readonly TierRef[]): string[] {
  return tiers.flatMap((t) => t.policyIds);
}

/** Policy ids an endpoint references (every tier list, staged included). */
export function endpointPolicyIds(e: WorkloadEndpointState | HostEndpointState): string[] {
  const lists: (readonly TierRef[])[] = [e.ingressTiers, e.egressTiers];
  if ('binding' in e) {
    lists.push(e.untrackedIngressTiers, e.untrackedEgressTiers, e.preDnatIngressTiers, e.forwardIngressTiers, e.forwardEgressTiers);
  }
  return [...lists.flatMap(tierPolicyIds), ...e.stagedPolicyIds];
}

/** Applies one message to a state, returning contract violations (empty when none). */
export function applyMessage(state: DataplaneState, m: DataplaneMessage): string[] {
  const v: string[] = [];
  const endpoints = (): (WorkloadEndpointState | HostEndpointState)[] => [...state.workloadEndpoints.values(), ...state.hostEndpoints.values()];
  switch (m.kind) {
    case 'ipset-replace':
      state.ipSets.set(m.id, { type: m.type, members: new Set(m.members) });
      break;
    case 'ipset-add-members':
    case 'ipset-remove-members': {
      const s = state.ipSets.get(m.id);
      if (!s) {
        v.push(`${m.kind} on missing IP set ${m.id}`);
        break;
      }
      for (const x of m.members) {
        if (m.kind === 'ipset-add-members') s.members.add(x);
        else s.members.delete(x);
      }
      break;
    }
    case 'ipset-delete':
      for (const p of [...state.policies.values(), ...state.profiles.values()]) {
        if (ruleIpSetIds([...p.ingress, ...p.egress]).includes(m.id)) v.push(`IP set ${m.id} deleted while ${p.id} references it`);
      }
      state.ipSets.delete(m.id);
      break;
    case 'policy-upsert':
    case 'profile-upsert': {
      const p = m.kind === 'policy-upsert' ? m.policy : m.profile;
      for (const id of ruleIpSetIds([...p.ingress, ...p.egress])) if (!state.ipSets.has(id)) v.push(`${p.id} references missing IP set ${id}`);
      if (m.kind === 'policy-upsert') state.policies.set(m.policy.id, m.policy);
      else state.profiles.set(m.profile.id, m.profile);
      break;
    }
    case 'policy-remove':
      for (const e of endpoints()) if (endpointPolicyIds(e).includes(m.id)) v.push(`policy ${m.id} removed while endpoint ${e.id} references it`);
      state.policies.delete(m.id);
      break;
    case 'profile-remove':
      for (const e of endpoints()) if (e.profileIds.includes(m.id)) v.push(`profile ${m.id} removed while endpoint ${e.id} references it`);
      state.profiles.delete(m.id);
      break;
    case 'workload-endpoint-upsert':
    case 'host-endpoint-upsert': {
      const e = m.endpoint;
      for (const id of endpointPolicyIds(e)) if (!state.policies.has(id)) v.push(`endpoint ${e.id} references missing policy ${id}`);
      for (const id of e.profileIds) if (!state.profiles.has(id)) v.push(`endpoint ${e.id} references missing profile ${id}`);
      if (m.kind === 'workload-endpoint-upsert') state.workloadEndpoints.set(m.endpoint.id, m.endpoint);
      else state.hostEndpoints.set(m.endpoint.id, m.endpoint);
      break;
    }
    case 'workload-endpoint-remove':
      state.workloadEndpoints.delete(m.id);
      break;
    case 'host-endpoint-remove':
      state.hostEndpoints.delete(m.id);
      break;
    case 'host-metadata-upsert':
      state.hosts.set(m.host.node, m.host);
      break;
    case 'host-metadata-remove':
      state.hosts.delete(m.node);
      break;
    case 'in-sync':
      state.inSync = true;
      break;
  }
  return v;
}

export interface RecordingDataplaneOptions {
  /** Keep every batch in `batches` (default true). */
  readonly keepBatches?: boolean;
}

/**
 * Applies messages to an in-memory state and records batches and contract violations.
 * `violations` stays empty for a correct message stream.
 */
export class RecordingDataplane implements Dataplane {
  readonly state: DataplaneState = emptyDataplaneState();
  readonly batches: (readonly DataplaneMessage[])[] = [];
  readonly violations: string[] = [];
  private readonly keep: boolean;

  constructor(options: RecordingDataplaneOptions = {}) {
    this.keep = options.keepBatches ?? true;
  }

  apply(messages: readonly DataplaneMessage[]): void {
    if (this.keep) this.batches.push(messages);
    for (const m of messages) this.violations.push(...applyMessage(this.state, m));
  }

  /** Every message applied so far, in order (needs `keepBatches`). */
  messages(): DataplaneMessage[] {
    return this.batches.flat();
  }
}

/** A canonical, JSON-comparable form of a state (maps sorted by key, IP set members sorted). */
export function canonicalDataplaneState(state: DataplaneState): unknown {
  const sortedEntries = <V, W>(m: Map<string, V>, f: (v: V) => W): [string, W][] =>
    [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => [k, f(v)]);
  return {
    ipSets: sortedEntries(state.ipSets, (s) => ({ type: s.type, members: [...s.members].sort() })),
    policies: sortedEntries(state.policies, (p) => p),
    profiles: sortedEntries(state.profiles, (p) => p),
    workloadEndpoints: sortedEntries(state.workloadEndpoints, (e) => e),
    hostEndpoints: sortedEntries(state.hostEndpoints, (e) => e),
    hosts: sortedEntries(state.hosts, (h) => h),
    inSync: state.inSync,
  };
}
