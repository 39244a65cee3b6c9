#!/usr/bin/env bash
# A fleet of three bare "VMs" on one machine, as root: each VM is a network namespace with its
# own underlay interface on a shared LAN and one workload behind a veth; one more namespace runs
# etcd. A `gingham agent` runs on each VM (iptables, or eBPF with `--dataplane ebpf`) with
# WireGuard between them and flow logs on; policies are applied with `gingham apply`; real packets
# show a policy change taking effect on all three, and `gingham flows` shows the connections with
# the policy and rule that decided each and what a staged policy would decide. Everything is
# removed on exit, Ctrl-C included.
#
#   sudo examples/bare-vms/run.sh              # iptables dataplane
#   sudo examples/bare-vms/run.sh ebpf         # eBPF dataplane
#   KEEP=1 sudo examples/bare-vms/run.sh       # leave it running; Ctrl-C removes it
#
# Nothing outside the namespaces it creates is touched (no route, rule or address in yours).
set -euo pipefail
DATAPLANE=${1:-iptables}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
G=(node "$ROOT/packages/cli/bin/gingham.js")
P=${PREFIX:-ghvm$$}
WORK=$(mktemp -d /tmp/gingham-bare-vms.XXXXXX)
ETCD_URL=http://192.168.77.10:2379
PIDS=() # started with `ip netns exec`/`nsenter`, which exec: these are the processes themselves
# shellcheck source=resources.sh
. "$HERE/resources.sh"

