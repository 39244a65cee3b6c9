/**
 * Real packets for `bench:agent`: confirms that a label change in etcd flips a real packet's
 * verdict, and times it. Inside the bench's own network namespace (the "node", never the root
 * namespace) it wires a workload namespace behind a local endpoint's veth, as a CNI plugin would
 * (the host side named as the endpoint's `interfaceName`, a /32 route, proxy ARP), and a source
 * namespace behind an uplink veth whose address is a remote endpoint's. A server listens in the
 * workload; a prober in the source starts a new TCP connection every few milliseconds and reports
 * each attempt's start (CLOCK_MONOTONIC, the clock `process.hrtime` reads in every process) and
 * whether the handshake completed. `flip()` times a write from its start to the first attempt
 * from which on every attempt shows the new verdict. Both namespaces and both children (killed by
 * PID) go in `close()`, which the bench runs in `finally`; the outer bench also deletes the
 * namespaces by name if this process dies.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface PacketProbeOptions {
  /** The bench's network namespace (this process runs inside it). */
  readonly node: string;
  /** The local endpoint's interface name and address. */
  readonly iface: string;
  readonly podIp: string;
  /** A remote endpoint's address, used by the source namespace. */
  readonly srcIp: string;
  readonly port: number;
  /** Start a connection every `everyMs` (default 4). */
  readonly everyMs?: number;
}

export interface PacketProbe {
  /** Waits until every attempt for `forMs` shows `allowed` (fails after `timeoutMs`). */
  settle(allowed: boolean, timeoutMs: number, forMs?: number): Promise<void>;
  /**
   * Runs `write` and resolves with the ms from its start to the first attempt from which on every
   * attempt shows `allowed`, and the attempts that showed the new verdict before the write.
   */
  flip(write: () => Promise<unknown>, allowed: boolean, timeoutMs: number): Promise<{ ms: number; early: number; earlyMs: readonly (readonly [started: number, seen: number])[] }>;
  /** Attempts left out because the prober was stalled past their timeout (their outcome is unknown). */
  stalledAttempts(): number;
  close(): void;
}

/** The names `createPacketProbe` gives its namespaces for a bench namespace (for cleanup by name). */
export const probeNamespaces = (node: string): [string, string] => [`${node}-wl`, `${node}-src`];

const SERVER = `require('node:net').createServer((s) => s.destroy()).listen(Number(process.argv[1]), () => process.stdout.write('ready\\n'));`;
const PROBER = `const net = require('node:net');
const [ip, port, every] = process.argv.slice(1);
const once = () => {
  const t = process.hrtime.bigint();
  const s = net.connect(Number(port), ip);
  let settled = false;
  const settle = (ok) => { if (settled) return; settled = true; clearTimeout(timer); s.destroy(); process.stdout.write(t + ' ' + ok + ' ' + process.hrtime.bigint() + '\\n'); };
  // A timeout that fires late means this process was stalled: its connect may have completed
  // unseen (timers run before I/O), so the attempt is reported as unknown (x), not as denied.
  const timer = setTimeout(() => settle(process.hrtime.bigint() - t > 450000000n ? 'x' : 0), 400);
  s.on('connect', () => settle(1));
  s.on('error', () => settle(0));
};
setInterval(once, Number(every));
process.stdin.on('data', () => process.exit(0));`;

function ip(args: readonly string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`bench: ip ${args.join(' ')}: ${r.stderr}`);
}

const sysctl = (path: string): void => writeFileSync(`/proc/sys/net/ipv4/${path}`, '1');

export async function createPacketProbe(o: PacketProbeOptions): Promise<PacketProbe> {
  const [wl, src] = probeNamespaces(o.node);
  const children: ChildProcess[] = [];
  const close = (): void => {
    for (const c of children) {
      try {
        if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const ns of [wl, src]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', o.iface], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', 'ghbsrc0'], { stdio: 'ignore' });
  };
  // Attempts as reported: start (ns, CLOCK_MONOTONIC) and outcome, in report order.
  /** Each attempt: when it started, its outcome, when the prober saw the outcome (a connect: the handshake done). */
  const attempts: { t: bigint; ok: boolean; done: bigint }[] = [];
  /** Attempts whose outcome is unknown: the prober was stalled past their timeout. */
  let stalled = 0;
  try {
    for (const [ns, host, addr] of [[wl, o.iface, o.podIp], [src, 'ghbsrc0', o.srcIp]] as const) {
      ip(['netns', 'add', ns]);
      ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'addr', 'add', `${addr}/32`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'route', 'add', 'default', 'dev', 'eth0']);
      ip(['link', 'set', host, 'up']);
      ip(['route', 'add', `${addr}/32`, 'dev', host]);
      sysctl(`conf/${host}/proxy_arp`);
    }
    sysctl('ip_forward');
    const start = async (ns: string, script: string, args: readonly string[], ready: (line: string) => boolean): Promise<ChildProcess> => {
      const c = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(c);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`bench: the probe's process in ${ns} did not start`)), 30_000);
        c.once('exit', (code) => reject(new Error(`bench: the probe's process in ${ns} exited (${code})`)));
        const lines = createInterface({ input: c.stdout! });
        lines.on('line', (line) => {
          if (ready(line)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      return c;
    };
    await start(wl, SERVER, [String(o.port)], (l) => l === 'ready');
    let first = true;
    await start(src, PROBER, [o.podIp, String(o.port), String(o.everyMs ?? 4)], (l) => {
      const [t, ok, done] = l.split(' ');
      if (ok === 'x') stalled++;
      else attempts.push({ t: BigInt(t!), ok: ok === '1', done: BigInt(done!) });
      const was = first;
      first = false;
      return was;
    });
  } catch (e) {
    close();
    throw e;
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Waits for a run of `forMs` of attempts, all `allowed`, that started at or after `from`. */
  const settledSince = async (from: bigint, allowed: boolean, forMs: number, timeoutMs: number): Promise<bigint> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Attempts report when they end (a dropped SYN after its 400 ms timeout): look only at those
      // that started long enough ago to have reported, in order of their start.
      const horizon = process.hrtime.bigint() - 450_000_000n;
      const since = attempts.filter((a) => a.t >= from && a.t <= horizon).sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
      let runStart: bigint | undefined;
      for (const a of since) if (a.ok !== allowed) runStart = undefined;
      else runStart ??= a.t;
      const last = since.at(-1);
      if (runStart !== undefined && last && Number(last.t - runStart) / 1e6 >= forMs) return runStart;
      if (Date.now() > deadline) throw new Error(`bench: the packet verdict did not become ${allowed ? 'allowed' : 'denied'} within ${timeoutMs} ms`);
      await sleep(50);
    }
  };
  return {
    async settle(allowed, timeoutMs, forMs = 300) {
      await settledSince(process.hrtime.bigint(), allowed, forMs, timeoutMs);
    },
    async flip(write, allowed, timeoutMs) {
      const t0 = process.hrtime.bigint();
      // Attempts that started before the write and already showed the new verdict: the state was wrong.
      const earlyOnes = attempts.filter((a) => a.t < t0 && a.t > t0 - 300_000_000n && a.ok === allowed);
      await write();
      const at = await settledSince(t0, allowed, 300, timeoutMs);
      return { ms: Number(at - t0) / 1e6, early: earlyOnes.length, earlyMs: earlyOnes.map((a) => [Number(a.t - t0) / 1e6, Number(a.done - t0) / 1e6] as const) };
    },
    stalledAttempts: () => stalled,
    close,
  };
}
