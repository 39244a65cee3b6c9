/**
 * The agent bench's writer in a process of its own: an etcd client that puts what it is sent and
 * says when (CLOCK_MONOTONIC, the clock `process.hrtime` reads in every process of the machine)
 * it started the put and when etcd acknowledged it. With the writer in the agent's process, its
 * gRPC call (request, metadata checks, the reply) ran on the agent's event loop inside every
 * latency sample; here the sample still starts at the put (the writer's own clock reading just
 * before it) and ends when the agent's apply returned, on the same clock. It writes only the
 * keys it is sent, to the etcd it was given; `close()` ends it (and a dying parent ends it too).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PutTimes {
  /** CLOCK_MONOTONIC ns just before the put, and when etcd acknowledged it. */
  readonly startNs: bigint;
  readonly ackNs: bigint;
}

export interface WriterProcess {
  put(key: string, value: string): Promise<PutTimes>;
  close(): void;
}

const CHILD = (etcd3: string) => `
import { Etcd3 } from ${JSON.stringify(etcd3)};
const client = new Etcd3({ hosts: [process.argv[2]] });
process.on('disconnect', () => { client.close(); process.exit(0); });
process.on('message', async (m) => {
  try {
    const start = process.hrtime.bigint();
    await client.put(m.key).value(m.value).exec();
    const ack = process.hrtime.bigint();
    process.send({ id: m.id, start: String(start), ack: String(ack) });
  } catch (err) {
    process.send({ id: m.id, error: String(err && err.message || err) });
  }
});
process.send({ ready: true });
`;

/** Starts the writer (its script goes into `dir`) against `endpoint`; resolves once it is connected-ready. */
export async function startWriterProcess(dir: string, endpoint: string): Promise<WriterProcess> {
  const script = join(dir, 'etcd-writer.mjs');
  writeFileSync(script, CHILD(import.meta.resolve('etcd3')));
  const child: ChildProcess = fork(script, [endpoint], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, { resolve: (t: PutTimes) => void; reject: (e: Error) => void }>();
  let next = 0;
  let failed: Error | undefined;
  child.on('message', (m: { id?: number; ready?: boolean; start?: string; ack?: string; error?: string }) => {
    if (m.id === undefined) return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error !== undefined) w?.reject(new Error(`bench writer: ${m.error}`));
    else w?.resolve({ startNs: BigInt(m.start!), ackNs: BigInt(m.ack!) });
  });
  child.on('exit', (code) => {
    failed = new Error(`bench writer exited with ${code}`);
    for (const w of waiting.values()) w.reject(failed);
    waiting.clear();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench writer exited with ${code} before it was ready`)));
  });
  return {
    put(key, value) {
      if (failed) return Promise.reject(failed);
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, key, value });
      });
    },
    close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
