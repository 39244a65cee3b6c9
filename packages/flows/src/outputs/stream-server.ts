/**
 * The local stream: a unix socket the collector serves (default `/run/gingham/flows.sock`, as
 * Calico's local reporter serves `/var/run/calico/flows/flows.sock`), which `gingham flows`
 * reads. A client sends one JSON line (`{"follow":true,"filter":{…}}`, see `ReaderRequest`) and
 * receives JSON lines: matching records from the history, then new windows' records while it
 * follows. The socket is 0660; a stale socket file (nobody answering) is replaced, a live one is
 * refused (`FLOWS_STREAM_FAILED`: another collector serves it). Removed on close.
 */
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { FlowsError, type FlowCollector } from '../collector.js';
import { serveReader, type ReaderRequest } from './serve.js';

export const DEFAULT_FLOWS_SOCKET = '/run/gingham/flows.sock';

export interface StreamServerOptions {
  readonly collector: FlowCollector;
  /** Default `/run/gingham/flows.sock`. */
  readonly path?: string;
  /** Most clients at once (default 16). */
  readonly maxClients?: number;
}

export interface StreamServer {
  readonly path: string;
  /** Clients connected now. */
  clients(): number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Serves the collector's records on a unix socket. */
export async function createStreamServer(options: StreamServerOptions): Promise<StreamServer> {
  const path = options.path ?? DEFAULT_FLOWS_SOCKET;
  const maxClients = options.maxClients ?? 16;
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new FlowsError('FLOWS_STREAM_FAILED', `${path} exists and is not a socket; not replacing it`);
    if (await answers(path)) throw new FlowsError('FLOWS_STREAM_FAILED', `another flow collector serves ${path}`);
    await rm(path, { force: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    if (sockets.size >= maxClients) {
      socket.end(`${JSON.stringify({ type: 'error', message: `too many readers (${maxClients})` })}\n`);
      return;
    }
    sockets.add(socket);
    let stop: (() => void) | undefined;
    let buf = '';
    socket.setEncoding('utf8');
    const onData = (chunk: string): void => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 64 * 1024) socket.destroy();
        return;
      }
      socket.off('data', onData);
      let req: ReaderRequest;
      try {
        req = JSON.parse(buf.slice(0, nl) || '{}') as ReaderRequest;
        if (typeof req !== 'object' || req === null) throw new Error('not an object');
      } catch (e) {
        socket.end(`${JSON.stringify({ type: 'error', message: `bad request: ${(e as Error).message}` })}\n`);
        return;
      }
      stop = serveReader(options.collector, req, {
        write: (t) => socket.write(t),
        buffered: () => socket.writableLength,
        end: () => socket.end(),
      });
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      stop?.();
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new FlowsError('FLOWS_STREAM_FAILED', `cannot serve ${path}: ${e.message}`, { cause: e })));
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o660);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(path, { force: true });
  };
  return { path, clients: () => sockets.size, close, [Symbol.asyncDispose]: close };
}
