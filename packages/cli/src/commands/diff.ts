/**
 * `gingham diff`: what a change to the policy opens and closes, exactly (every peer pair, every
 * protocol and port), for people or as JSON, with an exit code a CI job can gate on. The analysis
 * is core's `diffSnapshots`; this file only reads manifests, prints and picks the exit code.
 */
import { parseArgs } from 'node:util';
import { diffSnapshots, formatDiff, type DiffResult } from '@gingham/core';
import { UsageError, type CliIo } from '../io.js';
import { loadModel, renderIssues } from '../manifests.js';

export const diffHelp = `gingham diff -f BEFORE... --against AFTER... [--json] [--fail-on opened|any|never]
gingham diff -f PATH... --staged [--json] [--fail-on opened|any|never]

Every flow whose verdict changes between two sets of manifests: newly allowed (opened) and
newly denied (closed), between every pair of endpoints and outside networks, on every
protocol and port — computed exactly, not sampled. Grouped by namespace/workload for people;
--json lists every change with the deciding policy and rule before and after, and a witness
flow you can pass to gingham check.

  -f PATH          the manifests before the change (repeatable; files or directories)
  --against PATH   the manifests after the change (repeatable)
  --staged         compare the -f manifests with their staged policies enforced
  --fail-on WHAT   exit 1 when something opened (default), when anything changed (any),
                   or never
  --max-groups N   groups to print per section (default 200)

Exit codes: 0 nothing to fail on, 1 something to fail on (or manifests with errors), 2 usage.`;

type FailOn = 'opened' | 'any' | 'never';

function parseFailOn(value: string | undefined): FailOn {
  if (value === undefined) return 'opened';
  if (value === 'opened' || value === 'any' || value === 'never') return value;
  throw new UsageError(`--fail-on takes opened, any or never (got "${value}")`);
}

function shouldFail(result: DiffResult, failOn: FailOn): boolean {
  if (failOn === 'never') return false;
  if (failOn === 'opened') return result.opened > 0;
  return !result.empty;
}

export async function diffCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      against: { type: 'string', multiple: true },
      staged: { type: 'boolean' },
      json: { type: 'boolean' },
      'fail-on': { type: 'string' },
      'max-groups': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (manifests go after -f or --against)`);
  const failOn = parseFailOn(values['fail-on']);
  const maxGroups = values['max-groups'] === undefined ? 200 : Number(values['max-groups']);
  if (!Number.isInteger(maxGroups) || maxGroups < 1) throw new UsageError(`--max-groups takes a positive number (got "${values['max-groups']}")`);
  const before = values.file ?? [];
  const after = values.against ?? [];
  if (before.length === 0) throw new UsageError('no manifests given: use -f BEFORE (repeatable)');
  if (values.staged && after.length > 0) throw new UsageError('use either --against or --staged, not both');
  if (!values.staged && after.length === 0) throw new UsageError('nothing to compare with: use --against AFTER, or --staged');

  const a = await loadModel(before, io);
  const b = values.staged ? a : await loadModel(after, io);
  const problems = [...(a.ok ? [] : [['before (-f)', a] as const]), ...(b.ok || b === a ? [] : [['after (--against)', b] as const])];
  if (problems.length > 0) {
    for (const [which, model] of problems) io.stderr(`${which}:\n${renderIssues(model.issues)}`);
    io.stderr('refusing to compare manifests with errors (fix them, or check with gingham lint)');
    return 1;
  }
  const result = diffSnapshots(a.snapshot, b.snapshot, values.staged ? { afterStaged: true } : {});
  const fail = shouldFail(result, failOn);
  if (values.json) {
    io.stdout(JSON.stringify(result, null, 2));
    return fail ? 1 : 0;
  }
  io.stdout(formatDiff(result, { maxGroups }));
  if (fail) {
    io.stderr(
      failOn === 'opened'
        ? `gingham diff: the change opens ${result.opened} set${result.opened === 1 ? '' : 's'} of flows (exit 1; --fail-on never to only report, --json for every flow)`
        : 'gingham diff: the change alters connectivity (exit 1 with --fail-on any)',
    );
  }
  return fail ? 1 : 0;
}
