/**
 * Kubernetes core kinds Gingham reads for endpoints and labels: Pod (container ports and IPs),
 * Node (pod CIDRs and addresses). Namespaces and ServiceAccounts need only metadata checks.
 */
import { checkPortName, checkSubdomainName } from './names.js';
import { parseIpStrict, parseWrittenCidr } from '../net/cidr.js';
import type { Reporter } from './report.js';
import { isObject, list, num, obj, show, str, type JsonObject } from './values.js';

export function checkPod(r: Reporter, resource: JsonObject): void {
  const spec = obj(resource, 'spec');
  for (const group of ['containers', 'initContainers'] as const) {
    list(spec, group).forEach((c, i) => {
      list(c, 'ports').forEach((p, j) => {
        if (!isObject(p)) return;
        const at = ['spec', group, i, 'ports', j];
        const port = num(p, 'containerPort');
        if (port !== undefined && Number.isInteger(port) && (port < 1 || port > 65535)) {
          r.error('invalid-port', [...at, 'containerPort'], `containerPort must be between 1 and 65535, inclusive (not ${port})`);
        }
        const name = str(p, 'name');
        if (name !== undefined) for (const problem of checkPortName(name)) r.error('invalid-port', [...at, 'name'], `invalid port name ${show(name)}: ${problem.replace(/^port name /, '')}`);
      });
    });
  }
  const sa = str(spec, 'serviceAccountName');
  if (sa) for (const problem of checkSubdomainName(sa)) r.error('invalid-name', ['spec', 'serviceAccountName'], `invalid service account name ${show(sa)}: ${problem}`);
  const status = obj(resource, 'status');
  const podIP = str(status, 'podIP');
  if (podIP && !parseIpStrict(podIP)) r.error('invalid-ip', ['status', 'podIP'], `invalid IP address ${show(podIP)}`);
  list(status, 'podIPs').forEach((p, i) => {
    const ip = str(p, 'ip');
    if (ip !== undefined && !parseIpStrict(ip)) r.error('invalid-ip', ['status', 'podIPs', i, 'ip'], `invalid IP address ${show(ip)}`);
  });
}

export function checkK8sNode(r: Reporter, resource: JsonObject): void {
  const spec = obj(resource, 'spec');
  const podCIDR = str(spec, 'podCIDR');
  if (podCIDR && !parseWrittenCidr(podCIDR, false)) r.error('invalid-cidr', ['spec', 'podCIDR'], `invalid CIDR ${show(podCIDR)}`);
  list(spec, 'podCIDRs').forEach((c, i) => {
    if (typeof c === 'string' && !parseWrittenCidr(c, false)) r.error('invalid-cidr', ['spec', 'podCIDRs', i], `invalid CIDR ${show(c)}`);
  });
  list(obj(resource, 'status'), 'addresses').forEach((a, i) => {
    const type = str(a, 'type');
    const address = str(a, 'address');
    if ((type === 'InternalIP' || type === 'ExternalIP') && address !== undefined && !parseIpStrict(address)) {
      r.error('invalid-ip', ['status', 'addresses', i, 'address'], `invalid IP address ${show(address)} for type ${type}`);
    }
  });
}
