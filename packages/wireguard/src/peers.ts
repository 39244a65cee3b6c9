/**
 * Peer computation: from the node list (and the workload endpoints per node) to this node's
 * WireGuard interface settings and peer list, as Felix's WireGuard manager does. Pure: no I/O,
 * no clock; the same input (in any order) always gives the same output, in the same order.
 *
 * Design decisions (see docs/wireguard.md):
 *  - a node is a peer when it is not this node, has a valid public key shared with no other
 *    node, and has an endpoint address (BGP address, else its first address);
 *  - a peer's allowed IPs are its pod CIDRs, its workload IPs outside them, and its WireGuard
 *    interface address, minus nested duplicates;
 *  - when two nodes claim overlapping prefixes (an equal CIDR, an IP inside another node's
 *    CIDR, the same workload IP), NEITHER claim is programmed and an error issue names both:
 *    nothing is silently resolved in favour of one node. This also covers claims overlapping
 *    this node's own addresses. Allowed IPs of different peers are therefore always disjoint.
 */
import { parseIp, type NodeInfo, type WorkloadEndpoint } from '@gingham/core';
import { canonicalAddress, comparePrefix, findOverlaps, parsePrefix, prefixContains, type Claim, type Prefix } from './prefix.js';
import { isValidKey } from './keys.js';

/** Felix's default listen port for the IPv4 device. */
export const DEFAULT_LISTEN_PORT = 51820;
/** Felix's default listen port for the IPv6 device. */
export const DEFAULT_LISTEN_PORT_V6 = 51821;
/** Underlay MTU assumed when none is given. */
export const DEFAULT_UNDERLAY_MTU = 1500;
/** WireGuard overhead over an IPv4 underlay (IPv4 20 + UDP 8 + WireGuard 32), as Felix. */
export const WIREGUARD_OVERHEAD_IPV4 = 60;
/** WireGuard overhead over an IPv6 underlay (IPv6 40 + UDP 8 + WireGuard 32), as Felix. */
export const WIREGUARD_OVERHEAD_IPV6 = 80;

/** Input of {@link computeWireguardConfig}. */
export interface ComputeWireguardOptions {
  /** Every node of the cluster, this one included. */
  readonly nodes: readonly NodeInfo[];
  /** Workload endpoints of all nodes (only their `node` and `addresses` are read). */
  readonly workloadEndpoints?: readonly Pick<WorkloadEndpoint, 'node' | 'addresses'>[];
  /** Name of the node being configured. */
  readonly localNode: string;
  /** Which device to compute: the IPv4 one (default) or the IPv6 one (Felix runs one of each). */
  readonly ipVersion?: 4 | 6;
  /** Listen port of this node and every peer. Default 51820 (IPv4) / 51821 (IPv6). */
  readonly listenPort?: number;
  /** Persistent keepalive in seconds for every peer; 0 or absent = off (Felix's default). */
  readonly persistentKeepalive?: number;
  /** MTU of the underlay device; the interface MTU is this minus 60 (IPv4) or 80 (IPv6). */
  readonly underlayMtu?: number;
  /** Explicit interface MTU; overrides the computation from `underlayMtu`. */
  readonly mtu?: number;
  /**
   * This node's actual public key (from its private key), when known. A remote node publishing
   * the same key is then reported and not programmed, as one publishing the same key as ours.
   */
  readonly localPublicKey?: string;
}

/** Settings of this node's interface. */
export interface InterfaceSettings {
  /** Interface address as a host prefix (`10.0.0.1/32`), from the node's WireGuard address. */
  readonly address?: string;
  readonly listenPort: number;
  readonly mtu: number;
  /** The public key this node publishes (may differ from its real key during a rotation). */
  readonly publishedPublicKey?: string;
}

/** One peer of this node. */
export interface WireguardPeer {
  /** Name of the node this peer stands for. */
  readonly node: string;
  readonly publicKey: string;
  /** `ip:port` or `[ipv6]:port`. */
  readonly endpoint: string;
  /** Canonical prefixes in address order, pairwise disjoint across peers. */
  readonly allowedIPs: readonly string[];
  /** Seconds; 0 = off. */
  readonly persistentKeepalive: number;
}

