/**
 * The HTTP endpoint: `GET /flows` (JSON lines; the filter as query parameters, see
 * `filterFromParams`, plus `follow=true`, `last=N`, `summaries=true`) and `GET /metrics`
 * (Prometheus text). `flowsHttpHandler` plugs into an existing server (the agent's); the
 * server this module makes listens on 127.0.0.1 unless told otherwise, because flow records
 * name every workload and who talks to whom.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FlowsError, type FlowCollector } from '../collector.js';
import { filterFromParams } from '../filter.js';
import { serveReader } from './serve.js';

/** Handles `/flows` and `/metrics`; returns false for other paths (the caller answers them). */
export function flowsHttpHandler(collector: FlowCollector): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/flows' && url.pathname !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    if (url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(req.method === 'HEAD' ? undefined : collector.metrics());
      return true;
    }
    let filter;
    try {
      filter = filterFromParams(url.searchParams);
    } catch (e) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
      return true;
    }
    const last = url.searchParams.get('last');
    const follow = url.searchParams.get('follow') === 'true';
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    const stop = serveReader(
      collector,
      { filter, follow, summaries: url.searchParams.get('summaries') === 'true', ...(last !== null && /^\d+$/.test(last) ? { last: Number(last) } : {}) },
      { write: (t) => res.write(t), buffered: () => res.writableLength, end: () => res.end() },
    );
    res.on('close', stop);
    return true;
  };
}

export interface HttpServerOptions {
  readonly collector: FlowCollector;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 9095; 0 picks a free port. */
  readonly port?: number;
}

export interface FlowHttpServer {
  readonly url: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function createFlowHttpServer(options: HttpServerOptions): Promise<FlowHttpServer> {
  const handle = flowsHttpHandler(options.collector);
  const server: Server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /flows or /metrics\n');
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new FlowsError('FLOWS_STREAM_FAILED', `cannot listen on ${host}:${options.port ?? 9095}: ${e.message}`, { cause: e })));
    server.listen(options.port ?? 9095, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`, close, [Symbol.asyncDispose]: close };
}
