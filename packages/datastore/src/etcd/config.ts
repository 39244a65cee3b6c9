/**
 * Where the etcd endpoints and credentials come from, calicoctl's way
 * (libcalico-go `lib/apiconfig`): command-line flags first; then a CalicoAPIConfig file when one
 * is given (and then the environment is not read, as calicoctl does with `-c`); otherwise
 * Calico's environment names, `CALICO_`-prefixed first (`CALICO_ETCD_ENDPOINTS`, then
 * `ETCD_ENDPOINTS`, …). Files named here are read now, so a wrong path fails before any
 * connection with the path in the message. Never logs or returns the password in messages.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { DatastoreError } from '../errors.js';

/** Settings given on the command line (undefined = not given). */
export interface EtcdFlags {
  /** Comma-separated, e.g. `https://10.0.0.1:2379,https://10.0.0.2:2379`. */
  readonly endpoints?: string;
  readonly caCertFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly username?: string;
  readonly password?: string;
}

export interface ResolveEtcdConfigInput {
  readonly flags?: EtcdFlags;
  /** A calicoctl-style config file (`kind: CalicoAPIConfig`, YAML or JSON). */
  readonly configFile?: string;
  /** The environment to read Calico's names from (pass `process.env`); not read when `configFile` is given. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Resolved, ready-to-use settings. */
export interface EtcdConfig {
  readonly endpoints: readonly string[];
  /** PEM bytes; present for https endpoints with a CA, and/or a client certificate. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  readonly auth?: { readonly username: string; readonly password: string };
  /** Where each setting came from, for `--json` status and error messages (no secrets). */
  readonly origin: Readonly<Record<string, 'flag' | 'config' | 'env' | 'default'>>;
}

/** Used when nothing names an endpoint (etcdctl's and Felix's default). */
export const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';

type Field = 'endpoints' | 'caCertFile' | 'certFile' | 'keyFile' | 'caCert' | 'cert' | 'key' | 'username' | 'password';

const ENV_NAMES: Record<Field, string> = {
  endpoints: 'ETCD_ENDPOINTS',
  caCertFile: 'ETCD_CA_CERT_FILE',
  certFile: 'ETCD_CERT_FILE',
  keyFile: 'ETCD_KEY_FILE',
  caCert: 'ETCD_CA_CERT',
  cert: 'ETCD_CERT',
  key: 'ETCD_KEY',
  username: 'ETCD_USERNAME',
  password: 'ETCD_PASSWORD',
};

const CONFIG_NAMES: Record<Field, string> = {
  endpoints: 'etcdEndpoints',
  caCertFile: 'etcdCACertFile',
  certFile: 'etcdCertFile',
  keyFile: 'etcdKeyFile',
  caCert: 'etcdCACert',
  cert: 'etcdCert',
  key: 'etcdKey',
  username: 'etcdUsername',
  password: 'etcdPassword',
};

/** CalicoAPIConfig spec fields that are Calico's but not about etcd: accepted and ignored. */
const OTHER_CALICO_FIELDS = new Set([
  'datastoreType',
  'etcdDiscoverySrv',
  'kubeconfig',
  'k8sAPIEndpoint',
  'k8sKeyFile',
  'k8sCertFile',
  'k8sCAFile',
  'k8sAPIToken',
  'k8sInsecureSkipTLSVerify',
  'k8sDisableNodePoll',
  'k8sClientQPS',
  'kubeconfigInline',
]);

const configError = (message: string, cause?: unknown) => new DatastoreError('DS_CONFIG', message, cause === undefined ? undefined : { cause });

async function readConfigFile(path: string): Promise<Partial<Record<Field, string>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw configError(`cannot read the etcd config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw configError(`${path}: not valid YAML or JSON (${(err as Error).message.split('\n')[0]})`, err);
  }
  const d = doc as { kind?: unknown; spec?: unknown } | null;
  if (d === null || typeof d !== 'object' || Array.isArray(d)) throw configError(`${path}: expected a CalicoAPIConfig mapping (kind, apiVersion, spec)`);
  if (d.kind !== undefined && d.kind !== 'CalicoAPIConfig') throw configError(`${path}: kind is ${JSON.stringify(d.kind)}, expected CalicoAPIConfig`);
  const spec = (d.spec ?? {}) as Record<string, unknown>;
  if (typeof spec !== 'object' || Array.isArray(spec)) throw configError(`${path}: spec must be a mapping`);
  const datastoreType = spec['datastoreType'];
  if (datastoreType !== undefined && datastoreType !== 'etcdv3') {
    throw configError(`${path}: spec.datastoreType is ${JSON.stringify(datastoreType)}; the etcd datastore needs etcdv3`);
  }
  if (spec['etcdDiscoverySrv']) throw configError(`${path}: spec.etcdDiscoverySrv (DNS SRV discovery) is not supported; list the endpoints in spec.etcdEndpoints`);
  const out: Partial<Record<Field, string>> = {};
  const known = new Map(Object.entries(CONFIG_NAMES).map(([f, n]) => [n, f as Field]));
  for (const [k, v] of Object.entries(spec)) {
    const f = known.get(k);
    if (f) {
      if (v === null || v === undefined || v === '') continue;
      if (typeof v !== 'string') throw configError(`${path}: spec.${k} must be a string`);
      out[f] = v;
    } else if (!OTHER_CALICO_FIELDS.has(k)) {
      throw configError(`${path}: unknown field spec.${k} (etcd fields: ${Object.values(CONFIG_NAMES).join(', ')})`);
    }
  }
  return out;
}

function fromEnv(env: Readonly<Record<string, string | undefined>>): Partial<Record<Field, string>> {
  if (env['ETCD_DISCOVERY_SRV'] || env['CALICO_ETCD_DISCOVERY_SRV']) {
    throw configError('ETCD_DISCOVERY_SRV (DNS SRV discovery) is not supported; set ETCD_ENDPOINTS');
  }
  const out: Partial<Record<Field, string>> = {};
  for (const [f, name] of Object.entries(ENV_NAMES) as [Field, string][]) {
    const v = env[`CALICO_${name}`] || env[name];
    if (v) out[f] = v;
  }
  return out;
}

function parseEndpoints(text: string, from: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw configError(`no etcd endpoints in ${from}`);
  for (const e of list) {
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw configError(`etcd endpoint ${JSON.stringify(e)} (from ${from}) is not a URL like https://10.0.0.1:2379`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw configError(`etcd endpoint ${JSON.stringify(e)} (from ${from}) must start with http:// or https://`);
    if (url.port === '') throw configError(`etcd endpoint ${JSON.stringify(e)} (from ${from}) has no port (etcd listens on 2379)`);
    if (url.pathname !== '/' && url.pathname !== '') throw configError(`etcd endpoint ${JSON.stringify(e)} (from ${from}) must not have a path`);
  }
  const secure = list.filter((e) => e.startsWith('https:')).length;
  if (secure !== 0 && secure !== list.length) throw configError(`etcd endpoints mix http:// and https:// (from ${from})`);
  return list.map((e) => e.replace(/\/$/, ''));
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw configError(`cannot read the etcd ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
  }
}

/** Resolves endpoints, TLS material and credentials; throws DS_CONFIG with the offending setting. */
export async function resolveEtcdConfig(input: ResolveEtcdConfigInput = {}): Promise<EtcdConfig> {
  const flags = input.flags ?? {};
  const base = input.configFile !== undefined ? await readConfigFile(input.configFile) : fromEnv(input.env ?? {});
  const baseOrigin = input.configFile !== undefined ? 'config' : 'env';
  const values: Partial<Record<Field, string>> = { ...base };
  const origin: Record<string, 'flag' | 'config' | 'env' | 'default'> = {};
  for (const f of Object.keys(base)) origin[f] = baseOrigin;
  const flagFields: [Field, string | undefined][] = [
    ['endpoints', flags.endpoints],
    ['caCertFile', flags.caCertFile],
    ['certFile', flags.certFile],
    ['keyFile', flags.keyFile],
    ['username', flags.username],
    ['password', flags.password],
  ];
  for (const [f, v] of flagFields) {
    if (v !== undefined && v !== '') {
      values[f] = v;
      origin[f] = 'flag';
    }
  }
  const describe = (f: Field) =>
    origin[f] === 'flag' ? `--etcd-${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : origin[f] === 'config' ? `${input.configFile} spec.${CONFIG_NAMES[f]}` : ENV_NAMES[f];

  let endpoints: string[];
  if (values.endpoints !== undefined) {
    endpoints = parseEndpoints(values.endpoints, describe('endpoints'));
  } else {
    endpoints = [DEFAULT_ETCD_ENDPOINT];
    origin['endpoints'] = 'default';
  }

  const haveInline = values.caCert !== undefined || values.cert !== undefined || values.key !== undefined;
  const haveFiles = values.caCertFile !== undefined || values.certFile !== undefined || values.keyFile !== undefined;
  if (haveInline && haveFiles) throw configError('cannot mix inline certificates (etcdCACert/etcdCert/etcdKey) with certificate files');
  const ca = values.caCertFile !== undefined ? await readPem(values.caCertFile, 'CA certificate') : values.caCert !== undefined ? Buffer.from(values.caCert) : undefined;
  const cert = values.certFile !== undefined ? await readPem(values.certFile, 'client certificate') : values.cert !== undefined ? Buffer.from(values.cert) : undefined;
  const key = values.keyFile !== undefined ? await readPem(values.keyFile, 'client key') : values.key !== undefined ? Buffer.from(values.key) : undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw configError(`a client certificate needs both a certificate and a key (only the ${cert ? 'certificate' : 'key'} is set)`);
  }
  const secure = endpoints[0]!.startsWith('https:');
  if (!secure && (ca || cert)) throw configError(`TLS files are set but the etcd endpoints use http:// (${endpoints.join(',')}); use https://`);

  if ((values.username === undefined) !== (values.password === undefined)) {
    throw configError(`etcd auth needs both a username and a password (only the ${values.username !== undefined ? 'username' : 'password'} is set)`);
  }

  const tls = ca || cert || key ? { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } : undefined;
  return {
    endpoints,
    ...(tls ? { tls } : {}),
    ...(values.username !== undefined && values.password !== undefined ? { auth: { username: values.username, password: values.password } } : {}),
    origin,
  };
}