say() { printf '\n== %s\n' "$*"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

cleanup() {
  set +e
  trap - EXIT INT TERM
  trap '' PIPE # whoever read our output may be gone: cleaning up must not die of it
  say "cleaning up"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$pid" 2>/dev/null; done
  for n in 1 2 3; do
    if ip netns list | grep -qw "$P-vm$n"; then
      nsenter --net="/run/netns/$P-vm$n" "${G[@]}" agent --clean --node "vm-$n" --dataplane "$DATAPLANE" --wireguard \
        --wireguard-interface "$P-wg$n" --lock-dir "$WORK/locks" ${BPFFS:+--bpffs "$BPFFS"} --ebpf-instance "$P-vm$n" >/dev/null 2>&1
    fi
  done
  for ns in "$P-vm1-wl" "$P-vm2-wl" "$P-vm3-wl" "$P-vm1" "$P-vm2" "$P-vm3" "$P-etcd" "$P-lan"; do ip netns del "$ns" 2>/dev/null; done
  [ -n "${BPFFS:-}" ] && umount "$BPFFS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "creating the LAN, etcd and three VMs ($P-*)"
ip netns add "$P-lan"
ip -n "$P-lan" link add br0 type bridge && ip -n "$P-lan" link set br0 up
attach() { # namespace, its address on the LAN (the bridge port is named after the address)
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$P-lan" link add "lan${2##*.}" type veth peer name eth0 netns "$1"
  ip -n "$P-lan" link set "lan${2##*.}" master br0 up
  ip -n "$1" addr add "$2/24" dev eth0 && ip -n "$1" link set eth0 up
}
attach "$P-etcd" 192.168.77.10
for n in 1 2 3; do
  attach "$P-vm$n" "192.168.77.1$n"
  in_ns "$P-vm$n" sysctl -qw net.ipv4.ip_forward=1
  # One workload: a namespace behind a veth named as Calico names workload interfaces.
  ip netns add "$P-vm$n-wl"
  ip -n "$P-vm$n" link add caliwl0 type veth peer name eth0 netns "$P-vm$n-wl"
  ip -n "$P-vm$n" link set caliwl0 up
  in_ns "$P-vm$n" sysctl -qw net.ipv4.conf.caliwl0.proxy_arp=1
  ip -n "$P-vm$n" route add "10.70.$n.2/32" dev caliwl0
  ip -n "$P-vm$n-wl" link set lo up
  ip -n "$P-vm$n-wl" addr add "10.70.$n.2/32" dev eth0 && ip -n "$P-vm$n-wl" link set eth0 up
  ip -n "$P-vm$n-wl" route add default via 169.254.1.1 dev eth0 onlink
  # As Calico's CNI plugin does: the gateway is the host side's MAC (a VM with no default route
  # of its own would not proxy-ARP for 169.254.1.1).
  ip -n "$P-vm$n-wl" neigh add 169.254.1.1 lladdr "$(ip -n "$P-vm$n" -o link show caliwl0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)" dev eth0 nud permanent
  # The workload serves "ok" on 8080.
  ip netns exec "$P-vm$n-wl" socat TCP-LISTEN:8080,reuseaddr,fork "EXEC:/bin/echo ok from vm-$n" & PIDS+=($!)
done

if [ "$DATAPLANE" = ebpf ]; then
  # The agents enter only the network namespace (nsenter), so their pins live in this bpffs.
  BPFFS="$WORK/bpffs"; mkdir -p "$BPFFS"; mount -t bpf bpffs "$BPFFS"
fi

say "starting etcd at $ETCD_URL"
mkdir -p "$WORK/etcd"
ip netns exec "$P-etcd" etcd --name demo --data-dir "$WORK/etcd" --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster demo=http://127.0.0.1:2380 --log-level error >"$WORK/etcd.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do in_ns "$P-etcd" etcdctl --endpoints "$ETCD_URL" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done

say "gingham datastore init and gingham apply (Nodes, workloads, a policy)"
export ETCD_ENDPOINTS=$ETCD_URL
in_ns "$P-etcd" "${G[@]}" datastore init --datastore etcd
nodes_and_workloads > "$WORK/fleet.yaml"
in_ns "$P-etcd" "${G[@]}" apply --datastore etcd -f "$WORK/fleet.yaml"

# Flow logs (both dataplanes: iptables reads NFLOG + conntrack through a relay child, eBPF its
# ring buffer): the stream `gingham flows` reads and the JSON lines file, per VM (one machine
# here); 2 s windows, not Calico's 15 s.
flow_logs_args() { FLOW_LOGS=(--flow-logs --flow-logs-socket "$WORK/vm-$1-flows.sock" --flow-logs-file "$WORK/vm-$1-flows.jsonl" --flow-logs-flush-interval-ms 2000); }
say "starting gingham agent on each VM ($DATAPLANE + WireGuard + flow logs)"
for n in 1 2 3; do
  flow_logs_args "$n"
  nsenter --net="/run/netns/$P-vm$n" "${G[@]}" agent --node "vm-$n" --datastore etcd --etcd-endpoints "$ETCD_URL" \
    --dataplane "$DATAPLANE" ${BPFFS:+--bpffs "$BPFFS"} --ebpf-instance "$P-vm$n" \
    --wireguard --wireguard-interface "$P-wg$n" --wireguard-key-file "$WORK/vm-$n.key" \
    "${FLOW_LOGS[@]}" \
    --lock-dir "$WORK/locks" --health-port 9099 --metrics-port 9091 >"$WORK/agent-$n.log" 2>&1 & PIDS+=($!)
done
for n in 1 2 3; do
  ok=
  for _ in $(seq 300); do
    if nsenter --net="/run/netns/$P-vm$n" "${G[@]}" agent status --health-port 9099 >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [ -n "$ok" ] || { echo "vm-$n's agent did not become ready:"; tail -20 "$WORK/agent-$n.log"; exit 1; }
done
nsenter --net="/run/netns/$P-vm2" "${G[@]}" agent status --health-port 9099

probe() { # from-vm to-vm: prints allowed/denied
  if in_ns "$P-vm$1-wl" socat -T1 - "TCP:10.70.$2.2:8080,connect-timeout=1" </dev/null 2>/dev/null | grep -q ok; then echo allowed; else echo denied; fi
}
matrix() { # expected: frontend->api, batch->api, batch->frontend, api->batch
  local bad=0
  for pair in "1 2 $1" "3 2 $2" "3 1 $3" "2 3 $4" "2 1 allowed"; do
    set -- $pair
    got=$(probe "$1" "$2")
    printf '  vm-%s workload -> vm-%s workload :8080  %-8s (expected %s)\n' "$1" "$2" "$got" "$3"
    [ "$got" = "$3" ] || bad=1
  done
  return $bad
}
wait_matrix() { for _ in $(seq 40); do matrix "$@" >/dev/null && break; sleep 0.25; done; matrix "$@"; }

say "packets: only frontend (vm-1) may reach api (vm-2) on 8080; every other flow is open"
wait_matrix allowed denied allowed allowed

say "the tunnel: traffic between VMs is WireGuard (UDP 51820) on the LAN"
in_ns "$P-vm1" wg show "$P-wg1" | sed 's/^/  /'

say "gingham apply: batch (vm-3) may reach api too"
policy_change > "$WORK/change.yaml"
in_ns "$P-etcd" "${G[@]}" apply --datastore etcd -f "$WORK/change.yaml"
wait_matrix allowed allowed allowed allowed

say "gingham flows on vm-2: who reached the api, which policy and rule decided, and what the staged policy would do"
# The connections the matrix just made, as vm-2's agent logged them (its ingress end: reporter dst).
flows_vm2() { "${G[@]}" flows --socket "$WORK/vm-2-flows.sock" --to demo/vm-2-wl --reporter dst --port 8080 "$@"; }
# Enforced: api-ingress allows batch (rule 0); staged: api-deny-batch would deny it (rule 0).
batch_with_staged() {
  node -e '
    let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
      const ok = s.split("\n").filter(Boolean).map((l) => JSON.parse(l)).some((r) => {
        const e = r.policies.enforced.at(-1), p = r.policies.pending.at(-1);
        return r.source_name === "vm-3-wl" && r.action === "allow" && e?.name === "api-ingress" && e.rule_index === 0 && p?.name === "api-deny-batch" && p.action === "deny" && p.rule_index === 0;
      });
      process.exit(ok ? 0 : 1);
    })'
}
staged_seen=
for _ in $(seq 40); do
  if flows_vm2 --all --json | batch_with_staged; then staged_seen=1; break; fi
  sleep 0.5
done
flows_vm2 --last 10 | sed 's/^/  /'
[ -n "$staged_seen" ] || { echo "vm-2's flow logs do not show batch -> api with its policy and the staged verdict"; exit 1; }

say "gingham flows --follow on vm-2 while batch (vm-3) connects to the api once more"
# --follow prints each window's records as the agent closes it; a new connection shows within one.
# Two readers: a table for you, JSON lines for the check.
flows_vm2 --follow --last 0 --from demo/vm-3-wl >"$WORK/follow.txt" 2>&1 & follow_table=$!
flows_vm2 --follow --last 0 --from demo/vm-3-wl --json >"$WORK/follow.jsonl" 2>&1 & follow_json=$!
PIDS+=($follow_table $follow_json)
# Connect once both readers follow (the agent counts its stream's readers), then again until one shows.
for _ in $(seq 100); do
  readers=$(nsenter --net="/run/netns/$P-vm2" "${G[@]}" agent status --health-port 9099 --json | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).flowLogs?.readers ?? 0))')
  [ "$readers" -ge 2 ] && break
  sleep 0.2
