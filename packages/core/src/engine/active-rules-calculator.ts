/**
 * The active rules calculator: compiles the rules of active policies and profiles into the
 * dataplane's form, resolving `selector` / `notSelector` to selector IP set ids and named ports
 * to named-port IP set ids, and reports which IP sets each compiled rule list references (the
 * Engine reference-counts them). Pure functions; ids follow Calico (selector set id = the
 * canonical selector's unique id; named-port set id = makeUniqueId('n', '<selectorId>,<proto>,<name>')).
 */
import type { EntityMatch, Policy, Profile, Rule } from '../model/types.js';
import { makeUniqueId } from '../hash/index.js';
import { parseSelector, type Selector } from '../selector/index.js';
import type { CompiledPolicy, CompiledProfile, CompiledRule, CompiledSide, PortRange } from '../dataplane/messages.js';
import { protoText } from '../dataplane/model-dataplane.js';
import type { IpSetSpec } from './ipset-member-calculator.js';

/** Protocols a named port without a rule protocol can resolve to. */
const NAMED_PORT_PROTOCOLS = [6, 17, 132] as const;

export interface ParsedSelector {
  readonly id: string;
  readonly selector: Selector | undefined;
}

const parsed = new Map<string, ParsedSelector>();

/** Parses a selector (memoised by text); unparseable text gets an id from the raw text and matches nothing. */
export function selectorRef(text: string): ParsedSelector {
  let p = parsed.get(text);
  if (!p) {
    try {
      const selector = parseSelector(text);
      p = { id: selector.uniqueId, selector };
    } catch {
      p = { id: makeUniqueId('s', text), selector: undefined };
    }
    if (parsed.size > 100_000) parsed.clear();
    parsed.set(text, p);
  }
  return p;
}

export function namedPortSetId(selectorId: string, protocol: number, name: string): string {
  return makeUniqueId('n', `${selectorId},${protoText(protocol)},${name}`);
}

export interface CompiledRules {
  readonly ingress: CompiledRule[];
  readonly egress: CompiledRule[];
  /** IP sets referenced (id → what it contains). */
  readonly sets: Map<string, IpSetSpec>;
}

function compileSide(e: EntityMatch, rule: Rule, sets: Map<string, IpSetSpec>): CompiledSide {
  const out: { -readonly [K in keyof CompiledSide]: CompiledSide[K] } = {};
  if (e.nets && e.nets.length > 0) out.nets = e.nets;
  if (e.notNets && e.notNets.length > 0) out.notNets = e.notNets;
  if (e.selector !== undefined) {
    const s = selectorRef(e.selector);
    sets.set(s.id, { kind: 'selector', selectorId: s.id, selector: s.selector });
    out.ipSetId = s.id;
  }
  if (e.notSelector !== undefined) {
    const s = selectorRef(e.notSelector);
    sets.set(s.id, { kind: 'selector', selectorId: s.id, selector: s.selector });
    out.notIpSetId = s.id;
  }
  const ports = (list: EntityMatch['ports']): { ranges: PortRange[]; named: string[] } => {
    const ranges: PortRange[] = [];
    const named: string[] = [];
    for (const p of list ?? []) {
      if (p.kind === 'range') {
        ranges.push({ min: p.min, max: p.max });
        continue;
      }
      const sel = selectorRef(e.selector ?? 'all()');
      for (const protocol of rule.protocol ? [rule.protocol.number] : NAMED_PORT_PROTOCOLS) {
        const id = namedPortSetId(sel.id, protocol, p.name);
        sets.set(id, { kind: 'named-port', selectorId: sel.id, selector: sel.selector, protocol, port: p.name });
        if (!named.includes(id)) named.push(id);
      }
    }
    return { ranges, named };
  };
  const p = ports(e.ports);
  if (p.ranges.length > 0) out.ports = p.ranges;
  if (p.named.length > 0) out.namedPortIpSetIds = p.named;
  const np = ports(e.notPorts);
  if (np.ranges.length > 0) out.notPorts = np.ranges;
  if (np.named.length > 0) out.notNamedPortIpSetIds = np.named;
  if (e.domains && e.domains.length > 0) out.domains = e.domains;
  return out;
}

function compileRule(rule: Rule, sets: Map<string, IpSetSpec>): CompiledRule {
  const out: { -readonly [K in keyof CompiledRule]: CompiledRule[K] } = {
    action: rule.action,
    source: compileSide(rule.source ?? {}, rule, sets),
    destination: compileSide(rule.destination ?? {}, rule, sets),
  };
  if (rule.ipVersion !== undefined) out.ipVersion = rule.ipVersion;
  if (rule.protocol) out.protocol = rule.protocol.number;
  if (rule.notProtocol) out.notProtocol = rule.notProtocol.number;
  if (rule.icmp) out.icmp = rule.icmp;
  if (rule.notICMP) out.notICMP = rule.notICMP;
  if (rule.name !== undefined) out.name = rule.name;
  return out;
}

export function compileRules(ingress: readonly Rule[], egress: readonly Rule[]): CompiledRules {
  const sets = new Map<string, IpSetSpec>();
  return { ingress: ingress.map((r) => compileRule(r, sets)), egress: egress.map((r) => compileRule(r, sets)), sets };
}

export function compilePolicy(p: Policy): { policy: CompiledPolicy; sets: Map<string, IpSetSpec> } {
  const c = compileRules(p.ingress, p.egress);
  return { policy: { id: p.id, tier: p.tier, ingress: c.ingress, egress: c.egress, staged: p.staged !== undefined }, sets: c.sets };
}

export function compileProfile(p: Profile): { profile: CompiledProfile; sets: Map<string, IpSetSpec> } {
  const c = compileRules(p.ingress, p.egress);
  return { profile: { id: p.name, ingress: c.ingress, egress: c.egress }, sets: c.sets };
}
