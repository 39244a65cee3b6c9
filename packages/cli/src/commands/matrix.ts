import { parseArgs } from 'node:util';
import { matrix, type MatrixCell, type Snapshot } from '@gingham/core';
import { UsageError, type CliIo } from '../io.js';
import { loadModel, renderIssues } from '../manifests.js';
import { formatPortSpec, parsePortList, type PortSpec } from '../flows.js';
import { renderTable } from '../table.js';
import { escapeText } from '../term.js';

export const matrixHelp = `gingham matrix -f PATH... --ports 80/TCP,53/UDP [--json]

The full connectivity matrix between every workload and host endpoint, one table per
port (rows: from, columns: to). --json prints an array of {from, to, port, protocol, allowed}.
At most 1,000,000 cells (endpoints × other endpoints × ports): for more, ask about the flows
you care about with gingham check --flows.`;

/** Largest matrix computed: endpoints² × ports. */
export const MAX_CELLS = 1_000_000;

/** Every ordered pair of distinct endpoints (workload ids, host endpoint names), for every port spec. */
export function computeMatrix(snapshot: Snapshot, ports: readonly PortSpec[]): { peers: string[]; cells: MatrixCell[] } {
  const peers = [
    ...snapshot.workloadEndpoints.map((w) => w.id),
    ...snapshot.hostEndpoints.map((h) => h.name),
  ].sort();
  return { peers, cells: matrix(snapshot, peers, ports) };
}

export async function matrixCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      ports: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.ports === undefined) throw new UsageError('--ports is required, e.g. --ports 80/TCP,53/UDP');
  const ports = parsePortList(values.ports);
  if (ports.length === 0) throw new UsageError('--ports lists no port');
  const model = await loadModel(values.file ?? [], io);
  if (!model.ok) {
    io.stderr(renderIssues(model.issues));
    io.stderr('refusing to answer from manifests with errors (fix them, or check with gingham lint)');
    return 1;
  }
  const endpoints = model.snapshot.workloadEndpoints.length + model.snapshot.hostEndpoints.length;
  const size = endpoints * Math.max(0, endpoints - 1) * ports.length;
  if (size > MAX_CELLS) {
    io.stderr(
      `gingham matrix: ${endpoints} endpoints × ${ports.length} port(s) make ${size} cells, more than ${MAX_CELLS}; ` +
        'ask about the flows you care about with gingham check --flows FILE instead',
    );
    return 1;
  }
  const { peers, cells } = computeMatrix(model.snapshot, ports);
  if (values.json) {
    io.stdout(JSON.stringify(cells, null, 2));
    return 0;
  }
  if (peers.length === 0) {
    io.stdout('no endpoints in these manifests');
    return 0;
  }
  const verdict = new Map(cells.map((c) => [`${c.from}\0${c.to}\0${c.port}\0${c.protocol}`, c.allowed]));
  const blocks: string[] = [];
  for (const spec of ports) {
    const header = [`${formatPortSpec(spec)}  from \\ to`, ...peers.map(escapeText)];
    const rows = peers.map((from) => [
      escapeText(from),
      ...peers.map((to) => (from === to ? '-' : verdict.get(`${from}\0${to}\0${spec.port ?? null}\0${spec.protocol}`) ? 'allow' : 'deny')),
    ]);
    blocks.push(renderTable([header, ...rows]));
  }
  io.stdout(blocks.join('\n\n'));
  return 0;
}
