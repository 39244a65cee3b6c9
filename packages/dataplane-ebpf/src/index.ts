/**
 * @gingham/dataplane-ebpf: the policy compiler of the eBPF dataplane (Engine dataplane state ->
 * flat lookup tables, as an ordered, gap-free diff of map writes), the byte layouts the C
 * datapath mirrors, and a simulator of the datapath's lookups. See docs/ebpf-datapath.md.
 */
export { compile, emptyTables, policyNames, type CompileResult, type CompilerMemory, type Tables } from './compile/index.js';
export { simulate, type Packet, type SimDirectionVerdict, type SimVerdict } from './simulate.js';
export * from './wire.js';
