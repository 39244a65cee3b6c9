/**
 * The kinds Gingham reads, by `apiVersion` and `kind`: scope, name rule, field table and
 * semantic validator. The loader uses the same table to reject unknown kinds and to default
 * namespaces, so "supported" means the same thing everywhere.
 */
import { checkAdminPolicy } from './admin-network-policy.js';
import { checkCalicoPolicy, checkTier } from './calico-policy.js';
import { checkCalicoNode, checkHostEndpoint, checkNetworkSet, checkProfile, checkWorkloadEndpoint } from './calico-resources.js';
import { checkK8sNode, checkPod } from './k8s-core.js';
import { checkK8sNetworkPolicy, checkStagedKubernetesNetworkPolicy } from './k8s-network-policy.js';
import {
  checkGlobalNetworkPolicyName,
  checkLabelName,
  checkNetworkPolicyName,
  checkSubdomainName,
  checkTierName,
} from './names.js';
import type { Reporter } from './report.js';
import type { Shape } from './schema.js';
import { SHAPES } from './shapes.js';
import { suggest } from './suggest.js';
import type { JsonObject } from './values.js';

export interface KindDefinition {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly checkName: (name: string) => string[];
  readonly reservedLabels?: Readonly<Record<string, string>>;
  readonly shape: Shape;
  readonly validate?: (r: Reporter, resource: JsonObject) => void;
}

export const CALICO_API = 'projectcalico.org/v3';
export const CALICO_CRD_API = 'crd.projectcalico.org/v1';

const NETWORK_SET_LABELS = { 'projectcalico.org/namespace': 'projectcalico.org/namespace is not a valid label name (Calico sets it)' };

type Entry = Omit<KindDefinition, 'apiVersion' | 'kind' | 'shape'>;

const TABLE: readonly (readonly [string, string, Entry])[] = [
  [CALICO_API, 'Tier', { namespaced: false, checkName: checkTierName, validate: checkTier }],
  [CALICO_API, 'NetworkPolicy', { namespaced: true, checkName: checkNetworkPolicyName, validate: (r, x) => checkCalicoPolicy(r, x, { scope: 'NetworkPolicy', staged: false }) }],
  [CALICO_API, 'GlobalNetworkPolicy', { namespaced: false, checkName: checkGlobalNetworkPolicyName, validate: (r, x) => checkCalicoPolicy(r, x, { scope: 'GlobalNetworkPolicy', staged: false }) }],
  [CALICO_API, 'StagedNetworkPolicy', { namespaced: true, checkName: checkNetworkPolicyName, validate: (r, x) => checkCalicoPolicy(r, x, { scope: 'NetworkPolicy', staged: true }) }],
  [CALICO_API, 'StagedGlobalNetworkPolicy', { namespaced: false, checkName: checkGlobalNetworkPolicyName, validate: (r, x) => checkCalicoPolicy(r, x, { scope: 'GlobalNetworkPolicy', staged: true }) }],
  [CALICO_API, 'StagedKubernetesNetworkPolicy', { namespaced: true, checkName: checkSubdomainName, validate: checkStagedKubernetesNetworkPolicy }],
  [CALICO_API, 'NetworkSet', { namespaced: true, checkName: checkSubdomainName, reservedLabels: NETWORK_SET_LABELS, validate: checkNetworkSet }],
  [CALICO_API, 'GlobalNetworkSet', { namespaced: false, checkName: checkSubdomainName, reservedLabels: NETWORK_SET_LABELS, validate: checkNetworkSet }],
  [CALICO_API, 'HostEndpoint', { namespaced: false, checkName: checkSubdomainName, validate: checkHostEndpoint }],
  [CALICO_API, 'WorkloadEndpoint', { namespaced: true, checkName: checkSubdomainName, validate: checkWorkloadEndpoint }],
  [CALICO_API, 'Profile', { namespaced: false, checkName: checkSubdomainName, validate: checkProfile }],
  [CALICO_API, 'Node', { namespaced: false, checkName: checkSubdomainName, validate: checkCalicoNode }],
  ['v1', 'Namespace', { namespaced: false, checkName: (n) => checkLabelName(n) }],
  ['v1', 'Pod', { namespaced: true, checkName: checkSubdomainName, validate: checkPod }],
  ['v1', 'ServiceAccount', { namespaced: true, checkName: checkSubdomainName }],
  ['v1', 'Node', { namespaced: false, checkName: checkSubdomainName, validate: checkK8sNode }],
  ['networking.k8s.io/v1', 'NetworkPolicy', { namespaced: true, checkName: checkSubdomainName, validate: checkK8sNetworkPolicy }],
  ['policy.networking.k8s.io/v1alpha1', 'AdminNetworkPolicy', { namespaced: false, checkName: checkSubdomainName, validate: (r, x) => checkAdminPolicy(r, x, 'AdminNetworkPolicy') }],
  ['policy.networking.k8s.io/v1alpha1', 'BaselineAdminNetworkPolicy', { namespaced: false, checkName: checkSubdomainName, validate: (r, x) => checkAdminPolicy(r, x, 'BaselineAdminNetworkPolicy') }],
  ['policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy', { namespaced: false, checkName: checkSubdomainName, validate: (r, x) => checkAdminPolicy(r, x, 'ClusterNetworkPolicy') }],
];

