/**
 * The two netfilter netlink sockets of the iptables flow source (`nflog`: NFLOG packets; `ct`:
 * conntrack dumps), opened in the dataplane's network namespace. In this process's namespace
 * they are plain sockets (the `netlink` package); for another namespace a small relay child
 * (`ip netns exec NS node netlink-relay.js`) opens them there and passes datagrams both ways as
 * frames on its standard streams, so this package never changes a thread's namespace. Both turn
 * conntrack accounting on in that namespace first (flow logs need its counters).
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

/** The sockets in this process's namespace. */
export function openLocalChannel(receiveBufferBytes: number): NetlinkChannel {
  const messages: ((s: ChannelSocket, d: Uint8Array) => void)[] = [];
  const problems: ((s: ChannelSocket, p: 'overrun' | 'failed', detail: string) => void)[] = [];
  const sockets = new Map<ChannelSocket, RawNetlinkSocket>();
  for (const name of SOCKETS) {
    const s = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: receiveBufferBytes, sendBufferSize: 65_536 });
    s.unref();
    s.on('message', (msg) => {
      for (const l of messages) l(name, msg);
    });
    s.on('error', (e) => {
      for (const l of problems) l(name, e.code === 'ENOBUFS' ? 'overrun' : 'failed', `${e.syscall ?? ''} ${e.code}`);
    });
    sockets.set(name, s);
  }
  return {
    send: (name, m) => sockets.get(name)!.send(m),
    onMessage: (l) => void messages.push(l),
    onProblem: (l) => void problems.push(l),
    close: () => {
      for (const s of sockets.values()) s.close();
    },
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

/** The sockets in another namespace, through a relay child (killed by `close()` or when this process exits). */
export function openRelayChannel(netns: string, receiveBufferBytes: number): { channel: NetlinkChannel; ready: Promise<void> } {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, process.execPath, relayScript(), String(receiveBufferBytes)], { stdio: ['pipe', 'pipe', 'pipe'] });
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
  child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
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
  child.on('error', (e) => rejectReady(e));
  child.on('exit', (code) => {
    const e = new Error(`netlink relay in ${netns} exited (${code}): ${stderr.trim()}`);
    rejectReady(e);
    if (!closing) for (const l of problems) l('nflog', 'failed', e.message);
  });
  for (const s of [child.stdin!, child.stdout!, child.stderr!]) (s as unknown as { unref?: () => void }).unref?.();
  return {
    ready,
    channel: {
      send: (name, m) => void child.stdin!.write(encodeFrame(SOCKETS.indexOf(name), m)),
      onMessage: (l) => void messages.push(l),
      onProblem: (l) => void problems.push(l),
      close: () => {
        closing = true;
        if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
      },
    },
  };
}
