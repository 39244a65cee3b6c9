/**
 * What the compiler needs to know about the namespace for forwarding: the ifindex (and, for host
 * endpoints bound by expected IPs, the addresses) of the interfaces named host endpoints bind.
 * Read only when such an endpoint exists; the all-interfaces endpoint needs nothing (it is the
 * `ifaces` default entry). Never changes anything.
 */
import type { DataplaneState } from '@gingham/core';
import type { HostFacts } from '../compile/index.js';
import type { NetnsLink } from './interfaces.js';

export function hostFacts(state: DataplaneState, links: () => readonly NetnsLink[], ifindexes: (names: readonly string[]) => Map<string, number>): HostFacts {
  const heps = [...state.hostEndpoints.values()];
  if (!heps.some((h) => h.binding.kind !== 'all-interfaces')) return {};
  const all = heps.some((h) => h.binding.kind === 'expected-ips') ? links() : [];
  const names = new Set<string>(all.map((l) => l.ifname));
  for (const h of heps) if (h.binding.kind === 'interface') names.add(h.binding.interfaceName);
  const idx = ifindexes([...names]);
  const interfaces = [...names]
    .sort()
    .map((name) => ({ name, ifindex: idx.get(name) ?? 0, addresses: all.find((l) => l.ifname === name)?.addresses ?? [] }))
    .filter((i) => i.ifindex > 0);
  return { interfaces };
}
