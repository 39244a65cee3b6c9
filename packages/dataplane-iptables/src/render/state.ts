/**
 * The accumulated dataplane state: messages applied in order to plain maps. Idempotent, like
 * the messages themselves. The renderer reads only this; it never sees the message stream.
 */
import type {
  CompiledPolicy,
  CompiledProfile,
  DataplaneMessage,
  HostEndpointState,
  IpSetType,
  WorkloadEndpointState,
} from '@gingham/core';

export interface IpSetEntry {
  readonly type: IpSetType;
  readonly members: Set<string>;
}

export interface IptablesState {
  readonly ipSets: Map<string, IpSetEntry>;
  readonly policies: Map<string, CompiledPolicy>;
  readonly profiles: Map<string, CompiledProfile>;
  readonly workloadEndpoints: Map<string, WorkloadEndpointState>;
  readonly hostEndpoints: Map<string, HostEndpointState>;
}

export function emptyState(): IptablesState {
  return { ipSets: new Map(), policies: new Map(), profiles: new Map(), workloadEndpoints: new Map(), hostEndpoints: new Map() };
}

/** Applies messages to `state` in place. Unknown set ids in member deltas create the set (type `nets`). */
export function applyMessages(state: IptablesState, messages: readonly DataplaneMessage[]): void {
  for (const m of messages) {
    switch (m.kind) {
      case 'ipset-replace':
        state.ipSets.set(m.id, { type: m.type, members: new Set(m.members) });
        break;
      case 'ipset-add-members':
      case 'ipset-remove-members': {
        let s = state.ipSets.get(m.id);
        if (!s) {
          s = { type: 'nets', members: new Set() };
          state.ipSets.set(m.id, s);
        }
        for (const x of m.members) {
          if (m.kind === 'ipset-add-members') s.members.add(x);
          else s.members.delete(x);
        }
        break;
      }
      case 'ipset-delete':
        state.ipSets.delete(m.id);
        break;
      case 'policy-upsert':
        state.policies.set(m.policy.id, m.policy);
        break;
      case 'policy-remove':
        state.policies.delete(m.id);
        break;
      case 'profile-upsert':
        state.profiles.set(m.profile.id, m.profile);
        break;
      case 'profile-remove':
        state.profiles.delete(m.id);
        break;
      case 'workload-endpoint-upsert':
        state.workloadEndpoints.set(m.endpoint.id, m.endpoint);
        break;
      case 'workload-endpoint-remove':
        state.workloadEndpoints.delete(m.id);
        break;
      case 'host-endpoint-upsert':
        state.hostEndpoints.set(m.endpoint.id, m.endpoint);
        break;
      case 'host-endpoint-remove':
        state.hostEndpoints.delete(m.id);
        break;
      default:
        break;
    }
  }
}