/** Stable codes of peer-computation issues. */
export type PeerIssueCode =
  | 'local-node-not-found'
  | 'duplicate-node'
  | 'missing-public-key'
  | 'invalid-public-key'
  | 'duplicate-public-key'
  | 'missing-endpoint'
  | 'invalid-address'
  | 'conflicting-allowed-ips'
  | 'missing-interface-address'
  | 'invalid-option';

/** A problem in the node list, returned as data (never thrown). */
export interface PeerIssue {
  readonly severity: 'error' | 'warning';
  readonly code: PeerIssueCode;
  readonly message: string;
  /** Nodes involved, sorted. */
  readonly nodes: readonly string[];
  /** The prefix concerned, for address issues. */
  readonly cidr?: string;
}

/** Result of {@link computeWireguardConfig}. */
export interface WireguardConfig {
  readonly node: string;
  readonly ipVersion: 4 | 6;
  readonly interface: InterfaceSettings;
  /** Sorted by node name. */
  readonly peers: readonly WireguardPeer[];
  /** Sorted by code, nodes, prefix. */
  readonly issues: readonly PeerIssue[];
  /** False when any issue is an error. */
  readonly ok: boolean;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function familyOf(ip: string): 4 | 6 | undefined {
  return parseIp(ip)?.version;
}

function endpointAddress(node: NodeInfo, family: 4 | 6): string | undefined {
  const bgp = family === 4 ? node.bgpIPv4Address : node.bgpIPv6Address;
  const fromBgp = bgp ? canonicalAddress(bgp) : undefined;
  if (fromBgp) return fromBgp;
  const addrs = node.addresses.map((a) => canonicalAddress(a)).filter((a): a is string => a !== undefined);
  return addrs.find((a) => familyOf(a) === family) ?? addrs[0];
}

function formatEndpoint(ip: string, port: number): string {
  return familyOf(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * Computes this node's interface settings and peers. Never throws for bad data: problems are
 * returned as `issues` (errors make `ok` false) and the affected nodes or prefixes are left out.
 */
export function computeWireguardConfig(options: ComputeWireguardOptions): WireguardConfig {
  const family = options.ipVersion ?? 4;
  const issues: PeerIssue[] = [];
  const issue = (severity: PeerIssue['severity'], code: PeerIssueCode, message: string, nodes: string[], cidr?: string): void => {
    const sorted = [...new Set(nodes)].sort(cmp);
    issues.push(cidr === undefined ? { severity, code, message, nodes: sorted } : { severity, code, message, nodes: sorted, cidr });
  };

  let listenPort = options.listenPort ?? (family === 4 ? DEFAULT_LISTEN_PORT : DEFAULT_LISTEN_PORT_V6);
  if (!validPort(listenPort)) {
    issue('error', 'invalid-option', `listen port ${listenPort} is not in 1..65535`, []);
    listenPort = family === 4 ? DEFAULT_LISTEN_PORT : DEFAULT_LISTEN_PORT_V6;
  }
  let keepalive = options.persistentKeepalive ?? 0;
  if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535) {
    issue('error', 'invalid-option', `persistent keepalive ${keepalive} is not in 0..65535`, []);
    keepalive = 0;
  }

  // Nodes by name; duplicated names are ambiguous and dropped.
  const byName = new Map<string, NodeInfo[]>();
  for (const n of options.nodes) byName.set(n.name, [...(byName.get(n.name) ?? []), n]);
  const nodes: NodeInfo[] = [];
  for (const [name, list] of [...byName].sort((a, b) => cmp(a[0], b[0]))) {
    if (list.length > 1) issue('error', 'duplicate-node', `node ${name} is listed ${list.length} times; it is ignored`, [name]);
    else nodes.push(list[0]!);
  }
  const local = nodes.find((n) => n.name === options.localNode);

  const keyOf = (n: NodeInfo): string | undefined => (family === 4 ? n.wireguardPublicKey : n.wireguardPublicKeyV6);
  const wgAddressOf = (n: NodeInfo): string | undefined => (family === 4 ? n.wireguardInterfaceIPv4Address : n.wireguardInterfaceIPv6Address);
  const keyField = family === 4 ? 'status.wireguardPublicKey' : 'status.wireguardPublicKeyV6';
  const addrField = family === 4 ? 'spec.wireguard.interfaceIPv4Address' : 'spec.wireguard.interfaceIPv6Address';

  // Interface settings.
  const localEndpointIp = local ? endpointAddress(local, family) : undefined;
  const underlayFamily = (localEndpointIp ? familyOf(localEndpointIp) : undefined) ?? family;
  const overhead = underlayFamily === 6 ? WIREGUARD_OVERHEAD_IPV6 : WIREGUARD_OVERHEAD_IPV4;
  let mtu = options.mtu ?? (options.underlayMtu ?? DEFAULT_UNDERLAY_MTU) - overhead;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
    issue('error', 'invalid-option', `interface MTU ${mtu} is not in 576..65535`, []);
    mtu = DEFAULT_UNDERLAY_MTU - overhead;
  }
  let address: string | undefined;
  if (local) {
    const raw = wgAddressOf(local);
    const c = raw ? parsePrefix(canonicalAddress(raw) ?? '') : undefined;
    if (raw && (!c || c.cidr.version !== family)) issue('error', 'invalid-address', `${addrField} "${raw}" of node ${local.name} is not an IPv${family} address`, [local.name]);
    else if (c) address = c.text;
    else issue('warning', 'missing-interface-address', `node ${local.name} has no ${addrField}: the interface gets no address, so traffic from this host itself to peers' workloads is not accepted by them (workload-to-workload traffic is unaffected)`, [local.name]);
  } else {
    issue('error', 'local-node-not-found', `node ${options.localNode} is not in the node list`, [options.localNode]);
  }
  const localKey = local ? keyOf(local) : undefined;
  const iface: InterfaceSettings = { listenPort, mtu, ...(address ? { address } : {}), ...(localKey ? { publishedPublicKey: localKey } : {}) };

  // Keys: valid and unique.
  const keyOwners = new Map<string, string[]>();
  const validKeyNodes = new Set<string>();
  for (const n of nodes) {
    const key = keyOf(n);
    if (key === undefined || key === '') {
      if (n.name !== options.localNode) issue('warning', 'missing-public-key', `node ${n.name} has no ${keyField}; it is not a peer`, [n.name]);
      continue;
    }
    if (!isValidKey(key)) {
      issue('error', 'invalid-public-key', `${keyField} of node ${n.name} is not a WireGuard key (base64 of exactly 32 bytes); it is not a peer`, [n.name]);
      continue;
    }
    validKeyNodes.add(n.name);
    keyOwners.set(key, [...(keyOwners.get(key) ?? []), n.name]);
  }
  if (options.localPublicKey && local && keyOf(local) !== options.localPublicKey) {
    keyOwners.set(options.localPublicKey, [...(keyOwners.get(options.localPublicKey) ?? []), local.name]);
  }
  const sharedKey = new Set<string>();
  for (const [, owners] of [...keyOwners].sort((a, b) => cmp(a[0], b[0]))) {
    const distinct = [...new Set(owners)];
    if (distinct.length < 2) continue;
    for (const o of distinct) sharedKey.add(o);
    issue('error', 'duplicate-public-key', `nodes ${distinct.sort(cmp).join(', ')} publish the same WireGuard public key; none of them is a peer`, distinct);
  }

  // Address claims of every node (the local one included, so peers cannot claim our addresses).
  const weps = new Map<string, Prefix[]>();
  for (const w of options.workloadEndpoints ?? []) {
    for (const a of w.addresses) {
      const c = parsePrefix(a);
      if (!c) {
        issue('warning', 'invalid-address', `workload address "${a}" on node ${w.node} is not an IP address; ignored`, [w.node]);
        continue;
      }
      if (c.cidr.version !== family) continue;
      weps.set(w.node, [...(weps.get(w.node) ?? []), c]);
    }
  }
  const claims: Claim[] = [];
  const claimsByOwner = new Map<string, Prefix[]>();
  for (const n of nodes) {
    const pods: Prefix[] = [];
    for (const p of n.podCIDRs) {
      const c = parsePrefix(p);
      if (!c) issue('warning', 'invalid-address', `pod CIDR "${p}" of node ${n.name} is not a prefix; ignored`, [n.name], p);
      else if (c.cidr.version === family) pods.push(c);
    }
    const own: Prefix[] = [...pods];
    for (const w of weps.get(n.name) ?? []) if (!pods.some((p) => prefixContains(p.cidr, w.cidr))) own.push(w);
    if (n.name !== options.localNode) {
      const raw = wgAddressOf(n);
      if (raw) {
        const c = parsePrefix(canonicalAddress(raw) ?? '');
        if (!c || c.cidr.version !== family) issue('warning', 'invalid-address', `${addrField} "${raw}" of node ${n.name} is not an IPv${family} address; ignored`, [n.name]);
        else own.push(c);
      }
    } else if (address) {
      own.push(parsePrefix(address)!);
    }
    for (const c of own) claims.push({ owner: n.name, prefix: c });
    claimsByOwner.set(n.name, own);
  }
  const conflicted = new Set<string>(); // `${owner} ${cidr}`
  const reported = new Set<string>();
  for (const { a, b } of findOverlaps(claims)) {
    conflicted.add(`${a.owner} ${a.prefix.text}`);
    conflicted.add(`${b.owner} ${b.prefix.text}`);
    const [x, y] = cmp(a.owner, b.owner) <= 0 ? [a, b] : [b, a];
    const key = `${x.owner} ${x.prefix.text} ${y.owner} ${y.prefix.text}`;
    if (reported.has(key)) continue;
    reported.add(key);
    const what = x.prefix.text === y.prefix.text ? `${x.prefix.text}` : `${x.prefix.text} (${x.owner}) and ${y.prefix.text} (${y.owner})`;
    issue(
      'error',
      'conflicting-allowed-ips',
      `nodes ${x.owner} and ${y.owner} both claim ${what}; neither claim is programmed`,
      [x.owner, y.owner],
      comparePrefix(x.prefix.cidr, y.prefix.cidr) <= 0 ? x.prefix.text : y.prefix.text,
    );
  }

  // Peers.
  const peers: WireguardPeer[] = [];
  for (const n of nodes) {
    if (n.name === options.localNode || !validKeyNodes.has(n.name) || sharedKey.has(n.name)) continue;
    const ip = endpointAddress(n, family);
    if (!ip) {
      issue('warning', 'missing-endpoint', `node ${n.name} has no address to reach it at; it is not a peer`, [n.name]);
      continue;
    }
    const mine = (claimsByOwner.get(n.name) ?? []).filter((c) => !conflicted.has(`${n.name} ${c.text}`)).sort((x, y) => comparePrefix(x.cidr, y.cidr));
    const allowed: Prefix[] = [];
    for (const c of mine) if (!allowed.some((o) => prefixContains(o.cidr, c.cidr))) allowed.push(c);
    peers.push({
      node: n.name,
      publicKey: keyOf(n)!,
      endpoint: formatEndpoint(ip, listenPort),
      allowedIPs: allowed.map((c) => c.text),
      persistentKeepalive: keepalive,
    });
  }

  issues.sort((a, b) => cmp(a.code, b.code) || cmp(a.nodes.join(','), b.nodes.join(',')) || cmp(a.cidr ?? '', b.cidr ?? '') || cmp(a.message, b.message));
  return {
    node: options.localNode,
    ipVersion: family,
    interface: iface,
    peers,
    issues,
    ok: !issues.some((i) => i.severity === 'error'),
  };
}

/** One line per issue: `error: conflicting-allowed-ips: nodes a and b both claim ...`. */
export function formatPeerIssue(issue: PeerIssue): string {
  return `${issue.severity}: ${issue.code}: ${issue.message}`;
}
