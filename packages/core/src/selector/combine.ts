/**
 * Selector rewriting used by policy conversion (libcalico-go's update processors): label
 * prefixing (`pcns.`, `pcsa.`) and AND/OR combination. Works on trees, so the result is what
 * Calico gets by concatenating strings and re-parsing, without the string round trip.
 * `all()` / `global()` substitution is the caller's business.
 */
import { makeAndOr, makeNot, makeSet, makeComparison, makeHas, type SelectorNode } from './ast.js';
import { parseSelector, selectorFromAst, type Selector } from './selector.js';

/** Selector text (parsed with `parseSelector`) or an already parsed selector. */
export type SelectorInput = string | Selector;

function toSelector(input: SelectorInput): Selector {
  return typeof input === 'string' ? parseSelector(input) : input;
}

/**
 * Rewrites every label name in the selector as `prefix + name` (Calico's `PrefixVisitor`), e.g.
 * `prefixSelectorLabels('role == "db"', 'pcns.')` → `pcns.role == "db"`. `all()` and `global()`
 * stay as they are. Like Calico, the result is not re-validated: a prefixed name longer than
 * 512 characters prints fine but would not parse again.
 * @throws SelectorParseError when given text that is not a selector.
 */
export function prefixSelectorLabels(selector: SelectorInput, prefix: string): Selector {
  const sel = toSelector(selector);
  return prefix === '' ? sel : selectorFromAst(prefixSelectorAst(sel.ast, prefix));
}

/** Tree form of `prefixSelectorLabels`. */
export function prefixSelectorAst(node: SelectorNode, prefix: string): SelectorNode {
  switch (node.kind) {
    case 'all':
    case 'global':
      return node;
    case 'has':
      return makeHas(prefix + node.label);
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return makeComparison(node.kind, prefix + node.label, node.value);
    case 'in':
    case 'notIn':
      return makeSet(node.kind, prefix + node.label, node.values);
    case 'not':
      return makeNot(prefixSelectorAst(node.operand, prefix));
    case 'and':
    case 'or':
      return makeAndOr(
        node.kind,
        node.operands.map((operand) => prefixSelectorAst(operand, prefix)),
      );
  }
}

/**
 * ANDs selectors into one group, exactly like parsing `(s1) && (s2) && ...`: each part becomes
 * one operand, nested groups stay nested (`(a && b)` and `c` → `((a && b) && c)`), a single part
 * is returned unchanged. Empty text is `all()` (it is not skipped): leave out absent selector
 * fields before calling, as Calico's converters do.
 * @throws SelectorParseError when a part is text that is not a selector.
 */
export function andSelectors(first: SelectorInput, ...rest: SelectorInput[]): Selector {
  return combine('and', first, rest);
}

/** ORs selectors into one group, exactly like parsing `(s1) || (s2) || ...` (see `andSelectors`). */
export function orSelectors(first: SelectorInput, ...rest: SelectorInput[]): Selector {
  return combine('or', first, rest);
}

function combine(kind: 'and' | 'or', first: SelectorInput, rest: readonly SelectorInput[]): Selector {
  const head = toSelector(first);
  if (rest.length === 0) return head;
  return selectorFromAst(makeAndOr(kind, [head.ast, ...rest.map((part) => toSelector(part).ast)]));
}
