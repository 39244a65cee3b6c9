/**
 * Typed errors of `@gingham/dataplane-iptables`: every error is a `GinghamError` with a stable
 * `code`; command failures carry the argv, stderr and the restore input that failed.
 */
import { GinghamError } from '@gingham/core';

export type IptablesErrorCode =
  /** An option or a name from the state (interface, comment, prefix, mask) is malformed. */
  | 'IPTABLES_INVALID_ARGUMENT'
  /** `iptables-restore`, `ipset restore` or a read-back command exited non-zero. */
  | 'IPTABLES_COMMAND_FAILED';

export class IptablesError extends GinghamError {
  declare readonly code: IptablesErrorCode;
  constructor(code: IptablesErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A command exited non-zero; `input` is what was fed on stdin (the failing restore text). */
export class CommandFailedError extends IptablesError {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number,
    readonly stderr: string,
    readonly input?: string,
  ) {
    super('IPTABLES_COMMAND_FAILED', `${argv.join(' ')} exited ${exitCode}: ${stderr.trim()}`);
  }
}
