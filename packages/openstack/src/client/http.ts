/**
 * One JSON request to an OpenStack API with a timeout and an outer abort signal, turning every
 * failure into a typed error: unreachable (connection, DNS, timeout), HTTP status, or a 2xx body
 * that is not JSON. Never retries (callers decide) and never logs credentials: request bodies
 * are not part of any error.
 */
import { OpenStackError, OpenStackHttpError } from '../errors.js';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly json: unknown;
}

/** Sends the request; resolves for 2xx with the parsed body, throws `OpenStackError` otherwise. */
export async function requestJson(fetchFn: FetchLike, req: HttpRequest, authFailure = false): Promise<HttpResponse> {
  const signals = [AbortSignal.timeout(req.timeoutMs), ...(req.signal ? [req.signal] : [])];
  let res: Response;
  let text: string;
  try {
    res = await fetchFn(req.url, {
      method: req.method,
      headers: { accept: 'application/json', ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}), ...req.headers },
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
      signal: AbortSignal.any(signals),
    });
    text = await res.text();
  } catch (e) {
    const err = e as Error;
    const why = err.name === 'TimeoutError' ? `no answer within ${req.timeoutMs} ms` : err.name === 'AbortError' ? 'aborted' : describeNetworkError(err);
    throw new OpenStackError('OPENSTACK_UNREACHABLE', `${req.method} ${req.url}: ${why}`, { cause: e });
  }
  if (res.status < 200 || res.status > 299) {
    throw new OpenStackHttpError(authFailure && (res.status === 401 || res.status === 403 || res.status === 400) ? 'OPENSTACK_AUTH_FAILED' : 'OPENSTACK_HTTP', req.method, req.url, res.status, text);
  }
  let json: unknown = undefined;
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new OpenStackError('OPENSTACK_BAD_RESPONSE', `${req.method} ${req.url}: the body is not JSON (${(e as Error).message})`, { cause: e });
    }
  }
  return { status: res.status, headers: res.headers, json };
}

function describeNetworkError(err: Error): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return err.message;
}

/** Joins a base URL and a path with exactly one slash. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
