/**
 * Calico's canonical selector text (`Selector.String()` in libcalico-go), byte for byte. It is
 * hashed into the selector's unique id and used as dataplane IP-set identity, so any change
 * here changes names in the kernel. Rules:
 *  - every `and` / `or` node prints wrapped in parentheses, even at top level, and nested groups
 *    stay nested; operands are joined with ` && ` / ` || `;
 *  - `not` prints `!` directly followed by its operand (no parentheses of its own), so
 *    `!(!x)` prints `!!x`, which re-parses as `x` (a Calico quirk kept on purpose);
 *  - a literal is quoted with `"` unless it contains `"`, then with `'` (a value containing both
 *    cannot be written, and prints unparseably, as in Calico);
 *  - sets print `{"a", "b"}` in stored (UTF-8 sorted) order; the empty set is `{}`.
 */
import type { SelectorNode } from './ast.js';

/** The canonical text of a selector tree (see the file header for the rules). */
export function printSelector(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.label})`;
    case 'eq':
      return `${node.label} == ${quoteLiteral(node.value)}`;
    case 'ne':
      return `${node.label} != ${quoteLiteral(node.value)}`;
    case 'contains':
      return `${node.label} contains ${quoteLiteral(node.value)}`;
    case 'startsWith':
      return `${node.label} starts with ${quoteLiteral(node.value)}`;
    case 'endsWith':
      return `${node.label} ends with ${quoteLiteral(node.value)}`;
    case 'in':
      return `${node.label} in {${node.values.map(quoteLiteral).join(', ')}}`;
    case 'notIn':
      return `${node.label} not in {${node.values.map(quoteLiteral).join(', ')}}`;
    case 'not':
      return `!${printSelector(node.operand)}`;
    case 'and':
      return `(${node.operands.map(printSelector).join(' && ')})`;
    case 'or':
      return `(${node.operands.map(printSelector).join(' || ')})`;
  }
}

/** Quotes a literal the way Calico prints it: `"v"`, or `'v'` when `v` contains `"`. */
export function quoteLiteral(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}
