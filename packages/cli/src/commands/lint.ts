import { parseArgs } from 'node:util';
import type { CliIo } from '../io.js';
import { loadModel } from '../manifests.js';
import { renderIssue } from '../term.js';

export const lintHelp = `gingham lint -f PATH... [--json]

Validates manifests (files, directories, or - for standard input). Prints every problem as
file:line:col: <kind>/<name> <field.path>: <reason>, and exits 1 if any is an error.
Input is bounded before it is read: 16 MiB in all, 10,000 files, 100,000 documents, 2,500 rules
per policy (see docs/validation.md, "Limits").`;

export async function lintCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { file: { type: 'string', short: 'f', multiple: true }, json: { type: 'boolean' } },
    strict: true,
  });
  const model = await loadModel(values.file ?? [], io);
  const errors = model.issues.filter((i) => i.severity === 'error').length;
  if (values.json) {
    io.stdout(JSON.stringify({ ok: model.ok, issues: model.issues }, null, 2));
  } else {
    for (const issue of model.issues) (issue.severity === 'error' ? io.stderr : io.stdout)(renderIssue(issue));
    const s = model.snapshot;
    const counts = `${s.policies.length} policies, ${s.workloadEndpoints.length} workload endpoints, ${s.hostEndpoints.length} host endpoints, ${s.networkSets.length} network sets`;
    if (model.ok) io.stdout(`ok: ${counts}${model.issues.length > 0 ? ` (${model.issues.length} warnings)` : ''}`);
    else io.stderr(`${errors} error(s); files with errors were not used`);
  }
  return model.ok ? 0 : 1;
}
