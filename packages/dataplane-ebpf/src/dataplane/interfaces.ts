/**
 * Which interfaces get the program: the host side of every workload endpoint's veth, and every
 * host endpoint's interface (by name; `*` = every interface of the namespace except `lo` and the
 * workload interfaces; no name = the interfaces carrying one of its expected IPs). Reads the
 * namespace's links with `ip -j addr show`; never changes anything.
 */
import { execFileSync } from 'node:child_process';
import { type DataplaneState, formatIp, parseIp, parseIpAddrJson } from '@gingham/core';
import { netnsPath } from '@gingham/ebpf-loader';
import { EbpfDataplaneError } from './errors.js';

export interface NetnsLink {
  readonly ifname: string;
  readonly addresses: readonly string[];
}

/** The links of a network namespace (the current one when `netns` is undefined). */
export function listLinks(netns: string | undefined): NetnsLink[] {
  const argv = netns ? ['nsenter', `--net=${netnsPath(netns)}`, 'ip', '-j', 'addr', 'show'] : ['ip', '-j', 'addr', 'show'];
  const out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const links = parseIpAddrJson(out || '[]');
  if (!links) throw new EbpfDataplaneError('EBPF_COMMAND_FAILED', `${argv.join(' ')}: expected a JSON array, got: ${out.slice(0, 80)}`, { detail: argv });
  return [...links].map(([ifname, addresses]) => ({ ifname, addresses }));
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
