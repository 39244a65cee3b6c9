/**
 * Per-file real etcd for the datastore tests: started in beforeAll on free loopback ports with
 * its own data directory, closed (stopped by PID, directory removed) in afterAll even when
 * tests fail. Without etcd the suite is skipped locally; with CI=true `etcdAvailable()` throws.
 */
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll } from 'vitest';
import { etcdAvailable, startEtcd, type EtcdServer, type StartEtcdOptions } from '../../src/testing.js';

export const HAVE_ETCD = etcdAvailable();

export interface EtcdHandle {
  server: EtcdServer;
  /** A plain client for writing raw keys as other tools would. */
  raw: Etcd3;
}

/** Registers beforeAll/afterAll hooks; the handle's fields are set once beforeAll ran. */
export function useEtcd(options: StartEtcdOptions = {}): EtcdHandle {
  const handle = {} as EtcdHandle;
  beforeAll(async () => {
    handle.server = await startEtcd(options);
    if (!options.tls) handle.raw = new Etcd3({ hosts: [handle.server.endpoint] });
  }, 60_000);
  afterAll(async () => {
    handle.raw?.close();
    await handle.server?.close();
  }, 30_000);
  return handle;
}

/** Polls `check` until it returns true (or throws after `timeoutMs` with `what`). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
