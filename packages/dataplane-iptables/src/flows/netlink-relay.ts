/**
 * The relay child of the iptables flow source (see channel.ts): started with `node
 * netlink-relay.js RCVBUF` (under `ip netns exec NS` for another namespace), it turns conntrack
 * accounting on, opens the netfilter sockets there and passes datagrams as frames (stdin: to
 * send; stdout: received, problems, and one "ready" frame). It exits when its standard input
 * closes. The `netlink` package may abort it (see channel.ts): its parent restarts it.
 */
import { encodeFrame, enableConntrackAccounting, frameReader, openLocalChannel, type ChannelSocket } from './channel.js';

const SOCKETS: readonly ChannelSocket[] = ['nflog', 'ct'];
if (!enableConntrackAccounting()) {
  process.stderr.write('cannot turn conntrack accounting on (/proc/sys/net/netfilter/nf_conntrack_acct)\n');
  process.exit(1);
}
const channel = openLocalChannel(Number(process.argv[2]) || 4 * 1024 * 1024);
channel.onMessage((s, d) => void process.stdout.write(encodeFrame(SOCKETS.indexOf(s), d)));
channel.onProblem((s, p, detail) => void process.stdout.write(encodeFrame(2, Buffer.from(`${s} ${p} ${detail}`))));
process.stdin.on(
  'data',
  frameReader((kind, body) => channel.send(SOCKETS[kind]!, new Uint8Array(body))),
);
process.stdin.on('end', () => {
  channel.close();
  process.exit(0);
});
process.stdout.write(encodeFrame(3, new Uint8Array(0)));
