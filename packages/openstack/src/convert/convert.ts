/**
 * The whole conversion: Neutron (and Keystone) objects in, exactly the `projectcalico.org/v3`
 * resources Calico's OpenStack driver writes out: one `ossg.default.<sgid>` NetworkPolicy per
 * security group, then one WorkloadEndpoint per bound VM port (two while a live migration is in
 * progress: one on each host). Every object is checked for the fields the driver reads and
 * every resource is validated with core's `validateResource`; anything that fails is left out
 * and reported with the Neutron object and field it came from. Pure and deterministic: the same
 * inputs give the same resources in the same order.
 */
import { formatResourceKey, resourceKey, validateResource, type Issue, type Resource } from '@gingham/core';
import type {
  KeystoneProject,
  NeutronFloatingIp,
  NeutronInputs,
  NeutronNetwork,
  NeutronPort,
  NeutronQosPolicy,
  NeutronSecurityGroup,
  NeutronSecurityGroupRule,
  NeutronSubnet,
} from '../neutron-types.js';
import { namespaceForRegion, regionProblem } from './names.js';
import { isBound, isEndpointPort, migratingTo, portEndpoint, type PortContext, type PortWarning } from './port.js';
import { DEFAULT_QOS_SETTINGS, type QosSettings } from './qos.js';
import { securityGroupPolicy } from './security-group.js';

/** Where in the API bodies a problem is: the collection key as the API names it, the index, then fields. */
export type NeutronPath = readonly (string | number)[];

/** The JSON key of each input collection in its API body. */
export const COLLECTION_KEYS = {
  ports: 'ports',
  securityGroups: 'security_groups',
  securityGroupRules: 'security_group_rules',
  networks: 'networks',
  subnets: 'subnets',
  floatingIps: 'floatingips',
  qosPolicies: 'policies',
  projects: 'projects',
} as const satisfies Record<keyof NeutronInputs, string>;

export type NeutronCollection = keyof typeof COLLECTION_KEYS;

export interface ConversionProblem {
  /** `error`: the object produced nothing (or an invalid resource that was left out); `warning`: it converted, with a gap. */
  readonly severity: 'error' | 'warning';
  readonly collection: NeutronCollection | 'options';
  /** Path inside the API body, starting with the collection key (`["ports", 3, "fixed_ips", 0, "ip_address"]`). */
  readonly path: NeutronPath;
  /** `port <id>`, `security group <id>`, … */
  readonly object: string;
  /** The id of the port or security group, when it has one. */
  readonly id?: string;
  readonly message: string;
  /** Core's validation issues of the resource that was left out. */
  readonly issues?: readonly Issue[];
}

/** A resource and the Neutron object it came from. */
export interface ConvertedResource {
  readonly resource: Resource;
  /** The resource's key as core formats it (`formatResourceKey`), e.g. `projectcalico.org/WorkloadEndpoint openstack/…`. */
  readonly key: string;
  readonly collection: 'ports' | 'securityGroups';
  readonly id: string;
}

export interface NeutronConversion {
  /** Valid resources: NetworkPolicies (in security group order), then WorkloadEndpoints (in port order). */
  readonly resources: readonly ConvertedResource[];
  readonly problems: readonly ConversionProblem[];
  /** The namespace every resource is in. */
  readonly namespace: string;
}

export interface ConvertNeutronOptions {
  /** `[calico] openstack_region`: the namespace becomes `openstack-region-<region>`. */
  readonly region?: string;
  /** `[calico]` QoS settings (defaults: the driver's). */
  readonly qos?: Partial<QosSettings>;
  /**
   * Results of a previous conversion to reuse (`createConversionMemo()`): an object whose
   * body and lookups (subnets, network, group names, floating IPs, QoS policy, project) are
   * unchanged is not converted and validated again. A live source passes the same memo to
   * every conversion; the output is the same as without one.
   */
  readonly memo?: ConversionMemo;
}

/** What one object converted to: its resources and its problems (paths relative to the object). */
interface UnitResult {
  readonly resources: readonly ConvertedResource[];
  /** Paths relative to the object, or absolute (`abs`) for rules listed apart from their group. */
  readonly problems: readonly (Omit<ConversionProblem, 'path'> & { readonly rel: NeutronPath; readonly abs?: true })[];
}

