/**
 * `gingham check`: the verdict for one flow (flags) or for a batch (`--flows FILE`), with the
 * trace that led to it. Batches stream: each entry is read, checked and written before the next
 * is read, so 300,000 flows cost the memory of one. One bad entry (an unknown peer, a bad
 * field, broken JSON) is a result of that entry with its error; the others are still answered.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { describeDecision, evaluate, explain, resolvePeer, type EvaluationResult, type Flow, type Snapshot } from '@gingham/core';
import { UsageError, type CliIo } from '../io.js';
import { InputRefusedError, loadModel, renderIssues } from '../manifests.js';
import { FLAG_FIELDS, JSON_FIELDS, formatFlowService, isFieldProblem, parseFlow, type FieldProblem, type FlowFieldNames, type FlowRequest } from '../flows.js';
import { readFlowEntries, type FlowEntry } from '../flows-file.js';
import { escapeBlock, escapeText } from '../term.js';

export const checkHelp = `gingham check -f PATH... --from A --to B [--protocol P] [--port N] [--src-port N]
              [--icmp-type T [--icmp-code C]] [--via NODE] [--no-trace] [--json]
gingham check -f PATH... --flows FILE [--via NODE] [--no-trace] [--json | --jsonl]

Gives the verdict for a flow and the trace that led to it (tiers, policies and rules visited,
and the one that decided). A and B are namespace/pod, a WorkloadEndpoint or HostEndpoint name,
or an IP address. --protocol defaults to TCP; ports need TCP, UDP, SCTP or UDPLite; ICMP type
and code need ICMP or ICMPv6, and a code needs a type.
--via NODE: the flow is forwarded through that node, so its host endpoints' applyOnForward,
pre-DNAT and untracked policy apply too (a flow between a node's own pods, or a node and its
own pod, always crosses that node).

--flows FILE (or - for standard input) takes a JSON array or JSON lines of
  {"from": A, "to": B, "protocol": P, "port": N, "srcPort": N, "icmpType": T, "icmpCode": C}
and answers each entry in order as soon as it is checked: text, a JSON array (--json) or one
JSON object a line (--jsonl). An entry that cannot be answered (unknown peer, bad field, broken
JSON) gets its error and the others are still answered; the exit code is then 1.
--no-trace prints only the verdict and the deciding rule of each direction.

Exit codes: 0 answered, 1 manifests with errors or an entry that failed, 2 usage.`;

/** Output block size for batches, in characters. */
const BLOCK = 64 * 1024;

const ENTRY_FIELDS = new Set(['from', 'to', 'protocol', 'port', 'srcPort', 'icmpType', 'icmpCode']);

function flowOf(req: FlowRequest, via: string | undefined): Flow {
  return {
    ...(via === undefined ? {} : { via }),
    src: req.from,
    dst: req.to,
    protocol: req.protocol,
    ...(req.port === undefined ? {} : { dstPort: req.port }),
    ...(req.srcPort === undefined ? {} : { srcPort: req.srcPort }),
    ...(req.icmpType === undefined ? {} : { icmp: req.icmpCode === undefined ? { type: req.icmpType } : { type: req.icmpType, code: req.icmpCode } }),
  };
}

interface Failure extends FieldProblem {
  readonly code: string;
}

function withoutPrefix(message: string): string {
  return message.replace(/^gingham: /, '');
}

/** Resolves both peers (so an unknown one is named by its field), then evaluates. */
function answer(snapshot: Snapshot, req: FlowRequest, names: FlowFieldNames, via: string | undefined): EvaluationResult | Failure {
  for (const [key, ref] of [['from', req.from], ['to', req.to]] as const) {
    try {
      resolvePeer(snapshot, ref);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'UNKNOWN_PEER' && code !== 'AMBIGUOUS_PEER') throw err;
      return { code, field: names[key], message: withoutPrefix((err as Error).message) };
    }
  }
  try {
    return evaluate(snapshot, flowOf(req, via));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !/^(INVALID_FLOW|UNKNOWN_PEER|AMBIGUOUS_PEER)$/.test(code)) throw err;
    return { code, field: '-', message: withoutPrefix((err as Error).message) };
  }
}

function isFailure(x: EvaluationResult | Failure): x is Failure {
  return 'code' in x;
}

/** The request as written in output rows (only the fields that are set). */
function requestFields(req: FlowRequest): Record<string, unknown> {
  const out: Record<string, unknown> = { from: req.from, to: req.to, protocol: req.protocol };
  if (req.port !== undefined) out.port = req.port;
  if (req.srcPort !== undefined) out.srcPort = req.srcPort;
  if (req.icmpType !== undefined) out.icmpType = req.icmpType;
  if (req.icmpCode !== undefined) out.icmpCode = req.icmpCode;
  return out;
}

