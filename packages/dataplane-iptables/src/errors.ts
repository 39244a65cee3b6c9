/**
 * Typed errors of `@gingham/dataplane-iptables`: every error is a `GinghamError` with a stable
 * `code`. Command failures, missing tools and missing privileges come from `@gingham/host`
 * (`CommandFailedError` with argv, stderr and the restore input; `ToolMissingError` naming the
 * Debian package; `NotPermittedError`); this module holds the dataplane's own domain errors.
 */
import { GinghamError } from '@gingham/core';

export type IptablesErrorCode =
  /** An option or a name from the state (interface, comment, prefix, mask) is malformed. */
  | 'IPTABLES_INVALID_ARGUMENT'
  /** A read-back command printed something we cannot parse. */
  | 'IPTABLES_COMMAND_FAILED'
  /** A batch breaks the dataplane contract (a member delta for an unknown set, a reference to a missing set, policy or profile); nothing was written. */
  | 'IPTABLES_CONTRACT_VIOLATION'
  /** The dataplane was closed. */
  | 'IPTABLES_CLOSED'
  /** The flow source cannot read the kernel (NFLOG bind refused, conntrack accounting or dump failed). */
  | 'IPTABLES_FLOW_SOURCE';

export class IptablesError extends GinghamError {
  declare readonly code: IptablesErrorCode;
  /** The contract violations of a rejected batch (`IPTABLES_CONTRACT_VIOLATION`). */
  readonly violations?: readonly string[];
  constructor(code: IptablesErrorCode, message: string, options?: { cause?: unknown; violations?: readonly string[] }) {
    super(code, message, options);
    if (options?.violations) this.violations = options.violations;
  }
}
