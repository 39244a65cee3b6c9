/**
 * A service graph as one standalone SVG: namespace boxes, nodes by kind, and an arrow per edge
 * coloured by what happened to its traffic (green allowed, red denied, amber both), as thick as
 * its connections are many. Every edge carries `data-edge` (its index in the graph) and a wider
 * invisible twin for pointing at it; the HTML page adds the interaction.
 */
import type { GraphEdge, ServiceGraph } from '@gingham/core';
import type { GraphLayout } from './graph-layout.js';
import { escapeXml, formatCount } from './markup.js';

export const GRAPH_STYLE = `
.box{fill:#f6f8fa;stroke:#d0d7de;stroke-width:1.5}
.box-label{font:600 15px system-ui,sans-serif;fill:#24292f}
.node circle{stroke:#fff;stroke-width:2}
.node text{font:12px system-ui,sans-serif;fill:#24292f;text-anchor:middle}
.kind-workload circle{fill:#0969da}.kind-namespace circle{fill:#8250df}.kind-host circle{fill:#57606a}
.kind-networkset circle{fill:#bf8700}.kind-network circle{fill:#1a7f37}
.edge{fill:none;stroke-linecap:round}.edge.allowed{stroke:#2da44e}.edge.denied{stroke:#cf222e}.edge.mixed{stroke:#d4a72c}
.edge-hit{fill:none;stroke:transparent;stroke-width:14;cursor:pointer}
.edge.selected{stroke:#0550ae}.node.dim,.edge.dim{opacity:.15}
`;

export function edgeStatus(e: GraphEdge): 'allowed' | 'denied' | 'mixed' {
  const denied = e.deniedAtSource.records + e.deniedAtDest.records;
  if (denied === 0) return 'allowed';
  return e.allowed.records === 0 ? 'denied' : 'mixed';
}

function edgeTitle(e: GraphEdge, label: (id: string) => string): string {
  return `${label(e.source)} → ${label(e.target)}: ${formatCount(e.allowed.connections)} allowed, ${formatCount(e.deniedAtSource.connections)} denied at source, ${formatCount(e.deniedAtDest.connections)} denied at destination (${e.ports.join(', ')})`;
}

/** The SVG markup of a laid-out graph. */
export function renderGraphSvg(graph: ServiceGraph, layout: GraphLayout): string {
  const out: string[] = [];
  const labels = new Map(graph.nodes.map((n) => [n.id, n.label]));
  const name = (id: string): string => labels.get(id) ?? id;
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}" width="${Math.ceil(layout.width)}" height="${Math.ceil(layout.height)}" role="img" aria-label="service graph">`);
  out.push(`<style>${GRAPH_STYLE}</style>`);
  out.push('<defs>');
  for (const [s, colour] of [['allowed', '#2da44e'], ['denied', '#cf222e'], ['mixed', '#d4a72c']]) {
    out.push(`<marker id="arrow-${s}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="${colour}"/></marker>`);
  }
  out.push('</defs>');
  out.push('<g class="boxes">');
  for (const b of layout.boxes) {
    out.push(`<g class="box-group" data-box="${escapeXml(b.id)}"><rect class="box" x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="10"/><text class="box-label" x="${b.x + 12}" y="${b.y + 22}">${escapeXml(b.label)}</text></g>`);
  }
  out.push('</g><g class="edges">');
  graph.edges.forEach((e, i) => {
    const a = layout.nodes.get(e.source);
    const b = layout.nodes.get(e.target);
    if (!a || !b) return;
    const status = edgeStatus(e);
    const total = e.allowed.connections + e.deniedAtSource.connections + e.deniedAtDest.connections;
    const width = (1.5 + Math.min(6, Math.log10(1 + total) * 1.6)).toFixed(1);
    let d: string;
    if (e.source === e.target) {
      d = `M${a.x - 8} ${a.y - 14} C${a.x - 40} ${a.y - 60} ${a.x + 40} ${a.y - 60} ${a.x + 8} ${a.y - 14}`;
    } else {
      // A curve bent to the right of its direction, so A→B and B→A do not overlap; ends short of the circles.
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len = Math.hypot(dx, dy) || 1;
      const ux = dx / len;
      const uy = dy / len;
      const x1 = a.x + ux * 16;
      const y1 = a.y + uy * 16;
      const x2 = b.x - ux * 18;
      const y2 = b.y - uy * 18;
      const bend = Math.min(60, len * 0.15);
      const cx = (x1 + x2) / 2 - uy * bend;
      const cy = (y1 + y2) / 2 + ux * bend;
      d = `M${x1.toFixed(1)} ${y1.toFixed(1)} Q${cx.toFixed(1)} ${cy.toFixed(1)} ${x2.toFixed(1)} ${y2.toFixed(1)}`;
    }
    const title = escapeXml(edgeTitle(e, name));
    out.push(`<g class="edge-group" data-edge="${i}" data-source="${escapeXml(e.source)}" data-target="${escapeXml(e.target)}"><title>${title}</title><path class="edge ${status}" d="${d}" stroke-width="${width}" marker-end="url(#arrow-${status})"/><path class="edge-hit" d="${d}"/></g>`);
  });
  out.push('</g><g class="nodes">');
  // Namespaces with members are drawn as their box, not as a node.
  const parents = new Set(graph.nodes.map((n) => n.parent).filter((p): p is string => p !== undefined));
  for (const p of layout.nodes.values()) {
    if (p.node.kind === 'namespace' && parents.has(p.node.id)) continue;
    const text = p.node.label.length > 24 ? `${p.node.label.slice(0, 23)}…` : p.node.label;
    out.push(`<g class="node kind-${p.node.kind}" data-node="${escapeXml(p.node.id)}" transform="translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})"><title>${escapeXml(`${p.node.kind}: ${p.node.label}`)}</title><circle r="13"/><text y="30">${escapeXml(text)}</text></g>`);
  }
  out.push('</g></svg>');
  return out.join('\n');
}