/** A JSON row: the request, the verdict, and the full result or (`--no-trace`) each direction's decision. */
function resultRow(index: number | undefined, req: FlowRequest, result: EvaluationResult, trace: boolean): Record<string, unknown> {
  return {
    ...(index === undefined ? {} : { index }),
    ...requestFields(req),
    allowed: result.allowed,
    ...(trace
      ? { trace: result }
      : {
          egress: result.trace.egress.decision,
          ingress: result.trace.ingress.decision,
          ...(result.staged ? { staged: { allowed: result.staged.allowed } } : {}),
        }),
  };
}

/** Text for one answer: the verdict line, then the trace or the two deciding rules. */
function resultText(req: FlowRequest, result: EvaluationResult, trace: boolean): string {
  const head = `${result.allowed ? 'ALLOWED' : 'DENIED '}  ${escapeText(req.from)} -> ${escapeText(req.to)}  ${formatFlowService(req)}`;
  const body = trace
    ? explain(result)
    : [`egress:  ${describeDecision(result.trace.egress.decision)}`, `ingress: ${describeDecision(result.trace.ingress.decision)}`].join('\n');
  return `${head}\n${indent(escapeBlock(body))}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}

interface CheckValues {
  file?: string[];
  from?: string;
  to?: string;
  port?: string;
  'src-port'?: string;
  protocol?: string;
  'icmp-type'?: string;
  'icmp-code'?: string;
  flows?: string;
  json?: boolean;
  jsonl?: boolean;
  'no-trace'?: boolean;
  via?: string;
}

export async function checkCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      from: { type: 'string' },
      to: { type: 'string' },
      port: { type: 'string' },
      'src-port': { type: 'string' },
      protocol: { type: 'string' },
      'icmp-type': { type: 'string' },
      'icmp-code': { type: 'string' },
      flows: { type: 'string' },
      json: { type: 'boolean' },
      jsonl: { type: 'boolean' },
      'no-trace': { type: 'boolean' },
      via: { type: 'string' },
    },
    strict: true,
  });
  return values.flows !== undefined ? checkBatch(values, values.flows, io) : checkOne(values, io);
}

async function checkOne(values: CheckValues, io: CliIo): Promise<number> {
  if (values.jsonl) throw new UsageError('--jsonl is for --flows batches; use --json for one flow');
  if (values.from === undefined || values.to === undefined) throw new UsageError('--from and --to are required (or --flows FILE)');
  const parsed = parseFlow(
    {
      from: values.from,
      to: values.to,
      protocol: values.protocol,
      port: values.port,
      srcPort: values['src-port'],
      icmpType: values['icmp-type'],
      icmpCode: values['icmp-code'],
    },
    FLAG_FIELDS,
  );
  if (isFieldProblem(parsed)) throw new UsageError(`${parsed.field}: ${parsed.message}`);
  const model = await loadModel(values.file ?? [], io);
  if (!model.ok) return refuseModel(model.issues, io);
  const result = answer(model.snapshot, parsed, FLAG_FIELDS, values.via);
  if (isFailure(result)) {
    io.stderr(`gingham check: ${result.field}: ${escapeText(result.message)}`);
    return 1;
  }
  const trace = !values['no-trace'];
  if (values.json) io.stdout(JSON.stringify(resultRow(undefined, parsed, result, trace), null, 2));
  else io.stdout(resultText(parsed, result, trace));
  return 0;
}

function refuseModel(issues: Parameters<typeof renderIssues>[0], io: CliIo): number {
  io.stderr(renderIssues(issues));
  io.stderr('refusing to answer from manifests with errors (fix them, or check with gingham lint)');
  return 1;
}

/** The `--flows` source: standard input, or a file or pipe checked by `stat` first. */
export async function openFlows(path: string, values: { readonly file?: readonly string[] }, io: CliIo): Promise<AsyncIterable<Uint8Array>> {
  if (path === '-') {
    if ((values.file ?? []).includes('-')) throw new UsageError('standard input cannot be both -f - and --flows -');
    if (!io.stdin) throw new UsageError('--flows -: there is no standard input here');
    return io.stdin();
  }
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UsageError(`--flows ${escapeText(path)}: no such file`);
    throw new InputRefusedError(`--flows ${escapeText(path)}: cannot be read (${escapeText((err as Error).message)})`);
  }
  if (info.isDirectory()) throw new UsageError(`--flows ${escapeText(path)}: is a directory; give a JSON file`);
  if (!info.isFile() && !info.isFIFO()) {
    const type = info.isCharacterDevice() ? 'a character device' : info.isBlockDevice() ? 'a block device' : info.isSocket() ? 'a socket' : 'a special file';
    throw new InputRefusedError(`--flows ${escapeText(path)}: is ${type}; only regular files and pipes are read`);
  }
  return createReadStream(path, { highWaterMark: 64 * 1024 });
}

/** Checks one parsed entry: its fields, then its peers and the verdict. */
function checkEntry(snapshot: Snapshot, value: unknown, via: string | undefined): { req: FlowRequest; result: EvaluationResult } | { failure: Failure; partial: Record<string, unknown> } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { failure: { code: 'INVALID_ENTRY', field: '-', message: 'expected an object {from, to, protocol, port, …}' }, partial: {} };
  }
  const o = value as Record<string, unknown>;
  const partial: Record<string, unknown> = {};
  for (const key of ['from', 'to'] as const) if (typeof o[key] === 'string') partial[key] = o[key];
  for (const key of Object.keys(o)) {
    if (!ENTRY_FIELDS.has(key)) {
      const hint = [...ENTRY_FIELDS].find((f) => f.toLowerCase() === key.toLowerCase() || f.toLowerCase().startsWith(key.toLowerCase().slice(0, 3)));
      return { failure: { code: 'INVALID_FIELD', field: key, message: `unknown field${hint ? `; did you mean ${hint}?` : ` (fields: ${[...ENTRY_FIELDS].join(', ')})`}` }, partial };
    }
  }
  const parsed = parseFlow(o, JSON_FIELDS);
  if (isFieldProblem(parsed)) return { failure: { code: 'INVALID_FIELD', ...parsed }, partial };
  const result = answer(snapshot, parsed, JSON_FIELDS, via);
  if (isFailure(result)) return { failure: result, partial: requestFields(parsed) };
  return { req: parsed, result };
}

async function checkBatch(values: CheckValues, path: string, io: CliIo): Promise<number> {
  const singles = ['from', 'to', 'port', 'src-port', 'protocol', 'icmp-type', 'icmp-code'] as const;
  const given = singles.filter((k) => values[k] !== undefined);
  if (given.length > 0) throw new UsageError(`use either --flows FILE or --${given[0]} and the other single-flow flags, not both`);
  if (values.json && values.jsonl) throw new UsageError('choose one of --json and --jsonl');
  const source = await openFlows(path, values, io);
  const model = await loadModel(values.file ?? [], io);
  if (!model.ok) return refuseModel(model.issues, io);

  const file = path === '-' ? '<stdin>' : path;
  const trace = !values['no-trace'];
  const format = values.json ? 'json' : values.jsonl ? 'jsonl' : 'text';
  const counts = { allowed: 0, denied: 0, failed: 0 };
  let readerGone = false;
  let fileProblem: string | undefined;
  // --json: a JSON array written as it grows, one row a line; the last row is held back until
  // the next one (or the end) says whether it takes a comma.
  let held: string | undefined;
  // Lines go out in blocks of about 64 KiB (one write each), then we wait for the reader.
  let block: string[] = [];
  let blockSize = 0;
  const emit = (line: string): void => {
    block.push(line);
    blockSize += line.length;
  };
  const flush = async (force: boolean): Promise<boolean> => {
    if (blockSize < BLOCK && !force) return true;
    if (block.length > 0) io.stdout(block.join('\n'));
    block = [];
    blockSize = 0;
    return io.drain ? io.drain() : true;
  };
  if (format === 'json') emit('[');

  const write = (row: Record<string, unknown>, text: () => string): void => {
    if (format === 'json') {
      if (held !== undefined) emit(`${held},`);
      held = JSON.stringify(row);
    } else if (format === 'jsonl') emit(JSON.stringify(row));
    else emit(text());
  };

  const onEntry = (entry: FlowEntry): void => {
    const at = { index: entry.index, file, line: entry.line, col: entry.col };
    const checked = entry.kind === 'entry' ? checkEntry(model.snapshot, entry.value, values.via) : { failure: { code: 'INVALID_ENTRY', field: '-', message: entry.message }, partial: {} };
    if ('failure' in checked) {
      counts.failed++;
      const { failure } = checked;
      write({ ...at, ...checked.partial, error: { code: failure.code, field: failure.field, message: failure.message } }, () =>
        `ERROR    ${escapeText(file)}:${entry.line}:${entry.col} entry ${entry.index}${failure.field === '-' ? '' : ` ${escapeText(failure.field)}`}: ${escapeText(failure.message)}`,
      );
      return;
    }
    if (checked.result.allowed) counts.allowed++;
    else counts.denied++;
    write(resultRow(entry.index, checked.req, checked.result, trace), () => resultText(checked.req, checked.result, trace));
  };

  for await (const item of readFlowEntries(source)) {
    if (item.kind === 'file-problem') {
      fileProblem = `${file}:${item.line}:${item.col}: ${item.message}`;
      break;
    }
    onEntry(item);
    if (!(await flush(false))) {
      readerGone = true;
      break;
    }
  }
  if (!readerGone) {
    if (format === 'json') emit(held === undefined ? ']' : `${held}\n]`);
    readerGone = !(await flush(true));
  }
  // The reader left (`| head`): it has what it wanted; stop quietly.
  if (readerGone) return 0;
  const total = counts.allowed + counts.denied + counts.failed;
  if (fileProblem) io.stderr(`gingham check: ${escapeText(fileProblem)}; the entries before it were answered`);
  if (format === 'text') io.stdout(`${total} flow(s): ${counts.allowed} allowed, ${counts.denied} denied, ${counts.failed} failed`);
  else if (counts.failed > 0) io.stderr(`gingham check: ${counts.failed} of ${total} entries failed (see their "error")`);
  return counts.failed > 0 || fileProblem !== undefined ? 1 : 0;
}
