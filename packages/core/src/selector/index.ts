/**
 * Calico's selector language: parse (cached), canonical text and unique id, compiled matching,
 * label restrictions and the rewriting helpers policy conversion needs. See docs/selectors.md.
 */
export {
  parseSelector,
  validateSelector,
  selectorAll,
  selectorFromAst,
  clearSelectorCache,
  selectorCacheSize,
  SELECTOR_CACHE_LIMIT,
  type Selector,
  type SelectorValidation,
} from './selector.js';
export { SelectorParseError } from './parse-error.js';
export { parseSelectorAst, MAX_SELECTOR_NESTING } from './parser.js';
export { tokenizeSelector, type Token, type TokenKind } from './tokenizer.js';
export { printSelector, quoteLiteral } from './print.js';
export { compileSelector, type LabelMatcher } from './compile.js';
export { interpretSelector } from './interpret.js';
export {
  computeLabelRestrictions,
  labelRestrictionsSatisfiable,
  labelsSatisfyRestrictions,
  type LabelRestriction,
  type LabelRestrictions,
} from './label-restrictions.js';
export { prefixSelectorLabels, prefixSelectorAst, andSelectors, orSelectors, type SelectorInput } from './combine.js';
export {
  MAX_LABEL_LENGTH,
  compareUtf8,
  isValidLabelName,
  toStringSet,
  makeAll,
  makeGlobal,
  makeHas,
  makeComparison,
  makeSet,
  makeNot,
  makeAndOr,
  type SelectorNode,
  type AllNode,
  type GlobalNode,
  type HasNode,
  type ComparisonKind,
  type ComparisonNode,
  type SetNode,
  type NotNode,
  type AndOrNode,
  type LabelNode,
} from './ast.js';
