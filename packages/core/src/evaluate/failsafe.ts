/**
 * Host endpoint failsafe ports (Felix `FailsafeInboundHostPorts` / `FailsafeOutboundHostPorts`):
 * always allowed to/from host endpoints, before any policy, so a bad policy cannot lock
 * operators out. Defaults are Calico's.
 */
import { GinghamError } from '../errors.js';
import { type Cidr, cidrContains, type IpAddr, parseCidr } from '../net/cidr.js';
import type { FailsafePort } from './types.js';

const COMMON: readonly FailsafePort[] = [
  { protocol: 'tcp', port: 179 },
  { protocol: 'tcp', port: 2379 },
  { protocol: 'tcp', port: 2380 },
  { protocol: 'tcp', port: 5473 },
  { protocol: 'tcp', port: 6443 },
  { protocol: 'tcp', port: 6666 },
  { protocol: 'tcp', port: 6667 },
];

/** Calico's default inbound failsafes: tcp:22, udp:68, tcp:179, tcp:2379, tcp:2380, tcp:5473, tcp:6443, tcp:6666, tcp:6667. */
export const DEFAULT_FAILSAFE_INBOUND: readonly FailsafePort[] = [{ protocol: 'tcp', port: 22 }, { protocol: 'udp', port: 68 }, ...COMMON];

/** Calico's default outbound failsafes: udp:53, udp:67, tcp:179, tcp:2379, tcp:2380, tcp:5473, tcp:6443, tcp:6666, tcp:6667. */
export const DEFAULT_FAILSAFE_OUTBOUND: readonly FailsafePort[] = [{ protocol: 'udp', port: 53 }, { protocol: 'udp', port: 67 }, ...COMMON];

/**
 * Parses Felix's failsafe syntax: comma-separated `<port>`, `tcp|udp:<port>` or
 * `tcp|udp:<cidr>:<port>` (IPv6 CIDR in brackets); a bare port means tcp; empty entries are
 * skipped. Throws GinghamError (`INVALID_FAILSAFE`) for malformed entries.
 */
export function parseFailsafePorts(text: string): FailsafePort[] {
  const out: FailsafePort[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^(?:(tcp|udp):)?(?:(\[[^\]]+\]|[0-9.]+\/\d+):)?(\d+)$/i.exec(entry);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535) throw new GinghamError('INVALID_FAILSAFE', `invalid failsafe entry "${entry}"`);
    const net = m[2]?.replace(/^\[|\]$/g, '');
    if (net !== undefined && !parseCidr(net)) throw new GinghamError('INVALID_FAILSAFE', `invalid failsafe CIDR in "${entry}"`);
    out.push({ protocol: (m[1]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp', port, ...(net ? { net } : {}) });
  }
  return out;
}

export function formatFailsafe(f: FailsafePort): string {
  return f.net ? `${f.protocol}:${f.net}:${f.port}` : `${f.protocol}:${f.port}`;
}

/** The first failsafe entry matching the flow (destination port; `net` checked against `addr`). */
export function matchFailsafe(
  entries: readonly FailsafePort[],
  protocol: number,
  dstPort: number | undefined,
  addr: IpAddr | undefined,
): FailsafePort | undefined {
  if (dstPort === undefined || (protocol !== 6 && protocol !== 17)) return undefined;
  const proto = protocol === 6 ? 'tcp' : 'udp';
  return entries.find((f) => {
    if (f.protocol !== proto || f.port !== dstPort) return false;
    if (f.net === undefined) return true;
    const c: Cidr | undefined = parseCidr(f.net);
    return c !== undefined && addr !== undefined && cidrContains(c, addr);
  });
}
