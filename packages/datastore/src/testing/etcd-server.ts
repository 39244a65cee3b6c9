/**
 * A real etcd for tests and benchmarks: Debian's `etcd` binary started on free loopback ports
 * with its own temporary data directory, optionally with TLS (client certificates) and
 * user/password auth. It can be stopped and started again on the same ports and data (an
 * outage), killed, compacted, and is always stopped by PID and its directory removed by
 * `close()`. It must never touch an etcd it did not start: no fixed ports, no shared paths.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files for a server with TLS, and the client side's files. */
export interface EtcdTlsFiles {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** Client certificate and key, signed by the same CA (CN `root`). */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

export interface StartEtcdOptions {
  /** Serve https and require client certificates signed by `tls.caFile`. */
  readonly tls?: EtcdTlsFiles;
  /** How long to wait for `/health` before giving up. Default 20 s. */
  readonly startTimeoutMs?: number;
  /** Extra etcd flags, e.g. `--auth-token-ttl=2`. */
  readonly extraArgs?: readonly string[];
}

export interface EtcdServer {
  /** `http://127.0.0.1:PORT` (or `https://…` with TLS). */
  readonly endpoint: string;
  readonly dataDir: string;
  /** PID of the running server, undefined while stopped. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); the data directory stays. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL (as a crash would); the data directory stays. */
  kill(): Promise<void>;
  /** Starts it again on the same ports with the same data. */
  start(): Promise<void>;
  /** Runs `etcdctl` against this server (with its TLS files and `--user` when given). */
  etcdctl(args: readonly string[], options?: { user?: string }): Promise<string>;
  /** The current store revision. */
  revision(options?: { user?: string }): Promise<number>;
  /** Compacts (physically) at `revision`, or at the current revision. Returns the revision compacted at. */
  compact(revision?: number, options?: { user?: string }): Promise<number>;
  /** Stops the server and removes its data directory. Idempotent. */
  close(): Promise<void>;
}

/** Whether an `etcd` binary is on PATH. */
export function findEtcdBinary(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(':')) {
    try {
      accessSync(join(dir, 'etcd'), constants.X_OK);
      return join(dir, 'etcd');
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * For `describe.skipIf(!etcdAvailable())`: true when etcd is installed. When it is missing and
 * `CI=true`, throws instead, so CI fails rather than skipping the real-etcd suites.
 */
export function etcdAvailable(): boolean {
  if (findEtcdBinary() !== undefined) return true;
  if (process.env['CI'] === 'true') {
    throw new Error('etcd is not installed but CI=true: install the Debian package etcd-server (scripts/system-packages.txt)');
  }
  return false;
}

/** A free TCP port on 127.0.0.1 (bound and released; etcd binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function run(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { env: env ?? process.env, timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a fresh etcd. Always `close()` it (in `afterAll`), even when a test fails. */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const binary = findEtcdBinary();
  if (!binary) throw new Error('etcd is not installed (Debian package etcd-server)');
  const dataDir = await mkdtemp(join(tmpdir(), 'gingham-etcd-'));
  const tls = options.tls;
  const scheme = tls ? 'https' : 'http';
  let clientPort = 0;
  let peerPort = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let closed = false;
  let log = '';

  const endpointOf = () => `${scheme}://127.0.0.1:${clientPort}`;
  const args = () => [
    '--name=gingham-test',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${endpointOf()}`,
    `--advertise-client-urls=${endpointOf()}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=gingham-test=http://127.0.0.1:${peerPort}`,
    '--initial-cluster-state=new',
    '--logger=zap',
    '--log-level=error',
    ...(tls ? [`--cert-file=${tls.serverCertFile}`, `--key-file=${tls.serverKeyFile}`, `--trusted-ca-file=${tls.caFile}`, '--client-cert-auth'] : []),
    ...(options.extraArgs ?? []),
  ];

  const healthy = (): Promise<boolean> =>
    new Promise((resolve) => {
      const url = `${endpointOf()}/health`;
      const done = (ok: boolean) => resolve(ok);
      const onResponse = (res: import('node:http').IncomingMessage) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => done(res.statusCode === 200 && body.includes('"health":"true"')));
      };
      const req = tls
        ? httpsRequest(url, { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile), servername: 'localhost', timeout: 1000 }, onResponse)
        : httpRequest(url, { timeout: 1000 }, onResponse);
      req.on('error', () => done(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });

  const launch = async (): Promise<void> => {
    log = '';
    const proc = spawn(binary, args(), { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (c: Buffer) => {
      log = (log + c.toString()).slice(-8192);
    });
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`etcd exited during start (${proc.exitCode ?? proc.signalCode}): ${log.trim()}`);
      if (await healthy()) return;
      await sleep(50);
    }
    proc.kill('SIGKILL');
    await exited;
    throw new Error(`etcd did not become healthy within ${options.startTimeoutMs ?? 20_000} ms: ${log.trim()}`);
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      child = undefined;
      return;
    }
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    child = undefined;
  };

  const ctlBase = (user?: string): string[] => [
    `--endpoints=${endpointOf()}`,
    '--command-timeout=20s',
    ...(tls ? [`--cacert=${tls.caFile}`, `--cert=${tls.clientCertFile}`, `--key=${tls.clientKeyFile}`] : []),
    ...(user ? [`--user=${user}`] : []),
  ];

  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);

  // Ports can be taken between picking and binding: try a few pairs.
  for (let attempt = 0; ; attempt++) {
    clientPort = await freePort();
    peerPort = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      await stopWith('SIGKILL');
      if (attempt >= 3 || !/address already in use/.test(String(err))) {
        process.removeListener('exit', onExit);
        await rm(dataDir, { recursive: true, force: true });
        throw err;
      }
      await rm(dataDir, { recursive: true, force: true });
      await mkdir(dataDir, { recursive: true });
    }
  }

  const server: EtcdServer = {
    get endpoint() {
      return endpointOf();
    },
    dataDir,
    get pid() {
      return child?.pid;
    },
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    async start() {
      if (closed) throw new Error('etcd test server is closed');
      if (child) return;
      await launch();
    },
    etcdctl: (ctlArgs, o) => run('etcdctl', [...ctlBase(o?.user), ...ctlArgs], { ...process.env, ETCDCTL_API: '3' }),
    async revision(o) {
      const out = await server.etcdctl(['endpoint', 'status', '-w', 'json'], o);
      const parsed = JSON.parse(out) as { Status: { header: { revision: number } } }[];
      const rev = parsed[0]?.Status.header.revision;
      if (typeof rev !== 'number') throw new Error(`unexpected etcdctl endpoint status output: ${out}`);
      return rev;
    },
    async compact(revision, o) {
      const rev = revision ?? (await server.revision(o));
      try {
        await server.etcdctl(['compact', String(rev), '--physical'], o);
      } catch (err) {
        // Compacted there already (no write since the last compaction): nothing to do.
        if (!/required revision has been compacted/.test(String(err))) throw err;
      }
      return rev;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await stopWith('SIGTERM');
      } finally {
        process.removeListener('exit', onExit);
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
  return server;
}

/**
 * Generates a throw-away PKI with `openssl` in `dir`: a CA, a server certificate for
 * 127.0.0.1/localhost and a client certificate with CN `clientName` (etcd maps the CN to the
 * user when auth is enabled). Keys are EC P-256.
 */
export async function generateTestPki(dir: string, clientName = 'root'): Promise<EtcdTlsFiles> {
  const f = (name: string) => join(dir, name);
  const openssl = (args: string[]) => run('openssl', args);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
  await openssl(['req', '-x509', '-new', '-key', f('ca.key'), '-subj', '/CN=gingham-test-ca', '-days', '2', '-out', f('ca.crt')]);
  const leaf = async (name: string, cn: string, ext: string) => {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${name}.key`)]);
    await openssl(['req', '-new', '-key', f(`${name}.key`), '-subj', `/CN=${cn}`, '-out', f(`${name}.csr`)]);
    await writeFile(f(`${name}.ext`), ext);
    await openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`)]);
  };
  await leaf('server', 'gingham-test-etcd', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await leaf('client', clientName, 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: f('ca.crt'),
    serverCertFile: f('server.crt'),
    serverKeyFile: f('server.key'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
  };
}
