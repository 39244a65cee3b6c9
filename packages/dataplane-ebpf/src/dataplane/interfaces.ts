/**
 * Which interfaces get the program: the host side of every workload endpoint's veth, and every
 * host endpoint's interface (by name; `*` = every interface of the namespace except `lo` and the
 * workload interfaces; no name = the interfaces carrying one of its expected IPs). Reads the
 * namespace's links with `ip -j addr show`; never changes anything.
 */
import { execFileSync } from 'node:child_process';
import { type DataplaneState, parseIp, formatIp } from '@gingham/core';
import { netnsPath } from '@gingham/ebpf-loader';

export interface NetnsLink {
  readonly ifname: string;
  readonly addresses: readonly string[];
}

/** The links of a network namespace (the current one when `netns` is undefined). */
export function listLinks(netns: string | undefined): NetnsLink[] {
  const argv = netns ? ['nsenter', `--net=${netnsPath(netns)}`, 'ip', '-j', 'addr', 'show'] : ['ip', '-j', 'addr', 'show'];
  const out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const parsed = JSON.parse(out || '[]') as Array<{ ifname: string; addr_info?: Array<{ local?: string }> }>;
  return parsed.map((l) => ({
    ifname: l.ifname,
    addresses: (l.addr_info ?? []).flatMap((a) => {
      const ip = a.local ? parseIp(a.local) : undefined;
      return ip ? [formatIp(ip)] : [];
    }),
  }));
}

/** Interface names the state needs the program on, sorted. `links` is only read for `*` and expected-IP bindings. */
export function wantedInterfaces(state: DataplaneState, links: () => readonly NetnsLink[]): string[] {
  const workloads = new Set<string>();
  for (const w of state.workloadEndpoints.values()) if (w.interfaceName) workloads.add(w.interfaceName);
  const out = new Set(workloads);
  let cached: readonly NetnsLink[] | undefined;
  const all = (): readonly NetnsLink[] => (cached ??= links());
  for (const h of state.hostEndpoints.values()) {
    if (h.binding.kind === 'interface') out.add(h.binding.interfaceName);
    else if (h.binding.kind === 'all-interfaces') {
      for (const l of all()) if (l.ifname !== 'lo' && !workloads.has(l.ifname)) out.add(l.ifname);
    } else {
      const ips = new Set(h.expectedIPs.flatMap((t) => {
        const ip = parseIp(t.split('/')[0]!);
        return ip ? [formatIp(ip)] : [];
      }));
      for (const l of all()) if (l.addresses.some((a) => ips.has(a))) out.add(l.ifname);
    }
  }
  return [...out].sort();
}