/**
 * Per-object conversion results kept between conversions (see `ConvertNeutronOptions.memo`).
 * Every entry is valid for the lookups of the last conversion (`context`); the next conversion
 * reuses an entry when its object is the same and none of the lookups it reads changed.
 */
export interface ConversionMemo {
  /** @internal */
  readonly ports: Map<string, { readonly object: unknown; readonly result: UnitResult }>;
  /** @internal */
  readonly groups: Map<string, { readonly object: unknown; readonly result: UnitResult }>;
  /** @internal The lookups of the last conversion. */
  context?: ContextSnapshot;
  /** Objects converted (not reused) by the last conversion, for metrics. */
  converted: number;
}

export function createConversionMemo(): ConversionMemo {
  return { ports: new Map(), groups: new Map(), converted: 0 };
}

/** What ports read besides themselves, flattened to comparable strings. */
interface ContextSnapshot {
  /** Namespace, QoS settings and which optional collections were given. */
  readonly global: string;
  readonly gateways: ReadonlyMap<string, string>;
  readonly networkNames: ReadonlyMap<string, string>;
  readonly groupNames: ReadonlyMap<string, string>;
  readonly floatingIps: ReadonlyMap<string, string>;
  readonly qosPolicies: ReadonlyMap<string, string>;
  readonly projects: ReadonlyMap<string, string>;
}

function snapshotContext(ctx: PortContext): ContextSnapshot {
  const map = <V>(m: ReadonlyMap<string, V> | undefined, f: (v: V) => string): Map<string, string> => {
    const out = new Map<string, string>();
    for (const [k, v] of m ?? []) out.set(k, f(v));
    return out;
  };
  return {
    global: `${ctx.namespace}\u0000${JSON.stringify(ctx.qos)}\u0000${ctx.subnets ? 1 : 0}${ctx.networks ? 1 : 0}${ctx.projects ? 1 : 0}`,
    gateways: map(ctx.subnets, (s) => s.gateway_ip ?? '\u0000'),
    networkNames: map(ctx.networks, (n) => n.name ?? '\u0000'),
    groupNames: map(ctx.securityGroupNames, (n) => n),
    floatingIps: map(ctx.floatingIps, (fs) => fs.map((f) => `${f.fixed_ip_address ?? ''}>${f.floating_ip_address}`).join(',')),
    qosPolicies: map(ctx.qosPolicies, (q) => JSON.stringify(q)),
    projects: map(ctx.projects, (p) => `${p.name}\u0000${p.parent_id ?? ''}`),
  };
}

/** Keys whose value differs between two snapshots of one lookup (added, removed or changed). */
function changedKeys(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of a) if (b.get(k) !== v) out.add(k);
  for (const k of b.keys()) if (!a.has(k)) out.add(k);
  return out;
}

/** Whether a port's endpoint may differ between the memo's last context and `now`: it reads a lookup that changed. */
function portStale(before: ContextSnapshot, now: ContextSnapshot): (port: NeutronPort) => boolean {
  if (before.global !== now.global) return () => true;
  const subnets = changedKeys(before.gateways, now.gateways);
  const networks = changedKeys(before.networkNames, now.networkNames);
  const groups = changedKeys(before.groupNames, now.groupNames);
  const fips = changedKeys(before.floatingIps, now.floatingIps);
  const qos = changedKeys(before.qosPolicies, now.qosPolicies);
  const projects = changedKeys(before.projects, now.projects);
  return (port) => {
    if (subnets.size > 0 && Array.isArray(port.fixed_ips) && port.fixed_ips.some((ip) => subnets.has(ip?.subnet_id ?? ''))) return true;
    if (networks.size > 0 && networks.has(port.network_id ?? '')) return true;
    if (groups.size > 0 && Array.isArray(port.security_groups) && port.security_groups.some((g) => groups.has(g))) return true;
    if (fips.size > 0 && fips.has(port.id)) return true;
    if (qos.size > 0 && (qos.has(port.qos_policy_id ?? '') || qos.has(port.qos_network_policy_id ?? ''))) return true;
    if (projects.size > 0 && projects.has(port.project_id ?? port.tenant_id ?? '')) return true;
    return false;
  };
}

