/**
 * The agent's two local HTTP servers: health (`/livez`, `/readyz`, Felix's `/liveness` and
 * `/readiness`, and `/status` for `gingham agent status`) and Prometheus `/metrics`, each on its
 * own host and port (0 = off). 200 when good, 503 when not, with a JSON body saying why. With
 * flow logs on, the health server also streams `/flows` (it listens on 127.0.0.1 by default, and
 * flow records name every workload and who talks to whom). Read only: nothing served here
 * changes the agent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Route {
  (req: IncomingMessage): Promise<{ status: number; body: string; contentType?: string }> | { status: number; body: string; contentType?: string };
}

export interface LocalServer {
  /** The port actually bound (useful with port 0 in tests… here 0 means off, so always the given one). */
  readonly port: number;
  close(): Promise<void>;
}

/** A handler that answers some paths itself, streaming (the flow collector's `/flows`); false: not its path. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Listens on `host:port` and serves `routes` (GET and HEAD only), and what `raw` takes. */
export async function startLocalServer(host: string, port: number, routes: Readonly<Record<string, Route>>, raw?: RawHandler): Promise<LocalServer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (raw?.(req, res)) return;
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; try ${Object.keys(routes).join(', ')}\n`);
      return;
    }
    Promise.resolve()
      .then(() => route(req))
      .then(
        (r) => {
          res.writeHead(r.status, { 'content-type': r.contentType ?? 'application/json', 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : r.body);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`);
        },
      );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
