/**
 * Calico v3 rules (`Rule`, `EntityRule`): action, ipVersion, protocol and notProtocol, ICMP
 * matches, nets, ports, selectors, service and service-account matches and HTTP matches, with
 * the cross-field rules of libcalico-go's validator and the v3 CRDs' CEL rules, in their words.
 */
import { checkAnnotations } from './metadata.js';
import { checkSubdomainName } from './names.js';
import { formatCidr, isStrictlyMasked, makeCidr, parseWrittenCidr } from '../net/cidr.js';
import type { FieldPath } from './path.js';
import { parseCalicoPort, parseCalicoProtocol, protocolSupportsPorts, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP } from './protocol.js';
import type { Reporter } from './report.js';
import { checkSelector } from './selectors.js';
import { field, isObject, isSet, list, obj, show, str, type JsonObject } from './values.js';

export const MAX_RULE_NETS = 256;
export const MAX_RULE_PORTS = 50;

export interface RuleContext {
  readonly direction: 'ingress' | 'egress';
  /** Which resource holds the rule: service placement and HTTP rules apply to policies only. */
  readonly owner: 'NetworkPolicy' | 'GlobalNetworkPolicy' | 'Profile';
}

function nonEmpty(o: JsonObject, key: string): boolean {
  const v = field(o, key);
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  return isSet(v);
}

/** Reads `protocol` / `notProtocol`; reports a bad value and returns its number when valid. */
function ruleProtocol(r: Reporter, rule: JsonObject, key: string, path: FieldPath): number | 'invalid' | undefined {
  const raw = field(rule, key);
  if (!isSet(raw)) return undefined;
  if (typeof raw !== 'string' && typeof raw !== 'number') return 'invalid';
  const parsed = parseCalicoProtocol(raw);
  if (!parsed.ok) {
    r.error('invalid-protocol', [...path, key], parsed.message);
    return 'invalid';
  }
  return parsed.number;
}

function checkIcmp(r: Reporter, rule: JsonObject, key: 'icmp' | 'notICMP', path: FieldPath, protocol: number | 'invalid' | undefined): void {
  const icmp = obj(rule, key);
  if (!icmp) return;
  const type = field(icmp, 'type');
  const code = field(icmp, 'code');
  if (typeof type === 'number' && Number.isInteger(type) && (type < 0 || type > 254)) {
    r.error('invalid-icmp', [...path, key, 'type'], `ICMP type must be between 0 and 254, not ${type}`);
  }
  if (typeof code === 'number' && Number.isInteger(code) && (code < 0 || code > 255)) {
    r.error('invalid-icmp', [...path, key, 'code'], `ICMP code must be between 0 and 255, not ${code}`);
  }
  if (isSet(code) && !isSet(type)) r.error('invalid-icmp', [...path, key, 'code'], 'ICMP code specified without an ICMP type');
  if (protocol !== 'invalid' && protocol !== PROTO_ICMP && protocol !== PROTO_ICMPV6) {
    r.error('invalid-icmp', [...path, key], 'ICMP fields require protocol to be ICMP or ICMPv6');
  }
}

interface NetState {
  v4: boolean;
  v6: boolean;
}

function checkNets(
  r: Reporter,
  entity: JsonObject,
  key: 'nets' | 'notNets',
  path: FieldPath,
  ipVersion: 4 | 6 | undefined,
  seen: NetState,
): void {
  const nets = list(entity, key);
  const at = [...path, key];
  if (nets.length > MAX_RULE_NETS) {
    r.error('too-many-items', at, `too many CIDRs (${nets.length}); at most ${MAX_RULE_NETS} allowed`);
  }
  let v4 = false;
  let v6 = false;
  nets.forEach((n, i) => {
    if (typeof n !== 'string') return;
    const cidr = parseWrittenCidr(n, true);
    if (!cidr) {
      r.error('invalid-cidr', [...at, i], `invalid CIDR ${show(n)}: expected an address like 10.0.0.0/8, 2001:db8::/32 or 10.1.2.3`);
      return;
    }
    if (cidr.addr.version === 4) v4 = true;
    else v6 = true;
    if (!isStrictlyMasked(cidr)) {
      r.error('invalid-cidr', [...at, i], `${show(n)} is not a strictly masked CIDR (host bits are set); did you mean ${formatCidr(makeCidr(cidr.addr, cidr.prefix))}?`);
    } else if (key === 'notNets' && cidr.prefix === 0) {
      r.error('invalid-cidr', [...at, i], 'catch-all CIDR in negation creates logical contradiction (matches no traffic)');
    }
  });
  if (ipVersion !== undefined && ((v4 && ipVersion !== 4) || (v6 && ipVersion !== 6))) {
    r.error('ip-version-mismatch', at, "rule IP version doesn't match CIDR version");
  }
  if ((v4 && seen.v6) || (v6 && seen.v4) || (v4 && v6)) r.error('ip-version-mismatch', at, 'rule contains both IPv4 and IPv6 CIDRs');
  seen.v4 ||= v4;
  seen.v6 ||= v6;
}

