/**
 * Typed errors of `@gingham/ebpf-loader`. Every error is a `BpfError` with a stable `code` and
 * the house message prefix `gingham: `; callers branch on the code or the class, never on text.
 * The loader is general-purpose and does not depend on the policy core, so `BpfError` is its own
 * base class rather than a `GinghamError`: code that handles "any Gingham error" should accept
 * any `Error` with a string `code` (as the `gingham` CLI does).
 */

/** Stable error codes thrown by this package. */
export type BpfErrorCode =
  /** A `bpf(2)` call failed; `errno`/`errnoName` say how. */
  | 'BPF_SYSCALL'
  /** The verifier rejected a program; `log` holds the verifier log. */
  | 'BPF_VERIFIER'
  /** The kernel (or this machine) lacks a feature; `feature` names it. */
  | 'BPF_NOT_SUPPORTED'
  /** The native binding could not be loaded (not built, wrong platform). */
  | 'BPF_BINDING_UNAVAILABLE'
  /** The bytes are not a valid 64-bit little-endian BPF ELF object. */
  | 'ELF_INVALID'
  /** The object uses an ELF/BTF feature this loader does not implement. */
  | 'ELF_UNSUPPORTED'
  /** BTF type information is malformed or a map definition cannot be read from it. */
  | 'BTF_INVALID'
  /** An argument is malformed (key size, CIDR, unknown map/program name, closed object...). */
  | 'BPF_INVALID_ARGUMENT'
  /** Attaching or detaching failed (interface missing, `tc` failed...). */
  | 'BPF_ATTACH';

/** Base class of every error this package throws. */
export class BpfError extends Error {
  /** Stable, machine-readable code. */
  readonly code: BpfErrorCode;

  constructor(code: BpfErrorCode, message: string, options?: { cause?: unknown }) {
    super(message.startsWith('gingham: ') ? message : `gingham: ${message}`, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A `bpf(2)` command failed with an errno. */
export class BpfSyscallError extends BpfError {
  /** Positive errno value, e.g. 2. */
  readonly errno: number;
  /** Symbolic errno, e.g. `ENOENT`. */
  readonly errnoName: string;
  /** The `bpf(2)` command name, e.g. `BPF_MAP_CREATE`. */
  readonly command: string;

  constructor(command: string, errno: number, detail?: string) {
    const name = errnoName(errno);
    super('BPF_SYSCALL', `${command} failed: ${name} (${errno})${detail ? `: ${detail}` : ''}`);
    this.errno = errno;
    this.errnoName = name;
    this.command = command;
  }
}

/** The verifier rejected a program; `log` is the full verifier log. */
export class VerifierError extends BpfError {
  readonly log: string;
  readonly errno: number;
  readonly program: string;

  constructor(program: string, errno: number, log: string) {
    const tail = log.trimEnd().split('\n').slice(-3).join(' | ');
    super('BPF_VERIFIER', `the verifier rejected program ${program} (${errnoName(errno)}): ${tail}`);
    this.log = log;
    this.errno = errno;
    this.program = program;
  }
}

/** A kernel feature is missing: `feature` says which (e.g. `map type lpm_trie`, `tcx`). */
export class NotSupportedError extends BpfError {
  readonly feature: string;

  constructor(feature: string, options?: { cause?: unknown }) {
    super('BPF_NOT_SUPPORTED', `not supported by this kernel or machine: ${feature}`, options);
    this.feature = feature;
  }
}

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 9: 'EBADF',
  11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST',
  19: 'ENODEV', 20: 'ENOTDIR', 22: 'EINVAL', 24: 'EMFILE', 28: 'ENOSPC', 34: 'ERANGE',
  38: 'ENOSYS', 67: 'ENOLINK', 95: 'EOPNOTSUPP', 524: 'ENOTSUPP',
};

/** Symbolic name of a positive errno (`E<number>` when unknown). */
export function errnoName(errno: number): string {
  return ERRNO[errno] ?? `E${errno}`;
}
