/**
 * @gingham/dataplane-ebpf: the eBPF dataplane. `createEbpfDataplane` is the `Dataplane` that
 * compiles the Engine's state into flat lookup tables, fills the maps and attaches the tc
 * program; `compile` and `simulate` are its pure halves (state → tables as an ordered, gap-free
 * diff of map writes; exactly the lookups the C program does). The byte layouts, packet builders
 * and constants for driving the compiled datapath with `BPF_PROG_TEST_RUN` are in
 * `@gingham/dataplane-ebpf/testing`. See docs/ebpf-datapath.md.
 */

// The dataplane.
export {
  createEbpfDataplane,
  EbpfDataplaneError,
  type AttachMode,
  type DetachedHook,
  type EbpfAttachment,
  type EbpfCleanReport,
  type EbpfCounter,
  type EbpfDataplane,
  type EbpfDataplaneErrorCode,
  type EbpfDataplaneOptions,
  type EbpfDataplaneStats,
  type EbpfEvent,
  type InterfaceChange,
  type OrphanFilter,
} from './dataplane/index.js';
export { ACTION_ALLOW, ACTION_DENY } from './wire.js';
export {
  DATAPATH_OBJECT,
  DatapathError,
  type DatapathCounter,
  type DatapathErrorCode,
  type DatapathEvent,
} from './datapath.js';

// The compiler and the datapath simulator (pure).
export { compile, type CompileOptions, type CompileResult, type CompilerMemory, type HostFacts, type HostInterface, type Tables } from './compile/index.js';
export { simulate, type Packet, type SimContext, type SimDirectionVerdict, type SimVerdict } from './simulate.js';
export type { MapName, MapWrite, TableMaps } from './wire.js';

// Flow logs (`@gingham/flows`): the flow source of a dataplane created with flowLogs: true.
export { createEbpfFlowSource, type EbpfFlowSource, type EbpfFlowSourceOptions } from './flow-source.js';
