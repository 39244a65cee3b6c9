/**
 * Kubernetes LabelSelector → Calico selector text, exactly as libcalico-go's
 * `k8sSelectorToCalico` writes it (the text is canonicalised later by the caller).
 */
import type { LabelSelector } from '../model/resources.js';
import { compareBytewise } from './strings.js';
import { LABEL_ORCHESTRATOR } from './selectors.js';

/** `projectcalico.org/orchestrator == 'k8s'`, prepended to every pod selector. */
export const K8S_ORCHESTRATOR_CLAUSE = `${LABEL_ORCHESTRATOR} == 'k8s'`;

/**
 * Pod selectors get the orchestrator clause first; namespace selectors do not. A nil selector
 * yields just the orchestrator clause (pods) or '' (namespaces: "the policy's own namespace");
 * an empty namespace selector yields `all()` (all namespaces).
 */
export function labelSelectorToCalico(selector: LabelSelector | undefined | null, type: 'pod' | 'namespace'): string {
  const clauses: string[] = type === 'pod' ? [K8S_ORCHESTRATOR_CLAUSE] : [];
  if (selector === undefined || selector === null) return clauses.join(' && ');
  const labels = selector.matchLabels ?? {};
  const expressions = selector.matchExpressions ?? [];
  const keys = Object.keys(labels);
  if (type === 'namespace' && keys.length === 0 && expressions.length === 0) return 'all()';
  for (const k of keys.sort(compareBytewise)) clauses.push(`${k} == '${labels[k]}'`);
  for (const e of expressions) {
    const values = (e.values ?? []).join("', '");
    switch (e.operator) {
      case 'In':
        clauses.push(`${e.key} in { '${values}' }`);
        break;
      case 'NotIn':
        clauses.push(`${e.key} not in { '${values}' }`);
        break;
      case 'Exists':
        clauses.push(`has(${e.key})`);
        break;
      case 'DoesNotExist':
        clauses.push(`! has(${e.key})`);
        break;
    }
  }
  return clauses.join(' && ');
}
