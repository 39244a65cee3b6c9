/**
 * Typed errors of `@gingham/openstack`. Every error is a `GinghamError` (message prefix
 * `gingham: `) with a stable `code`; callers branch on the code, never on the text.
 */
import { GinghamError } from '@gingham/core';

export type OpenStackErrorCode =
  /** Keystone refused the credentials (401) or the request (400/403): an operator must act. */
  | 'OPENSTACK_AUTH_FAILED'
  /** The token's catalog has no network endpoint for the interface and region asked for. */
  | 'OPENSTACK_NO_ENDPOINT'
  /** An API answered with an unexpected HTTP status. */
  | 'OPENSTACK_HTTP'
  /** An API could not be reached (connection refused, reset, DNS, timeout). */
  | 'OPENSTACK_UNREACHABLE'
  /** An API answered 2xx with a body that is not the documented JSON shape. */
  | 'OPENSTACK_BAD_RESPONSE'
  /** Options are malformed (missing URL, credentials, an invalid region). */
  | 'OPENSTACK_INVALID_OPTIONS'
  /** `start()` on a source that was started before. */
  | 'SOURCE_ALREADY_STARTED';

export class OpenStackError extends GinghamError {
  declare readonly code: OpenStackErrorCode;

  constructor(code: OpenStackErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** An API answered with a status that is not success; carries the method, URL and body it sent back. */
export class OpenStackHttpError extends OpenStackError {
  readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly body: string;

  constructor(code: 'OPENSTACK_HTTP' | 'OPENSTACK_AUTH_FAILED', method: string, url: string, status: number, body: string) {
    const detail = body.trim().slice(0, 300);
    super(code, `${method} ${url}: HTTP ${status}${detail ? `: ${detail}` : ''}`);
    this.status = status;
    this.method = method;
    this.url = url;
    this.body = body;
  }
}
