/**
 * Reading `ip -j addr show` (iproute2's JSON) into interface name → its addresses, canonical and
 * without prefix lengths. Pure: the dataplanes run the command and hand the text in; host endpoint
 * bindings by expected IPs are resolved against this map.
 */
import { canonicalIp } from './cidr.js';

/** Interface name → its addresses (canonical), in iproute2's order; undefined when `text` is not that JSON array. */
export function parseIpAddrJson(text: string): Map<string, string[]> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const out = new Map<string, string[]>();
  for (const link of parsed as { ifname?: unknown; addr_info?: { local?: unknown }[] }[]) {
    if (typeof link?.ifname !== 'string') continue;
    const addrs: string[] = [];
    for (const a of Array.isArray(link.addr_info) ? link.addr_info : []) {
      const ip = typeof a?.local === 'string' ? canonicalIp(a.local) : undefined;
      if (ip !== undefined) addrs.push(ip);
    }
    out.set(link.ifname, addrs);
  }
  return out;
}
