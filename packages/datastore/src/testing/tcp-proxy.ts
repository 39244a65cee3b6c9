/**
 * A loopback TCP proxy that a test can cut and restore, to disconnect one client from a
 * server that keeps running (other clients keep writing, the server can compact meanwhile).
 * Listens on 127.0.0.1 only and forwards to a 127.0.0.1 target; `close()` ends everything.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** `127.0.0.1:PORT` to connect to instead of the target. */
  readonly address: string;
  readonly port: number;
  /** Drops every open connection and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let open = true;
  // No Nagle on either leg: a small write held back until the peer's delayed ACK (40 ms on
  // Linux) would add a latency the direct connection does not have (etcd and grpc-js both set
  // TCP_NODELAY).
  const server = createServer({ noDelay: true }, (client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect({ port: targetPort, host: '127.0.0.1', noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || !address) return reject(new Error('proxy has no address'));
      resolve({
        address: `127.0.0.1:${address.port}`,
        port: address.port,
        cut() {
          open = false;
          for (const s of sockets) s.destroy();
          sockets.clear();
        },
        restore() {
          open = true;
        },
        close() {
          open = false;
          for (const s of sockets) s.destroy();
          sockets.clear();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}
