/**
 * @gingham/ebpf-loader: BPF ELF/BTF parsing into editable specs, live maps and programs over a
 * thin `bpf(2)` binding, pinning, tc/tcx attach and `BPF_PROG_TEST_RUN`. Test helpers (a scratch
 * bpffs) live in `@gingham/ebpf-loader/testing`.
 */
export { setBpfBinding, getBpfBinding, bpfBindingSource, type BpfBinding, type BpfBindingSource } from './binding.js';
export {
  BpfError, BpfSyscallError, VerifierError, NotSupportedError, errnoName, type BpfErrorCode,
} from './errors.js';
export { MAP_FLAGS, copyCollectionSpec, type CollectionSpec, type MapSpec, type ProgramSpec, type MapType, type ProgramType } from './spec.js';
export { loadCollectionSpec } from './elf/load-spec.js';
export { parseElf, type ElfFile } from './elf/elf.js';
export { parseBtf, type Btf } from './elf/btf.js';
export { BpfMap, possibleCpus, type UpdateMode, type BatchOptions } from './map.js';
export { BpfProgram, testRun, loadBtf, type ProgramLoadOptions, type TestRunOptions, type TestRunResult } from './program.js';
export { createCollection, type Collection, type CollectionOptions } from './collection.js';
export {
  BPFFS, ensureBpffs, bpffsMounts, inspectBpffs, mountNamespaceFacts, pinObject, getPinned, pinnedObjectId, unpin,
  type BpffsInspection, type MountNamespaceFacts,
} from './pin.js';
export {
  attachTc, hasTcx, updatePinnedTcxLink, pinnedTcxLinkInfo, programId, detachPinnedTcxLink, detachTcFilter, queryTcx, readTcHooks, installTcFilters, removeTcFilters,
  describeTcFilter,
  type AttachTcOptions, type TcLink, type TcDirection, type TcFilterRef, type TcxQueryResult, type TcFilter, type TcHookState, type TcIntent,
  type TcFilterInstall, type InstallTcFiltersOptions, type RemoveTcFiltersOptions, type TcDetachResult,
} from './attach-tc.js';
export { probeMapType, probeProgramType } from './probe.js';
export { lpmKey, lpmKeyFromCidr, parseLpmKey } from './lpm.js';
export { RingBufReader } from './ringbuf.js';
export { withNetns, netnsPath } from './netns.js';
