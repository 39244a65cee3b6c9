/**
 * `@gingham/dataplane-conformance`: the one suite every dataplane runs (test-only; vitest and
 * fast-check are peers). `testDataplane(name, options)` is the entry point; the rest is the
 * namespaces, probes, cases and scenarios it is built from, for dataplane-specific and source
 * kernel tests that need real pods.
 */
export { testDataplane } from './suite/test-dataplane.js';
export type { ConformanceCapabilities, ConformanceDataplane, ConformanceEnv, EnforceCommand, EnforceMode, EnforceReportChecks, SuitePart, TestDataplaneOptions } from './suite/options.js';
export { BASE_TOOLS, detectCapabilities, requireCapabilities, type DetectCapabilitiesOptions, type KernelCapabilities } from './capabilities.js';
export { createTopology, type PodHandle, type Topology, type TopologyPod } from './topology/topology.js';
export { startOkServers, startServers, udpResponderArgv } from './topology/servers.js';
export { iperf3Gbps, type Iperf3Options } from './topology/throughput.js';
export { probeTcp, probeUdp, roundTrip, startProber, type ProbeCounts, type Prober, type ProberOptions } from './topology/probes.js';
export { CASES, loadResources, NODE, ONLY_DB_TO_WEB, podManifest, TCP_PORTS, WORLD, WORLD_PODS, type ConformanceCase, type ConformanceProbe } from './cases/cases.js';
export { FORWARD_CASES, type ForwardCase, type ForwardProbe } from './cases/forward-cases.js';
export { FLIP_PORT, FLIP_PROBES, FLIP_STATES, flipUnderProbes, type FlipProbe } from './cases/flip.js';
export { formatCell, probeCells, QUICKSTART_PORTS, quickstartExampleDir, quickstartModel, type QuickstartModel } from './cases/quickstart.js';
export { compareFlowLogResults, FLOW_LOG_CASES, normalizeFlowRecord, testFlowLogs, type FlowLogCapabilities, type FlowLogCase, type FlowLogDataplane, type FlowLogResults, type NormalizedFlowRecord } from './cases/flow-logs.js';