/**
 * core's validation knows no `allowedIps`, a field only networking-calico writes (Calico's API
 * has none; Felix ignores it). Its entries are also in `ipNetworks`, which is validated, so the
 * endpoint is validated without it (sparing core's did-you-mean search on every endpoint).
 */
function withoutAllowedIps(resource: Resource): Resource {
  const spec = resource.spec as Record<string, unknown> | undefined;
  if (resource.kind !== 'WorkloadEndpoint' || !spec || !('allowedIps' in spec)) return resource;
  const { allowedIps: _, ...rest } = spec;
  return { ...resource, spec: rest };
}

type Check = (problem: { path: NeutronPath; message: string }) => void;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

function expectString(o: Record<string, unknown>, key: string, at: NeutronPath, report: Check, nonEmpty = false): void {
  const v = o[key];
  if (typeof v !== 'string') report({ path: [...at, key], message: v === undefined ? `missing field ${key}` : `${key} must be a string, not ${typeName(v)}` });
  else if (nonEmpty && v === '') report({ path: [...at, key], message: `${key} must not be empty` });
}

function expectList(o: Record<string, unknown>, key: string, at: NeutronPath, report: Check, item: (v: unknown, at: NeutronPath) => void, required: boolean): void {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) report({ path: [...at, key], message: `missing field ${key}` });
    return;
  }
  if (!Array.isArray(v)) {
    report({ path: [...at, key], message: `${key} must be a list, not ${typeName(v)}` });
    return;
  }
  v.forEach((x, i) => item(x, [...at, key, i]));
}

/** Checks that an object has a string `id`. */
function checkIdentified(v: unknown, at: NeutronPath, report: Check): v is { id: string } {
  if (!isObj(v)) {
    report({ path: at, message: `must be an object, not ${typeName(v)}` });
    return false;
  }
  let ok = true;
  expectString(v, 'id', at, (p) => {
    ok = false;
    report(p);
  }, true);
  return ok;
}

/** The fields the driver reads from an endpoint port. */
function checkEndpointPort(port: Record<string, unknown>, at: NeutronPath, report: Check): void {
  expectString(port, 'device_id', at, report);
  expectString(port, 'binding:host_id', at, report, true);
  expectString(port, 'mac_address', at, report);
  expectString(port, 'network_id', at, report);
  expectList(port, 'fixed_ips', at, report, (ip, p) => {
    if (!isObj(ip)) report({ path: p, message: `must be an object, not ${typeName(ip)}` });
    else expectString(ip, 'ip_address', p, report, true);
  }, true);
  expectList(port, 'allowed_address_pairs', at, report, (pair, p) => {
    if (!isObj(pair)) report({ path: p, message: `must be an object, not ${typeName(pair)}` });
    else expectString(pair, 'ip_address', p, report, true);
  }, false);
  expectList(port, 'security_groups', at, report, (id, p) => {
    if (typeof id !== 'string' || id === '') report({ path: p, message: `a security group id must be a non-empty string, not ${typeName(id)}` });
  }, true);
  const profile = port['binding:profile'];
  if (profile !== undefined && profile !== null && !isObj(profile)) report({ path: [...at, 'binding:profile'], message: `binding:profile must be an object, not ${typeName(profile)}` });
  const dns = port.dns_assignment;
  if (dns !== undefined && dns !== null) {
    if (!Array.isArray(dns)) report({ path: [...at, 'dns_assignment'], message: `dns_assignment must be a list, not ${typeName(dns)}` });
    else if (dns.length > 0 && !(isObj(dns[0]) && typeof dns[0].fqdn === 'string')) report({ path: [...at, 'dns_assignment', 0, 'fqdn'], message: 'the first DNS assignment has no fqdn string' });
  }
}

