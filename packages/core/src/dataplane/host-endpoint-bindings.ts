/**
 * Which host interfaces each host endpoint governs: the one binding rule every dataplane uses
 * (iptables renders a dispatch chain per bound interface, eBPF attaches its program and fills
 * its `ifaces` table from the same answer). Pure: the caller reads the interfaces of its network
 * namespace (`ip -j addr show`, `parseIpAddrJson`) and hands them in; nothing here looks at the
 * system.
 *
 * The rule, as Felix resolves host endpoints: a workload's interface is never a host endpoint's.
 * For every other interface, an endpoint that names it wins; otherwise one without a name binds
 * it when one of its `expectedIPs` is on it; among equals the lowest id wins. An endpoint that
 * names an interface binds that name whether or not the interface exists yet (a dataplane may
 * match it by name before it appears); binding by address needs the interface to be there. The
 * all-interfaces (`*`) endpoint with the lowest id is the default for every interface no other
 * endpoint claims, and attaching dataplanes take it to cover every current interface but `lo`.
 */
import { canonicalIp } from '../net/cidr.js';
import type { HostEndpointState } from './messages.js';

/** One interface of the host's network namespace and its addresses (any family, with or without a prefix length). */
export interface HostLink {
  readonly ifname: string;
  readonly addresses: readonly string[];
}

export interface BindHostEndpointsOptions {
  /**
   * True for a workload's interface (a veth of a local pod: by the names in the state, or by
   * the dataplane's workload prefixes). Such an interface is never bound to a host endpoint.
   */
  readonly isWorkloadInterface: (ifname: string) => boolean;
}

/** The answer of `bindHostEndpoints`. */
export interface HostEndpointBindings {
  /**
   * Interface name → the host endpoint that governs it, by its name or by one of its expected
   * IPs, in name order. Only what is claimed explicitly: the `*` endpoint is not listed here.
   */
  readonly interfaces: ReadonlyMap<string, HostEndpointState>;
  /** The all-interfaces (`*`) endpoint (the lowest id of several), the default for every other interface. */
  readonly allInterfaces: HostEndpointState | undefined;
  /**
   * The current interfaces `allInterfaces` governs, sorted: every link except `lo`, the workload
   * interfaces and those in `interfaces`. Empty without an all-interfaces endpoint.
   */
  readonly allInterfacesLinks: readonly string[];
}

const byId = (a: HostEndpointState, b: HostEndpointState): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byName = <T>(a: readonly [string, T], b: readonly [string, T]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
const canonical = (text: string): string => canonicalIp(text) ?? text;

/**
 * Binds `hostEndpoints` (one node's) to interfaces. `links` are the namespace's interfaces; when
 * given as a function it is called only if an endpoint needs them (an all-interfaces endpoint,
 * or one bound by expected IPs), so a state whose endpoints all name their interface never reads
 * the namespace. A link listed twice counts with the addresses of both entries. Independent of the
 * order of `hostEndpoints` and `links`.
 */
export function bindHostEndpoints(
  hostEndpoints: Iterable<HostEndpointState>,
  links: readonly HostLink[] | (() => readonly HostLink[]),
  options: BindHostEndpointsOptions,
): HostEndpointBindings {
  const heps = [...hostEndpoints].sort(byId);
  const isWorkload = options.isWorkloadInterface;
  const bound = new Map<string, HostEndpointState>();
  let allInterfaces: HostEndpointState | undefined;
  for (const h of heps) {
    if (h.binding.kind === 'interface') {
      const name = h.binding.interfaceName;
      if (!bound.has(name) && !isWorkload(name)) bound.set(name, h);
    } else if (h.binding.kind === 'all-interfaces') allInterfaces ??= h;
  }
  const byIp = heps.filter((h) => h.binding.kind === 'expected-ips' && h.expectedIPs.length > 0);
  const needLinks = allInterfaces !== undefined || byIp.length > 0;
  const current = !needLinks ? [] : typeof links === 'function' ? links() : links;
  if (byIp.length > 0) {
    const wanted = byIp.map((h) => ({ h, ips: new Set(h.expectedIPs.map(canonical)) }));
    const addressesOf = new Map<string, Set<string>>();
    for (const link of current) {
      if (bound.has(link.ifname) || isWorkload(link.ifname)) continue;
      const set = addressesOf.get(link.ifname) ?? new Set<string>();
      for (const a of link.addresses) set.add(canonical(a));
      addressesOf.set(link.ifname, set);
    }
    for (const [name, addresses] of addressesOf) {
      const first = wanted.find((w) => [...w.ips].some((ip) => addresses.has(ip)));
      if (first) bound.set(name, first.h);
    }
  }
  const interfaces = new Map([...bound].sort(byName));
  const allInterfacesLinks = allInterfaces === undefined
    ? []
    : [...new Set(current.map((l) => l.ifname))].filter((n) => n !== 'lo' && !isWorkload(n) && !interfaces.has(n)).sort();
  return { interfaces, allInterfaces, allInterfacesLinks };
}
