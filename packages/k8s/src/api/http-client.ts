/**
 * A small HTTP client for the Kubernetes API on top of `@kubernetes/client-node`'s `KubeConfig`
 * (kubeconfig files, in-cluster service-account tokens, client certificates, exec and OIDC
 * credential plugins, proxies): JSON requests and watch streams of newline-delimited events.
 *
 * Why not the client's own `Watch`/`ListWatch` (1.4): they cannot be aborted before the response
 * headers arrive (a request that hangs there hangs forever), drop malformed events silently, lose
 * the `Status` body of an error, request no bookmarks, and the informer caches whole objects with
 * no transform. The supervisor (`../informer/informer.ts`) needs each of those, so the streams are
 * read here and every failure surfaces as a typed `KubernetesError`.
 *
 * Never retries: retry policy (backoff, relist, watchdog) is the informer's.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { codeForStatus, KubernetesError } from '../errors.js';

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  /** A JSON body (serialized here). */
  readonly body?: unknown;
  /** The body's content type (`application/merge-patch+json` for patches); JSON by default. */
  readonly contentType?: string;
  /** Fail with `K8S_TIMEOUT` when the connection is silent this long (default 60 s). */
  readonly idleTimeoutMs?: number;
}

export interface WatchEvent {
  /** `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`. */
  readonly type: string;
  readonly object: Record<string, unknown>;
}

export interface WatchHandlers {
  /** The response headers arrived with 200: the watch is established. */
  connected?(): void;
  event(event: WatchEvent): void;
  /** The stream ended: gracefully (no argument) or with an error. Called at most once, never after `abort()`. */
  end(error?: KubernetesError): void;
}

export interface WatchHandle {
  /** Closes the stream; no handler is called afterwards. */
  abort(): void;
}

export interface ApiClient {
  /** The API server URL of the current context. */
  readonly server: string;
  /** One request; resolves with the parsed JSON body, rejects with a `KubernetesError`. */
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** Opens a watch (`watch=true` is added to `query`). */
  watch(path: string, query: Query, handlers: WatchHandlers): WatchHandle;
  /** Closes idle keep-alive connections. */
  close(): void;
}

export const DEFAULT_REQUEST_IDLE_TIMEOUT_MS = 60_000;

