/**
 * etcd's KV Range over the etcd3 client's own connections (its hosts, TLS, auth token, circuit
 * breakers and deadlines), with the request and response bytes written and read by
 * range-codec.ts instead of protobufjs: the paged lists of the etcd source and the datastore's
 * `list` take ~110k keys at a time, and etcd3's decode made two Buffers, four int64 strings and two
 * objects per key. This reaches two members etcd3 does not declare public (`kv.client`, the
 * connection pool, and its authenticator); `etcd3` is pinned to an exact version in package.json,
 * and every list in the datastore tests (TLS, user/password, token renewed across an etcd
 * restart) goes through here.
 */
import { EtcdInvalidAuthTokenError, type Etcd3 } from 'etcd3';
import { decodeRangeResponse, encodeRangeRequest, type RangeRequest, type RangeResult } from './range-codec.js';

export type { RangeKv, RangeRequest, RangeResult } from './range-codec.js';

/** The part of a grpc-js `Client` used here (etcd3's service clients are grpc-js clients). */
interface UnaryClient {
  makeUnaryRequest<Req, Res>(
    method: string,
    serialize: (req: Req) => Buffer,
    deserialize: (bytes: Buffer) => Res,
    argument: Req,
    metadata: unknown,
    options: object,
    callback: (err: Error | null, value?: Res) => void,
  ): unknown;
}

/** etcd3's connection pool, as far as it is used here. */
interface Pool {
  withConnection<R>(service: 'KV', fn: (args: { client: UnaryClient; metadata: unknown }) => Promise<R>): Promise<R>;
  readonly callOptionsFactory?: object | ((context: object) => object);
  readonly authenticator?: { invalidateMetadata(): void };
}

function poolOf(client: Etcd3): Pool {
  const pool = (client.kv as unknown as { client?: Pool }).client;
  if (!pool || typeof pool.withConnection !== 'function') throw new Error('etcd3: the KV client has no connection pool (etcd3 changed: see raw-range.ts)');
  return pool;
}

const RANGE = '/etcdserverpb.KV/Range';

/** One Range call (a range of keys at one revision), its response read by `decodeRangeResponse`. */
export async function rangeRaw(client: Etcd3, req: RangeRequest): Promise<RangeResult> {
  const pool = poolOf(client);
  const call = (): Promise<RangeResult> =>
    pool.withConnection('KV', ({ client: kv, metadata }) => {
      const factory = pool.callOptionsFactory;
      const options = typeof factory === 'function' ? factory({ service: 'KV', method: 'range', params: req, isStream: false }) : (factory ?? {});
      return new Promise<RangeResult>((resolve, reject) => {
        kv.makeUnaryRequest(RANGE, encodeRangeRequest, decodeRangeResponse, req, metadata, options, (err, res) => (err ? reject(err) : resolve(res!)));
      });
    });
  try {
    return await call();
  } catch (err) {
    // An auth token etcd no longer knows (it restarted, or the token expired): a new one, once.
    if (!(err instanceof EtcdInvalidAuthTokenError) || !pool.authenticator) throw err;
    pool.authenticator.invalidateMetadata();
    return call();
  }
}
