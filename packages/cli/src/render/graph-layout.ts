/**
 * A deterministic layout of a service graph: namespaces as boxes on a grid (busiest first), their
 * workloads and network sets on a grid inside each box, and the nodes outside any namespace
 * (hosts, global network sets, the public and private networks) in a column on the left. The
 * same graph always gets the same picture, so an SVG can be diffed and a test can find a node
 * where the layout put it. O(nodes + edges).
 */
import type { GraphNode, ServiceGraph } from '@gingham/core';

export interface PlacedNode {
  readonly node: GraphNode;
  readonly x: number;
  readonly y: number;
}

export interface PlacedBox {
  readonly id: string;
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface GraphLayout {
  readonly width: number;
  readonly height: number;
  readonly nodes: ReadonlyMap<string, PlacedNode>;
  readonly boxes: readonly PlacedBox[];
}

const CELL_W = 170;
const CELL_H = 90;
const PAD = 30;
const HEADER = 34;
const GAP = 50;

export function layoutGraph(graph: ServiceGraph): GraphLayout {
  const weight = new Map<string, number>();
  for (const e of graph.edges) {
    const w = e.allowed.connections + e.deniedAtSource.connections + e.deniedAtDest.connections + 1;
    weight.set(e.source, (weight.get(e.source) ?? 0) + w);
    weight.set(e.target, (weight.get(e.target) ?? 0) + w);
  }
  const byWeight = (a: GraphNode, b: GraphNode): number => (weight.get(b.id) ?? 0) - (weight.get(a.id) ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const namespaces = graph.nodes.filter((n) => n.kind === 'namespace');
  const children = new Map<string, GraphNode[]>();
  for (const n of graph.nodes) {
    if (!n.parent) continue;
    const list = children.get(n.parent);
    if (list) list.push(n);
    else children.set(n.parent, [n]);
  }
  // A namespace's weight is its own plus its members'.
  for (const ns of namespaces) for (const c of children.get(ns.id) ?? []) weight.set(ns.id, (weight.get(ns.id) ?? 0) + (weight.get(c.id) ?? 0));
  const outside = graph.nodes.filter((n) => n.kind !== 'namespace' && !n.parent).sort(byWeight);
  const placed = new Map<string, PlacedNode>();
  const boxes: PlacedBox[] = [];

  // Left column: everything outside namespaces.
  const leftWidth = outside.length > 0 ? CELL_W + 2 * PAD : 0;
  outside.forEach((node, i) => placed.set(node.id, { node, x: PAD + CELL_W / 2, y: PAD + HEADER + i * CELL_H + CELL_H / 2 }));
  if (outside.length > 0) boxes.push({ id: 'outside', label: 'outside the namespaces', x: PAD / 2, y: PAD / 2, width: CELL_W + PAD, height: HEADER + outside.length * CELL_H + PAD });

  // Namespace boxes on a grid, rows of roughly equal count; each box sized by its members.
  const sorted = [...namespaces].sort(byWeight);
  const perRow = Math.max(1, Math.ceil(Math.sqrt(sorted.length)));
  let y = PAD / 2;
  let width = leftWidth;
  for (let row = 0; row * perRow < sorted.length; row++) {
    let x = leftWidth + PAD / 2;
    let rowHeight = 0;
    for (const ns of sorted.slice(row * perRow, (row + 1) * perRow)) {
      const members = (children.get(ns.id) ?? []).sort(byWeight);
      const cols = Math.max(1, Math.ceil(Math.sqrt(members.length)));
      const rows = Math.max(1, Math.ceil(members.length / cols));
      const w = cols * CELL_W + PAD;
      const h = HEADER + rows * CELL_H + PAD / 2;
      boxes.push({ id: ns.id, label: ns.label, x, y, width: w, height: h });
      if (members.length === 0) placed.set(ns.id, { node: ns, x: x + w / 2, y: y + HEADER + CELL_H / 2 });
      else placed.set(ns.id, { node: ns, x: x + w / 2, y: y + HEADER / 2 });
      members.forEach((m, i) => placed.set(m.id, { node: m, x: x + PAD / 2 + (i % cols) * CELL_W + CELL_W / 2, y: y + HEADER + Math.floor(i / cols) * CELL_H + CELL_H / 2 }));
      x += w + GAP;
      rowHeight = Math.max(rowHeight, h);
    }
    width = Math.max(width, x);
    y += rowHeight + GAP;
  }
  const height = Math.max(y, outside.length > 0 ? PAD + HEADER + outside.length * CELL_H + PAD : 0, 200);
  return { width: Math.max(width, 400), height, nodes: placed, boxes };
}
