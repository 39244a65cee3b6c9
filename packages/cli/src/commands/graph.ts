/**
 * `gingham graph`: the service graph of flow records as a self-contained HTML page (pan, zoom,
 * click an edge for its flows), a standalone SVG, or JSON. With -f, every pod group, host and
 * network set of the manifests is a node even when no record mentions it.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createServiceGraph, type ServiceGraph } from '@gingham/core';
import { readFlowRecords, renderBadRecords } from '../flow-records.js';
import { UsageError, type CliIo } from '../io.js';
import { loadModel, renderIssues } from '../manifests.js';
import { layoutGraph } from '../render/graph-layout.js';
import { renderGraphHtml } from '../render/graph-html.js';
import { edgeStatus, renderGraphSvg } from '../render/graph-svg.js';
import { escapeText } from '../term.js';

export const graphHelp = `gingham graph --flows FILE... [-f PATH...] -o graph.html|graph.svg|graph.json
              [--view workloads|namespaces] [--max-flows-per-edge N] [--json]

Draws the service graph of flow records: namespaces (boxes), workloads (pods grouped by their
generate-name prefix), host endpoints, network sets and the public and private networks as
nodes; an arrow per pair of nodes that talked, green when allowed, red when denied (at the
source by its egress policy, or at the destination by its ingress policy), amber when both,
as thick as its connections are many.

  -o FILE       graph.html: a page to open in a browser (drag to pan, scroll to zoom, click an
                edge for its flows and the policies that decided them); graph.svg: the picture;
                graph.json: the graph as data. - writes to standard output (with --format)
  --format F    html, svg or json (default: from the -o file name)
  --flows FILE  flow records (repeatable; - for standard input)
  -f PATH       manifests: their quiet pods, hosts and network sets appear too
  --view V      workloads (default) or namespaces (one node per namespace)
  --max-flows-per-edge N   flows listed per edge (default 50; more are counted)
  --json        the graph as JSON on standard output (no -o needed)

Exit codes: 0 drawn, 1 manifests or records with errors, 2 usage.`;

function formatOf(path: string | undefined, format: string | undefined, json: boolean | undefined): 'html' | 'svg' | 'json' {
  const ext = path?.match(/\.(html?|svg|json)$/i)?.[1]?.toLowerCase();
  const f = format ?? (json ? 'json' : ext === 'htm' ? 'html' : ext);
  if (f === 'html' || f === 'svg' || f === 'json') return f;
  if (format !== undefined) throw new UsageError(`--format must be html, svg or json, not "${escapeText(format)}"`);
  throw new UsageError('say what to write: -o graph.html, -o graph.svg or -o graph.json (or --format with -o -)');
}

function summary(graph: ServiceGraph): string {
  const denied = graph.edges.filter((e) => edgeStatus(e) !== 'allowed').sort((a, b) => b.deniedAtSource.connections + b.deniedAtDest.connections - (a.deniedAtSource.connections + a.deniedAtDest.connections));
  const label = new Map(graph.nodes.map((n) => [n.id, n.label]));
  const lines = [`${graph.records} record(s): ${graph.nodes.length} node(s), ${graph.edges.length} edge(s), ${denied.length} with denied traffic`];
  for (const e of denied.slice(0, 5)) {
    lines.push(`  denied: ${escapeText(label.get(e.source) ?? e.source)} -> ${escapeText(label.get(e.target) ?? e.target)}  ${escapeText(e.ports.join(', '))}  (${e.deniedAtSource.connections} at source, ${e.deniedAtDest.connections} at destination)`);
  }
  return lines.join('\n');
}

export async function graphCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      flows: { type: 'string', multiple: true },
      output: { type: 'string', short: 'o' },
      format: { type: 'string' },
      view: { type: 'string' },
      'max-flows-per-edge': { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const flows = values.flows ?? [];
  if (flows.length === 0) throw new UsageError('--flows FILE is required (flow records, JSON lines)');
  if (flows.filter((f) => f === '-').length > 1) throw new UsageError('standard input can be read once: give --flows - at most once');
  if (values.output === undefined && !values.json) throw new UsageError('-o FILE is required: graph.html, graph.svg or graph.json (or --json for standard output)');
  const format = formatOf(values.output, values.format, values.json);
  const view = values.view ?? 'workloads';
  if (view !== 'workloads' && view !== 'namespaces') throw new UsageError(`--view must be workloads or namespaces, not "${escapeText(view)}"`);
  const maxText = values['max-flows-per-edge'];
  const maxFlows = maxText === undefined ? 50 : Number(maxText);
  if (!Number.isInteger(maxFlows) || maxFlows < 0) throw new UsageError('--max-flows-per-edge must be a whole number');
  let snapshot;
  if ((values.file ?? []).length > 0) {
    const model = await loadModel(values.file ?? [], io);
    if (!model.ok) {
      io.stderr(renderIssues(model.issues));
      io.stderr('refusing to draw from manifests with errors (fix them, or leave -f out)');
      return 1;
    }
    snapshot = model.snapshot;
  }
  const builder = createServiceGraph({ view, maxFlowsPerEdge: maxFlows, ...(snapshot ? { snapshot } : {}) });
  const read = await readFlowRecords(flows, values.file ?? [], io, (r) => builder.add(r));
  const graph = builder.result();
  const text = format === 'json' ? JSON.stringify(graph, null, 2) : format === 'svg' ? renderGraphSvg(graph, layoutGraph(graph)) : renderGraphHtml(graph);
  if (values.output === undefined || values.output === '-') io.stdout(text);
  else {
    await writeFile(values.output, text.endsWith('\n') ? text : `${text}\n`);
    io.stdout(summary(graph));
    io.stdout(`wrote ${escapeText(values.output)}${format === 'html' ? ': open it in a browser' : ''}`);
  }
  if (read.bad.length > 0) {
    io.stderr(renderBadRecords(read));
    io.stderr(`gingham graph: ${read.bad.length + read.moreBad} bad record(s) were left out (see above)`);
    return 1;
  }
  return 0;
}
