/**
 * Calico NetworkPolicy / GlobalNetworkPolicy and their staged variants → model policies,
 * following the syncer's update processors (selector combination, `types` defaulting, tier
 * defaulting). The combined selector is built as Calico builds it, as text, then canonicalised.
 */
import type { Policy, PolicyKind, PolicyType, Rule, StagedAction } from '../model/types.js';
import type { Resource, V3PolicySpec } from '../model/resources.js';
import { convertV3Rules, namespaceClause } from './calico-rules.js';
import { type ConvertOptions, type Converted, Reporter } from './report.js';
import {
  canonicalSelector,
  LABEL_NAMESPACE,
  LABEL_SERVICE_ACCOUNT,
  NAMESPACE_LABEL_PREFIX,
  prefixedSelector,
  SERVICE_ACCOUNT_LABEL_PREFIX,
} from './selectors.js';

/** Short kind names used in policy ids (`felix/types/policy_id.go`, plus ours for ANP/BANP). */
export const POLICY_ID_PREFIX: Readonly<Record<PolicyKind, string>> = {
  NetworkPolicy: 'np',
  GlobalNetworkPolicy: 'gnp',
  StagedNetworkPolicy: 'snp',
  StagedGlobalNetworkPolicy: 'sgnp',
  StagedKubernetesNetworkPolicy: 'sknp',
  KubernetesNetworkPolicy: 'knp',
  AdminNetworkPolicy: 'kanp',
  BaselineAdminNetworkPolicy: 'kbanp',
  ClusterNetworkPolicy: 'kcnp',
};

export function policyId(kind: PolicyKind, namespace: string, name: string): string {
  const short = POLICY_ID_PREFIX[kind];
  return namespace === '' ? `${short}/${name}` : `${short}/${namespace}/${name}`;
}

/**
 * `prefixAndAppendSelector`: ANDs the label-prefixed `extra` selector onto `current` as
 * `(current) && prefixed`, as text. Throws on an invalid `extra`.
 */
export function prefixAndAppendSelector(current: string, extra: string, prefix: string): string {
  if (extra === '') return current;
  const prefixed = prefixedSelector(extra, prefix);
  if (prefixed === '') return current;
  return current !== '' ? `(${current}) && ${prefixed}` : prefixed;
}

/** Calico's `types` defaulting (`api/pkg/defaults`): egress rules only → Egress, else Ingress (+Egress). */
export function defaultPolicyTypes(
  types: readonly string[] | undefined,
  hasIngressRules: boolean,
  hasEgressRules: boolean,
): PolicyType[] {
  if (types && types.length > 0) {
    const out: PolicyType[] = [];
    if (types.includes('Ingress')) out.push('Ingress');
    if (types.includes('Egress')) out.push('Egress');
    return out;
  }
  if (!hasEgressRules) return ['Ingress'];
  if (!hasIngressRules) return ['Egress'];
  return ['Ingress', 'Egress'];
}

/** The endpoint selector Felix sees for a namespaced Calico policy. */
export function namespacedPolicySelectorText(spec: V3PolicySpec, namespace: string): string {
  let selector = spec.selector ?? '';
  if (namespace !== '') {
    const ns = namespaceClause(namespace);
    selector = selector === '' ? ns : `(${selector}) && ${ns}`;
  }
  return prefixAndAppendSelector(selector, spec.serviceAccountSelector ?? '', SERVICE_ACCOUNT_LABEL_PREFIX);
}

/** The endpoint selector Felix sees for a global policy (with the `all()` rewrites, quirks included). */
export function globalPolicySelectorText(spec: V3PolicySpec): string {
  let selector = spec.selector ?? '';
  if (spec.namespaceSelector) {
    selector = prefixAndAppendSelector(selector, spec.namespaceSelector, NAMESPACE_LABEL_PREFIX);
    selector = selector.split('all()').join(`has(${LABEL_NAMESPACE})`);
  }
  if (spec.serviceAccountSelector) {
    selector = prefixAndAppendSelector(selector, spec.serviceAccountSelector, SERVICE_ACCOUNT_LABEL_PREFIX);
    selector = selector.split('all()').join(`has(${LABEL_SERVICE_ACCOUNT})`);
  }
  return selector;
}

