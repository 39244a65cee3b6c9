/**
 * `gingham apply|create|replace|delete -f PATH…` (and `gingham delete KIND NAME [-n NS]`):
 * calicoctl's write commands against the directory or etcd datastore. The input is validated
 * whole first (file:line:col issues, nothing written on any error), then every resource is
 * written and reported: created, updated, unchanged, deleted, refused (why) or skipped.
 */
import { parseArgs } from 'node:util';
import { loadManifests, type Resource, type ResourceKey } from '@gingham/core';
import { resolveKind, writeResources, type WriteMode, type WriteOutcome } from '@gingham/datastore';
import { UsageError, type CliIo } from '../io.js';
import { escapeText, renderIssue } from '../term.js';
import { readManifestInputs } from '../manifests.js';
import { renderTable } from '../table.js';
import { DATASTORE_HELP, DATASTORE_OPTIONS, describeDatastore, openDatastore } from './datastore-options.js';

const VERB: Record<WriteMode, { past: string; what: string }> = {
  apply: { past: 'applied', what: 'creates or updates' },
  create: { past: 'created', what: 'creates (refused when it exists)' },
  replace: { past: 'replaced', what: 'updates (refused when it does not exist, or when metadata.resourceVersion is stale)' },
  delete: { past: 'deleted', what: 'deletes (refused when absent, or when metadata.resourceVersion is stale)' },
};

export const writeHelp = (mode: WriteMode): string => `gingham ${mode} -f PATH... [--json] [datastore options]${mode === 'delete' ? '\ngingham delete KIND NAME [-n NAMESPACE] [--json] [datastore options]' : ''}

${mode[0]!.toUpperCase()}${mode.slice(1)} ${VERB[mode].what} every resource in the files (or directories, or - for stdin).
The input is validated first: on any error nothing is written. Each resource is then reported
as created, updated, unchanged, deleted, refused (with why) or skipped. Exit 1 if any was refused.
With metadata.resourceVersion set (as 'gingham get -o yaml' prints it), the write is a
compare-and-swap: it is refused if the resource changed since.

${DATASTORE_HELP}`;

const keyText = (k: ResourceKey) => `${k.kind} ${k.namespace ? `${k.namespace}/` : ''}${k.name}`;

export async function writeCommand(mode: WriteMode, argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { file: { type: 'string', short: 'f', multiple: true }, namespace: { type: 'string', short: 'n' }, json: { type: 'boolean' }, ...DATASTORE_OPTIONS },
    allowPositionals: mode === 'delete',
    strict: true,
  });

  let items: { resource: Resource; where?: string }[];
  if (positionals.length > 0) {
    if (values.file) throw new UsageError('use either -f PATH or KIND NAME, not both');
    const [kindText, name, ...extra] = positionals;
    if (!kindText || !name || extra.length > 0) throw new UsageError('expected KIND NAME, e.g. gingham delete globalnetworkpolicy allow-dns');
    const info = resolveKind(kindText);
    if (!info) throw new UsageError(`unknown kind "${escapeText(kindText)}" (e.g. networkpolicy, gnp, tier, hostendpoint, wep)`);
    if (!info.namespaced && values.namespace !== undefined) throw new UsageError(`${info.kind} is cluster-scoped: -n does not apply`);
    const namespace = info.namespaced ? (values.namespace ?? 'default') : undefined;
    items = [{ resource: { apiVersion: info.apiVersion, kind: info.kind, metadata: { name, ...(namespace ? { namespace } : {}) } } }];
  } else {
    if (!values.file || values.file.length === 0) throw new UsageError(`no manifests given: use -f FILE_OR_DIR${mode === 'delete' ? ' or KIND NAME' : ''}`);
    if (values.namespace !== undefined) throw new UsageError('-n is for KIND NAME; in files, set metadata.namespace');
    const loaded = loadManifests(await readManifestInputs(values.file, io));
    if (!loaded.ok) {
      if (values.json) io.stdout(JSON.stringify({ ok: false, written: false, issues: loaded.issues }, null, 2));
      else {
        for (const issue of loaded.issues) io.stderr(renderIssue(issue));
        io.stderr(`${loaded.issues.filter((i) => i.severity === 'error').length} error(s) in the input; nothing was ${VERB[mode].past}`);
      }
      return 1;
    }
    if (!values.json) for (const issue of loaded.issues) io.stderr(renderIssue(issue));
    items = loaded.resources.map((r) => ({ resource: r.resource, where: `${r.file}:${r.line}:${r.col}` }));
    if (items.length === 0) {
      io.stderr('no resources in the input; nothing to do');
      return 0;
    }
  }

  const ds = await openDatastore(values);
  try {
    const outcomes = await writeResources(ds, items, mode);
    const failed = outcomes.filter((o) => o.action === 'refused' || o.action === 'skipped').length;
    if (values.json) {
      io.stdout(JSON.stringify({ ok: failed === 0, datastore: { type: ds.type, location: ds.description }, results: outcomes.map(jsonOutcome) }, null, 2));
    } else {
      io.stdout(renderTable(outcomes.map((o) => [o.action, escapeText(keyText(o.key)), o.where ? escapeText(o.where) : '', o.error ? escapeText(o.error.message) : ''])).replace(/ +$/gm, ''));
      const done = outcomes.length - failed;
      const summary = `${done} of ${outcomes.length} resource(s) ${VERB[mode].past} in ${escapeText(describeDatastore(ds))}`;
      if (failed === 0) io.stdout(summary);
      else io.stderr(`${summary}; ${failed} refused or skipped (see above)`);
    }
    return failed === 0 ? 0 : 1;
  } finally {
    await ds.close();
  }
}

function jsonOutcome(o: WriteOutcome) {
  return {
    action: o.action,
    apiVersion: o.key.apiVersion,
    kind: o.key.kind,
    ...(o.key.namespace ? { namespace: o.key.namespace } : {}),
    name: o.key.name,
    ...(o.where ? { where: o.where } : {}),
    ...(o.resource?.metadata.resourceVersion ? { resourceVersion: o.resource.metadata.resourceVersion } : {}),
    ...(o.error ? { error: o.error } : {}),
  };
}
