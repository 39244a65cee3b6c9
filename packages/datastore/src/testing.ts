/**
 * Test helpers of `@gingham/datastore` (not for production): a real etcd started on free
 * loopback ports with its own data directory, and a throw-away PKI for TLS tests.
 */
export { etcdAvailable, findEtcdBinary, freePort, generateTestPki, startEtcd, type EtcdServer, type EtcdTlsFiles, type StartEtcdOptions } from './testing/etcd-server.js';
export { startTcpProxy, type TcpProxy } from './testing/tcp-proxy.js';
