/**
 * The two netfilter netlink sockets of the iptables flow source (`nflog`: NFLOG packets; `ct`:
 * conntrack dumps). They always live in a small relay child (`node netlink-relay.js`, under
 * `ip netns exec NS` for another namespace) that passes datagrams both ways as frames on its
 * standard streams: the `netlink` package's native code aborts the whole process (std::terminate
 * on a Napi::Error thrown from a libuv callback) when a socket overruns (ENOBUFS shows as POLLERR)
 * or when a datagram arrives while Node tears its environment down, so it must never run inside
 * a process that matters (the agent, `gingham flows`). A relay that dies is reported as a
 * `failed` problem; the flow source restarts it. This package never changes a thread's namespace.
 * The relay turns conntrack accounting on in its namespace first (flow logs need its counters).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RawNetlinkSocket } from 'netlink';
import { NETLINK_NETFILTER } from './netlink.js';

export type ChannelSocket = 'nflog' | 'ct';
const SOCKETS: readonly ChannelSocket[] = ['nflog', 'ct'];

export interface NetlinkChannel {
  send(socket: ChannelSocket, message: Uint8Array): void;
  /** Datagrams as they arrive; `overrun`: the kernel dropped messages for that socket (ENOBUFS). */
  onMessage(listener: (socket: ChannelSocket, datagram: Uint8Array) => void): void;
  onProblem(listener: (socket: ChannelSocket, problem: 'overrun' | 'failed', detail: string) => void): void;
  close(): void;
}

export interface ChannelOptions {
  readonly netns?: string;
  readonly receiveBufferBytes: number;
}

/** Turns on nf_conntrack_acct in this process's namespace; false when it cannot. */
export function enableConntrackAccounting(): boolean {
  try {
    writeFileSync('/proc/sys/net/netfilter/nf_conntrack_acct', '1');
    return true;
  } catch {
    return false;
  }
}

/**
 * The sockets in this process's namespace, in this process: only for the relay child (see the
 * header: a native abort takes the process with it). Closed when the process exits, so that no
 * datagram reaches the native callback while Node tears down.
 */
export function openLocalChannel(receiveBufferBytes: number): NetlinkChannel {
  const messages: ((s: ChannelSocket, d: Uint8Array) => void)[] = [];
  const problems: ((s: ChannelSocket, p: 'overrun' | 'failed', detail: string) => void)[] = [];
  const sockets = new Map<ChannelSocket, RawNetlinkSocket>();
  for (const name of SOCKETS) {
    const s = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: receiveBufferBytes, sendBufferSize: 65_536 });
    s.unref();
    // A listener that throws inside the native callback would abort the process: report it instead.
    const report = (problem: 'overrun' | 'failed', detail: string): void => {
      for (const l of problems) {
        try {
          l(name, problem, detail);
        } catch {
          // nothing more can be said
        }
      }
    };
    s.on('message', (msg) => {
      for (const l of messages) {
        try {
          l(name, msg);
        } catch (e) {
          report('failed', `a listener threw: ${(e as Error).message}`);
        }
      }
    });
    s.on('error', (e) => report(e.code === 'ENOBUFS' ? 'overrun' : 'failed', `${e.syscall ?? ''} ${e.code}`));
    sockets.set(name, s);
  }
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    process.off('exit', close);
    for (const s of sockets.values()) s.close();
  };
  process.on('exit', close);
  return {
    send: (name, m) => {
      if (!closed) sockets.get(name)!.send(m);
    },
    onMessage: (l) => void messages.push(l),
    onProblem: (l) => void problems.push(l),
    close,
  };
}

// Relay frames: [socket 0|1 or 2 = problem][u32le length][bytes].
const FRAME_HEAD = 5;

export function encodeFrame(kind: number, body: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEAD + body.length);
  b[0] = kind;
  b.writeUInt32LE(body.length, 1);
  b.set(body, FRAME_HEAD);
  return b;
}

/** Splits a byte stream into frames (keeps the partial tail between calls). */
export function frameReader(onFrame: (kind: number, body: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let o = 0;
    while (pending.length - o >= FRAME_HEAD) {
      const len = pending.readUInt32LE(o + 1);
      if (pending.length - o - FRAME_HEAD < len) break;
      onFrame(pending[o]!, pending.subarray(o + FRAME_HEAD, o + FRAME_HEAD + len));
      o += FRAME_HEAD + len;
    }
    pending = o === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(o));
  };
}

function relayScript(): string {
  // dist/index.js (the built package), or src/flows/channel.ts (tests of the sources: the built relay).
  for (const rel of ['./flows/netlink-relay.js', './netlink-relay.js', '../../dist/flows/netlink-relay.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('netlink-relay.js not found next to the built package');
}

/** A relay child: its channel, when it is ready, and its process id (for status and tests). */
export interface RelayChannel {
  readonly channel: NetlinkChannel;
  /** Resolves once the relay's sockets are open; rejects when it could not start or died first. */
  readonly ready: Promise<void>;
  readonly pid: number | undefined;
}

/**
 * The sockets in a relay child, in `netns` (an `ip netns` name or path) or in this process's
 * namespace. The child is killed by `close()` and exits by itself when this process goes (its
 * standard input closes). Its exit, when not asked for, is a `failed` problem naming the exit
 * code or signal (SIGABRT: the native abort the relay exists to contain) and its last stderr.
 */
export function openRelayChannel(netns: string | undefined, receiveBufferBytes: number): RelayChannel {
  const argv = [process.execPath, relayScript(), String(receiveBufferBytes)];
  const child: ChildProcess = netns ? spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  child.unref();
  const messages: ((s: ChannelSocket, d: Uint8Array) => void)[] = [];
  const problems: ((s: ChannelSocket, p: 'overrun' | 'failed', detail: string) => void)[] = [];
  let stderr = '';
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  let closing = false;
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  child.stdout!.on(
    'data',
    frameReader((kind, body) => {
      if (kind === 3) return resolveReady();
      if (kind === 2) {
        const [socket, problem, ...detail] = body.toString().split(' ');
        for (const l of problems) l(socket as ChannelSocket, problem as 'overrun' | 'failed', detail.join(' '));
        return;
      }
      for (const l of messages) l(SOCKETS[kind]!, body);
    }),
  );
  // A write to a relay that just died (EPIPE) is the same news as its exit: reported there.
  child.stdin!.on('error', () => undefined);
  child.on('error', (e) => rejectReady(e));
  child.on('exit', (code, signal) => {
    const how = signal ? `was killed by ${signal}` : `exited (${code})`;
    const last = stderr.trim().split('\n').slice(-3).join(' | ');
    const e = new Error(`the netlink relay${netns ? ` in ${netns}` : ''} (pid ${child.pid}) ${how}${last ? `: ${last}` : ''}`);
    rejectReady(e);
    if (!closing) for (const l of problems) l('nflog', 'failed', e.message);
  });
  for (const s of [child.stdin!, child.stdout!, child.stderr!]) (s as unknown as { unref?: () => void }).unref?.();
  return {
    ready,
    pid: child.pid,
    channel: {
      send: (name, m) => {
        if (!closing && child.exitCode === null && child.signalCode === null) child.stdin!.write(encodeFrame(SOCKETS.indexOf(name), m));
      },
      onMessage: (l) => void messages.push(l),
      onProblem: (l) => void problems.push(l),
      close: () => {
        closing = true;
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) child.kill('SIGKILL');
      },
    },
  };
}
