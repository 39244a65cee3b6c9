import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { evaluate, explain, type Snapshot } from '@gingham/core';
import { UsageError, type CliIo } from '../io.js';
import { loadModel, renderIssues } from '../manifests.js';
import { formatPortSpec, parseFlowsJson, parsePort, parseProtocol, type FlowRequest } from '../flows.js';

export const checkHelp = `gingham check -f PATH... --from A --to B [--port N] [--protocol P] [--via NODE] [--json]
gingham check -f PATH... --flows FILE [--via NODE] [--json]

Gives the verdict for a flow and the trace that led to it. A and B are namespace/pod,
a WorkloadEndpoint or HostEndpoint name, or an IP address. --protocol defaults to TCP.
--via NODE: the flow is forwarded through that node, so its host endpoints' applyOnForward,
pre-DNAT and untracked policy apply too (a flow between a node's own pods, or a node and its
own pod, always crosses that node).
--flows takes a JSON array of {from, to, port, protocol} and answers an array in the same order.`;

function check(snapshot: Snapshot, req: FlowRequest, via: string | undefined) {
  const flow = {
    src: req.from,
    dst: req.to,
    protocol: req.protocol,
    ...(req.port === undefined ? {} : { dstPort: req.port }),
    ...(via === undefined ? {} : { via }),
  };
  return evaluate(snapshot, flow);
}

export async function checkCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      from: { type: 'string' },
      to: { type: 'string' },
      port: { type: 'string' },
      protocol: { type: 'string' },
      flows: { type: 'string' },
      via: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  let requests: FlowRequest[];
  if (values.flows !== undefined) {
    if (values.from !== undefined || values.to !== undefined) throw new UsageError('use either --flows or --from/--to, not both');
    requests = parseFlowsJson(await readFile(values.flows, 'utf8').catch(() => {
      throw new UsageError(`cannot read --flows file ${values.flows}`);
    }), values.flows);
  } else {
    if (values.from === undefined || values.to === undefined) throw new UsageError('--from and --to are required (or --flows FILE)');
    const protocol = parseProtocol(values.protocol ?? 'TCP');
    requests = [
      values.port === undefined
        ? { from: values.from, to: values.to, protocol }
        : { from: values.from, to: values.to, protocol, port: parsePort(values.port) },
    ];
  }

  const model = await loadModel(values.file ?? []);
  if (!model.ok) {
    io.stderr(renderIssues(model.issues));
    io.stderr('refusing to answer from manifests with errors (fix them, or check with gingham lint)');
    return 1;
  }

  const answers = requests.map((req) => ({ req, result: check(model.snapshot, req, values.via) }));
  if (values.json) {
    const rows = answers.map(({ req, result }) => ({ ...req, allowed: result.allowed, trace: result }));
    io.stdout(JSON.stringify(values.flows !== undefined ? rows : rows[0], null, 2));
  } else {
    for (const { req, result } of answers) {
      const what = formatPortSpec(req.port === undefined ? { protocol: req.protocol } : { port: req.port, protocol: req.protocol });
      io.stdout(`${result.allowed ? 'ALLOWED' : 'DENIED '}  ${req.from} -> ${req.to}  ${what}`);
      io.stdout(indent(explain(result)));
    }
  }
  return 0;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}