function checkRule(rule: unknown, at: NeutronPath, report: Check): void {
  if (!isObj(rule)) {
    report({ path: at, message: `must be an object, not ${typeName(rule)}` });
    return;
  }
  expectString(rule, 'direction', at, report, true);
  expectString(rule, 'ethertype', at, report, true);
  for (const key of ['port_range_min', 'port_range_max'] as const) {
    const v = rule[key];
    if (v !== undefined && v !== null && !Number.isInteger(v)) report({ path: [...at, key], message: `${key} must be an integer or null, not ${typeName(v)}` });
  }
  for (const key of ['remote_group_id', 'remote_ip_prefix'] as const) {
    const v = rule[key];
    if (v !== undefined && v !== null && typeof v !== 'string') report({ path: [...at, key], message: `${key} must be a string or null, not ${typeName(v)}` });
  }
  const p = rule.protocol;
  if (p !== undefined && p !== null && typeof p !== 'string' && !Number.isInteger(p)) report({ path: [...at, 'protocol'], message: `protocol must be a string, an integer or null, not ${typeName(p)}` });
}

/** Indexes a collection by id, reporting malformed and duplicate entries. */
function index<T extends { id: string }>(
  items: readonly unknown[] | undefined,
  collection: NeutronCollection,
  problems: ConversionProblem[],
  what: string,
): Map<string, T> | undefined {
  if (items === undefined) return undefined;
  const out = new Map<string, T>();
  items.forEach((item, i) => {
    const at = [COLLECTION_KEYS[collection], i];
    const report: Check = ({ path, message }) => problems.push({ severity: 'error', collection, path, object: `${what} #${i}`, message });
    if (!checkIdentified(item, at, report)) return;
    if (out.has(item.id)) {
      problems.push({ severity: 'error', collection, path: [...at, 'id'], object: `${what} ${item.id}`, message: `duplicate ${what} id ${item.id}` });
      return;
    }
    out.set(item.id, item as T);
  });
  return out;
}

