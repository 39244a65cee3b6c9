/**
 * `gingham preview`: what the staged policies in the manifests (`stagedAction: Set` and `Delete`)
 * would do to recorded flows, with the step that decides each verdict now and with them
 * enforced. Records stream through core's previewer (each distinct flow is evaluated once); only
 * the summary and, with --jsonl, one line per record are written.
 */
import { parseArgs } from 'node:util';
import { createFlowPreview, type PreviewGroup, type PreviewSummary } from '@gingham/core';
import { readFlowRecords, renderBadRecords } from '../flow-records.js';
import { UsageError, type CliIo } from '../io.js';
import { loadModel, renderIssues } from '../manifests.js';
import { escapeText } from '../term.js';

export const previewHelp = `gingham preview -f PATH... --flows FILE... [--fail-on never|closed|changed] [--json | --jsonl]

For recorded flows (JSON lines of Calico-shaped flow records, as Calico's flow logs, Whisker and
gingham write them), which verdicts the staged policies in the manifests would change:
stagedAction Set (a new or replaced policy) and Delete (a removed one, which Calico itself
cannot preview). For each changed group of flows: the reporting side (source egress or
destination ingress), and the policy or rule that decides now and with the staged policies.

A record names pods by their generate-name prefix (web-7d9f8b6c4-*) and other addresses by
network set or as the public/private network; each is checked against every pod and address
class it covers today. "uncertain" means the staged policies change the verdict for some of
them only; "unresolved" means a name matches nothing in the manifests (pods gone).

  --flows FILE      flow records (repeatable; - for standard input)
  --fail-on WHAT    exit 1 when some record is closed (allowed now, denied staged), changed
                    (either way), or never (default)
  --json            the summary with every group, as JSON
  --jsonl           one JSON object a line per record: the record's key and its preview

Exit codes: 0 previewed, 1 manifests with errors, bad records, or --fail-on met, 2 usage.`;

function groupLines(g: PreviewGroup): string[] {
  const side = g.reporter === 'src' ? 'source egress' : 'destination ingress';
  const port = g.port > 0 ? ` ${g.port}` : '';
  return [
    `  ${escapeText(g.from)} -> ${escapeText(g.to)}  ${g.protocol}${port}  (${side})  ${g.records} record(s), ${g.connections} connection(s)`,
    `    now:    ${g.before.action}: ${g.before.decidedBy.map(escapeText).join('; ')}`,
    `    staged: ${g.after.action}: ${g.after.decidedBy.map(escapeText).join('; ')}`,
  ];
}

function summaryText(s: PreviewSummary, files: number): string {
  const lines: string[] = [];
  lines.push(`${s.records} record(s) from ${files} file(s): ${s.changed} changed (${s.closed} closed, ${s.opened} opened), ${s.uncertain} uncertain, ${s.unchanged} unchanged, ${s.unresolved} unresolved`);
  if (!s.staged) lines.push('the manifests have no staged policy (stagedAction Set or Delete): nothing can change');
  const sections: [string, (g: PreviewGroup) => boolean][] = [
    ['CLOSED (allowed now, denied with the staged policies):', (g) => g.outcome === 'changed' && g.after.action === 'deny'],
    ['OPENED (denied now, allowed with the staged policies):', (g) => g.outcome === 'changed' && g.after.action === 'allow'],
    ['UNCERTAIN (changed for some of the pods or addresses a record covers):', (g) => g.outcome === 'uncertain' || (g.outcome === 'changed' && g.after.action === 'mixed')],
  ];
  for (const [title, pick] of sections) {
    const groups = s.groups.filter(pick);
    if (groups.length === 0) continue;
    lines.push('', title);
    for (const g of groups) lines.push(...groupLines(g));
  }
  if (s.unresolved > 0) lines.push('', `${s.unresolved} record(s) name pods, hosts or network sets the manifests do not have (gone since they were recorded?)`);
  if (s.drift > 0) lines.push('', `${s.drift} record(s) were recorded with another verdict than today's enforced policies give: the enforced policies changed since`);
  if (s.changed + s.uncertain === 0 && s.staged) lines.push('', 'no recorded flow changes: enforcing the staged policies is safe for the traffic seen');
  else if (s.closed > 0) lines.push('', 'next: fix the staged policies (or accept the closed flows), then preview again; enforce with gingham diff --staged in CI');
  return lines.join('\n');
}

export async function previewCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      flows: { type: 'string', multiple: true },
      'fail-on': { type: 'string' },
      json: { type: 'boolean' },
      jsonl: { type: 'boolean' },
    },
    strict: true,
  });
  const flows = values.flows ?? [];
  if (flows.length === 0) throw new UsageError('--flows FILE is required (flow records, JSON lines)');
  const failOn = values['fail-on'] ?? 'never';
  if (!['never', 'closed', 'changed'].includes(failOn)) throw new UsageError(`--fail-on must be never, closed or changed, not "${escapeText(failOn)}"`);
  if (values.json && values.jsonl) throw new UsageError('choose one of --json and --jsonl');
  if (flows.filter((f) => f === '-').length > 1) throw new UsageError('standard input can be read once: give --flows - at most once');
  const model = await loadModel(values.file ?? [], io);
  if (!model.ok) {
    io.stderr(renderIssues(model.issues));
    io.stderr('refusing to preview with manifests with errors (fix them, or check with gingham lint)');
    return 1;
  }
  const preview = createFlowPreview(model.snapshot);
  let block: string[] = [];
  const read = await readFlowRecords(flows, values.file ?? [], io, (record) => {
    const p = preview.preview(record);
    if (values.jsonl) {
      const key = { reporter: record.reporter, source: `${record.source_namespace}/${record.source_name}`, dest: `${record.dest_namespace}/${record.dest_name}`, proto: record.proto, dest_port: record.dest_port, start_time: record.start_time };
      block.push(JSON.stringify({ ...key, ...p }));
      if (block.length >= 512) {
        io.stdout(block.join('\n'));
        block = [];
      }
    }
  });
  if (block.length > 0) io.stdout(block.join('\n'));
  const summary = preview.summary();
  if (values.json) io.stdout(JSON.stringify(summary, null, 2));
  else if (!values.jsonl) io.stdout(summaryText(summary, flows.length));
  if (read.bad.length > 0) {
    io.stderr(renderBadRecords(read));
    io.stderr(`gingham preview: ${read.bad.length + read.moreBad} bad record(s) were left out (see above)`);
  }
  const failed = (failOn === 'closed' && summary.closed > 0) || (failOn === 'changed' && summary.changed + summary.uncertain > 0);
  return read.bad.length > 0 || failed ? 1 : 0;
}
