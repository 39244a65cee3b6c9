/**
 * The few selector operations conversion needs, on top of the selector module: canonical text
 * and label prefixing (`pcns.`, `pcsa.`). Throws `SelectorParseError` for invalid text; callers
 * catch it and report.
 */
import {
  makeAndOr,
  makeHas,
  makeNot,
  parseSelector,
  prefixSelectorAst,
  selectorFromAst,
  type SelectorNode,
} from '../selector/index.js';

/** Canonical form of a selector (`(a == "x" && has(b))`). */
export function canonicalSelector(text: string): string {
  return parseSelector(text).toString();
}

/** Canonical form of `text` with every label name prefixed (`k == 'v'` → `pcns.k == "v"`). */
export function prefixedSelector(text: string, prefix: string): string {
  return selectorFromAst(prefixSelectorAst(parseSelector(text).ast, prefix)).toString();
}

/**
 * A rule's `namespaceSelector` as a selector over endpoint labels: labels prefixed `pcns.`,
 * `all()` → `has(projectcalico.org/namespace)` (in some namespace) and `global()` →
 * `!has(projectcalico.org/namespace)` (in none). Calico substitutes these in the selector text;
 * rewriting the tree gives the same result without touching string literals that happen to
 * contain `all()`.
 */
export function namespaceSelectorForRule(text: string): string {
  const rewrite = (node: SelectorNode): SelectorNode => {
    switch (node.kind) {
      case 'all':
        return makeHas(LABEL_NAMESPACE);
      case 'global':
        return makeNot(makeHas(LABEL_NAMESPACE));
      case 'not':
        return makeNot(rewrite(node.operand));
      case 'and':
      case 'or':
        return makeAndOr(node.kind, node.operands.map(rewrite));
      default:
        return node;
    }
  };
  return selectorFromAst(rewrite(prefixSelectorAst(parseSelector(text).ast, NAMESPACE_LABEL_PREFIX))).toString();
}

/** Label key prefixes Calico uses for inherited namespace / service-account labels. */
export const NAMESPACE_LABEL_PREFIX = 'pcns.';
export const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';
export const LABEL_NAMESPACE = 'projectcalico.org/namespace';
export const LABEL_ORCHESTRATOR = 'projectcalico.org/orchestrator';
export const LABEL_SERVICE_ACCOUNT = 'projectcalico.org/serviceaccount';
export const LABEL_NAME = 'projectcalico.org/name';
export const LABEL_K8S_NAMESPACE_NAME = 'kubernetes.io/metadata.name';
