/**
 * Typed errors of the eBPF dataplane: every error is a `GinghamError` with a stable `code`.
 * Kernel failures surface as `@gingham/ebpf-loader` errors (`BpfError`: `BPF_SYSCALL`,
 * `BPF_VERIFIER` with the verifier log, `BPF_ATTACH`, `BPF_NOT_SUPPORTED`) and are not wrapped,
 * except a missing privilege (`EBPF_NOT_PERMITTED`, the loader's error as `cause`). A second
 * process on the same instance gets `@gingham/host`'s `InstanceLockedError` (`INSTANCE_LOCKED`).
 */
import { GinghamError } from '@gingham/core';

export type EbpfDataplaneErrorCode =
  /** An option is malformed (name, bpffs path, mode). */
  | 'EBPF_INVALID_ARGUMENT'
  /** A batch broke the dataplane contract (a reference to a missing set/policy/profile, a deletion of something referenced). */
  | 'EBPF_CONTRACT_VIOLATION'
  /** The compiled datapath object (`bpf/gingham.bpf.o`) is missing or lacks the program or a map. */
  | 'EBPF_OBJECT_INVALID'
  /** The dataplane was used after `close()`. */
  | 'EBPF_CLOSED'
  /** A helper command (`ip -j addr show` in the namespace) printed something unreadable. */
  | 'EBPF_COMMAND_FAILED'
  /**
   * Refused before any change: pins at the bpffs would not outlive this process (a private mount
   * namespace, as `ip netns exec` makes, with no bpffs shared with a long-lived one). `detail`
   * holds the commands that fix it.
   */
  | 'EBPF_BPFFS_NOT_PERSISTENT'
  /** Refused before any change: the `bpffs` option names no bpffs (missing, or another filesystem). `detail`: the fixes. */
  | 'EBPF_BPFFS_INVALID'
  /** This process lacks CAP_BPF / CAP_NET_ADMIN (or root), or the kernel refused a bpf(2) call with EPERM/EACCES. */
  | 'EBPF_NOT_PERMITTED'
  /** A hook the program must go on holds a tc filter at our priority and handle that is not ours. */
  | 'EBPF_HOOK_TAKEN';

export class EbpfDataplaneError extends GinghamError {
  declare readonly code: EbpfDataplaneErrorCode;
  /** What was offending or what fixes it: the violations of a batch, the object path, the option value, the commands to run. */
  readonly detail: readonly string[];

  constructor(code: EbpfDataplaneErrorCode, message: string, options?: { cause?: unknown; detail?: readonly string[] }) {
    super(code, message, options);
    this.detail = options?.detail ?? [];
  }
}
