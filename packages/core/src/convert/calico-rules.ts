/**
 * Calico v3 rules → model rules, following libcalico-go's update processors: entity-rule
 * selectors are rewritten into one plain selector (`GetEntityRuleSelector`), protocols become
 * numbers, ports become ranges/named ports, CIDRs become canonical networks.
 * A rule that cannot be converted is dropped and reported; it is never widened.
 */
import type { EntityMatch, IcmpMatch, IpVersion, PortMatch, Rule } from '../model/types.js';
import type { V3EntityRule, V3Icmp, V3Port, V3Rule } from '../model/resources.js';
import { canonicalCidr } from '../net/cidr.js';
import { toProtocolMatch } from './protocol.js';
import type { Reporter } from './report.js';
import {
  canonicalSelector,
  LABEL_NAMESPACE,
  LABEL_SERVICE_ACCOUNT,
  namespaceSelectorForRule,
  prefixedSelector,
  SERVICE_ACCOUNT_LABEL_PREFIX,
} from './selectors.js';

/** Rule metadata annotation holding a rule's name (Calico stores ANP/CNP rule names there). */
export const RULE_NAME_ANNOTATION = 'name';

/** Thrown internally when a rule must be dropped; carries the path and reason for the issue. */
export class RuleConversionError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** Parses a Calico port (`80`, `"80"`, `"8000:8080"`, `"http"`). */
export function convertPort(port: V3Port, path: string): PortMatch {
  if (typeof port === 'number') {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RuleConversionError(path, `invalid port ${port}`);
    return { kind: 'range', min: port, max: port };
  }
  const t = port.trim();
  const range = /^(\d+):(\d+)$/.exec(t);
  if (range) {
    const min = Number(range[1]);
    const max = Number(range[2]);
    if (min > 65535 || max > 65535 || min > max) throw new RuleConversionError(path, `invalid port range "${port}"`);
    return { kind: 'range', min, max };
  }
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n > 65535) throw new RuleConversionError(path, `invalid port "${port}"`);
    return { kind: 'range', min: n, max: n };
  }
  if (/^[a-zA-Z0-9_.-]{1,128}$/.test(t)) return { kind: 'named', name: t };
  throw new RuleConversionError(path, `invalid port "${port}"`);
}

function convertPorts(ports: readonly V3Port[] | undefined, path: string): PortMatch[] | undefined {
  if (!ports || ports.length === 0) return undefined;
  return ports.map((p, i) => convertPort(p, `${path}[${i}]`));
}

function convertNets(nets: readonly string[] | undefined, path: string): string[] | undefined {
  if (!nets || nets.length === 0) return undefined;
  return nets.map((n, i) => {
    const c = canonicalCidr(String(n));
    if (c === undefined) throw new RuleConversionError(`${path}[${i}]`, `invalid CIDR "${n}"`);
    return c;
  });
}

function selectorOrThrow(fn: () => string, path: string, text: string): string {
  try {
    return fn();
  } catch (err) {
    throw new RuleConversionError(path, `invalid selector "${text}": ${(err as Error).message}`);
  }
}

/** `projectcalico.org/namespace == '<ns>'`: the namespace clause Calico writes. */
export function namespaceClause(namespace: string): string {
  return `${LABEL_NAMESPACE} == '${namespace}'`;
}

/**
 * The service-account part of an entity rule (`parseServiceAccounts`): names become
 * `projectcalico.org/serviceaccount in {...}`, the selector is `pcsa.`-prefixed; both → AND.
 */
function serviceAccountSelector(er: V3EntityRule, path: string): string {
  const sam = er.serviceAccounts;
  if (!sam) return '';
  let updated = '';
  if (sam.selector) {
    const text = sam.selector;
    updated = selectorOrThrow(() => prefixedSelector(text, SERVICE_ACCOUNT_LABEL_PREFIX), `${path}.serviceAccounts.selector`, text);
  }
  if (!sam.names || sam.names.length === 0) return updated;
  const namesText = `${LABEL_SERVICE_ACCOUNT} in { '${sam.names.join("', '")}' }`;
  let names = selectorOrThrow(() => canonicalSelector(namesText), `${path}.serviceAccounts.names`, namesText);
  if (updated !== '') names = `(${updated}) && (${names})`;
  return names;
}

/**
 * `GetEntityRuleSelector`: one selector for everything an entity rule's selector fields say,
 * scoped to the policy's namespace (or to `namespaceSelector`) as soon as any selector field is
 * used. Returns the selector text before canonicalisation ('' = no selector constraint).
 */
export function entityRuleSelectorText(er: V3EntityRule, namespace: string, path: string): string {
  const namespaceSelector = er.namespaceSelector ?? '';
  let nsSelector = '';
  if (namespaceSelector !== '') {
    nsSelector = selectorOrThrow(
      () => namespaceSelectorForRule(namespaceSelector),
      `${path}.namespaceSelector`,
      namespaceSelector,
    );
  } else if (namespace !== '') {
    nsSelector = namespaceClause(namespace);
  }
  const parts: string[] = [];
  const sa = serviceAccountSelector(er, path);
  if (sa !== '') parts.push(sa);
  if (er.selector) parts.push(er.selector);
  let selector = parts.length === 0 ? '' : parts.length === 1 ? parts[0]! : `(${parts.join(') && (')})`;
  const notSelector = er.notSelector ?? '';
  if (nsSelector !== '' && (selector !== '' || notSelector !== '' || namespaceSelector !== '')) {
    selector = selector !== '' ? `(${nsSelector}) && (${selector})` : nsSelector;
  }
  return selector;
}

