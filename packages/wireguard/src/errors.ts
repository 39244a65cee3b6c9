/**
 * Typed errors of `@gingham/wireguard`: its own domain (keys, desired state, interface ownership,
 * wireguard-go, UAPI). Every error is a `GinghamError` (message prefix `gingham: `) with a stable
 * `code`; callers branch on the code or the class, never on text. Commands that fail, tools that
 * are missing and kernel features that are absent are `@gingham/host`'s errors
 * (`CommandFailedError` COMMAND_FAILED, `ToolMissingError` TOOL_MISSING, `NotPermittedError`
 * NOT_PERMITTED, `NotSupportedError` NOT_SUPPORTED), the same for every adapter.
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
  /** A request on wireguard-go's UAPI socket failed (unreachable, no reply, errno not 0). */
  | 'WG_COMMAND_FAILED'
  /** wireguard-go did not start, or exited. */
  | 'WG_DAEMON_FAILED'
  /** `wg show dump` output or a UAPI reply could not be parsed. */
  | 'WG_DUMP_PARSE';

/** Base class of this package's own errors. */
export class WireguardError extends GinghamError {
  declare readonly code: WireguardErrorCode;

  constructor(code: WireguardErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
