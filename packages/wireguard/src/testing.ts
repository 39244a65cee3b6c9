/**
 * @gingham/wireguard/testing: what this package's tests, the CLI's `gingham wireguard` tests and
 * the agent's need to exercise WireGuard: a three-node topology in network namespaces (underlay
 * bridge, pods behind nodes, real TCP transfers), a capability probe for kernel suites, a
 * recording command runner and a fake /proc for ownership checks. Test code: never for production.
 */
export { probeKernelCapabilities, type KernelCapabilities } from './testing/capabilities.js';
export {
  createTopology,
  killWireguardGo,
  nsExec,
  ProcessTracker,
  run,
  sh,
  tcpTransfer,
  type RunResult,
  type Topology,
  type TopologyOptions,
  type TopoNode,
  type TopoPod,
} from './testing/topology.js';
export { fakeHost, recordingRunner, removeFakeHosts, type FakeHost, type RecordingRunner, type Responder } from './testing/fakes.js';
