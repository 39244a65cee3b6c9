/**
 * `gingham datastore init`: prepares a datastore as Calico's EnsureInitialized does (the
 * ClusterInformation and the tiers default, kube-admin and kube-baseline). Idempotent.
 */
import { parseArgs } from 'node:util';
import { UsageError, type CliIo } from '../io.js';
import { escapeText } from '../term.js';
import { renderTable } from '../table.js';
import { DATASTORE_HELP, DATASTORE_OPTIONS, describeDatastore, openDatastore } from './datastore-options.js';

export const datastoreHelp = `gingham datastore init [--cluster-type TYPE] [--json] [datastore options]

Creates what Calico's tools expect in a datastore, as Calico's EnsureInitialized does: the
ClusterInformation "default" (a cluster GUID, datastoreReady: true) and the tiers default
(order 1,000,000, Deny), kube-admin (1,000, Pass) and kube-baseline (10,000,000, Pass).
Safe to run again: what exists is left alone. --cluster-type adds to spec.clusterType.

${DATASTORE_HELP}`;

export async function datastoreCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'init') throw new UsageError(sub === undefined ? 'missing subcommand: gingham datastore init' : `unknown subcommand "${escapeText(sub)}": only init`);
  const { values } = parseArgs({
    args: rest,
    options: { 'cluster-type': { type: 'string' }, json: { type: 'boolean' }, ...DATASTORE_OPTIONS },
    allowPositionals: false,
    strict: true,
  });
  const ds = await openDatastore(values);
  try {
    const outcomes = await ds.init(values['cluster-type'] ? { clusterType: values['cluster-type'] } : {});
    if (values.json) {
      io.stdout(JSON.stringify({ ok: true, datastore: { type: ds.type, location: ds.description }, results: outcomes }, null, 2));
    } else {
      io.stdout(renderTable(outcomes.map((o) => [o.action, o.resource])));
      io.stdout(`${escapeText(describeDatastore(ds))} is initialised`);
    }
    return 0;
  } finally {
    await ds.close();
  }
}
