/**
 * Protocol names and numbers as Calico knows them (`numorstring.Protocol`): names are matched
 * case-insensitively here because Kubernetes conversions canonicalise case; Calico's own
 * validator is stricter, and validation is not this module's job.
 */
import type { ProtocolMatch } from '../model/types.js';

export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  tcp: 6,
  udp: 17,
  icmp: 1,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

const CANONICAL_NAMES: Readonly<Record<number, string>> = {
  6: 'TCP',
  17: 'UDP',
  1: 'ICMP',
  58: 'ICMPv6',
  132: 'SCTP',
  136: 'UDPLite',
};

/** Protocol number for a name (`TCP`, `icmpv6`), a number, or a numeric string; undefined if unknown. */
export function protocolNumber(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 255 ? value : undefined;
  const t = value.trim();
  if (/^\d{1,3}$/.test(t)) {
    const n = Number(t);
    return n <= 255 ? n : undefined;
  }
  return PROTOCOL_NUMBERS[t.toLowerCase()];
}

/** The usual display name of a protocol number (`TCP`), or the number as a string. */
export function protocolName(n: number): string {
  return CANONICAL_NAMES[n] ?? String(n);
}

export function toProtocolMatch(value: string | number): ProtocolMatch | undefined {
  const number = protocolNumber(value);
  return number === undefined ? undefined : { number, text: String(value) };
}

/** Protocols whose packets carry ports (TCP, UDP, SCTP, UDPLite). */
export function protocolHasPorts(n: number): boolean {
  return n === 6 || n === 17 || n === 132 || n === 136;
}
