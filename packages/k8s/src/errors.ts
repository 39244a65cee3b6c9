/**
 * Typed errors of `@gingham/k8s`. Every error is a `GinghamError` (message prefix `gingham: `)
 * with a stable `code`; callers branch on the code, never on text. API errors keep the HTTP
 * status and the `Status` object's reason, as the API server sent them.
 */
import { GinghamError } from '@gingham/core';

export type KubernetesErrorCode =
  /** No usable kubeconfig: the file is missing or malformed, or it names no current cluster. */
  | 'K8S_CONFIG'
  /** The API server could not be reached, or the connection broke (reset, refused, TLS). */
  | 'K8S_UNREACHABLE'
  /** A request or a watch sent nothing for longer than allowed. */
  | 'K8S_TIMEOUT'
  /** 401: the credentials were refused. */
  | 'K8S_UNAUTHORIZED'
  /** 403: the credentials are not allowed this verb on this resource (RBAC). */
  | 'K8S_FORBIDDEN'
  /** 404: the resource, or its whole API, is not served. */
  | 'K8S_NOT_FOUND'
  /** 409: a write conflicted with another writer. */
  | 'K8S_CONFLICT'
  /** 410: the resourceVersion or continue token is older than the server keeps. */
  | 'K8S_GONE'
  /** 422 and other 4xx: the server refused the request as invalid. */
  | 'K8S_INVALID'
  /** 429 or 5xx: the server is overloaded or failing; retried with backoff. */
  | 'K8S_SERVER'
  /** The server's answer did not follow the API's shape (not JSON, no items, a malformed event). */
  | 'K8S_PROTOCOL'
  /** An argument is malformed (node name, key). */
  | 'K8S_INVALID_ARGUMENT';

export class KubernetesError extends GinghamError {
  declare readonly code: KubernetesErrorCode;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The `Status` object's `reason` (`Expired`, `Forbidden`, `NotFound`, …), when there was one. */
  readonly reason: string | undefined;

  constructor(code: KubernetesErrorCode, message: string, options: { cause?: unknown; status?: number; reason?: string } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.status = options.status;
    this.reason = options.reason;
  }
}

/** The error code for an HTTP status the API server answered with. */
export function codeForStatus(status: number): KubernetesErrorCode {
  if (status === 401) return 'K8S_UNAUTHORIZED';
  if (status === 403) return 'K8S_FORBIDDEN';
  if (status === 404) return 'K8S_NOT_FOUND';
  if (status === 409) return 'K8S_CONFLICT';
  if (status === 410) return 'K8S_GONE';
  if (status === 429 || status >= 500) return 'K8S_SERVER';
  return 'K8S_INVALID';
}

export function isKubernetesError(e: unknown, code?: KubernetesErrorCode): e is KubernetesError {
  return e instanceof KubernetesError && (code === undefined || e.code === code);
}
