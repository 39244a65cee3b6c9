/**
 * Field path → line and column, from the parsed YAML tree. Walks mapping keys and sequence
 * indexes as far as the path exists and reports the deepest node found: a missing field is
 * reported where its parent is. Scalars are located at their value; mappings and sequences at
 * the key that holds them (`ingress:` rather than the first rule), which is where people look.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { FieldPath } from '../validate/path.js';
import type { Locate, Position } from '../validate/report.js';

function start(node: { range?: readonly [number, number, number] | null } | null | undefined): number | undefined {
  return node?.range?.[0];
}

function resolve(node: unknown, doc: Document): unknown {
  // Follow aliases so a path can continue into the anchored node.
  let n = node;
  for (let i = 0; i < 8 && isAlias(n); i++) n = n.resolve(doc);
  return n;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

export function createLocator(root: Node | null, doc: Document, lines: LineCounter): Locate {
  const pos = (offset: number | undefined): Position => {
    if (offset === undefined) return { line: 0, col: 0 };
    const { line, col } = lines.linePos(offset);
    return { line, col };
  };
  return (path: FieldPath, part: 'key' | 'value' = 'value'): Position => {
    let node: unknown = root;
    // The key node that holds `node`, when `node` is a mapping value.
    let key: unknown = null;
    for (const seg of path) {
      const current = resolve(node, doc);
      let next: unknown;
      let nextKey: unknown = null;
      if (isMap(current) && typeof seg === 'string') {
        const pair = current.items.find((p) => isPair(p) && keyText(p.key) === seg);
        if (!pair) break;
        next = pair.value;
        nextKey = pair.key;
      } else if (isSeq(current) && typeof seg === 'number') {
        next = current.items[seg];
        if (next === undefined) break;
      } else break;
      node = next;
      key = nextKey;
    }
    const asNode = node as Node | null;
    const keyNode = key as Node | null;
    if (keyNode && (part === 'key' || asNode === null || !isScalar(asNode) || asNode.value === null)) {
      return pos(start(keyNode));
    }
    return pos(start(asNode) ?? start(keyNode));
  };
}