function checkPorts(r: Reporter, entity: JsonObject, key: 'ports' | 'notPorts', path: FieldPath, protocol: number | 'invalid' | undefined): void {
  const ports = list(entity, key);
  const at = [...path, key];
  if (ports.length > MAX_RULE_PORTS) r.error('too-many-items', at, `too many ports (${ports.length}); at most ${MAX_RULE_PORTS} allowed`);
  let firstNumeric = -1;
  ports.forEach((p, i) => {
    if (typeof p !== 'string' && typeof p !== 'number') return;
    const parsed = parseCalicoPort(p);
    if (!parsed.ok) r.error('invalid-port', [...at, i], parsed.message);
    else if (parsed.port.kind === 'range' && firstNumeric === -1) firstNumeric = i;
  });
  if (protocol === undefined) {
    if (firstNumeric !== -1) {
      r.error('invalid-port', [...at, firstNumeric], 'rules with numeric port or port range must set protocol to TCP or UDP or SCTP');
    }
  } else if (protocol !== 'invalid' && ports.length > 0 && !protocolSupportsPorts(protocol)) {
    r.error('invalid-port', at, 'rules that specify ports must set protocol to TCP or UDP or SCTP');
  }
}

/** An EntityRule's own rules: selectors, `global()`, services and service accounts. */
export function checkEntityRule(r: Reporter, entity: JsonObject, path: FieldPath): void {
  for (const key of ['selector', 'notSelector'] as const) {
    const s = str(entity, key);
    if (s !== undefined) checkSelector(r, [...path, key], s, 'forbidden');
  }
  const nsSelector = str(entity, 'namespaceSelector');
  if (nsSelector !== undefined) checkSelector(r, [...path, 'namespaceSelector'], nsSelector, 'whole');
  const saSelector = str(obj(entity, 'serviceAccounts'), 'selector');
  if (saSelector !== undefined) checkSelector(r, [...path, 'serviceAccounts', 'selector'], saSelector, 'forbidden');

  const services = field(entity, 'services');
  if (!isSet(services)) return;
  const at = [...path, 'services'];
  const name = str(services, 'name');
  if (name === undefined || name === '') r.error('invalid-services', at, 'must specify a service name');
  for (const k of ['name', 'namespace'] as const) {
    const v = str(services, k);
    if (v) for (const problem of checkSubdomainName(v)) r.error('invalid-name', [...at, k], `invalid service ${k} ${show(v)}: ${problem}`);
  }
  if (nonEmpty(entity, 'namespaceSelector')) r.error('invalid-services', at, 'cannot specify NamespaceSelector and Services on the same rule');
  if (nonEmpty(entity, 'selector') || nonEmpty(entity, 'notSelector')) {
    r.error('invalid-services', at, 'cannot specify Selector/NotSelector and Services on the same rule');
  }
  if (isSet(field(entity, 'serviceAccounts'))) r.error('invalid-services', at, 'cannot specify ServiceAccounts and Services on the same rule');
  if (nonEmpty(entity, 'nets') || nonEmpty(entity, 'notNets')) r.error('invalid-services', at, 'cannot specify Nets/NotNets and Services on the same rule');
}

