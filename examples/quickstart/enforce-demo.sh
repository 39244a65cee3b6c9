#!/usr/bin/env bash
# Enforce the quick-start example with `gingham enforce --dataplane iptables` (default) or
# `--dataplane ebpf` inside network namespaces, probe every cell of the matrix with real packets,
# and print what was observed next to the model's verdict (from `gingham matrix`).
#
#   sudo examples/quickstart/enforce-demo.sh [iptables|ebpf]   # after `npm run build` (or `npm start`)
#
# Creates a node namespace `gh-demo-node` and one namespace per pod (`gh-demo-p0`..), wired as
# Calico wires pods: the host-side veth named like Calico's (`cali` + hash of namespace.pod), the
# pod's /32 routed to it, the pod's default route via 169.254.1.1 answered by proxy ARP. Every
# rule and IP set (iptables) and every tc program (ebpf) lives in the node namespace: the root
# namespace's rules are never touched. The ebpf variant pins its maps in a private bpffs mounted
# in a temporary directory, never in the host's /sys/fs/bpf. On exit (success, failure or Ctrl-C)
# the listeners are killed by PID, the ebpf programs are detached (`gingham enforce --clean`),
# the private bpffs is unmounted and every namespace the script created is deleted. Running it
# again starts from scratch. Needs root, iproute2, socat and node, plus iptables, ipset and flock
# (iptables) or a kernel with BPF and tc (ebpf).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EXAMPLE="$ROOT/examples/quickstart"
GINGHAM="$ROOT/node_modules/.bin/gingham"
NODE_NAME=node-1
PREFIX=gh-demo
NODE_NS="$PREFIX-node"
PORTS="8080/TCP,5432/TCP,9090/TCP,53/UDP"
TIMEOUT=1
DATAPLANE="${1:-iptables}"
case "$DATAPLANE" in
  iptables) TOOLS=(ip iptables-save ipset flock socat node) ;;
  ebpf) TOOLS=(ip tc mount umount mountpoint socat node) ;;
  *) echo "usage: enforce-demo.sh [iptables|ebpf]" >&2; exit 2 ;;
esac

if [[ $(id -u) -ne 0 ]]; then echo "enforce-demo: run as root (network namespaces, $DATAPLANE)" >&2; exit 1; fi
for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null || { echo "enforce-demo: missing $tool" >&2; exit 1; }
done
[[ -x "$GINGHAM" ]] || { echo "enforce-demo: $GINGHAM not found; run npm install && npm run build" >&2; exit 1; }

