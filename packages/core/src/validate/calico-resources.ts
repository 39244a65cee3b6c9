/**
 * The other Calico v3 kinds: NetworkSet, GlobalNetworkSet, HostEndpoint, WorkloadEndpoint,
 * Profile and Node.
 */
import { checkCalicoRules } from './calico-rules.js';
import { checkLabels } from './metadata.js';
import { checkInterfaceName, checkPortName, checkSubdomainName } from './names.js';
import { hostPrefix, parseIpStrict, parseWrittenCidr } from '../net/cidr.js';
import type { FieldPath } from './path.js';
import { parseCalicoProtocol, protocolSupportsPorts } from './protocol.js';
import type { Reporter } from './report.js';
import { field, isObject, isSet, list, num, obj, show, str, type JsonObject } from './values.js';

/** (Global)NetworkSet `nets`: CIDRs or bare IPs; unlike rule nets, host bits may be set. */
export function checkNetworkSet(r: Reporter, resource: JsonObject): void {
  list(obj(resource, 'spec'), 'nets').forEach((n, i) => {
    if (typeof n === 'string' && !parseWrittenCidr(n, true)) r.error('invalid-cidr', ['spec', 'nets', i], `invalid CIDR ${show(n)}`);
  });
}

function checkProfileNames(r: Reporter, spec: JsonObject): void {
  list(spec, 'profiles').forEach((p, i) => {
    if (typeof p !== 'string') return;
    for (const problem of checkSubdomainName(p)) r.error('invalid-name', ['spec', 'profiles', i], `invalid profile name ${show(p)}: ${problem}`);
  });
}

function checkNodeName(r: Reporter, spec: JsonObject): void {
  const node = str(spec, 'node');
  if (node) for (const problem of checkSubdomainName(node)) r.error('invalid-name', ['spec', 'node'], `invalid node name ${show(node)}: ${problem}`);
}

function checkIp(r: Reporter, path: FieldPath, value: unknown, what = 'IP address'): void {
  if (typeof value === 'string' && value !== '' && !parseIpStrict(value)) r.error('invalid-ip', path, `invalid ${what} ${show(value)}`);
}

function checkEndpointPorts(r: Reporter, spec: JsonObject, workload: boolean): void {
  list(spec, 'ports').forEach((p, i) => {
    if (!isObject(p)) return;
    const at = ['spec', 'ports', i];
    const name = str(p, 'name');
    if (name === undefined || name === '') {
      if (!workload || !num(p, 'hostPort')) r.error('invalid-port', [...at, 'name'], workload ? 'port name must not be empty if no hostPort is specified' : 'port name must not be empty');
    } else {
      for (const problem of checkPortName(name)) r.error('invalid-port', [...at, 'name'], `invalid port name ${show(name)}: ${problem.replace(/^port name /, '')}`);
    }
    const protocol = field(p, 'protocol');
    if (typeof protocol === 'string' || typeof protocol === 'number') {
      const parsed = parseCalicoProtocol(protocol);
      if (!parsed.ok) r.error('invalid-protocol', [...at, 'protocol'], parsed.message);
      else if (!protocolSupportsPorts(parsed.number)) r.error('invalid-protocol', [...at, 'protocol'], 'endpoint port protocol must be TCP, UDP or SCTP');
    } else if (!isSet(protocol)) {
      r.error('invalid-protocol', [...at, 'protocol'], 'endpoint port protocol must be TCP, UDP or SCTP');
    }
    const port = num(p, 'port');
    if (port !== undefined && Number.isInteger(port) && (port < 1 || port > 65535)) {
      r.error('invalid-port', [...at, 'port'], `port must be between 1 and 65535, not ${port}`);
    }
  });
}

export function checkHostEndpoint(r: Reporter, resource: JsonObject): void {
  const spec = obj(resource, 'spec') ?? {};
  const node = str(spec, 'node');
  if (node === undefined || node === '') r.error('missing-field', ['spec', 'node'], 'no node has been specified');
  checkNodeName(r, spec);
  const iface = str(spec, 'interfaceName');
  if (iface) for (const problem of checkInterfaceName(iface, true)) r.error('invalid-interface', ['spec', 'interfaceName'], problem);
  const ips = list(spec, 'expectedIPs');
  ips.forEach((ip, i) => checkIp(r, ['spec', 'expectedIPs', i], ip));
  if (!iface && ips.length === 0) r.error('missing-field', ['spec', 'interfaceName'], 'no interface or expected IPs have been specified');
  checkProfileNames(r, spec);
  checkEndpointPorts(r, spec, false);
}

