/** Parsing of `--ports 80/TCP,53/UDP`, `--port/--protocol` and `--flows FILE` entries. */
import { UsageError } from './io.js';

export interface PortSpec {
  readonly port?: number;
  readonly protocol: string;
}

const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPV6', 'UDPLITE']);

export function parseProtocol(text: string): string {
  const upper = text.trim().toUpperCase();
  if (PROTOCOLS.has(upper)) return upper === 'ICMPV6' ? 'ICMPv6' : upper === 'UDPLITE' ? 'UDPLite' : upper;
  if (/^\d+$/.test(upper) && Number(upper) >= 1 && Number(upper) <= 255) return upper;
  throw new UsageError(`unknown protocol "${text}": use TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a number 1-255`);
}

export function parsePort(text: string | number): number {
  const n = typeof text === 'number' ? text : Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535 || (typeof text === 'string' && !/^\d+$/.test(text.trim()))) {
    throw new UsageError(`invalid port "${text}": must be a number from 1 to 65535`);
  }
  return n;
}

/** `80/TCP,53/UDP,ICMP` → port specs; a bare number means TCP. */
export function parsePortList(text: string): PortSpec[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((item) => {
      const [a, b] = item.split('/', 2) as [string, string | undefined];
      if (b !== undefined) return { port: parsePort(a), protocol: parseProtocol(b) };
      if (/^\d+$/.test(a)) return { port: parsePort(a), protocol: 'TCP' };
      return { protocol: parseProtocol(a) };
    });
}

export function formatPortSpec(spec: PortSpec): string {
  return spec.port === undefined ? spec.protocol : `${spec.port}/${spec.protocol}`;
}

export interface FlowRequest {
  readonly from: string;
  readonly to: string;
  readonly port?: number;
  readonly protocol: string;
}

/** Validates the `--flows` JSON: an array of `{from, to, port?, protocol?}`. */
export function parseFlowsJson(text: string, file: string): FlowRequest[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new UsageError(`${file}: expected a JSON array of {from, to, port, protocol}`);
  return data.map((item: unknown, i) => {
    const at = `${file}: [${i}]`;
    if (typeof item !== 'object' || item === null) throw new UsageError(`${at}: expected an object`);
    const o = item as Record<string, unknown>;
    if (typeof o.from !== 'string' || o.from === '') throw new UsageError(`${at}.from: required string`);
    if (typeof o.to !== 'string' || o.to === '') throw new UsageError(`${at}.to: required string`);
    const protocol = o.protocol === undefined ? 'TCP' : parseProtocol(String(o.protocol));
    const port = o.port === undefined || o.port === null ? undefined : parsePort(o.port as number);
    return port === undefined ? { from: o.from, to: o.to, protocol } : { from: o.from, to: o.to, port, protocol };
  });
}
