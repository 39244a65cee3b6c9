/**
 * @gingham/dataplane-ebpf: the policy compiler of the eBPF dataplane (Engine dataplane state ->
 * flat lookup tables, as an ordered, gap-free diff of map writes), the byte layouts the C
 * datapath mirrors, a simulator of the datapath's lookups, and `createEbpfDataplane` (the
 * `Dataplane` that fills the maps and attaches the tc program; `gingham enforce --dataplane
 * ebpf`). See docs/ebpf-datapath.md.
 */
export { compile, emptyTables, policyNames, type CompileResult, type CompilerMemory, type HostFacts, type HostInterface, type Tables } from './compile/index.js';
export { simulate, type Packet, type SimContext, type SimDirectionVerdict, type SimVerdict } from './simulate.js';
export * from './wire.js';
export * from './dataplane/index.js';
export { EBPF_ENFORCE_HELP, runEbpfEnforceCommand, type EbpfEnforceIo } from './enforce.js';
export * from './datapath.js';
export * from './packet.js';
export { createEbpfFlowSource, type EbpfFlowSource, type EbpfFlowSourceOptions } from './flow-source.js';
