/**
 * A throwaway certificate authority for the test API server: a CA, a server certificate for
 * 127.0.0.1/::1/localhost and a client certificate, made with `openssl` (Debian `openssl`) in a
 * temporary directory that is removed at once. Test code only.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  readonly caPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  /** A client certificate (CN = `clientName`) signed by the CA, for client-certificate auth. */
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
  readonly clientName: string;
}

let cached: Promise<TestCertificates> | undefined;

/** Certificates for this process (made once; every test server of the process shares the CA). */
export function testCertificates(): Promise<TestCertificates> {
  cached ??= makeCertificates().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'gingham-k8s-ca-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = async (args: string[]): Promise<void> => {
    try {
      await run('openssl', args, { cwd: dir });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT') throw new Error('gingham: the test API server needs openssl (Debian package openssl)', { cause: e });
      throw new Error(`gingham: openssl ${args[0]} failed: ${err.stderr ?? err.message}`, { cause: e });
    }
  };
  try {
    await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '7', '-subj', '/CN=gingham-test-ca']);
    await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
    await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '7', '-extfile', 'server.ext']);
    const clientName = 'system:serviceaccount:gingham:gingham-agent';
    await openssl(['req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', `/CN=${clientName}`]);
    await openssl(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '7', '-extfile', 'client.ext']);
    const read = (f: string): Promise<string> => readFile(join(dir, f), 'utf8');
    return {
      caPem: await read('ca.crt'),
      serverCertPem: await read('server.crt'),
      serverKeyPem: await read('server.key'),
      clientCertPem: await read('client.crt'),
      clientKeyPem: await read('client.key'),
      clientName,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
