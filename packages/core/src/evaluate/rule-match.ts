/**
 * Matching one rule against one flow, with IP-set semantics: a selector matches an address
 * when the address belongs to an endpoint or network set the selector selects; named ports
 * resolve to (address, protocol, port) tuples of endpoints on that side. Rules are compiled
 * once (CIDRs parsed, split by family) and cached per rule object.
 * Returns `undefined` on a match, or the first failing criterion as a short sentence.
 */
import type { EntityMatch, IcmpMatch, PortMatch, Rule } from '../model/types.js';
import { type Cidr, cidrContains, type IpAddr, parseCidr } from '../net/cidr.js';
import { protocolName } from '../convert/protocol.js';
import type { SnapshotIndex } from './snapshot-index.js';

/** Everything about the flow a rule looks at. */
export interface MatchContext {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly src?: IpAddr;
  readonly dst?: IpAddr;
  readonly srcText?: string;
  readonly dstText?: string;
  /** `ipKey` of src / dst (memo keys for IP-set lookups). */
  readonly srcKey?: string;
  readonly dstKey?: string;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmp?: { readonly type: number; readonly code?: number };
}

interface CidrField {
  /** For messages: the CIDRs as written, shortened. */
  readonly label: string;
  readonly v4: readonly Cidr[];
  readonly v6: readonly Cidr[];
}

interface CompiledSide {
  readonly nets?: CidrField;
  readonly notNets?: CidrField;
  readonly entity: EntityMatch;
  readonly portsLabel: string;
  readonly notPortsLabel: string;
}

interface CompiledRule {
  readonly src: CompiledSide;
  readonly dst: CompiledSide;
}

const compiled = new WeakMap<Rule, CompiledRule>();

function compileCidrs(texts: readonly string[] | undefined): CidrField | undefined {
  if (!texts || texts.length === 0) return undefined;
  const v4: Cidr[] = [];
  const v6: Cidr[] = [];
  for (const t of texts) {
    const c = parseCidr(t);
    if (!c) continue;
    (c.version === 4 ? v4 : v6).push(c);
  }
  return { label: list(texts), v4, v6 };
}

function compileSide(e: EntityMatch): CompiledSide {
  const nets = compileCidrs(e.nets);
  const notNets = compileCidrs(e.notNets);
  return {
    ...(nets ? { nets } : {}),
    ...(notNets ? { notNets } : {}),
    entity: e,
    portsLabel: e.ports ? formatPorts(e.ports) : '',
    notPortsLabel: e.notPorts ? formatPorts(e.notPorts) : '',
  };
}

function compile(rule: Rule): CompiledRule {
  let c = compiled.get(rule);
  if (!c) {
    c = { src: compileSide(rule.source ?? {}), dst: compileSide(rule.destination ?? {}) };
    compiled.set(rule, c);
  }
  return c;
}

function familyCidrs(f: CidrField, family: 4 | 6): readonly Cidr[] {
  return family === 4 ? f.v4 : f.v6;
}

function list(texts: readonly string[], max = 3): string {
  return texts.length <= max ? texts.join(', ') : `${texts.slice(0, max).join(', ')}, … (${texts.length})`;
}

function formatPorts(ports: readonly PortMatch[]): string {
  return list(ports.map((p) => (p.kind === 'named' ? p.name : p.min === p.max ? String(p.min) : `${p.min}:${p.max}`)), 5);
}

function portMatches(
  index: SnapshotIndex,
  p: PortMatch,
  port: number,
  protocol: number,
  addr: IpAddr | undefined,
  selector: string | undefined,
): boolean {
  if (p.kind === 'range') return port >= p.min && port <= p.max;
  return addr !== undefined && index.inNamedPortSet(p.name, protocol, port, addr, selector);
}

function icmpMatches(m: IcmpMatch, icmp: { type: number; code?: number }): boolean {
  return m.type === icmp.type && (m.code === undefined || m.code === icmp.code);
}

