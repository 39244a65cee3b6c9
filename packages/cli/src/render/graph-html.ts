/**
 * The service graph as one self-contained HTML page (inline SVG, CSS and script; nothing loaded
 * from anywhere): drag to pan, wheel or the buttons to zoom, click an edge to list its flows and
 * policies beside the graph, click a node to dim what is not connected to it. When the script has
 * run, the page says so in its title and in `data-ready` on <body>, for tests and tools.
 */
import type { ServiceGraph } from '@gingham/core';
import { layoutGraph } from './graph-layout.js';
import { renderGraphSvg } from './graph-svg.js';
import { escapeXml, formatCount, formatTime, scriptJson } from './markup.js';

const PAGE_STYLE = `
*{box-sizing:border-box}body{margin:0;font:14px system-ui,sans-serif;color:#24292f;display:flex;flex-direction:column;height:100vh}
header{padding:10px 16px;border-bottom:1px solid #d0d7de;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{font-size:16px;margin:0}header .legend span{margin-right:12px}
.sw{display:inline-block;width:18px;height:4px;vertical-align:middle;margin-right:4px}
main{flex:1;display:flex;min-height:0}#view{flex:1;overflow:hidden;position:relative;cursor:grab;background:#fff}
#view.panning{cursor:grabbing}#view svg{width:100%;height:100%;display:block}
#zoom{position:absolute;right:10px;top:10px;display:flex;gap:4px}#zoom button{width:32px;height:32px;font-size:16px}
aside{width:420px;border-left:1px solid #d0d7de;overflow:auto;padding:12px 16px}
aside h2{font-size:15px;margin:4px 0 8px}table{border-collapse:collapse;width:100%;font-size:12px}
td,th{border-bottom:1px solid #eaeef2;padding:3px 4px;text-align:left;vertical-align:top}
.allow{color:#1a7f37}.deny{color:#cf222e}.muted{color:#57606a}
`;