/** An API client for the current context of `kubeConfig`. */
export function createApiClient(kubeConfig: KubeConfig): ApiClient {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new KubernetesError('K8S_CONFIG', 'the kubeconfig has no current cluster (set current-context)');
  const server = cluster.server.replace(/\/+$/, '');
  // Keep-alive connections (a TLS handshake per list page or re-watch is the dominant cost),
  // one agent per set of TLS material so rotated certificates take effect. With a proxy the
  // kubeconfig's own agent is used as is.
  const agents = new Map<string, http.Agent>();
  const keepAlive = (options: https.RequestOptions, secure: boolean): http.Agent => {
    const tls = [options.ca, options.cert, options.key, options.pfx, options.passphrase, options.rejectUnauthorized, options.servername].map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v))).join('|');
    let agent = agents.get(tls);
    if (!agent) {
      if (agents.size >= 4) {
        for (const a of agents.values()) a.destroy();
        agents.clear();
      }
      const common = { keepAlive: true, keepAliveMsecs: 30_000, scheduling: 'lifo' as const };
      agent = secure
        ? new https.Agent({
            ...common,
            ...(options.ca !== undefined ? { ca: options.ca } : {}),
            ...(options.cert !== undefined ? { cert: options.cert } : {}),
            ...(options.key !== undefined ? { key: options.key } : {}),
            ...(options.pfx !== undefined ? { pfx: options.pfx } : {}),
            ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
            ...(options.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.rejectUnauthorized } : {}),
            ...(options.servername !== undefined ? { servername: options.servername } : {}),
          })
        : new http.Agent(common);
      agents.set(tls, agent);
    }
    return agent;
  };

  async function prepare(method: string, path: string, query: Query | undefined, headers: Record<string, string>): Promise<{ url: URL; options: https.RequestOptions }> {
    const url = new URL(server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const options: https.RequestOptions = { method, headers: { Accept: 'application/json', ...headers } };
    try {
      await kubeConfig.applyToHTTPSOptions(options);
    } catch (cause) {
      throw new KubernetesError('K8S_CONFIG', `cannot prepare credentials for ${server}: ${(cause as Error).message}`, { cause });
    }
    if (!cluster!.proxyUrl) {
      (options.agent as http.Agent | undefined)?.destroy();
      options.agent = keepAlive(options, url.protocol === 'https:');
    }
    return { url, options };
  }

  function send(url: URL, options: https.RequestOptions): http.ClientRequest {
    return url.protocol === 'http:' ? http.request(url, options) : https.request(url, options);
  }

  return {
    server,
    close() {
      for (const a of agents.values()) a.destroy();
      agents.clear();
    },
    async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
      const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      const headers: Record<string, string> = body ? { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': String(body.length) } : {};
      const { url, options: reqOptions } = await prepare(method, path, options.query, headers);
      const what = `${method} ${url.pathname}${url.search}`;
      return new Promise<T>((resolve, reject) => {
        const req = send(url, reqOptions);
        req.setTimeout(options.idleTimeoutMs ?? DEFAULT_REQUEST_IDLE_TIMEOUT_MS, () =>
          req.destroy(new KubernetesError('K8S_TIMEOUT', `${what}: no answer from ${server} for ${options.idleTimeoutMs ?? DEFAULT_REQUEST_IDLE_TIMEOUT_MS} ms`)),
        );
        req.on('error', (e) => reject(asKubernetesError(e, what)));
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(asKubernetesError(e, what)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              reject(statusError(status, text, what));
              return;
            }
            try {
              resolve(JSON.parse(text) as T);
            } catch (cause) {
              reject(new KubernetesError('K8S_PROTOCOL', `${what}: the answer is not JSON`, { cause, status }));
            }
          });
        });
        req.end(body);
      });
    },

    watch(path, query, handlers) {
      let done = false;
      let req: http.ClientRequest | undefined;
      const finish = (error?: KubernetesError): void => {
        if (done) return;
        done = true;
        req?.destroy();
        handlers.end(error);
      };
      const what = `watch ${path}`;
      prepare('GET', path, { ...query, watch: 'true' }, {}).then(
        ({ url, options }) => {
          if (done) return;
          req = send(url, options);
          req.on('error', (e) => finish(asKubernetesError(e, what)));
          req.on('response', (res) => {
            const status = res.statusCode ?? 0;
            if (status !== 200) {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('error', (e) => finish(asKubernetesError(e, what)));
              res.on('end', () => finish(statusError(status, Buffer.concat(chunks).toString('utf8'), what)));
              return;
            }
            if (done) return;
            handlers.connected?.();
            res.setEncoding('utf8');
            let pending = '';
            res.on('data', (chunk: string) => {
              pending += chunk;
              let nl: number;
              while (!done && (nl = pending.indexOf('\n')) !== -1) {
                const line = pending.slice(0, nl).trim();
                pending = pending.slice(nl + 1);
                if (line === '') continue;
                let event: WatchEvent;
                try {
                  event = JSON.parse(line) as WatchEvent;
                } catch (cause) {
                  finish(new KubernetesError('K8S_PROTOCOL', `${what}: a watch event is not JSON: ${line.slice(0, 120)}`, { cause }));
                  return;
                }
                if (typeof event?.type !== 'string' || event.object === null || typeof event.object !== 'object') {
                  finish(new KubernetesError('K8S_PROTOCOL', `${what}: a watch event has no type or object: ${line.slice(0, 120)}`));
                  return;
                }
                handlers.event(event);
              }
            });
            // A reset or an abrupt close ends the response without 'end': 'aborted'/'close' or 'error'.
            res.on('error', (e) => finish(asKubernetesError(e, what)));
            res.on('aborted', () => finish(new KubernetesError('K8S_UNREACHABLE', `${what}: the connection was closed mid-stream`)));
            res.on('end', () => {
              if (!res.complete) finish(new KubernetesError('K8S_UNREACHABLE', `${what}: the connection was closed mid-stream`));
              else finish();
            });
            res.on('close', () => {
              if (!res.complete) finish(new KubernetesError('K8S_UNREACHABLE', `${what}: the connection was closed mid-stream`));
            });
          });
          req.end();
        },
        (e: unknown) => finish(e instanceof KubernetesError ? e : asKubernetesError(e, what)),
      );
      return {
        abort() {
          done = true;
          req?.destroy();
        },
      };
    },
  };
}

/** A `KubernetesError` from an HTTP status and the `Status` body the server sent. */
export function statusError(status: number, body: string, what: string): KubernetesError {
  let reason: string | undefined;
  let message: string | undefined;
  try {
    const s = JSON.parse(body) as { reason?: unknown; message?: unknown };
    if (typeof s.reason === 'string') reason = s.reason;
    if (typeof s.message === 'string') message = s.message;
  } catch {
    // Not a Status: keep the HTTP status only.
  }
  const text = message ?? (body.trim().slice(0, 200) || http.STATUS_CODES[status] || 'error');
  return new KubernetesError(codeForStatus(status), `${what}: ${text} (HTTP ${status}${reason ? ` ${reason}` : ''})`, {
    status,
    ...(reason ? { reason } : {}),
  });
}

/** A `KubernetesError` from a `Status` object received as a watch `ERROR` event. */
export function statusObjectError(object: Record<string, unknown>, what: string): KubernetesError {
  const code = typeof object['code'] === 'number' ? (object['code'] as number) : 500;
  return statusError(code, JSON.stringify(object), what);
}

function asKubernetesError(e: unknown, what: string): KubernetesError {
  if (e instanceof KubernetesError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ? ` (${err.code})` : '';
  return new KubernetesError('K8S_UNREACHABLE', `${what}: ${err?.message ?? String(e)}${code}`, { cause: e });
}