function sideMatches(
  index: SnapshotIndex,
  side: CompiledSide,
  which: 'source' | 'destination',
  ctx: MatchContext,
): string | undefined {
  const addr = which === 'source' ? ctx.src : ctx.dst;
  const text = which === 'source' ? ctx.srcText : ctx.dstText;
  const key = which === 'source' ? ctx.srcKey : ctx.dstKey;
  const port = which === 'source' ? ctx.srcPort : ctx.dstPort;
  const e = side.entity;
  if (side.nets) {
    if (!addr) return `${which} has no IPv${ctx.family} address to match ${which}.nets`;
    if (!familyCidrs(side.nets, ctx.family).some((c) => cidrContains(c, addr))) return `${which} ${text} not in nets [${side.nets.label}]`;
  }
  if (side.notNets) {
    if (!addr) return `${which} has no IPv${ctx.family} address to match ${which}.notNets`;
    const hit = familyCidrs(side.notNets, ctx.family).find((c) => cidrContains(c, addr));
    if (hit) return `${which} ${text} in notNets`;
  }
  if (e.selector !== undefined) {
    if (!addr) return `${which} has no IPv${ctx.family} address to match a selector`;
    if (!index.inSelectorSet(e.selector, addr, key)) return `${which} ${text} not selected by ${e.selector}`;
  }
  if (e.notSelector !== undefined) {
    if (!addr) return `${which} has no IPv${ctx.family} address to match a notSelector`;
    if (index.inSelectorSet(e.notSelector, addr, key)) return `${which} ${text} selected by notSelector ${e.notSelector}`;
  }
  if (e.ports && e.ports.length > 0) {
    if (port === undefined) return `flow has no ${which} port`;
    if (!e.ports.some((p) => portMatches(index, p, port, ctx.protocol, addr, e.selector))) {
      return `${which} port ${port} not in [${side.portsLabel}]`;
    }
  }
  if (e.notPorts && e.notPorts.length > 0) {
    if (port === undefined) return `flow has no ${which} port`;
    if (e.notPorts.some((p) => portMatches(index, p, port, ctx.protocol, addr, e.selector))) {
      return `${which} port ${port} in notPorts [${side.notPortsLabel}]`;
    }
  }
  if (e.domains && e.domains.length > 0) return `${which} domains are not matched offline`;
  return undefined;
}

/** `undefined` when the rule matches the flow; otherwise why not. */
export function ruleMismatch(index: SnapshotIndex, rule: Rule, ctx: MatchContext): string | undefined {
  const c = compile(rule);
  if (rule.ipVersion !== undefined && rule.ipVersion !== ctx.family) return `rule is IPv${rule.ipVersion} only`;
  // Felix renders a rule per IP family; if filtering a CIDR field to this family empties it, the rule is dropped.
  for (const [side, name] of [
    [c.src, 'source'],
    [c.dst, 'destination'],
  ] as const) {
    if (side.nets && familyCidrs(side.nets, ctx.family).length === 0) return `rule has no IPv${ctx.family} ${name}.nets`;
    if (side.notNets && familyCidrs(side.notNets, ctx.family).length === 0) return `rule has no IPv${ctx.family} ${name}.notNets`;
  }
  if (rule.protocol && rule.protocol.number !== ctx.protocol) {
    return `protocol ${protocolName(ctx.protocol)} is not ${protocolName(rule.protocol.number)}`;
  }
  if (rule.notProtocol && rule.notProtocol.number === ctx.protocol) return `protocol is ${protocolName(ctx.protocol)} (notProtocol)`;
  const src = sideMatches(index, c.src, 'source', ctx);
  if (src) return src;
  const dst = sideMatches(index, c.dst, 'destination', ctx);
  if (dst) return dst;
  if (rule.icmp) {
    if (!ctx.icmp) return 'flow has no ICMP type';
    if (!icmpMatches(rule.icmp, ctx.icmp)) return `ICMP type/code ${ctx.icmp.type}/${ctx.icmp.code ?? '-'} does not match`;
  }
  if (rule.notICMP) {
    if (!ctx.icmp) return 'flow has no ICMP type';
    if (icmpMatches(rule.notICMP, ctx.icmp)) return `ICMP type/code ${ctx.icmp.type}/${ctx.icmp.code ?? '-'} excluded by notICMP`;
  }
  return undefined;
}