PIDS=()   # listeners
PROBES=() # warm-up and probe subshells
NAMESPACES=()
WORK="$(mktemp -d)"
BPFFS="$WORK/bpffs" # ebpf: a private bpffs for the pins
ENFORCE_ARGS=(--dataplane "$DATAPLANE")
[[ $DATAPLANE == ebpf ]] && ENFORCE_ARGS+=(--bpffs "$BPFFS" --name demo)
# Kills a process we started and its descendants, by PID (the parent first, so that it cannot
# start another child meanwhile).
kill_tree() {
  local kid kids
  kids="$(pgrep -P "$1" || true)"
  kill -9 "$1" 2>/dev/null || true
  for kid in $kids; do kill_tree "$kid"; done
}
cleanup() {
  local pid ns
  exec 2>/dev/null # (bash would report each killed background job)
  for pid in "${PROBES[@]}" "${PIDS[@]}"; do kill_tree "$pid"; done
  if mountpoint -q "$BPFFS" 2>/dev/null; then
    ip netns exec "$NODE_NS" "$GINGHAM" enforce --clean "${ENFORCE_ARGS[@]}" >/dev/null 2>&1 || true
    umount "$BPFFS" || true
  fi
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  # Never rm -r through a live bpffs mount.
  mountpoint -q "$BPFFS" 2>/dev/null || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Idempotent: remove what an interrupted earlier run may have left (only our own names).
for ns in $(ip netns list | awk '{print $1}' | grep -E "^$PREFIX-(node|p[0-9]+)$" || true); do ip netns del "$ns"; done

# The pods of node-1 from the manifests: namespace, name, IP, host-side interface name.
(cd "$ROOT" && node --input-type=module -e "
import { readdirSync, readFileSync } from 'node:fs';
import { buildSnapshot, loadManifests } from '@gingham/core';
const dir = process.argv[1];
const files = readdirSync(dir).filter((f) => /\.ya?ml\$/.test(f)).sort();
const loaded = loadManifests(files.map((f) => ({ file: f, text: readFileSync(dir + '/' + f, 'utf8') })));
const { snapshot } = buildSnapshot(loaded.resources.map((r) => r.resource));
for (const w of snapshot.workloadEndpoints.filter((w) => w.node === process.argv[2]))
  console.log([w.id, w.addresses[0].replace(/\/32\$/, ''), w.interfaceName].join(' '));
" "$EXAMPLE" "$NODE_NAME") >"$WORK/pods"
[[ -s "$WORK/pods" ]] || { echo "enforce-demo: no pods on $NODE_NAME in $EXAMPLE" >&2; exit 1; }

echo "# wiring the node namespace $NODE_NS and one namespace per pod"
ip netns add "$NODE_NS"; NAMESPACES+=("$NODE_NS")
ip -n "$NODE_NS" link set lo up
ip netns exec "$NODE_NS" sysctl -qw net.ipv4.ip_forward=1
# An uplink so that 169.254.1.1 is routable in the node namespace (proxy ARP answers for it).
ip -n "$NODE_NS" link add uplink0 type veth peer name uplink1
ip -n "$NODE_NS" link set uplink0 up
ip -n "$NODE_NS" link set uplink1 up
ip -n "$NODE_NS" route add default dev uplink0

declare -A POD_NS POD_IP
i=0
while read -r id ip_addr iface; do
  ns="$PREFIX-p$i"; i=$((i + 1))
  POD_NS[$id]="$ns"; POD_IP[$id]="$ip_addr"
  ip netns add "$ns"; NAMESPACES+=("$ns")
  ip -n "$NODE_NS" link add "$iface" type veth peer name eth0 netns "$ns"
  ip -n "$NODE_NS" link set "$iface" up
  ip netns exec "$NODE_NS" sysctl -qw "net.ipv4.conf.$iface.proxy_arp=1" "net.ipv4.neigh.$iface.proxy_delay=0"
  ip -n "$NODE_NS" route add "$ip_addr/32" dev "$iface"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip_addr/32" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via 169.254.1.1 dev eth0 onlink
  printf '  %-26s %-12s %-16s netns %s\n' "$id" "$ip_addr" "$iface" "$ns"
  # Listeners: "ok" on each TCP port, and a UDP responder on 53 answering every datagram.
  for port in 8080 5432 9090; do
    ip netns exec "$ns" socat "TCP-LISTEN:$port,reuseaddr,fork" 'EXEC:/bin/echo ok' 2>/dev/null &
    PIDS+=($!); disown $!
  done
  ip netns exec "$ns" node -e "const s = require('node:dgram').createSocket('udp4');
s.on('message', (_m, r) => s.send('ok\n', r.port, r.address)); s.bind(53);" &
  PIDS+=($!); disown $!
done <"$WORK/pods"

# Wait for the listeners, then warm the neighbour tables (one connection per pair, before any
# rule exists) so that no first packet of a probe is lost to address resolution.
for id in "${!POD_NS[@]}"; do
  for _ in $(seq 100); do
    [[ $(ip netns exec "${POD_NS[$id]}" ss -Hltun | wc -l) -ge 4 ]] && break
    sleep 0.05
  done
done
for id in "${!POD_NS[@]}"; do
  for other in "${!POD_IP[@]}"; do
    [[ $other == "$id" ]] && continue
    ip netns exec "${POD_NS[$id]}" socat -T3 - "TCP:${POD_IP[$other]}:8080,connect-timeout=3" </dev/null >/dev/null 2>&1 &
    PROBES+=($!)
  done
done
wait "${PROBES[@]}" || true

if [[ $DATAPLANE == ebpf ]]; then
  mkdir -p "$BPFFS"
  mount -t bpf bpf "$BPFFS"
fi

echo
echo "# ip netns exec $NODE_NS gingham enforce -f examples/quickstart --node $NODE_NAME ${ENFORCE_ARGS[*]}"
ip netns exec "$NODE_NS" "$GINGHAM" enforce -f "$EXAMPLE" --node "$NODE_NAME" "${ENFORCE_ARGS[@]}"

# The model's verdicts, then one real probe per cell (all in parallel; a denied cell costs a timeout).
"$GINGHAM" matrix -f "$EXAMPLE" --ports "$PORTS" --json >"$WORK/model.json"
node -e "for (const c of JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'))) console.log(c.from, c.to, c.port, c.protocol)" \
  "$WORK/model.json" >"$WORK/cells"
n=0
PROBES=()
while read -r from to port proto; do
  n=$((n + 1))
  (
    addr="TCP:${POD_IP[$to]}:$port,connect-timeout=$TIMEOUT"
    [[ $proto == UDP ]] && addr="UDP:${POD_IP[$to]}:$port"
    verdict=deny
    for _ in 1 2; do # UDP: a silent first datagram is retried once
      # TCP sends nothing (EOF at once) and waits for the server's "ok"; UDP sends one datagram.
      input=""; [[ $proto == UDP ]] && input=x
      if [[ $(printf '%s' "$input" | ip netns exec "${POD_NS[$from]}" socat "-T$TIMEOUT" "-t$TIMEOUT" - "$addr" 2>/dev/null) == ok* ]]; then
        verdict=allow; break
      fi
      [[ $proto == UDP ]] || break
    done
    echo "$from $to $port $proto $verdict" >"$WORK/obs.$n"
  ) &
  PROBES+=($!)
done <"$WORK/cells"
wait "${PROBES[@]}"
cat "$WORK"/obs.* >"$WORK/observed"

echo
node -e "
const fs = require('fs');
const model = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const seen = new Map(fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => {
  const [from, to, port, proto, v] = l.split(' ');
  return [[from, to, port, proto].join(' '), v === 'allow'];
}));
const peers = [...new Set(model.map((c) => c.from))].sort();
const w = Math.max(...peers.map((p) => p.length)) + 2;
let match = 0;
for (const spec of [...new Set(model.map((c) => c.port + '/' + c.protocol))]) {
  console.log(spec + '  (rows: from, columns: to; a cell where packets differ from the model shows observed/model !!)');
  console.log(''.padEnd(w) + peers.map((p) => p.padEnd(w)).join(''));
  for (const from of peers) {
    let row = from.padEnd(w);
    for (const to of peers) {
      const c = model.find((x) => x.from === from && x.to === to && x.port + '/' + x.protocol === spec);
      if (!c) { row += '-'.padEnd(w); continue; }
      const o = seen.get([from, to, c.port, c.protocol].join(' '));
      const v = (b) => (b ? 'allow' : 'deny');
      if (o === c.allowed) match++;
      row += (o === c.allowed ? v(o) : v(o) + '/' + v(c.allowed) + ' !!').padEnd(w);
    }
    console.log(row);
  }
  console.log();
}
console.log(match + '/' + model.length + ' cells: real packets ' + (match === model.length ? 'match the model' : 'DIFFER from the model (marked !!)'));
process.exitCode = match === model.length ? 0 : 1;
" "$WORK/model.json" "$WORK/observed"
