/**
 * Typed errors of the eBPF dataplane: every error is a `GinghamError` with a stable `code`.
 * Kernel failures surface as `@gingham/ebpf-loader` errors (`BpfError`: `BPF_SYSCALL`,
 * `BPF_VERIFIER` with the verifier log, `BPF_ATTACH`, `BPF_NOT_SUPPORTED`) and are not wrapped.
 */
import { GinghamError } from '@gingham/core';

export type EbpfDataplaneErrorCode =
  /** An option is malformed (name, bpffs path, mode). */
  | 'EBPF_INVALID_ARGUMENT'
  /** A batch broke the dataplane contract (a reference to a missing set/policy/profile, a deletion of something referenced). */
  | 'EBPF_CONTRACT_VIOLATION'
  /** The compiled datapath object (`bpf/gingham.bpf.o`) is missing or lacks the program or a map. */
  | 'EBPF_OBJECT_INVALID'
  /** The dataplane was used after `close()` or `clean()`. */
  | 'EBPF_CLOSED'
  /** A helper command (`ip -j addr show` in the namespace) printed something unreadable. */
  | 'EBPF_COMMAND_FAILED';

export class EbpfDataplaneError extends GinghamError {
  declare readonly code: EbpfDataplaneErrorCode;
  /** What was offending: the violations of a batch, the object path, the option value. */
  readonly detail: readonly string[];

  constructor(code: EbpfDataplaneErrorCode, message: string, options?: { cause?: unknown; detail?: readonly string[] }) {
    super(code, message, options);
    this.detail = options?.detail ?? [];
  }
}
