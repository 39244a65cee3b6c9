/** The eBPF dataplane (the `Dataplane` that enforces with the tc program); exported from the package index. */
export {
  createEbpfDataplane,
  type EbpfAttachment,
  type EbpfCleanReport,
  type EbpfCounter,
  type EbpfDataplane,
  type EbpfDataplaneOptions,
  type EbpfDataplaneStats,
  type EbpfEvent,
} from './dataplane.js';
export type { AttachMode, InterfaceChange } from './hooks.js';
export { EbpfDataplaneError, type EbpfDataplaneErrorCode } from './errors.js';
export type { DetachedHook, OrphanFilter } from './tc-hooks.js';
