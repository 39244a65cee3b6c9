/**
 * Real packets between the namespaces of a topology: one TCP or UDP exchange (a verdict), a line
 * over an established connection (conntrack), and a continuous prober that samples a verdict
 * while the dataplane changes under it. Probes run inside the topology's namespaces only; the
 * prober is a process of the topology (killed by PID on `destroy()`), stopped over its stdin.
 */
import type { ChildProcess } from 'node:child_process';
import { createLocalRunner } from '@gingham/host';
import type { PodHandle, Topology } from './topology.js';

const local = createLocalRunner();

/** TCP connect + one line back from the server within `timeoutMs`: true when it arrived. */
export async function probeTcp(topo: Topology, from: PodHandle, to: PodHandle, port: number, timeoutMs = 1500): Promise<boolean> {
  const secs = (timeoutMs / 1000).toFixed(1);
  const r = await local.run(['ip', 'netns', 'exec', from.netns, 'socat', `-T${secs}`, `-t${secs}`, '-', `TCP:${to.ip}:${port},connect-timeout=${secs}`], {
    input: '',
    timeoutMs: timeoutMs + 3000,
  });
  void topo;
  return r.stdout.includes('ok');
}

/**
 * UDP datagram + reply within `timeoutMs`: true when the reply arrived. A lost first datagram
 * (neighbour resolution on a fresh veth) would read as a deny, so a silent attempt is retried once.
 */
export async function probeUdp(topo: Topology, from: PodHandle, to: PodHandle, port: number, timeoutMs = 1500): Promise<boolean> {
  const secs = (timeoutMs / 1000).toFixed(1);
  void topo;
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await local.run(['ip', 'netns', 'exec', from.netns, 'socat', `-T${secs}`, `-t${secs}`, '-', `UDP:${to.ip}:${port}`], { input: 'x\n', timeoutMs: timeoutMs + 3000 });
    if (r.stdout.includes('ok')) return true;
  }
  return false;
}

const FROM_PORT_CLIENT = `const net = require('node:net');
const [ip, port, localPort, timeout] = process.argv.slice(1).map((x, i) => (i === 0 ? x : Number(x)));
let got = '';
const s = net.connect({ host: ip, port, localPort });
const t = setTimeout(() => { process.stdout.write('fail\\n'); s.destroy(); }, timeout);
s.on('data', (b) => { got += b; });
s.on('error', () => {});
s.on('close', () => { clearTimeout(t); if (got.includes('ok')) process.stdout.write('ok\\n'); });`;

/**
 * A TCP connection from a fixed source port that lets the SERVER close first (the client ends
 * only when it has read the server's FIN), so the client keeps no TIME_WAIT and the next call
 * with the same `sourcePort` reuses the very same 5-tuple at once: a recycled connection, as
 * clients that pin or exhaust their source ports produce. Talks to a server that writes "ok" and
 * closes (`startOkServers`). True when "ok" arrived within `timeoutMs`.
 */
export async function probeTcpFromPort(from: PodHandle, to: PodHandle, port: number, sourcePort: number, timeoutMs = 1500): Promise<boolean> {
  const r = await local.run(['ip', 'netns', 'exec', from.netns, process.execPath, '-e', FROM_PORT_CLIENT, to.ip, String(port), String(sourcePort), String(timeoutMs)], {
    timeoutMs: timeoutMs + 5000,
  });
  return r.stdout.includes('ok');
}

/** Writes `text` on an open connection to an echo server: true when it came back within `timeoutMs`. */
export function roundTrip(conn: ChildProcess, text: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      conn.stdout?.off('data', onData);
      resolve(ok);
    };
    const onData = (b: Buffer): void => {
      buf += b.toString('utf8');
      if (buf.includes(text)) done(true);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    conn.stdout?.on('data', onData);
    conn.stdin?.write(`${text}\n`);
  });
}

const PROBER = `const net = require('node:net');
const [ip, port, every, timeout] = process.argv.slice(1);
let ok = 0, fail = 0, inflight = 0, stopping = false;
const done = () => { if (stopping && inflight === 0) { process.stdout.write(JSON.stringify({ ok, fail }) + '\\n'); process.exit(0); } };
const once = () => {
  inflight++;
  const s = net.connect(Number(port), ip);
  let settled = false;
  const settle = (good) => { if (settled) return; settled = true; if (good) ok++; else fail++; s.destroy(); inflight--; done(); };
  const t = setTimeout(() => settle(false), Number(timeout));
  s.on('connect', () => { clearTimeout(t); settle(true); });
  s.on('error', () => { clearTimeout(t); settle(false); });
};
const timer = setInterval(once, Number(every));
process.stdin.on('data', () => { stopping = true; clearInterval(timer); done(); });
process.stdout.write('ready\\n');`;

/** Attempts that connected (`ok`) and that did not within the timeout (`fail`). */
export interface ProbeCounts {
  readonly ok: number;
  readonly fail: number;
}

export interface Prober {
  /** Stops starting connections, waits for those in flight, and returns the counts. */
  stop(): Promise<ProbeCounts>;
}

export interface ProberOptions {
  /** Start an attempt every `everyMs`, not waiting for earlier ones. */
  readonly everyMs: number;
  /** Each attempt's timeout: keep it below TCP's first SYN retransmission (1 s) so one dropped SYN is a failure. */
  readonly timeoutMs: number;
}

/**
 * Connects from `from` to `to:port` over and over (a new TCP connection each time): a
 * continuous sample of the verdict while the dataplane changes. A connection counts as `ok`
 * when the handshake completes (a server on `port`, e.g. `startOkServers`, must listen).
 */
export async function startProber(topo: Topology, from: PodHandle, to: PodHandle, port: number, options: ProberOptions): Promise<Prober> {
  const what = `prober ${from.namespace}/${from.name} -> ${to.namespace}/${to.name}:${port}`;
  const child = topo.spawnIn(from.netns, [process.execPath, '-e', PROBER, to.ip, String(port), String(options.everyMs), String(options.timeoutMs)]);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), 30_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`${what} exited: ${out}`)));
  });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what} did not stop`)), options.timeoutMs + 30_000);
        child.once('exit', () => {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as ProbeCounts);
          } catch {
            reject(new Error(`${what} printed ${JSON.stringify(out)}`));
          }
        });
        child.stdin?.write('stop\n');
      }),
  };
}