const BY_KEY = new Map<string, KindDefinition>();
for (const [apiVersion, kind, entry] of TABLE) {
  const shape = SHAPES[`${apiVersion} ${kind}`];
  if (!shape) throw new Error(`gingham: no shape for ${apiVersion} ${kind}`);
  BY_KEY.set(`${apiVersion} ${kind}`, { apiVersion, kind, shape, ...entry });
}

/** Every supported (apiVersion, kind) with its checks, in a stable order. */
export const KIND_DEFINITIONS: readonly KindDefinition[] = [...BY_KEY.values()];

/** The public view of a supported kind. */
export interface SupportedKind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/** Every (apiVersion, kind) Gingham reads, in a stable order. */
export const SUPPORTED_KINDS: readonly SupportedKind[] = KIND_DEFINITIONS.map(({ apiVersion, kind, namespaced }) => ({ apiVersion, kind, namespaced }));

export const SUPPORTED_API_VERSIONS: readonly string[] = [...new Set(KIND_DEFINITIONS.map((k) => k.apiVersion))];

export function findKind(apiVersion: string, kind: string): KindDefinition | undefined {
  return BY_KEY.get(`${apiVersion} ${kind}`);
}

/** The API group of an apiVersion (`''` for the core `v1`). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/** A sentence explaining why (apiVersion, kind) is not accepted, naming what is. */
export function explainUnsupported(apiVersion: string, kind: string): { code: string; message: string } {
  if (apiGroup(apiVersion) === apiGroup(CALICO_CRD_API)) {
    return {
      code: 'unsupported-api-version',
      message: `${apiVersion} is Calico's internal CRD storage API and is not accepted; write apiVersion: ${CALICO_API} (same kinds and fields)`,
    };
  }
  const servedBy = SUPPORTED_KINDS.filter((k) => k.kind === kind).map((k) => k.apiVersion);
  if (!SUPPORTED_API_VERSIONS.includes(apiVersion)) {
    if (servedBy.length > 0) {
      return { code: 'unsupported-api-version', message: `unsupported apiVersion ${JSON.stringify(apiVersion)}${suggestApi(apiVersion)}; kind ${kind} is served by ${servedBy.join(' and ')}` };
    }
    return {
      code: 'unsupported-api-version',
      message: `unsupported apiVersion ${JSON.stringify(apiVersion)}${suggestApi(apiVersion)}; supported: ${supportedSummary()}`,
    };
  }
  if (servedBy.length > 0) {
    return { code: 'unknown-kind', message: `kind ${kind} is not served by ${apiVersion}; use apiVersion ${servedBy.join(' or ')}` };
  }
  const kinds = SUPPORTED_KINDS.filter((k) => k.apiVersion === apiVersion).map((k) => k.kind);
  const hint = suggest(kind, kinds);
  return {
    code: 'unknown-kind',
    message: `unknown kind ${JSON.stringify(kind)} for ${apiVersion}${hint ? ` (did you mean ${hint}?)` : ''}; supported kinds: ${kinds.join(', ')}`,
  };
}

/** `projectcalico.org/v3 (Tier, NetworkPolicy, …), v1 (Namespace, …), …` */
function supportedSummary(): string {
  return SUPPORTED_API_VERSIONS.map((v) => `${v} (${SUPPORTED_KINDS.filter((k) => k.apiVersion === v).map((k) => k.kind).join(', ')})`).join(', ');
}

function suggestApi(apiVersion: string): string {
  const hint = suggest(apiVersion, SUPPORTED_API_VERSIONS);
  return hint ? ` (did you mean ${hint}?)` : '';
}
