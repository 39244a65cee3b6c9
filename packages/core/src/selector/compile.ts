/**
 * Compiles a selector tree once into nested closures, so matching never walks the tree or
 * switches on node kinds. Each closure is specialised (`in` with one value becomes `==`,
 * `!has(k)` one test, `contains ""` becomes `has`, constant operands fold away).
 *
 * Label lookup: a label is present when `labels[name]` is a string. For plain or null-prototype
 * objects that is exactly "has an own property": Object.prototype members such as `constructor`
 * are never strings, so they never count as labels. Must stay equal to `interpretSelector`.
 */
import type { Labels } from '../model/types.js';
import type { SelectorNode } from './ast.js';

/** A compiled selector: true when the label map matches. */
export type LabelMatcher = (labels: Labels) => boolean;

const MATCH_ALL: LabelMatcher = () => true;
const MATCH_NONE: LabelMatcher = () => false;

/** Compiles a selector tree into a matcher equivalent to `interpretSelector(node, labels)`. */
export function compileSelector(node: SelectorNode): LabelMatcher {
  switch (node.kind) {
    case 'all':
    case 'global':
      return MATCH_ALL;
    case 'has':
      return hasMatcher(node.label);
    case 'eq':
      return eqMatcher(node.label, node.value);
    case 'ne':
      return neMatcher(node.label, node.value);
    case 'contains': {
      const { label, value } = node;
      if (value === '') return hasMatcher(label);
      return (labels) => {
        const v = labels[label];
        return typeof v === 'string' && v.includes(value);
      };
    }
    case 'startsWith': {
      const { label, value } = node;
      if (value === '') return hasMatcher(label);
      return (labels) => {
        const v = labels[label];
        return typeof v === 'string' && v.startsWith(value);
      };
    }
    case 'endsWith': {
      const { label, value } = node;
      if (value === '') return hasMatcher(label);
      return (labels) => {
        const v = labels[label];
        return typeof v === 'string' && v.endsWith(value);
      };
    }
    case 'in':
      return inMatcher(node.label, node.values);
    case 'notIn':
      return notInMatcher(node.label, node.values);
    case 'not':
      return compileNot(node.operand);
    case 'and':
      return compileAnd(node.operands.map(compileSelector));
    case 'or':
      return compileOr(node.operands.map(compileSelector));
  }
}

function hasMatcher(label: string): LabelMatcher {
  return (labels) => typeof labels[label] === 'string';
}

function eqMatcher(label: string, value: string): LabelMatcher {
  // Only a string can be === a string, so an absent label or a prototype member never matches.
  return (labels) => labels[label] === value;
}

function neMatcher(label: string, value: string): LabelMatcher {
  return (labels) => labels[label] !== value;
}

function inMatcher(label: string, values: readonly string[]): LabelMatcher {
  if (values.length === 0) return MATCH_NONE;
  if (values.length === 1) return eqMatcher(label, values[0]!);
  if (values.length === 2) {
    const [a, b] = values as readonly [string, string];
    return (labels) => {
      const v = labels[label];
      return v === a || v === b;
    };
  }
  const set = new Set(values);
  return (labels) => {
    const v = labels[label];
    return typeof v === 'string' && set.has(v);
  };
}

function notInMatcher(label: string, values: readonly string[]): LabelMatcher {
  if (values.length === 0) return MATCH_ALL;
  if (values.length === 1) return neMatcher(label, values[0]!);
  if (values.length === 2) {
    const [a, b] = values as readonly [string, string];
    return (labels) => {
      const v = labels[label];
      return v !== a && v !== b;
    };
  }
  const set = new Set(values);
  return (labels) => {
    const v = labels[label];
    return typeof v !== 'string' || !set.has(v);
  };
}

/** `!x`, using the complementary leaf when there is one (`!(k == v)` is exactly `k != v`). */
function compileNot(operand: SelectorNode): LabelMatcher {
  switch (operand.kind) {
    case 'has': {
      const { label } = operand;
      return (labels) => typeof labels[label] !== 'string';
    }
    case 'eq':
      return neMatcher(operand.label, operand.value);
    case 'ne':
      return eqMatcher(operand.label, operand.value);
    case 'in':
      return notInMatcher(operand.label, operand.values);
    case 'notIn':
      return inMatcher(operand.label, operand.values);
    case 'not':
      return compileSelector(operand.operand);
    default: {
      const inner = compileSelector(operand);
      if (inner === MATCH_ALL) return MATCH_NONE;
      if (inner === MATCH_NONE) return MATCH_ALL;
      return (labels) => !inner(labels);
    }
  }
}

function compileAnd(all: readonly LabelMatcher[]): LabelMatcher {
  if (all.includes(MATCH_NONE)) return MATCH_NONE;
  const ms = all.filter((m) => m !== MATCH_ALL);
  switch (ms.length) {
    case 0:
      return MATCH_ALL;
    case 1:
      return ms[0]!;
    case 2: {
      const [a, b] = ms as [LabelMatcher, LabelMatcher];
      return (labels) => a(labels) && b(labels);
    }
    case 3: {
      const [a, b, c] = ms as [LabelMatcher, LabelMatcher, LabelMatcher];
      return (labels) => a(labels) && b(labels) && c(labels);
    }
    default:
      return (labels) => {
        for (let i = 0; i < ms.length; i++) if (!ms[i]!(labels)) return false;
        return true;
      };
  }
}

function compileOr(all: readonly LabelMatcher[]): LabelMatcher {
  if (all.includes(MATCH_ALL)) return MATCH_ALL;
  const ms = all.filter((m) => m !== MATCH_NONE);
  switch (ms.length) {
    case 0:
      return MATCH_NONE;
    case 1:
      return ms[0]!;
    case 2: {
      const [a, b] = ms as [LabelMatcher, LabelMatcher];
      return (labels) => a(labels) || b(labels);
    }
    case 3: {
      const [a, b, c] = ms as [LabelMatcher, LabelMatcher, LabelMatcher];
      return (labels) => a(labels) || b(labels) || c(labels);
    }
    default:
      return (labels) => {
        for (let i = 0; i < ms.length; i++) if (ms[i]!(labels)) return true;
        return false;
      };
  }
}
