/** Programmatic entry to the `gingham` command, for embedding and tests. */
export { runCli, type RunCliOptions } from './cli.js';
export { UsageError, createProcessIo, type CliIo } from './io.js';
export { computeMatrix } from './commands/matrix.js';
export {
  DEFAULT_LOCK_WAIT_SECONDS,
  ENFORCE_DATAPLANES,
  flushNode,
  formatEbpfCleanReport,
  readEnforceInput,
  type EnforceDataplane,
  type EnforceDataplaneName,
  type EnforceFlagValues,
  type EnforceTarget,
} from './commands/enforce.js';
export { parsePortList, parseFlow, JSON_FIELDS, FLAG_FIELDS, type PortSpec, type FlowRequest, type FieldProblem, type RawFlow, type FlowFieldNames } from './flows.js';
export { readFlowEntries, type FlowEntry, type FlowsFileProblem, type ReadFlowsOptions } from './flows-file.js';
export { runDoctor, formatDoctor, type DoctorReport, type DoctorCheck, type DataplaneReport, type DataplaneName, type CheckStatus } from './doctor/doctor.js';
export { createHostProbes, type HostProbes, type BpfProbes, type ProbeResult } from './doctor/probes.js';
export { escapeText } from './term.js';
export { versionInfo, type VersionInfo } from './version.js';
