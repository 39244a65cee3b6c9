/**
 * The names, label keys and namespaces Calico's OpenStack driver (networking-calico) gives the
 * resources it writes. Each constant and function mirrors one in networking-calico
 * (`endpoints.py`, `policy.py`, `datamodel_v3.py`, `common/config.py`); changing one changes
 * what Felix, calicoctl and every existing selector see. Pure.
 */

/** Label marking a VM port's membership of a security group: `sg.projectcalico.org/openstack-<sgid>`. */
export const SG_LABEL_PREFIX = 'sg.projectcalico.org/openstack-';
/** Label carrying a group's sanitized name: `sg-name.projectcalico.org/openstack-<name>: <sgid>`. */
export const SG_NAME_LABEL_PREFIX = 'sg-name.projectcalico.org/openstack-';
/** NetworkPolicy name prefix: `ossg.default.<sgid>`. */
export const SG_POLICY_PREFIX = 'ossg.default.';
export const PROJECT_ID_LABEL = 'projectcalico.org/openstack-project-id';
export const PROJECT_NAME_LABEL = 'projectcalico.org/openstack-project-name';
export const PROJECT_PARENT_ID_LABEL = 'projectcalico.org/openstack-project-parent-id';
export const NETWORK_NAME_LABEL = 'projectcalico.org/openstack-network-name';
export const NAMESPACE_LABEL = 'projectcalico.org/namespace';
export const ORCHESTRATOR_LABEL = 'projectcalico.org/orchestrator';
export const NETWORK_ID_ANNOTATION = 'openstack.projectcalico.org/network-id';
export const FQDN_ANNOTATION = 'openstack.projectcalico.org/fqdn';
export const ORCHESTRATOR = 'openstack';

/** The longest label name or value (`SANITIZE_LABEL_MAX_LENGTH`). */
export const SANITIZE_LABEL_MAX_LENGTH = 63;
/** Security group names are cut to fit after the `sg-name` label prefix: 63 − 36 = 27 characters. */
export const SG_NAME_MAX_LENGTH = SANITIZE_LABEL_MAX_LENGTH - SG_NAME_LABEL_PREFIX.length;

/** The namespace without a region. */
export const NO_REGION_NAMESPACE = 'openstack';
const REGION_NAMESPACE_PREFIX = 'openstack-';
const REGION_PREFIX = 'region-';
/** A region must fit a DNS label after `openstack-region-`: at most 63 − 17 = 46 characters. */
export const MAX_REGION_LENGTH = 63 - (REGION_NAMESPACE_PREFIX.length + REGION_PREFIX.length);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `region` cannot name a namespace, or undefined when it can (networking-calico `_validate_region`). */
export function regionProblem(region: string): string | undefined {
  if (region.length > MAX_REGION_LENGTH) return `the region must be ${MAX_REGION_LENGTH} characters or fewer`;
  if (!DNS_LABEL.test(region)) {
    return "the region must be a DNS label: lower case letters, digits and '-', starting and ending with a letter or digit";
  }
  return undefined;
}

/** `openstack`, or `openstack-region-<region>` in a multi-region deployment. */
export function namespaceForRegion(region: string | undefined): string {
  return region ? `${REGION_NAMESPACE_PREFIX}${REGION_PREFIX}${region}` : NO_REGION_NAMESPACE;
}

/** Doubles every dash, so that `-` can separate the parts of an endpoint name unambiguously. */
export function escapeDashes(s: string): string {
  return s.replaceAll('-', '--');
}

/** `<host>-openstack-<device_id>-<port_id>`, each part with its dashes doubled. */
export function endpointName(host: string, deviceId: string, portId: string): string {
  return `${escapeDashes(host)}-${ORCHESTRATOR}-${escapeDashes(deviceId)}-${escapeDashes(portId)}`;
}

/** The VM's tap interface as Nova's libvirt driver names it: `tap` + the first 11 characters of the port id. */
export function tapInterfaceName(portId: string): string {
  return `tap${portId.slice(0, 11)}`;
}

/** The NetworkPolicy name of a security group. */
export function securityGroupPolicyName(sgId: string): string {
  return `${SG_POLICY_PREFIX}${sgId}`;
}

/** The selector of the endpoints in a security group. */
export function securityGroupSelector(sgId: string): string {
  return `has(${SG_LABEL_PREFIX}${sgId})`;
}

const ALNUM = /[A-Za-z0-9]/;
const ALLOWED = /[-_.A-Za-z0-9]/;
/** Already a valid label value: nothing to change (the common case, tested first). */
const CLEAN = /^(?:[A-Za-z0-9](?:[-_.A-Za-z0-9]*[A-Za-z0-9])?)?$/;

/**
 * networking-calico's `sanitize_label_name_value`: cut to `maxLength` characters, turn anything
 * but `[-_.A-Za-z0-9]` into `_`, then drop non-alphanumeric characters at both ends (which may
 * leave the string empty). Counts code points, as Python's slicing does.
 */
export function sanitizeLabelNameValue(name: string, maxLength: number): string {
  if (name.length <= maxLength && CLEAN.test(name)) return name;
  const chars = Array.from(name).slice(0, maxLength).map((c) => (ALLOWED.test(c) ? c : '_'));
  let start = 0;
  while (start < chars.length && !ALNUM.test(chars[start]!)) start++;
  let end = chars.length;
  while (end > start && !ALNUM.test(chars[end - 1]!)) end--;
  return chars.slice(start, end).join('');
}
