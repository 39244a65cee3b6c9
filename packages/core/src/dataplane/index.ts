/**
 * The dataplane contract (messages every dataplane consumes), the do-nothing and recording
 * dataplanes, and the model dataplane that interprets recorded state. See
 * docs/dataplane-contract.md.
 */
export type {
  CompiledPolicy,
  CompiledProfile,
  CompiledRule,
  CompiledSide,
  Dataplane,
  DataplaneMessage,
  DataplaneMessageKind,
  FailsafeEntry,
  HostEndpointBinding,
  HostEndpointState,
  HostMetadataState,
  IpSetType,
  PortRange,
  TierRef,
  WorkloadEndpointState,
} from './messages.js';
export {
  applyMessage,
  canonicalDataplaneState,
  emptyDataplaneState,
  endpointPolicyIds,
  NoopDataplane,
  RecordingDataplane,
  ruleIpSetIds,
  type DataplaneState,
  type IpSetState,
  type RecordingDataplaneOptions,
} from './recording-dataplane.js';
export { modelVerdict, protoText, type ModelDirectionVerdict, type ModelOptions, type ModelVerdict } from './model-dataplane.js';
export { bindHostEndpoints, type BindHostEndpointsOptions, type HostEndpointBindings, type HostLink } from './host-endpoint-bindings.js';