function convertEntity(er: V3EntityRule | undefined, namespace: string, path: string): EntityMatch {
  if (!er) return {};
  if (er.services && (er.services.name || er.services.namespace)) {
    throw new RuleConversionError(
      `${path}.services`,
      'Service matches need EndpointSlices, which Gingham does not model; rule dropped',
    );
  }
  const out: {
    nets?: string[];
    notNets?: string[];
    selector?: string;
    notSelector?: string;
    ports?: PortMatch[];
    notPorts?: PortMatch[];
    domains?: string[];
  } = {};
  const nets = convertNets(er.nets, `${path}.nets`);
  if (nets) out.nets = nets;
  const notNets = convertNets(er.notNets, `${path}.notNets`);
  if (notNets) out.notNets = notNets;
  const selectorText = entityRuleSelectorText(er, namespace, path);
  if (selectorText !== '') out.selector = selectorOrThrow(() => canonicalSelector(selectorText), `${path}.selector`, selectorText);
  if (er.notSelector) {
    const text = er.notSelector;
    out.notSelector = selectorOrThrow(() => canonicalSelector(text), `${path}.notSelector`, text);
  }
  const ports = convertPorts(er.ports, `${path}.ports`);
  if (ports) out.ports = ports;
  const notPorts = convertPorts(er.notPorts, `${path}.notPorts`);
  if (notPorts) out.notPorts = notPorts;
  if (er.domains && er.domains.length > 0) out.domains = [...er.domains];
  return out;
}

function convertIcmp(icmp: V3Icmp | undefined): IcmpMatch | undefined {
  if (!icmp || icmp.type === undefined || icmp.type === null) return undefined;
  return icmp.code === undefined || icmp.code === null ? { type: icmp.type } : { type: icmp.type, code: icmp.code };
}

/**
 * Converts one Calico rule in the context of a policy namespace ('' for global policies and
 * profiles). Throws `RuleConversionError` when the rule must be dropped.
 */
export function convertV3RuleOrThrow(rule: V3Rule, namespace: string, path: string, reporter?: Reporter): Rule {
  const action = rule.action;
  if (action !== 'Allow' && action !== 'Deny' && action !== 'Log' && action !== 'Pass') {
    throw new RuleConversionError(`${path}.action`, `unknown action "${String(action)}"`);
  }
  const out: {
    action: Rule['action'];
    ipVersion?: IpVersion;
    protocol?: Rule['protocol'];
    notProtocol?: Rule['notProtocol'];
    icmp?: IcmpMatch;
    notICMP?: IcmpMatch;
  } = { action };
  if (rule.protocol !== undefined && rule.protocol !== null && rule.protocol !== '') {
    const p = toProtocolMatch(rule.protocol);
    if (!p) throw new RuleConversionError(`${path}.protocol`, `unknown protocol "${rule.protocol}"`);
    out.protocol = p;
  }
  if (rule.notProtocol !== undefined && rule.notProtocol !== null && rule.notProtocol !== '') {
    const p = toProtocolMatch(rule.notProtocol);
    if (!p) throw new RuleConversionError(`${path}.notProtocol`, `unknown protocol "${rule.notProtocol}"`);
    out.notProtocol = p;
  }
  if (rule.ipVersion === 4 || rule.ipVersion === 6) out.ipVersion = rule.ipVersion;
  else if (out.protocol?.number === 1) out.ipVersion = 4;
  else if (out.protocol?.number === 58) out.ipVersion = 6;
  const icmp = convertIcmp(rule.icmp);
  if (icmp) out.icmp = icmp;
  const notICMP = convertIcmp(rule.notICMP);
  if (notICMP) out.notICMP = notICMP;
  const source = convertEntity(rule.source, namespace, `${path}.source`);
  const destination = convertEntity(rule.destination, namespace, `${path}.destination`);
  const name = rule.metadata?.annotations?.[RULE_NAME_ANNOTATION];
  if (rule.http && reporter) {
    reporter.warn('http-match-ignored', `${path}.http`, 'HTTP matches are enforced only by the L7 path; evaluated as an L3/L4 rule');
  }
  // Fixed key order, so serialised rules read naturally and compare stably.
  return {
    action: out.action,
    ...(name ? { name } : {}),
    ...(out.ipVersion !== undefined ? { ipVersion: out.ipVersion } : {}),
    ...(out.protocol ? { protocol: out.protocol } : {}),
    ...(out.notProtocol ? { notProtocol: out.notProtocol } : {}),
    ...(out.icmp ? { icmp: out.icmp } : {}),
    ...(out.notICMP ? { notICMP: out.notICMP } : {}),
    source,
    destination,
  };
}

/** Converts a rule list, dropping (and reporting) rules that cannot be converted. */
export function convertV3Rules(
  rules: readonly V3Rule[] | undefined,
  namespace: string,
  path: string,
  reporter: Reporter,
): Rule[] {
  const out: Rule[] = [];
  (rules ?? []).forEach((rule, i) => {
    try {
      out.push(convertV3RuleOrThrow(rule, namespace, `${path}[${i}]`, reporter));
    } catch (err) {
      if (!(err instanceof RuleConversionError)) throw err;
      reporter.warn('rule-dropped', err.path, `rule dropped: ${err.message}`);
    }
  });
  return out;
}
