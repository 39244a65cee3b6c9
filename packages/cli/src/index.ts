/** Programmatic entry to the `gingham` command, for embedding and tests. */
export { runCli } from './cli.js';
export type { CliIo } from './io.js';
export { UsageError } from './io.js';
export { computeMatrix } from './commands/matrix.js';
export { parsePortList, parseFlowsJson, type PortSpec, type FlowRequest } from './flows.js';
