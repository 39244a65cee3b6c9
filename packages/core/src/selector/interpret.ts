/**
 * The reference interpreter: walks the tree for every call, one `case` per node kind, written to
 * be obviously equal to Calico's `Evaluate`. Production matching uses the compiled closures
 * (`compile.ts`); property tests and benchmarks compare the two.
 */
import type { Labels } from '../model/types.js';
import type { SelectorNode } from './ast.js';

/** The value of an own label, or `undefined` when the map has no such label. */
function labelValue(labels: Labels, name: string): string | undefined {
  return Object.hasOwn(labels, name) ? labels[name] : undefined;
}

/**
 * Evaluates a selector tree against a label map by walking it (slow; for tests and benchmarks).
 * Matching is exact, case-sensitive and never trims; `!=` and `not in` are true for an absent
 * label; `global()` is true like `all()`.
 */
export function interpretSelector(node: SelectorNode, labels: Labels): boolean {
  switch (node.kind) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return labelValue(labels, node.label) !== undefined;
    case 'eq': {
      const value = labelValue(labels, node.label);
      return value !== undefined && value === node.value;
    }
    case 'ne': {
      const value = labelValue(labels, node.label);
      return value === undefined || value !== node.value;
    }
    case 'contains': {
      const value = labelValue(labels, node.label);
      return value !== undefined && value.includes(node.value);
    }
    case 'startsWith': {
      const value = labelValue(labels, node.label);
      return value !== undefined && value.startsWith(node.value);
    }
    case 'endsWith': {
      const value = labelValue(labels, node.label);
      return value !== undefined && value.endsWith(node.value);
    }
    case 'in': {
      const value = labelValue(labels, node.label);
      return value !== undefined && node.values.includes(value);
    }
    case 'notIn': {
      const value = labelValue(labels, node.label);
      return value === undefined || !node.values.includes(value);
    }
    case 'not':
      return !interpretSelector(node.operand, labels);
    case 'and':
      return node.operands.every((operand) => interpretSelector(operand, labels));
    case 'or':
      return node.operands.some((operand) => interpretSelector(operand, labels));
  }
}