const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('graph-data').textContent);
  var view = document.getElementById('view');
  var svg = view.querySelector('svg');
  var panel = document.getElementById('panel');
  var full = svg.viewBox.baseVal;
  var vb = { x: full.x, y: full.y, w: full.width, h: full.height };
  svg.removeAttribute('width'); svg.removeAttribute('height');
  function apply() { svg.setAttribute('viewBox', vb.x + ' ' + vb.y + ' ' + vb.w + ' ' + vb.h); }
  function zoom(factor, cx, cy) {
    var r = svg.getBoundingClientRect();
    var px = cx === undefined ? 0.5 : (cx - r.left) / r.width, py = cy === undefined ? 0.5 : (cy - r.top) / r.height;
    var nw = Math.min(full.width * 8, Math.max(80, vb.w * factor)), nh = vb.h * (nw / vb.w);
    vb.x += (vb.w - nw) * px; vb.y += (vb.h - nh) * py; vb.w = nw; vb.h = nh; apply();
  }
  view.addEventListener('wheel', function (e) { e.preventDefault(); zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, e.clientX, e.clientY); }, { passive: false });
  var drag = null, moved = false;
  view.addEventListener('pointerdown', function (e) { drag = { x: e.clientX, y: e.clientY, vx: vb.x, vy: vb.y }; moved = false; });
  window.addEventListener('pointermove', function (e) {
    if (!drag) return;
    var r = svg.getBoundingClientRect(), s = vb.w / r.width;
    if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) { moved = true; view.classList.add('panning'); }
    vb.x = drag.vx - (e.clientX - drag.x) * s; vb.y = drag.vy - (e.clientY - drag.y) * s; apply();
  });
  window.addEventListener('pointerup', function () { drag = null; view.classList.remove('panning'); });
  document.getElementById('zoom-in').onclick = function () { zoom(1 / 1.3); };
  document.getElementById('zoom-out').onclick = function () { zoom(1.3); };
  document.getElementById('zoom-reset').onclick = function () { vb = { x: full.x, y: full.y, w: full.width, h: full.height }; apply(); };
  function esc(t) { return String(t).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); }
  function num(n) { return String(Math.round(n)).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ','); }
  function clear() { svg.querySelectorAll('.selected,.dim').forEach(function (el) { el.classList.remove('selected', 'dim'); }); }
  function selectEdge(i) {
    var e = data.edges[i]; if (!e) return;
    clear();
    var g = svg.querySelector('[data-edge="' + i + '"] .edge'); if (g) g.classList.add('selected');
    var rows = e.flows.map(function (f) {
      return '<tr><td>' + esc(f.source) + ' → ' + esc(f.dest) + '</td><td>' + esc(f.proto) + (f.port ? ' ' + f.port : '') + '</td><td class="' + f.action + '">' + f.action + ' at ' + (f.reporter === 'src' ? 'source' : 'destination') + '</td><td>' + esc(f.policy) + '</td><td>' + num(f.connections) + '</td></tr>';
    }).join('');
    panel.innerHTML = '<h2>' + esc(e.sourceLabel) + ' → ' + esc(e.targetLabel) + '</h2>' +
      '<p><span class="allow">' + num(e.allowed.connections) + ' allowed</span>, <span class="deny">' + num(e.deniedAtSource.connections) + ' denied at source</span>, <span class="deny">' + num(e.deniedAtDest.connections) + ' denied at destination</span> (connections; ' + num(e.allowed.records + e.deniedAtSource.records + e.deniedAtDest.records) + ' records)</p>' +
      '<p>' + esc(e.ports.join(', ')) + '</p>' +
      '<h2>Policies that decided</h2><table><tr><th>policy</th><th>verdict</th><th>records</th></tr>' + e.policies.map(function (p) { return '<tr><td>' + esc(p.policy) + '</td><td class="' + p.action + '">' + p.action + '</td><td>' + num(p.records) + '</td></tr>'; }).join('') + '</table>' +
      '<h2>Flows</h2><table id="flows"><tr><th>flow</th><th>port</th><th>verdict</th><th>policy</th><th>conns</th></tr>' + rows + '</table>' +
      (e.flowsOmitted ? '<p class="muted">and ' + num(e.flowsOmitted) + ' more flows</p>' : '');
    panel.dataset.edge = String(i);
  }
  function selectNode(id) {
    clear();
    svg.querySelectorAll('.edge-group').forEach(function (g) {
      var on = g.dataset.source === id || g.dataset.target === id;
      if (!on) g.classList.add('dim');
    });
  }
  svg.addEventListener('click', function (ev) {
    if (moved) return;
    var edge = ev.target.closest('[data-edge]');
    if (edge) { selectEdge(Number(edge.dataset.edge)); return; }
    var node = ev.target.closest('[data-node]');
    if (node) { selectNode(node.dataset.node); return; }
    clear();
  });
  window.ginghamGraph = { selectEdge: selectEdge, selectNode: selectNode };
  document.title = 'gingham graph: ' + data.nodes + ' nodes, ' + data.edges.length + ' edges';
  document.body.dataset.ready = 'true';
})();
`;

/** The HTML page of a service graph. */
export function renderGraphHtml(graph: ServiceGraph, title = 'Service graph'): string {
  const layout = layoutGraph(graph);
  const labels = new Map(graph.nodes.map((n) => [n.id, n.label]));
  const data = {
    nodes: graph.nodes.length,
    edges: graph.edges.map((e) => ({ ...e, sourceLabel: labels.get(e.source) ?? e.source, targetLabel: labels.get(e.target) ?? e.target })),
  };
  const span = graph.records > 0 ? `${formatTime(graph.start)} – ${formatTime(graph.end)}` : 'no records';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeXml(title)}</title><style>${PAGE_STYLE}</style></head>
<body>
<header><h1>${escapeXml(title)}</h1><span class="muted">${formatCount(graph.records)} flow records, ${escapeXml(span)}; ${graph.nodes.length} nodes, ${graph.edges.length} edges</span>
<span class="legend"><span><i class="sw" style="background:#2da44e"></i>allowed</span><span><i class="sw" style="background:#cf222e"></i>denied</span><span><i class="sw" style="background:#d4a72c"></i>both</span></span></header>
<main><div id="view">${renderGraphSvg(graph, layout)}<div id="zoom"><button id="zoom-in" title="zoom in">+</button><button id="zoom-out" title="zoom out">−</button><button id="zoom-reset" title="fit">⤢</button></div></div>
<aside id="panel"><h2>Flows</h2><p class="muted">Click an edge to see its flows and the policies that decided them; click a node to see only its connections. Drag to pan, scroll to zoom.</p></aside></main>
<script type="application/json" id="graph-data">${scriptJson(data)}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
