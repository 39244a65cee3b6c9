/**
 * Which interfaces get the program: the host side of every workload endpoint's veth, and every
 * interface a host endpoint governs by core's binding rule (by name; `*` = every interface of the
 * namespace except `lo` and the workload interfaces; no name = the interfaces carrying one of its
 * expected IPs). Reads the namespace's links with `ip -j addr show`; never changes anything.
 */
import { execFileSync } from 'node:child_process';
import { bindHostEndpoints, type DataplaneState, parseIpAddrJson } from '@gingham/core';
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

/**
 * Interface names the state needs the program on, sorted: every workload interface, and every
 * interface core's binding rule gives a host endpoint (`bindHostEndpoints`, the rule the iptables
 * dataplane renders too), plus the current interfaces the all-interfaces endpoint covers. `links`
 * is only read for `*` and expected-IP bindings.
 */
export function wantedInterfaces(state: DataplaneState, links: () => readonly NetnsLink[]): string[] {
  const workloads = new Set<string>();
  for (const w of state.workloadEndpoints.values()) if (w.interfaceName) workloads.add(w.interfaceName);
  const bindings = bindHostEndpoints(state.hostEndpoints.values(), links, { isWorkloadInterface: (ifname) => workloads.has(ifname) });
  return [...new Set([...workloads, ...bindings.interfaces.keys(), ...bindings.allInterfacesLinks])].sort();
}
