/**
 * Typed errors of `@gingham/wireguard`. Every error is a `GinghamError` (message prefix
 * `gingham: `) with a stable `code`; callers branch on the code or the class, never on text.
 */
import { GinghamError } from '@gingham/core';

/** Stable error codes thrown by this package. */
export type WireguardErrorCode =
  /** A key is not the base64 encoding of exactly 32 bytes. */
  | 'WG_INVALID_KEY'
  /** A private key file is readable or writable by group or others. */
  | 'WG_KEY_FILE_PERMISSIONS'
  /** A key file is missing, not a regular file, or already exists when it must not. */
  | 'WG_KEY_FILE'
  /** An option or desired-state value is malformed (interface name, port, CIDR, MTU...). */
  | 'WG_INVALID_ARGUMENT'
  /** Manifests or the computed peer list have errors; nothing was changed. */
  | 'WG_INVALID_INPUT'
  /** `--node` names a node that is not in the manifests. */
  | 'WG_NODE_NOT_FOUND'
  /** The interface name's wireguard-go socket belongs to another network namespace or process. */
  | 'WG_INTERFACE_NAME_TAKEN'
  /** `down` on an interface that does not exist here. */
  | 'WG_INTERFACE_NOT_FOUND'
  /** The interface exists here but Gingham did not create it; refusing to reconfigure it. */
  | 'WG_INTERFACE_NOT_OURS'
  /** A command (`wg`, `ip`) exited non-zero. */
  | 'WG_COMMAND_FAILED'
  /** wireguard-go did not start, or exited. */
  | 'WG_DAEMON_FAILED'
  /** `wg show dump` output could not be parsed. */
  | 'WG_DUMP_PARSE'
  /** The requested implementation (kernel module, wireguard-go, a tool) is not available. */
  | 'WG_NOT_SUPPORTED';

/** Base class of every error this package throws. */
export class WireguardError extends GinghamError {
  declare readonly code: WireguardErrorCode;

  constructor(code: WireguardErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A command exited non-zero; carries the argv and its output (the offending input). */
export class CommandFailedError extends WireguardError {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;

  constructor(argv: readonly string[], result: { code: number; stdout: string; stderr: string }, options?: { cause?: unknown }) {
    const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`;
    super('WG_COMMAND_FAILED', `command failed: ${argv.join(' ')}: ${detail}`, options);
    this.argv = argv;
    this.exitCode = result.code;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

/** A kernel feature or tool is missing; says which. Tests skip on it locally, CI must not. */
export class NotSupportedError extends WireguardError {
  readonly feature: string;

  constructor(feature: string, message: string, options?: { cause?: unknown }) {
    super('WG_NOT_SUPPORTED', message, options);
    this.feature = feature;
  }
}