const CONTAINER_ID = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const MAC = /^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}[:-]){7}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$/;

export function checkWorkloadEndpoint(r: Reporter, resource: JsonObject): void {
  const spec = obj(resource, 'spec');
  if (!spec) return;
  checkNodeName(r, spec);
  list(spec, 'ipNetworks').forEach((n, i) => {
    if (typeof n !== 'string') return;
    const cidr = parseWrittenCidr(n, true);
    if (!cidr) r.error('invalid-cidr', ['spec', 'ipNetworks', i], `invalid CIDR ${show(n)}`);
    else if (cidr.prefix !== hostPrefix(cidr.addr.version)) {
      r.error('invalid-cidr', ['spec', 'ipNetworks', i], `IP network contains multiple addresses (${show(n)}); use a /${hostPrefix(cidr.addr.version)}`);
    }
  });
  list(spec, 'ipNATs').forEach((nat, i) => {
    checkIp(r, ['spec', 'ipNATs', i, 'internalIP'], field(nat, 'internalIP'));
    checkIp(r, ['spec', 'ipNATs', i, 'externalIP'], field(nat, 'externalIP'));
  });
  checkIp(r, ['spec', 'ipv4Gateway'], field(spec, 'ipv4Gateway'), 'IPv4 gateway');
  checkIp(r, ['spec', 'ipv6Gateway'], field(spec, 'ipv6Gateway'), 'IPv6 gateway');
  const iface = str(spec, 'interfaceName');
  if (iface) for (const problem of checkInterfaceName(iface, false)) r.error('invalid-interface', ['spec', 'interfaceName'], problem);
  const mac = str(spec, 'mac');
  if (mac && !MAC.test(mac)) r.error('invalid-value', ['spec', 'mac'], `invalid MAC address ${show(mac)}`);
  const containerID = str(spec, 'containerID');
  if (containerID && !CONTAINER_ID.test(containerID)) r.error('invalid-value', ['spec', 'containerID'], `invalid container ID ${show(containerID)}`);
  checkProfileNames(r, spec);
  checkEndpointPorts(r, spec, true);
}

export function checkProfile(r: Reporter, resource: JsonObject): void {
  const spec = obj(resource, 'spec');
  if (!spec) return;
  checkCalicoRules(r, spec, 'Profile');
  checkLabels(r, ['spec', 'labelsToApply'], field(spec, 'labelsToApply'));
}

export function checkCalicoNode(r: Reporter, resource: JsonObject): void {
  const spec = obj(resource, 'spec');
  if (!spec) return;
  const bgp = obj(spec, 'bgp');
  for (const key of ['ipv4Address', 'ipv6Address'] as const) {
    const v = str(bgp, key);
    if (v && !parseWrittenCidr(v, true)) r.error('invalid-cidr', ['spec', 'bgp', key], `invalid address ${show(v)}`);
  }
  checkIp(r, ['spec', 'bgp', 'ipv4IPIPTunnelAddr'], field(bgp, 'ipv4IPIPTunnelAddr'));
  checkIp(r, ['spec', 'ipv4VXLANTunnelAddr'], field(spec, 'ipv4VXLANTunnelAddr'));
  const wg = obj(spec, 'wireguard');
  checkIp(r, ['spec', 'wireguard', 'interfaceIPv4Address'], field(wg, 'interfaceIPv4Address'));
  checkIp(r, ['spec', 'wireguard', 'interfaceIPv6Address'], field(wg, 'interfaceIPv6Address'));
  list(spec, 'addresses').forEach((a, i) => {
    const v = str(a, 'address');
    if (v && !parseWrittenCidr(v, true)) r.error('invalid-ip', ['spec', 'addresses', i, 'address'], `invalid address ${show(v)}`);
  });
}