export interface PolicyParts {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly namespace: string;
  readonly tier: string;
  readonly order: number | undefined;
  readonly selectorText: string;
  readonly types: readonly PolicyType[];
  readonly ingress: readonly Rule[];
  readonly egress: readonly Rule[];
  readonly doNotTrack?: boolean;
  readonly preDNAT?: boolean;
  readonly applyOnForward?: boolean;
  readonly staged?: StagedAction;
}

/** Assembles a model policy, canonicalising the selector; reports and returns undefined if it is invalid. */
export function assemblePolicy(parts: PolicyParts, reporter: Reporter): Policy | undefined {
  let selector: string;
  try {
    selector = canonicalSelector(parts.selectorText);
  } catch (err) {
    reporter.error('invalid-selector', 'spec.selector', `policy skipped: invalid selector "${parts.selectorText}": ${(err as Error).message}`);
    return undefined;
  }
  const policy: {
    -readonly [K in keyof Policy]: Policy[K];
  } = {
    id: policyId(parts.kind, parts.namespace, parts.name),
    kind: parts.kind,
    name: parts.name,
    namespace: parts.namespace,
    tier: parts.tier,
    selector,
    types: [...parts.types],
    ingress: [...parts.ingress],
    egress: [...parts.egress],
    doNotTrack: parts.doNotTrack ?? false,
    preDNAT: parts.preDNAT ?? false,
    applyOnForward: parts.applyOnForward ?? false,
  };
  if (parts.order !== undefined && Number.isFinite(parts.order)) policy.order = parts.order;
  if (parts.staged) policy.staged = { action: parts.staged };
  return policy;
}

const CALICO_POLICY_KINDS = new Set(['NetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy']);

/**
 * Converts a `projectcalico.org/v3` NetworkPolicy, GlobalNetworkPolicy, StagedNetworkPolicy or
 * StagedGlobalNetworkPolicy.
 */
export function convertCalicoPolicy(resource: Resource<string, V3PolicySpec>, options?: ConvertOptions): Converted<Policy> {
  const reporter = new Reporter(resource, options);
  const kind = resource.kind as PolicyKind;
  if (!CALICO_POLICY_KINDS.has(kind)) {
    reporter.error('unsupported-kind', 'kind', `not a Calico policy kind: ${resource.kind}`);
    return reporter.skip();
  }
  const spec: V3PolicySpec = resource.spec ?? {};
  const namespaced = kind === 'NetworkPolicy' || kind === 'StagedNetworkPolicy';
  const namespace = namespaced ? resource.metadata.namespace || 'default' : '';
  const staged = kind.startsWith('Staged') ? (spec.stagedAction ?? 'Set') : undefined;
  let selectorText: string;
  try {
    selectorText = namespaced ? namespacedPolicySelectorText(spec, namespace) : globalPolicySelectorText(spec);
  } catch (err) {
    reporter.error('invalid-selector', 'spec', `policy skipped: ${(err as Error).message}`);
    return reporter.skip();
  }
  const ingress = staged === 'Delete' ? [] : convertV3Rules(spec.ingress, namespace, 'spec.ingress', reporter);
  const egress = staged === 'Delete' ? [] : convertV3Rules(spec.egress, namespace, 'spec.egress', reporter);
  const types = defaultPolicyTypes(spec.types, (spec.ingress?.length ?? 0) > 0, (spec.egress?.length ?? 0) > 0);
  const global = !namespaced;
  return reporter.done(
    assemblePolicy(
      {
        kind,
        name: resource.metadata.name,
        namespace,
        tier: spec.tier || 'default',
        order: typeof spec.order === 'number' ? spec.order : undefined,
        selectorText,
        types,
        ingress,
        egress,
        doNotTrack: global && spec.doNotTrack === true,
        preDNAT: global && spec.preDNAT === true,
        applyOnForward: global && spec.applyOnForward === true,
        ...(staged ? { staged } : {}),
      },
      reporter,
    ),
  );
}
