/**
 * Protocols and ports as Calico v3 rules spell them (`numorstring.Protocol`, `numorstring.Port`):
 * names are case-sensitive, numeric strings count as numbers, ports are numbers, `"min:max"`
 * ranges or named ports.
 */
import { suggest } from './suggest.js';
import { show } from './values.js';

export const CALICO_PROTOCOL_NAMES = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'] as const;

const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 };

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_ICMPV6 = 58;

export type ParsedProtocol = { readonly ok: true; readonly number: number } | { readonly ok: false; readonly message: string };

export function parseCalicoProtocol(value: unknown): ParsedProtocol {
  const badNumber = { ok: false, message: 'protocol number invalid: must be between 1 and 255' } as const;
  if (typeof value === 'number') return Number.isInteger(value) && value >= 1 && value <= 255 ? { ok: true, number: value } : badNumber;
  if (typeof value !== 'string') return { ok: false, message: 'protocol must be a name or a number' };
  if (/^[0-9]+$/.test(value)) {
    const n = Number(value);
    if (n <= 255) return n === 0 ? badNumber : { ok: true, number: n };
  }
  const known = PROTOCOL_NUMBERS[value];
  if (Object.hasOwn(PROTOCOL_NUMBERS, value) && known !== undefined) return { ok: true, number: known };
  const hint = suggest(value, CALICO_PROTOCOL_NAMES);
  return {
    ok: false,
    message: `protocol name invalid: ${show(value)} is not one of ${CALICO_PROTOCOL_NAMES.join(', ')} (case-sensitive) or a number 1-255${hint ? `; did you mean ${hint}?` : ''}`,
  };
}

/** TCP, UDP and SCTP carry ports. */
export function protocolSupportsPorts(n: number): boolean {
  return n === 6 || n === 17 || n === 132;
}

export type CalicoPort =
  | { readonly kind: 'range'; readonly min: number; readonly max: number }
  | { readonly kind: 'named'; readonly name: string };

export type ParsedPort = { readonly ok: true; readonly port: CalicoPort } | { readonly ok: false; readonly message: string };

const ALL_DIGITS = /^[0-9]+$/;
const PORT_RANGE = /^([0-9]+):([0-9]+)$/;
const PORT_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
const RANGE_MSG = 'port range invalid, port number must be between 1 and 65535';

export function parseCalicoPort(value: unknown): ParsedPort {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > 65535) return { ok: false, message: RANGE_MSG };
    return { ok: true, port: { kind: 'range', min: value, max: value } };
  }
  if (typeof value !== 'string') return { ok: false, message: 'port must be a number, a "min:max" range or a name' };
  if (ALL_DIGITS.test(value)) {
    const n = Number(value);
    if (n > 65535) return { ok: false, message: `invalid port format (${value})` };
    if (n < 1) return { ok: false, message: RANGE_MSG };
    return { ok: true, port: { kind: 'range', min: n, max: n } };
  }
  const m = PORT_RANGE.exec(value);
  if (m) {
    const min = Number(m[1]);
    const max = Number(m[2]);
    if (min > 65535) return { ok: false, message: `invalid minimum port number in range (${value})` };
    if (max > 65535) return { ok: false, message: `invalid maximum port number in range (${value})` };
    if (min > max) return { ok: false, message: `minimum port number (${min}) is greater than maximum port number (${max}) in port range` };
    if (min < 1) return { ok: false, message: RANGE_MSG };
    return { ok: true, port: { kind: 'range', min, max } };
  }
  if (!PORT_NAME.test(value)) return { ok: false, message: `invalid name for named port (${value.length > 40 ? `${value.slice(0, 39)}…` : value})` };
  return { ok: true, port: { kind: 'named', name: value } };
}
