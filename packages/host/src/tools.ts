/**
 * Which Debian package provides each program Gingham runs, so a missing tool is an error that
 * says what to install. Kept in one table for every adapter and for `gingham doctor`.
 */

const PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  tc: 'iproute2',
  bridge: 'iproute2',
  ss: 'iproute2',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  'iptables-restore': 'iptables',
  ip6tables: 'iptables',
  'ip6tables-save': 'iptables',
  'ip6tables-restore': 'iptables',
  'iptables-nft-save': 'iptables',
  'iptables-nft-restore': 'iptables',
  'ip6tables-nft-save': 'iptables',
  'ip6tables-nft-restore': 'iptables',
  'iptables-legacy-save': 'iptables',
  'iptables-legacy-restore': 'iptables',
  'ip6tables-legacy-save': 'iptables',
  'ip6tables-legacy-restore': 'iptables',
  ipset: 'ipset',
  conntrack: 'conntrack',
  nft: 'nftables',
  wg: 'wireguard-tools',
  'wireguard-go': 'wireguard-go',
  bpftool: 'bpftool',
  nsenter: 'util-linux',
  flock: 'util-linux',
  mountpoint: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  etcd: 'etcd-server',
  etcdctl: 'etcd-client',
  socat: 'socat',
  iperf3: 'iperf3',
  tcpdump: 'tcpdump',
  clang: 'clang',
  llc: 'llvm',
};

/** The Debian package that provides `tool` (its basename), when known. */
export function debianPackageOf(tool: string): string | undefined {
  const base = tool.slice(tool.lastIndexOf('/') + 1);
  return PACKAGES[base];
}