/** The conversion of everything in `inputs`. */
export function convertNeutron(inputs: NeutronInputs, options: ConvertNeutronOptions = {}): NeutronConversion {
  const problems: ConversionProblem[] = [];
  const region = options.region === '' ? undefined : options.region;
  const namespace = namespaceForRegion(region);
  if (region !== undefined) {
    const why = regionProblem(region);
    if (why) return { resources: [], namespace, problems: [{ severity: 'error', collection: 'options', path: ['region'], object: 'region', message: `invalid region ${JSON.stringify(region)}: ${why}` }] };
  }

  const networks = index<NeutronNetwork>(inputs.networks, 'networks', problems, 'network');
  const subnets = index<NeutronSubnet>(inputs.subnets, 'subnets', problems, 'subnet');
  const qosPolicies = index<NeutronQosPolicy>(inputs.qosPolicies, 'qosPolicies', problems, 'QoS policy') ?? new Map<string, NeutronQosPolicy>();
  const projects = index<KeystoneProject>(inputs.projects, 'projects', problems, 'project');
  const floatingIps = new Map<string, NeutronFloatingIp[]>();
  for (const fip of index<NeutronFloatingIp>(inputs.floatingIps, 'floatingIps', problems, 'floating IP')?.values() ?? []) {
    if (typeof fip.port_id !== 'string' || fip.port_id === '') continue;
    const list = floatingIps.get(fip.port_id) ?? [];
    list.push(fip);
    floatingIps.set(fip.port_id, list);
  }

  // Security groups, with their embedded rules and any listed separately.
  const resources: ConvertedResource[] = [];
  const securityGroupNames = new Map<string, string>();
  const looseRules = new Map<string, { rule: NeutronSecurityGroupRule; path: NeutronPath }[]>();
  (inputs.securityGroupRules ?? []).forEach((rule, i) => {
    const at = [COLLECTION_KEYS.securityGroupRules, i];
    const sgId = isObj(rule) ? rule.security_group_id : undefined;
    if (typeof sgId !== 'string' || sgId === '') {
      problems.push({ severity: 'error', collection: 'securityGroupRules', path: [...at, 'security_group_id'], object: `security group rule #${i}`, message: 'missing field security_group_id' });
      return;
    }
    const list = looseRules.get(sgId) ?? [];
    list.push({ rule, path: at });
    looseRules.set(sgId, list);
  });
  const sgIndex = index<NeutronSecurityGroup>(inputs.securityGroups, 'securityGroups', problems, 'security group') ?? new Map<string, NeutronSecurityGroup>();
  const memo = options.memo;
  if (memo) memo.converted = 0;
  let sgPosition = 0;
  for (const sg of inputs.securityGroups) {
    const i = sgPosition++;
    if (!isObj(sg) || sgIndex.get((sg as NeutronSecurityGroup).id) !== sg) continue;
    const name = (sg as Record<string, unknown>).name;
    securityGroupNames.set(sg.id, typeof name === 'string' ? name : '');
    const extra = looseRules.get(sg.id) ?? [];
    const cached = memo && extra.length === 0 && memo.context?.global.startsWith(`${namespace}\u0000`) ? memo.groups.get(sg.id) : undefined;
    let result: UnitResult;
    if (cached && cached.object === sg) result = cached.result;
    else {
      result = groupUnit(sg, extra, namespace, i);
      if (memo) {
        memo.converted++;
        if (extra.length === 0) memo.groups.set(sg.id, { object: sg, result });
        else memo.groups.delete(sg.id);
      }
    }
    collect(result, [COLLECTION_KEYS.securityGroups, i], resources, problems);
  }
  for (const [sgId, list] of looseRules) {
    if (!sgIndex.has(sgId)) {
      for (const { path } of list) problems.push({ severity: 'warning', collection: 'securityGroupRules', path: [...path, 'security_group_id'], object: `security group rule for ${sgId}`, message: `security group ${sgId} is not listed: the rule is not used` });
    }
  }

  const ctx: PortContext = {
    namespace,
    ...(subnets ? { subnets } : {}),
    ...(networks ? { networks } : {}),
    ...(projects ? { projects } : {}),
    securityGroupNames,
    floatingIps,
    qosPolicies,
    qos: { ...DEFAULT_QOS_SETTINGS, ...options.qos },
  };
  const snapshot = memo ? snapshotContext(ctx) : undefined;
  const stale = memo?.context && snapshot ? portStale(memo.context, snapshot) : () => true;
  const seenPorts = new Set<string>();
  inputs.ports.forEach((port, i) => {
    const id = isObj(port) && typeof port.id === 'string' && port.id !== '' ? port.id : undefined;
    if (id !== undefined) {
      if (seenPorts.has(id)) {
        problems.push({ severity: 'error', collection: 'ports', path: [COLLECTION_KEYS.ports, i, 'id'], object: `port ${id}`, id, message: `duplicate port id ${id}` });
        return;
      }
      seenPorts.add(id);
    }
    const cached = id !== undefined ? memo?.ports.get(id) : undefined;
    let result: UnitResult;
    if (cached && cached.object === port && !stale(port as NeutronPort)) result = cached.result;
    else {
      result = portUnit(port, i, ctx);
      if (memo && id !== undefined) {
        memo.converted++;
        memo.ports.set(id, { object: port, result });
      }
    }
    if (result.resources.length > 0 || result.problems.length > 0) collect(result, [COLLECTION_KEYS.ports, i], resources, problems);
  });
  if (memo) {
    for (const id of memo.ports.keys()) if (!seenPorts.has(id)) memo.ports.delete(id);
    for (const id of memo.groups.keys()) if (!sgIndex.has(id)) memo.groups.delete(id);
    memo.context = snapshot;
  }
  return { resources, problems, namespace };
}

type UnitProblem = UnitResult['problems'][number];

/** Adds an object's results at its place in the inputs. */
function collect(result: UnitResult, at: NeutronPath, resources: ConvertedResource[], problems: ConversionProblem[]): void {
  for (const r of result.resources) resources.push(r);
  for (const { rel, abs, ...p } of result.problems) problems.push({ ...p, path: abs ? rel : [...at, ...rel] });
}

