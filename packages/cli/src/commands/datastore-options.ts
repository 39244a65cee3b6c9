/**
 * What the datastore commands (apply, create, replace, delete, get, datastore) share: choosing
 * and opening a datastore from flags and Calico's environment names, text made safe for a
 * terminal, and the help text for those options. Composition only: the semantics live in
 * `@gingham/datastore`.
 */
import type { SourceProblem } from '@gingham/core';
import { createDirDatastore, createEtcdDatastore, resolveEtcdConfig, type Datastore } from '@gingham/datastore';
import { UsageError } from '../io.js';
import { escapeText } from '../term.js';

/** Where the embedded directory datastore lives unless --dir or GINGHAM_DATASTORE_DIR says otherwise. */
export const DEFAULT_DATASTORE_DIR = '/etc/gingham/resources';

export const DATASTORE_OPTIONS = {
  datastore: { type: 'string' },
  dir: { type: 'string' },
  config: { type: 'string', short: 'c' },
  'etcd-endpoints': { type: 'string' },
  'etcd-ca-cert-file': { type: 'string' },
  'etcd-cert-file': { type: 'string' },
  'etcd-key-file': { type: 'string' },
  'etcd-username': { type: 'string' },
  'etcd-password': { type: 'string' },
} as const;

export const DATASTORE_HELP = `Datastore (default: a directory of manifests):
  --datastore dir|etcd       also from DATASTORE_TYPE (etcdv3 = etcd), as calicoctl
  --dir PATH                 the directory datastore (default ${DEFAULT_DATASTORE_DIR}, or GINGHAM_DATASTORE_DIR)
  --etcd-endpoints URLS      comma-separated, e.g. https://10.0.0.1:2379 (default http://127.0.0.1:2379)
  --etcd-ca-cert-file, --etcd-cert-file, --etcd-key-file FILE     TLS (client certificate)
  --etcd-username NAME, --etcd-password PASSWORD                   prefer ETCD_PASSWORD: argv is visible to others
  -c, --config FILE          a calicoctl config file (kind: CalicoAPIConfig); then the environment is not read
  Without flags, Calico's environment names are read: ETCD_ENDPOINTS, ETCD_CA_CERT_FILE, ETCD_CERT_FILE,
  ETCD_KEY_FILE, ETCD_USERNAME, ETCD_PASSWORD (also CALICO_-prefixed).`;

export type DatastoreFlagValues = { [K in keyof typeof DATASTORE_OPTIONS]?: string };

const ETCD_FLAGS = ['config', 'etcd-endpoints', 'etcd-ca-cert-file', 'etcd-cert-file', 'etcd-key-file', 'etcd-username', 'etcd-password'] as const;

/** Opens the datastore the flags (then the environment) name. Close it when done. */
export async function openDatastore(values: DatastoreFlagValues, env: NodeJS.ProcessEnv = process.env): Promise<Datastore> {
  const fromEnv = env['CALICO_DATASTORE_TYPE'] || env['DATASTORE_TYPE'];
  const chosen = values.datastore ?? (fromEnv === 'etcdv3' ? 'etcd' : fromEnv) ?? 'dir';
  if (chosen === 'kubernetes') throw new UsageError('the kubernetes datastore is not served by these commands; use --datastore dir or --datastore etcd');
  if (chosen !== 'dir' && chosen !== 'etcd') throw new UsageError(`unknown datastore "${chosen}": use --datastore dir or --datastore etcd`);
  if (chosen === 'dir') {
    const given = ETCD_FLAGS.filter((f) => values[f] !== undefined);
    if (given.length > 0) throw new UsageError(`--${given[0]} is for the etcd datastore: add --datastore etcd`);
    return createDirDatastore({ dir: values.dir ?? env['GINGHAM_DATASTORE_DIR'] ?? DEFAULT_DATASTORE_DIR });
  }
  if (values.dir !== undefined) throw new UsageError('--dir is for the directory datastore, not --datastore etcd');
  const config = await resolveEtcdConfig({
    flags: {
      ...(values['etcd-endpoints'] !== undefined ? { endpoints: values['etcd-endpoints'] } : {}),
      ...(values['etcd-ca-cert-file'] !== undefined ? { caCertFile: values['etcd-ca-cert-file'] } : {}),
      ...(values['etcd-cert-file'] !== undefined ? { certFile: values['etcd-cert-file'] } : {}),
      ...(values['etcd-key-file'] !== undefined ? { keyFile: values['etcd-key-file'] } : {}),
      ...(values['etcd-username'] !== undefined ? { username: values['etcd-username'] } : {}),
      ...(values['etcd-password'] !== undefined ? { password: values['etcd-password'] } : {}),
    },
    ...(values.config !== undefined ? { configFile: values.config } : {}),
    env,
  });
  return createEtcdDatastore({ config });
}

/** `etcd http://…` or `directory /etc/…`, for messages. */
export const describeDatastore = (ds: Datastore): string => (ds.type === 'etcd' ? `etcd ${ds.description}` : `directory ${ds.description}`);

/** Warning lines for what the datastore could not read. */
export function problemLines(problems: readonly SourceProblem[]): string[] {
  return problems.map((p) => `warning: ${escapeText(p.where)}: ${escapeText(p.message)}`);
}
