/**
 * What a flow question may say, checked the same way whether it comes from flags (`--port`,
 * `--icmp-type` …) or from a `--flows` entry (`port`, `icmpType` …): protocols, port ranges,
 * ports only with protocols that have them, ICMP type/code only with ICMP or ICMPv6, a code
 * only with a type. Problems come back as data naming the field, so one bad entry of a batch
 * does not stop the others.
 */
import { UsageError } from './io.js';

export interface PortSpec {
  readonly port?: number;
  readonly protocol: string;
}

/** One flow to check. `port` is the destination port. */
export interface FlowRequest {
  readonly from: string;
  readonly to: string;
  readonly protocol: string;
  readonly port?: number;
  readonly srcPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

/** A field that is wrong, named as the caller spells it (`to`, `--icmp-code`). */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

const NAMES: Record<string, string> = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP', ICMP: 'ICMP', ICMPV6: 'ICMPv6', UDPLITE: 'UDPLite' };
const NUMBERS: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1, ICMPv6: 58, UDPLite: 136 };
/** Protocols with ports: TCP, UDP, SCTP, UDPLite. */
const PORTED = new Set([6, 17, 132, 136]);
const ICMPS = new Set([1, 58]);
const MAX_PEER_LENGTH = 1024;

function protocolOf(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 1 && value <= 255 ? String(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d{1,3}$/.test(text)) return Number(text) >= 1 && Number(text) <= 255 ? String(Number(text)) : undefined;
  return NAMES[text.toUpperCase()];
}

function protocolNumber(protocol: string): number {
  return NUMBERS[protocol] ?? Number(protocol);
}

/** An integer in [min, max] from a JSON number or a string of digits; undefined when it is not one. */
function integerOf(value: unknown, min: number, max: number): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,6}\s*$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

function shown(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Field names as the source spells them: JSON entries or command-line flags. */
export interface FlowFieldNames {
  readonly from: string;
  readonly to: string;
  readonly protocol: string;
  readonly port: string;
  readonly srcPort: string;
  readonly icmpType: string;
  readonly icmpCode: string;
}

export const JSON_FIELDS: FlowFieldNames = { from: 'from', to: 'to', protocol: 'protocol', port: 'port', srcPort: 'srcPort', icmpType: 'icmpType', icmpCode: 'icmpCode' };
export const FLAG_FIELDS: FlowFieldNames = { from: '--from', to: '--to', protocol: '--protocol', port: '--port', srcPort: '--src-port', icmpType: '--icmp-type', icmpCode: '--icmp-code' };

/** The raw values of one flow question (strings from flags, anything from JSON). */
export interface RawFlow {
  readonly from?: unknown;
  readonly to?: unknown;
  readonly protocol?: unknown;
  readonly port?: unknown;
  readonly srcPort?: unknown;
  readonly icmpType?: unknown;
  readonly icmpCode?: unknown;
}

/** Checks and normalises one flow question; the first problem found, by field. */
export function parseFlow(raw: RawFlow, names: FlowFieldNames): FlowRequest | FieldProblem {
  for (const key of ['from', 'to'] as const) {
    const v = raw[key];
    if (typeof v !== 'string' || v.trim() === '') return { field: names[key], message: 'required: namespace/pod, an endpoint name or an IP address' };
    if (v.length > MAX_PEER_LENGTH) return { field: names[key], message: `longer than ${MAX_PEER_LENGTH} characters` };
  }
  const protocol = raw.protocol === undefined || raw.protocol === null ? 'TCP' : protocolOf(raw.protocol);
  if (protocol === undefined) {
    return { field: names.protocol, message: `unknown protocol ${shown(raw.protocol)}: use TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a number 1-255` };
  }
  const number = protocolNumber(protocol);
  const out: { -readonly [K in keyof FlowRequest]: FlowRequest[K] } = { from: (raw.from as string).trim(), to: (raw.to as string).trim(), protocol };
  for (const key of ['port', 'srcPort'] as const) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    const n = integerOf(v, 1, 65535);
    if (n === undefined) return { field: names[key], message: `invalid port ${shown(v)}: must be a number from 1 to 65535` };
    if (!PORTED.has(number)) return { field: names[key], message: `a port needs protocol TCP, UDP, SCTP or UDPLite (the protocol is ${protocol})` };
    out[key] = n;
  }
  for (const key of ['icmpType', 'icmpCode'] as const) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    const n = integerOf(v, 0, 255);
    if (n === undefined) return { field: names[key], message: `invalid ICMP ${key === 'icmpType' ? 'type' : 'code'} ${shown(v)}: must be a number from 0 to 255` };
    if (!ICMPS.has(number)) return { field: names[key], message: `ICMP ${key === 'icmpType' ? 'type' : 'code'} needs protocol ICMP or ICMPv6 (the protocol is ${protocol})` };
    out[key] = n;
  }
  if (out.icmpCode !== undefined && out.icmpType === undefined) return { field: names.icmpCode, message: `an ICMP code needs an ICMP type (${names.icmpType})` };
  return out;
}

export function isFieldProblem(x: FlowRequest | FieldProblem): x is FieldProblem {
  return 'message' in x;
}

/** `--protocol` for `matrix --ports`: a name or number, or a usage error. */
export function parseProtocol(text: string): string {
  const p = protocolOf(text);
  if (p === undefined) throw new UsageError(`unknown protocol "${text}": use TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a number 1-255`);
  return p;
}

export function parsePort(text: string | number): number {
  const n = integerOf(text, 1, 65535);
  if (n === undefined) throw new UsageError(`invalid port "${text}": must be a number from 1 to 65535`);
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

/** `5432/TCP`, `5432/TCP from port 40000`, `ICMP type 8 code 0`. */
export function formatFlowService(req: FlowRequest): string {
  const parts = [formatPortSpec(req.port === undefined ? { protocol: req.protocol } : { port: req.port, protocol: req.protocol })];
  if (req.srcPort !== undefined) parts.push(`from port ${req.srcPort}`);
  if (req.icmpType !== undefined) parts.push(`type ${req.icmpType}${req.icmpCode !== undefined ? ` code ${req.icmpCode}` : ''}`);
  return parts.join(' ');
}