/** One security group: its rules checked, then its policy, validated. */
function groupUnit(sg: NeutronSecurityGroup, extra: readonly { rule: NeutronSecurityGroupRule; path: NeutronPath }[], namespace: string, index: number): UnitResult {
  const object = `security group ${sg.id}`;
  const at: NeutronPath = [COLLECTION_KEYS.securityGroups, index];
  const problems: UnitProblem[] = [];
  const resources: ConvertedResource[] = [];
  // Rules listed separately carry absolute paths; embedded ones are relative to the group.
  const report: Check = ({ path, message }) => {
    const inGroup = path.length >= 2 && path[0] === at[0] && path[1] === at[1];
    problems.push({ severity: 'error', collection: 'securityGroups', rel: inGroup ? path.slice(2) : path, ...(inGroup ? {} : { abs: true as const }), object, id: sg.id, message });
  };
  const raw = sg as unknown as Record<string, unknown>;
  const name = raw.name;
  if (name !== undefined && name !== null && typeof name !== 'string') report({ path: [...at, 'name'], message: `name must be a string, not ${typeName(name)}` });
  expectList(raw, 'security_group_rules', at, report, (r, p) => checkRule(r, p, report), false);
  for (const { rule, path } of extra) checkRule(rule, path, report);
  if (problems.length > 0) return { resources, problems };
  const embedded = sg.security_group_rules ?? [];
  const seen = new Set(embedded.map((r) => r.id).filter((id): id is string => typeof id === 'string'));
  const rules = [...embedded, ...extra.map((e) => e.rule).filter((r) => r.id === undefined || !seen.has(r.id))];
  const { resource, problems: ruleProblems } = securityGroupPolicy(sg, rules, namespace);
  if (ruleProblems.length > 0) {
    for (const p of ruleProblems) report({ path: p.index < embedded.length ? [...at, 'security_group_rules', p.index] : (extra[p.index - embedded.length]?.path ?? at), message: p.message });
    return { resources, problems };
  }
  accept(resource, { collection: 'securityGroups', id: sg.id, object }, resources, problems);
  return { resources, problems };
}

/** One port: skipped unless a bound VM port, its fields checked, then its endpoint(s), validated. */
function portUnit(port: unknown, index: number, ctx: PortContext): UnitResult {
  const at: NeutronPath = [COLLECTION_KEYS.ports, index];
  const problems: UnitProblem[] = [];
  const resources: ConvertedResource[] = [];
  const id = isObj(port) && typeof port.id === 'string' && port.id !== '' ? port.id : undefined;
  const object = id ? `port ${id}` : `port #${index}`;
  const report: Check = ({ path, message }) => problems.push({ severity: 'error', collection: 'ports', rel: path.slice(2), object, ...(id ? { id } : {}), message });
  if (!checkIdentified(port, at, report)) return { resources, problems };
  const p = port as NeutronPort;
  const owner = (port as Record<string, unknown>).device_owner;
  if (owner !== undefined && owner !== null && typeof owner !== 'string') {
    report({ path: [...at, 'device_owner'], message: `device_owner must be a string, not ${typeName(owner)}` });
    return { resources, problems };
  }
  if (!isEndpointPort(p) || !isBound(p)) return { resources, problems };
  checkEndpointPort(port as Record<string, unknown>, at, report);
  if (problems.length > 0) return { resources, problems };
  const hosts = [p['binding:host_id']!];
  const target = migratingTo(p);
  if (target !== undefined && target !== hosts[0]) hosts.push(target);
  for (const host of hosts) {
    const warnings: PortWarning[] = [];
    const wep = portEndpoint(p, ctx, host, warnings);
    if (host === hosts[0]) for (const w of warnings) problems.push({ severity: 'warning', collection: 'ports', rel: w.path, object, id: p.id, message: w.message });
    accept(wep, { collection: 'ports', id: p.id, object }, resources, problems);
  }
  return { resources, problems };
}

/** Validates a resource; keeps it when valid, reports it (with core's issues) when not. */
function accept(resource: Resource, from: { collection: 'ports' | 'securityGroups'; id: string; object: string }, resources: ConvertedResource[], problems: UnitProblem[]): void {
  const issues = validateResource(withoutAllowedIps(resource));
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) {
    const first = errors[0]!;
    problems.push({
      severity: 'error',
      collection: from.collection,
      rel: [],
      object: from.object,
      id: from.id,
      message: `its ${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name} is invalid and was left out: ${first.path ? `${first.path}: ` : ''}${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
      issues,
    });
    return;
  }
  resources.push({ resource, key: formatResourceKey(resourceKey(resource)), collection: from.collection, id: from.id });
}
