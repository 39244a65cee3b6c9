/**
 * The files source: manifests given as text (what `-f PATH…` read), validated all together and
 * delivered once: `resync-started`, every resource, `in-sync`. Invalid input delivers nothing:
 * the phase is `failed` and `problems` carry every issue with file:line:col, so a one-shot
 * command can refuse before anything reaches a dataplane. Pure: the caller reads the files.
 */
import { GinghamError } from '../errors.js';
import type { Issue } from '../model/issues.js';
import { formatIssue } from '../model/issues.js';
import { loadManifests, type LoadInput, type LoadOptions } from '../load/load-manifests.js';
import type { Source, SourceProblem, SourceSink, SourceStatus } from './source.js';

export interface FilesSource extends Source {
  /** Every issue of the input (errors and warnings), after `start`. */
  issues(): readonly Issue[];
}

export function createFilesSource(inputs: readonly LoadInput[], options: LoadOptions = {}): FilesSource {
  let status: SourceStatus = { phase: 'waiting', connected: true, resources: 0, problems: [], counters: {} };
  let issues: readonly Issue[] = [];
  let started = false;
  return {
    name: 'files',
    async start(sink: SourceSink) {
      if (started) throw new GinghamError('SOURCE_ALREADY_STARTED', 'a source is started once');
      started = true;
      const loaded = loadManifests(inputs, options);
      issues = loaded.issues;
      const problems: SourceProblem[] = loaded.issues
        .filter((i) => i.severity === 'error')
        .map((i) => ({ where: `${i.file}:${i.line}:${i.col}`, message: formatIssue(i), issues: [i] }));
      if (!loaded.ok) {
        status = { ...status, phase: 'failed', problems, lastError: { code: 'INVALID_MANIFESTS', message: `${problems.length} error(s) in the manifests` } };
        return;
      }
      sink([{ kind: 'resync-started' }, ...loaded.resources.map((r) => ({ kind: 'upsert' as const, resource: r.resource })), { kind: 'in-sync' }]);
      status = { ...status, phase: 'in-sync', resources: loaded.resources.length };
    },
    status: () => status,
    issues: () => issues,
    async close() {
      status = { ...status, phase: 'stopped' };
    },
  };
}