function checkHttp(r: Reporter, rule: JsonObject, path: FieldPath, protocol: number | 'invalid' | undefined, ctx: RuleContext): void {
  const http = field(rule, 'http');
  if (!isSet(http)) return;
  const at = [...path, 'http'];
  const action = str(rule, 'action');
  if (action !== undefined && action !== 'Allow') r.error('invalid-http', at, 'HTTP match is only valid on Allow rules');
  if (typeof protocol === 'number' && protocol !== PROTO_TCP) {
    r.error('invalid-http', [...path, 'protocol'], 'rules with HTTP match must have protocol TCP or unset');
  }
  if (ctx.direction === 'egress' && ctx.owner !== 'Profile') r.error('invalid-http', at, 'HTTP match is not allowed in egress rules');
  const methods = list(http, 'methods').filter((m): m is string => typeof m === 'string');
  const dup = methods.find((m, i) => methods.indexOf(m) !== i);
  if (dup !== undefined) r.error('invalid-http', [...at, 'methods'], `invalid methods (duplicates): ${show(dup)} is listed more than once`);
  list(http, 'paths').forEach((p, i) => {
    if (!isObject(p)) return;
    const exact = str(p, 'exact') ?? '';
    const prefix = str(p, 'prefix') ?? '';
    const pat = [...at, 'paths', i];
    if (exact !== '' && prefix !== '') r.error('invalid-http', pat, "invalid path match: both 'exact' and 'prefix' are set");
    else if (exact === '' && prefix === '') r.error('invalid-http', pat, "invalid path match: either 'exact' or 'prefix' must be set");
    else {
      const v = exact || prefix;
      if (!v.startsWith('/') || /[? #]/.test(v)) {
        r.error('invalid-http', pat, `invalid path ${show(v)}: must start with "/" and not contain "?", "#" or spaces`);
      }
    }
  });
}

function checkServicePlacement(r: Reporter, rule: JsonObject, path: FieldPath, ctx: RuleContext): void {
  if (ctx.owner === 'Profile') return;
  const source = obj(rule, 'source');
  const destination = obj(rule, 'destination');
  if (ctx.direction === 'egress' && isSet(field(source, 'services'))) {
    r.error('invalid-services', [...path, 'source', 'services'], 'services are not allowed in an egress rule source (use destination)');
  }
  if (ctx.direction === 'ingress' && isSet(field(destination, 'services'))) {
    r.error('invalid-services', [...path, 'destination', 'services'], 'services are not allowed in an ingress rule destination (use source)');
  }
  if (ctx.owner === 'GlobalNetworkPolicy') {
    const side = ctx.direction === 'egress' ? 'destination' : 'source';
    const services = field(ctx.direction === 'egress' ? destination : source, 'services');
    if (isObject(services) && !str(services, 'namespace')) {
      r.error('invalid-services', [...path, side, 'services', 'namespace'], 'must specify a namespace (a GlobalNetworkPolicy has none of its own)');
    }
  }
}

/** Validates one rule of a policy or profile. */
export function checkCalicoRule(r: Reporter, rule: unknown, path: FieldPath, ctx: RuleContext): void {
  if (!isObject(rule)) return;
  const rawVersion = field(rule, 'ipVersion');
  let ipVersion: 4 | 6 | undefined;
  if (rawVersion === 4 || rawVersion === 6) ipVersion = rawVersion;
  else if (typeof rawVersion === 'number') r.error('invalid-value', [...path, 'ipVersion'], `ipVersion must be 4 or 6, not ${rawVersion}`);

  const protocol = ruleProtocol(r, rule, 'protocol', path);
  const notProtocol = ruleProtocol(r, rule, 'notProtocol', path);

  checkIcmp(r, rule, 'icmp', path, protocol);
  checkIcmp(r, rule, 'notICMP', path, protocol);
  if (ipVersion === 6 && (protocol === PROTO_ICMP || notProtocol === PROTO_ICMP)) {
    r.error('ip-version-mismatch', [...path, 'ipVersion'], 'protocol ICMP requires ipVersion 4');
  }
  if (ipVersion === 4 && (protocol === PROTO_ICMPV6 || notProtocol === PROTO_ICMPV6)) {
    r.error('ip-version-mismatch', [...path, 'ipVersion'], 'protocol ICMPv6 requires ipVersion 6');
  }

  const seen: NetState = { v4: false, v6: false };
  for (const side of ['source', 'destination'] as const) {
    const entity = obj(rule, side);
    if (!entity) continue;
    const at = [...path, side];
    checkEntityRule(r, entity, at);
    checkNets(r, entity, 'nets', at, ipVersion, seen);
    checkNets(r, entity, 'notNets', at, ipVersion, seen);
    checkPorts(r, entity, 'ports', at, protocol);
    checkPorts(r, entity, 'notPorts', at, protocol);
    if (side === 'destination' && isSet(field(entity, 'services'))) {
      for (const key of ['ports', 'notPorts'] as const) {
        if (list(entity, key).length > 0) r.error('invalid-services', [...at, key], 'ports and notPorts cannot be specified with services');
      }
    }
  }
  checkServicePlacement(r, rule, path, ctx);
  checkHttp(r, rule, path, protocol, ctx);
  checkAnnotations(r, [...path, 'metadata', 'annotations'], field(obj(rule, 'metadata'), 'annotations'));
}

/** Validates every rule of `spec.ingress` and `spec.egress`. */
export function checkCalicoRules(r: Reporter, spec: unknown, owner: RuleContext['owner']): void {
  for (const direction of ['ingress', 'egress'] as const) {
    list(spec, direction).forEach((rule, i) => checkCalicoRule(r, rule, ['spec', direction, i], { direction, owner }));
  }
}
