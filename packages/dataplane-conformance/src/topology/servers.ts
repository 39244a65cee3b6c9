/**
 * Servers inside the pods of a topology: socat "ok" responders on TCP ports, one non-forking
 * Node UDP responder, a TCP echo, and plain Node "ok" servers for the probe loops. Every process
 * is started with `topo.spawnIn`, so the topology kills it by PID on `destroy()`; each start
 * waits until the ports listen (`ss` inside the namespace) and fails naming the namespace.
 */
import { spawnSync } from 'node:child_process';
import type { Topology } from './topology.js';

/**
 * A UDP responder answering "ok" to every datagram on the given ports, in one non-forking Node
 * process (socat's forking `UDP-RECVFROM` lets a lingering child swallow the next peer's
 * datagram, which reads as a deny).
 */
export function udpResponderArgv(ports: readonly number[]): string[] {
  const script = `const d = require('node:dgram');
for (const port of ${JSON.stringify(ports)}) {
  const s = d.createSocket('udp4');
  s.on('message', (_m, r) => s.send('ok\\n', r.port, r.address));
  s.bind(port);
}`;
  return [process.execPath, '-e', script];
}

/** Waits until `ss` in `netns` (with `ssArgs`) lists at least `want` sockets. */
async function waitListening(netns: string, ssArgs: readonly string[], want: number, what: string): Promise<void> {
  for (let i = 0; ; i++) {
    const r = spawnSync('ip', ['netns', 'exec', netns, 'ss', ...ssArgs], { encoding: 'utf8' });
    if ((r.stdout ?? '').trim().split('\n').filter((l) => l.length > 0).length >= want) return;
    if (i > 100) throw new Error(`${what} in ${netns} did not start`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Starts TCP and UDP "ok" responders (and a TCP echo on `echoPort`) in every pod, and waits until they listen. */
export async function startServers(topo: Topology, tcpPorts: readonly number[], udpPorts: readonly number[], echoPort: number): Promise<void> {
  for (const p of topo.pods) {
    for (const port of tcpPorts) topo.spawnIn(p.netns, ['socat', `TCP-LISTEN:${port},reuseaddr,fork`, 'EXEC:/bin/echo ok']);
    if (udpPorts.length > 0) topo.spawnIn(p.netns, udpResponderArgv(udpPorts));
    topo.spawnIn(p.netns, ['socat', `TCP-LISTEN:${echoPort},reuseaddr,fork`, 'EXEC:/bin/cat']);
  }
  for (const p of topo.pods) await waitListening(p.netns, ['-Hltun'], tcpPorts.length + udpPorts.length + 1, 'servers');
}

const OK_SERVER = `const net = require('node:net');
net.createServer((s) => { s.on('error', () => {}); s.end('ok\\n'); }).listen(Number(process.argv[1]));`;

/**
 * Starts a Node "ok" server on TCP `port` in every pod (cheaper than socat's fork per connection
 * under a probe loop's thousands of connections) and waits until they listen.
 */
export async function startOkServers(topo: Topology, port: number): Promise<void> {
  for (const p of topo.pods) topo.spawnIn(p.netns, [process.execPath, '-e', OK_SERVER, String(port)]);
  for (const p of topo.pods) await waitListening(p.netns, ['-Hltn', `sport = :${port}`], 1, `the ok server on ${port}`);
}
