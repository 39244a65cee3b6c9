/**
 * One compiled rule → iptables match variants. iptables holds one `-s`, one `-d` and 15 ports
 * per multiport match, so a rule is split into variants whose union is the rule (each variant
 * ends with the same terminating action, so the first matching variant decides exactly as the
 * rule would; a Log rule may log once per matching variant). Negated lists stay in one rule
 * (several negated matches AND together). Several CIDRs on one side become a derived `hash:net`
 * set; `/0` never goes into a set (hash:net cannot hold it) — it is "any address" instead.
 */
import type { CompiledRule, CompiledSide, PortRange } from '@gingham/core';

export interface RuleContext {
  readonly family: 4 | 6;
  /** The kernel name of an Engine IP set (`nets` or `net-port-proto`). */
  setRef(id: string): string;
  /** The kernel name of a derived `hash:net` set holding exactly these CIDRs (same family, no /0). */
  netSet(cidrs: readonly string[]): string;
}

const PORT_PROTOCOLS = [6, 17, 132] as const;
const PORT_CAPABLE = new Set<number>([6, 17, 132, 136, 33]);

function familyOf(cidr: string): 4 | 6 {
  return cidr.includes(':') ? 6 : 4;
}

function isAny(cidr: string): boolean {
  return cidr.endsWith('/0');
}

/** Multiport port lists of at most 15 slots (a range takes two). */
export function portChunks(ranges: readonly PortRange[]): string[] {
  const chunks: string[] = [];
  let cur: string[] = [];
  let slots = 0;
  for (const r of ranges) {
    const text = r.min === r.max ? String(r.min) : `${r.min}:${r.max}`;
    const need = r.min === r.max ? 1 : 2;
    if (slots + need > 15) {
      chunks.push(cur.join(','));
      cur = [];
      slots = 0;
    }
    cur.push(text);
    slots += need;
  }
  if (cur.length > 0) chunks.push(cur.join(','));
  return chunks;
}

type Variants = string[][];

function product(a: Variants, b: Variants): Variants {
  const out: Variants = [];
  for (const x of a) for (const y of b) out.push([...x, ...y]);
  return out;
}

/** Address part of a side: `[]` alternatives = never matches, `[[]]` = no constraint. */
function addressMatch(side: CompiledSide, dir: 'src' | 'dst', ctx: RuleContext): Variants {
  const flag = dir === 'src' ? '-s' : '-d';
  const tokens: string[] = [];
  if (side.domains && side.domains.length > 0) return [];
  if (side.nets) {
    const nets = side.nets.filter((c) => familyOf(c) === ctx.family);
    if (nets.length === 0) return [];
    if (!nets.some(isAny)) {
      if (nets.length === 1) tokens.push(flag, nets[0]!);
      else tokens.push('-m', 'set', '--match-set', ctx.netSet(nets), dir);
    }
  }
  if (side.notNets) {
    const nets = side.notNets.filter((c) => familyOf(c) === ctx.family);
    if (nets.length === 0 || nets.some(isAny)) return [];
    // iptables allows one -s/-d per rule: when nets already used it, the negation goes through a set.
    if (nets.length === 1 && !tokens.includes(flag)) tokens.push('!', flag, nets[0]!);
    else tokens.push('-m', 'set', '!', '--match-set', ctx.netSet(nets), dir);
  }
  if (side.ipSetId !== undefined) tokens.push('-m', 'set', '--match-set', ctx.setRef(side.ipSetId), dir);
  if (side.notIpSetId !== undefined) tokens.push('-m', 'set', '!', '--match-set', ctx.setRef(side.notIpSetId), dir);
  return [tokens];
}

function hasPorts(s: CompiledSide): boolean {
  return (s.ports?.length ?? 0) + (s.namedPortIpSetIds?.length ?? 0) + (s.notPorts?.length ?? 0) + (s.notNamedPortIpSetIds?.length ?? 0) > 0;
}

/** Port part of a side: OR of numeric chunks and named-port sets, AND of negations. */
function portMatch(side: CompiledSide, dir: 'src' | 'dst', ctx: RuleContext): Variants {
  const opt = dir === 'src' ? '--sports' : '--dports';
  const pair = `${dir},${dir}`;
  let alternatives: Variants = [[]];
  if ((side.ports?.length ?? 0) + (side.namedPortIpSetIds?.length ?? 0) > 0) {
    alternatives = [
      ...portChunks(side.ports ?? []).map((c) => ['-m', 'multiport', opt, c]),
      ...(side.namedPortIpSetIds ?? []).map((id) => ['-m', 'set', '--match-set', ctx.setRef(id), pair]),
    ];
  }
  const negations: string[] = [];
  for (const c of portChunks(side.notPorts ?? [])) negations.push('-m', 'multiport', '!', opt, c);
  for (const id of side.notNamedPortIpSetIds ?? []) negations.push('-m', 'set', '!', '--match-set', ctx.setRef(id), pair);
  return alternatives.map((a) => [...a, ...negations]);
}

/** The match variants of `rule` for `ctx.family`; empty when the rule can never match there. */
export function matchVariants(rule: CompiledRule, ctx: RuleContext): Variants {
  if (rule.ipVersion !== undefined && rule.ipVersion !== ctx.family) return [];
  const icmpProto = ctx.family === 4 ? 1 : 58;
  const ports = hasPorts(rule.source) || hasPorts(rule.destination);
  let protocols: (number | undefined)[];
  if (rule.protocol !== undefined) {
    if (ports && !PORT_CAPABLE.has(rule.protocol)) return [];
    if ((rule.icmp || rule.notICMP) && rule.protocol !== icmpProto) return [];
    protocols = [rule.protocol];
  } else if (rule.icmp || rule.notICMP) {
    if (ports) return [];
    protocols = [icmpProto];
  } else if (ports) {
    protocols = PORT_PROTOCOLS.filter((p) => p !== rule.notProtocol);
  } else {
    protocols = [undefined];
  }
  if (protocols.some((p) => p !== undefined && p === rule.notProtocol)) return [];
  let base: Variants = protocols.map((p) => {
    const t: string[] = [];
    if (p !== undefined) t.push('-p', String(p));
    else if (rule.notProtocol !== undefined) t.push('!', '-p', String(rule.notProtocol));
    return t;
  });
  const icmp: string[] = [];
  const [mod, opt] = ctx.family === 4 ? ['icmp', '--icmp-type'] : ['icmp6', '--icmpv6-type'];
  const icmpText = (m: { type: number; code?: number }): string => (m.code === undefined ? String(m.type) : `${m.type}/${m.code}`);
  if (rule.icmp) icmp.push('-m', mod, opt, icmpText(rule.icmp));
  if (rule.notICMP) icmp.push('-m', mod, '!', opt, icmpText(rule.notICMP));
  base = base.map((b) => [...b, ...icmp]);
  for (const [side, dir] of [
    [rule.source, 'src'],
    [rule.destination, 'dst'],
  ] as const) {
    base = product(base, addressMatch(side, dir, ctx));
    base = product(base, portMatch(side, dir, ctx));
  }
  return base;
}
