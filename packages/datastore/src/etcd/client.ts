/**
 * The `etcd3` client as Calico configures its own (libcalico-go `etcdv3.go`: 10 s request
 * timeout, keepalive every 30 s with a 10 s timeout), and the mapping of its errors onto
 * DatastoreError codes. The watch stream's own reconnect is not used: the etcd source resumes
 * from the revision it really processed (see etcd-source.ts).
 */
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  GRPCUnauthenticatedError,
  type IOptions,
} from 'etcd3';
import { DatastoreError } from '../errors.js';
import type { EtcdConfig } from './config.js';

export interface EtcdClientOptions {
  /** Deadline of each request. Default 10 s (Calico's clientTimeout). */
  readonly requestTimeoutMs?: number;
  /** Connection timeout. Default 10 s. */
  readonly dialTimeoutMs?: number;
}

export function createEtcdClient(config: EtcdConfig, options: EtcdClientOptions = {}): Etcd3 {
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const opts: IOptions = {
    hosts: [...config.endpoints],
    dialTimeout: options.dialTimeoutMs ?? 10_000,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestTimeout }),
    grpcOptions: {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // A page of 500 large values (policies with thousands of rules) can exceed gRPC's 4 MiB default.
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
    },
  };
  if (config.tls) {
    // grpc-js uses the system roots when rootCertificate is null.
    opts.credentials = {
      rootCertificate: (config.tls.ca ?? null) as Buffer,
      ...(config.tls.key ? { privateKey: config.tls.key } : {}),
      ...(config.tls.cert ? { certChain: config.tls.cert } : {}),
    };
  }
  if (config.auth) opts.auth = { username: config.auth.username, password: config.auth.password };
  return new Etcd3(opts);
}

/** etcd's "required revision has been compacted" (a range or watch below the compaction). */
export function isCompactedError(err: unknown): boolean {
  return /required revision has been compacted/.test(String((err as Error)?.message ?? err));
}

/** Authentication failed, a token expired, or permission was denied. */
export function isAuthError(err: unknown): boolean {
  return (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof GRPCUnauthenticatedError ||
    /authentication failed|invalid auth token|permission denied|user name is empty/.test(String((err as Error)?.message ?? ''))
  );
}

/** A DatastoreError for an etcd3/gRPC error (`what`: the operation, for the message). */
export function toDatastoreError(err: unknown, what: string, endpoints: readonly string[]): DatastoreError {
  if (err instanceof DatastoreError) return err;
  const detail = (err as Error)?.message ?? String(err);
  if (isAuthError(err)) {
    return new DatastoreError('DS_AUTH', `${what}: etcd refused the credentials or the permission (${detail}); check the username/password or client certificate`, { cause: err });
  }
  if (/request is too large/.test(detail)) {
    return new DatastoreError('DS_INVALID', `${what}: the value is larger than etcd accepts (its --max-request-bytes)`, { cause: err });
  }
  // cockatiel's open circuit breaker (etcd3 stops calling a host after 3 failures in a row, for 5 s).
  const unreachable = err instanceof Error && 'isBrokenCircuitError' in err ? 'etcd did not answer several requests in a row' : detail;
  return new DatastoreError('DS_UNAVAILABLE', `${what}: cannot reach etcd at ${endpoints.join(',')} (${unreachable})`, { cause: err });
}