done
followed=
for _ in $(seq 5); do
  probe 3 2 >/dev/null
  for _ in $(seq 20); do
    if batch_with_staged <"$WORK/follow.jsonl"; then followed=1; break 2; fi
    sleep 0.25
  done
done
# The table reader gets the same record; wait for it to print it (on a busy machine it can trail
# the JSON reader by more than a moment) before stopping both.
for _ in $(seq 40); do
  grep -Eq 'demo/vm-3-wl +demo/vm-2-wl +tcp/8080 +ALLOWED' "$WORK/follow.txt" && break
  sleep 0.25
done
kill -TERM "$follow_table" "$follow_json" 2>/dev/null; wait "$follow_table" "$follow_json" 2>/dev/null || true
sed 's/^/  /' "$WORK/follow.txt"
[ -n "$followed" ] || { echo "gingham flows --follow did not show the new batch -> api connection:"; cat "$WORK/follow.jsonl"; exit 1; }
echo "  (follow them live: ${G[*]} flows --follow --socket $WORK/vm-2-flows.sock)"

say "gingham apply: a security tier quarantines batch (vm-3) on every VM"
quarantine_batch > "$WORK/quarantine.yaml"
in_ns "$P-etcd" "${G[@]}" apply --datastore etcd -f "$WORK/quarantine.yaml"
wait_matrix allowed denied denied allowed

say "all three agents applied it:"
for n in 1 2 3; do
  nsenter --net="/run/netns/$P-vm$n" "${G[@]}" agent status --health-port 9099 --json | node -e \
    'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{const j=JSON.parse(s);console.log(`  ${j.node}: ${j.ready?"ready":"NOT READY"}, revision ${j.datastore.revision}, ${j.dataplane.applies} applies, ${j.wireguard?.peers} WireGuard peers`)})'
done

if [ -n "${KEEP:-}" ]; then
  say "running; logs in $WORK; Ctrl-C removes everything"
  # `wait` (unlike a foreground sleep) lets SIGTERM run the cleanup at once.
  while true; do sleep 3600 & wait $!; done
fi
say "done"
