/**
 * Typed errors of `@gingham/datastore`. Every error is a `GinghamError` (message prefix
 * `gingham: `) with a stable `code`; callers branch on the code, never on the text.
 */
import { GinghamError, type Issue } from '@gingham/core';

export type DatastoreErrorCode =
  /** create: a resource with this key exists already. */
  | 'DS_ALREADY_EXISTS'
  /** get/update/delete: no resource with this key. */
  | 'DS_NOT_FOUND'
  /** update/delete: the resourceVersion given is not the stored one (compare-and-swap failed). */
  | 'DS_CONFLICT'
  /** The resource fails validation; `issues` say where and why. Nothing was written. */
  | 'DS_INVALID'
  /** The kind cannot be stored in this datastore, or the operation is not allowed on it. */
  | 'DS_NOT_SUPPORTED'
  /** Refused for a reason of the stored data: a missing tier, a tier still in use, the default tier. */
  | 'DS_REFUSED'
  /** The datastore cannot be reached (connection refused, timeout, TLS handshake). */
  | 'DS_UNAVAILABLE'
  /** Authentication failed or permission denied. */
  | 'DS_AUTH'
  /** The connection settings are wrong or incomplete (endpoints, TLS files, config file). */
  | 'DS_CONFIG'
  /** A stored value cannot be read (not JSON, or not a resource). */
  | 'DS_CORRUPT'
  /** The directory datastore's write lock is held by another live process. */
  | 'DS_LOCKED'
  /** The datastore is closed. */
  | 'DS_CLOSED';

export class DatastoreError extends GinghamError {
  declare readonly code: DatastoreErrorCode;
  /** Validation issues (DS_INVALID), with file:line:col when the resource came from text. */
  readonly issues: readonly Issue[];

  constructor(code: DatastoreErrorCode, message: string, options?: { cause?: unknown; issues?: readonly Issue[] }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.issues = options?.issues ?? [];
  }
}

/** Whether `err` is a `DatastoreError` with one of `codes`. */
export function isDatastoreError(err: unknown, ...codes: DatastoreErrorCode[]): err is DatastoreError {
  return err instanceof DatastoreError && (codes.length === 0 || codes.includes(err.code));
}
