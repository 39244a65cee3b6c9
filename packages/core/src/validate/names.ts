/**
 * Name rules: Kubernetes DNS-1123 labels and subdomains, qualified names (label and annotation
 * keys), label values, IANA port names, and Calico's stricter rules for tier and policy names
 * and interface names. Each check returns the problems it found (empty when valid), worded like
 * the Kubernetes and Calico validators but without their regex dumps.
 */
import { utf8Length } from './values.js';

const LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const SUBDOMAIN_FMT = `${LABEL_FMT}(\\.${LABEL_FMT})*`;
const DNS_LABEL = new RegExp(`^${LABEL_FMT}$`);
const DNS_SUBDOMAIN = new RegExp(`^${SUBDOMAIN_FMT}$`);
/** Calico: one label, two labels joined by one dot, or `knp.default.` / `ossg.default.` + subdomain. */
const NETWORK_POLICY_NAME = new RegExp(`^((${LABEL_FMT})(\\.${LABEL_FMT})?|((knp|ossg)\\.default\\.(${SUBDOMAIN_FMT})))$`);
/** Calico: one label, optionally preceded by one `label.`. */
const GLOBAL_NETWORK_POLICY_NAME = new RegExp(`^(${LABEL_FMT}\\.)?${LABEL_FMT}$`);
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const INTERFACE_NAME = /^[a-zA-Z0-9_.-]{1,15}$/;
const PORT_NAME_CHARS = /^[-a-z0-9]+$/;

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;

const SUBDOMAIN_MSG =
  "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_MSG = "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";

function tooLong(name: string, max: number): string[] {
  const n = utf8Length(name);
  return n > max ? [`name is too long by ${n - max} bytes (at most ${max})`] : [];
}

/** A DNS-1123 subdomain (most resource names): ≤ 253, lower-case labels joined by dots. */
export function checkSubdomainName(name: string): string[] {
  if (name === '') return ['name must not be empty'];
  return [...tooLong(name, DNS1123_SUBDOMAIN_MAX), ...(DNS_SUBDOMAIN.test(name) ? [] : [`name ${SUBDOMAIN_MSG}`])];
}

/** A DNS-1123 label (namespaces, tier names): ≤ 63, no dots. */
export function checkLabelName(name: string, what = 'name'): string[] {
  if (name === '') return [`${what} must not be empty`];
  const long = utf8Length(name) > DNS1123_LABEL_MAX ? [`${what} is too long by ${utf8Length(name) - DNS1123_LABEL_MAX} bytes (at most ${DNS1123_LABEL_MAX})`] : [];
  return [...long, ...(DNS_LABEL.test(name) ? [] : [`${what} ${LABEL_MSG}`])];
}

/** Calico tier names: a single DNS label of at most 63 characters (tiers appear inside other names). */
export function checkTierName(name: string): string[] {
  return checkLabelName(name);
}

/** Calico NetworkPolicy / StagedNetworkPolicy names. */
export function checkNetworkPolicyName(name: string): string[] {
  if (name === '') return ['name must not be empty'];
  const problems = tooLong(name, DNS1123_SUBDOMAIN_MAX);
  if (!NETWORK_POLICY_NAME.test(name)) {
    problems.push(
      `name ${LABEL_MSG}, with at most one '.' (as in "<tier>.<name>") unless it starts with "knp.default." or "ossg.default."`,
    );
  }
  return problems;
}

/** Calico GlobalNetworkPolicy / StagedGlobalNetworkPolicy names. */
export function checkGlobalNetworkPolicyName(name: string): string[] {
  if (name === '') return ['name must not be empty'];
  const problems = tooLong(name, DNS1123_SUBDOMAIN_MAX);
  if (!GLOBAL_NETWORK_POLICY_NAME.test(name)) {
    problems.push(`name ${LABEL_MSG}, with at most one '.' (as in "<tier>.<name>")`);
  }
  return problems;
}

/** A Kubernetes qualified name: `[prefix/]name`, as used for label and annotation keys. */
export function checkQualifiedName(key: string): string[] {
  const parts = key.split('/');
  let name: string;
  const problems: string[] = [];
  if (parts.length === 1) {
    name = parts[0] ?? '';
  } else if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    name = parts[1] ?? '';
    if (prefix === '') problems.push('prefix part must be non-empty');
    else if (utf8Length(prefix) > DNS1123_SUBDOMAIN_MAX) problems.push(`prefix part must be no more than ${DNS1123_SUBDOMAIN_MAX} characters`);
    else if (!DNS_SUBDOMAIN.test(prefix)) problems.push(`prefix part ${SUBDOMAIN_MSG}`);
  } else {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name === '') problems.push('name part must be non-empty');
  else {
    if (utf8Length(name) > DNS1123_LABEL_MAX) problems.push(`name part must be no more than ${DNS1123_LABEL_MAX} characters`);
    if (!QUALIFIED_NAME_PART.test(name)) {
      problems.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
    }
  }
  return problems;
}

/** A Kubernetes label value: empty, or ≤ 63 alphanumerics, '-', '_', '.', alphanumeric at both ends. */
export function checkLabelValue(value: string): string[] {
  const problems: string[] = [];
  if (utf8Length(value) > DNS1123_LABEL_MAX) problems.push(`must be no more than ${DNS1123_LABEL_MAX} characters`);
  if (!LABEL_VALUE.test(value)) {
    problems.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
  }
  return problems;
}

/** A Kubernetes (IANA service) port name: ≤ 15 lower-case alphanumerics and '-', at least one letter. */
export function checkPortName(name: string): string[] {
  if (name === '') return ['port name must not be empty'];
  const problems: string[] = [];
  if (name.length > 15) problems.push('port name must be no more than 15 characters');
  if (!PORT_NAME_CHARS.test(name)) problems.push('port name must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  else {
    if (!/[a-z]/.test(name)) problems.push('port name must contain at least one letter (a-z)');
    if (name.includes('--')) problems.push('port name must not contain consecutive hyphens');
    if (name.startsWith('-') || name.endsWith('-')) problems.push('port name must not begin or end with a hyphen');
  }
  return problems;
}

/** A Linux interface name as Calico accepts it (`^[a-zA-Z0-9_.-]{1,15}$`), or `*` when allowed. */
export function checkInterfaceName(name: string, allowWildcard: boolean): string[] {
  if (allowWildcard && name === '*') return [];
  return INTERFACE_NAME.test(name)
    ? []
    : [`invalid interface name: must be 1-15 characters of letters, digits, '_', '.' or '-'${allowWildcard ? ', or "*"' : ''}`];
}
