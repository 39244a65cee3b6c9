/**
 * The agent's settings and where each one comes from, Felix's way: command-line flags, then the
 * environment (`GINGHAM_*`, and Calico's own names: `NODENAME`, `DATASTORE_TYPE`, `ETCD_*`,
 * `KUBECONFIG`), then a config file (YAML or JSON, the same names in camelCase), then defaults.
 * Everything is checked before anything starts; a bad value is an `AGENT_CONFIG` error naming
 * the flag, the variable or the file:line:col and field. Secrets never appear in messages or in
 * the effective configuration printed at start (`redactedConfig`).
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isMap, isScalar, type Node as YamlNode } from 'yaml';
import { AgentError } from './errors.js';

export type DatastoreKind = 'etcd' | 'dir' | 'kubernetes' | 'openstack';
export type DataplaneKind = 'iptables' | 'ebpf' | 'none';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** The effective configuration. */
export interface AgentConfig {
  /** This host's name: its endpoints are those whose `spec.node` (pods: `spec.nodeName`) names it. */
  readonly node: string;
  readonly datastore: DatastoreKind;
  /** The directory datastore. */
  readonly dir: string;
  /** etcd: comma-separated endpoints, TLS files and credentials (calicoctl's settings). */
  readonly etcdEndpoints?: string;
  readonly etcdCaCertFile?: string;
  readonly etcdCertFile?: string;
  readonly etcdKeyFile?: string;
  readonly etcdUsername?: string;
  readonly etcdPassword?: string;
  /** Kubernetes: a kubeconfig file (default: `$KUBECONFIG`, `~/.kube/config`, in-cluster). */
  readonly kubeconfig?: string;
  /** OpenStack: networking-calico's `openstack_region` (namespace `openstack-region-<r>`). */
  readonly openstackRegion?: string;
  readonly dataplane: DataplaneKind;
  /** iptables: `default` (the system's iptables-restore), `nft` or `legacy`. */
  readonly iptablesBackend: 'default' | 'nft' | 'legacy';
  /**
   * iptables: how endpoint chains reach their policy groups: `ipset` (the agent's default: a
   * label change that moves an endpoint between existing groups is a few `ipset` lines and no
   * iptables commit) or `chain` (Felix's layout, the library's and `gingham enforce`'s default).
   */
  readonly iptablesGroupDispatch: 'chain' | 'ipset';
  /** Also program IPv6 (iptables). */
  readonly ipv6: boolean;
  /** Workload interface prefixes (Felix's InterfacePrefix): `cali`, `tap` for OpenStack. */
  readonly interfacePrefixes: readonly string[];
  /** eBPF: the bpffs for the pins, the instance name, the attach mode. */
  readonly bpffs?: string;
  readonly ebpfInstance: string;
  readonly ebpfMode: 'auto' | 'tcx' | 'tc';
  readonly wireguard: boolean;
  readonly wireguardInterface: string;
  /** The private key file; created (mode 0600) when missing. */
  readonly wireguardKeyFile: string;
  readonly wireguardListenPort: number;
  readonly wireguardMode: 'auto' | 'kernel' | 'userspace';
  /** `/livez`, `/readyz` and `/status`; 0 = off. */
  readonly healthPort: number;
  readonly healthHost: string;
  /** Prometheus `/metrics`; 0 = off. */
  readonly metricsPort: number;
  readonly metricsHost: string;
  readonly logLevel: LogLevel;
  /** Where the instance locks live (the agent's and the dataplanes'). */
  readonly lockDir: string;
  /** First and largest delay between retries of a failed apply. */
  readonly applyRetryInitialMs: number;
  readonly applyRetryMaxMs: number;
  /** A component that has not reported for this long is not live (a stuck apply, a blocked loop). */
  readonly livenessTimeoutMs: number;
  /** OpenStack: readiness fails when the delivered state is older than this. */
  readonly maxStalenessMs: number;
  /** Flow logs (Felix's `flowLogsEnabled`): run the collector on the dataplane's flow events. */
  readonly flowLogsEnabled: boolean;
  /** Write flow records to `flowLogsFile` (rotated by size and age), as Felix's `flowLogsFileEnabled`. */
  readonly flowLogsFileEnabled: boolean;
  readonly flowLogsFile: string;
  /** The local stream `gingham flows` reads. */
  readonly flowLogsSocket: string;
  /** Calico's aggregation levels (0 none, 1 source ports, 2 plus addresses, 3 plus destination ports). */
  readonly flowLogsAggregationKindForAllowed: 0 | 1 | 2 | 3;
  readonly flowLogsAggregationKindForDenied: 0 | 1 | 2 | 3;
  /** Length of an aggregation window (Felix's `flowLogsFlushInterval`, 15 s). */
  readonly flowLogsFlushIntervalMs: number;
}

/** Where a setting came from. */
export type ConfigOrigin = 'flag' | 'default' | `env ${string}` | `file ${string}`;

type Kind = 'string' | 'int' | 'bool' | 'list' | { readonly oneOf: readonly string[] };

interface FieldDef {
  readonly key: keyof AgentConfig;
  readonly flag: string;
  /** Environment names, first found wins. */
  readonly env: readonly string[];
  readonly kind: Kind;
  readonly secret?: boolean;
  readonly min?: number;
  readonly max?: number;
}

const port = { kind: 'int' as const, min: 0, max: 65535 };

/** Every setting: its flag, environment names and type. The config file uses `key`. */
export const AGENT_FIELDS: readonly FieldDef[] = [
  { key: 'node', flag: 'node', env: ['GINGHAM_NODE', 'NODENAME', 'CALICO_NODENAME'], kind: 'string' },
  { key: 'datastore', flag: 'datastore', env: ['GINGHAM_DATASTORE', 'CALICO_DATASTORE_TYPE', 'DATASTORE_TYPE'], kind: { oneOf: ['etcd', 'dir', 'kubernetes', 'openstack'] } },
  { key: 'dir', flag: 'dir', env: ['GINGHAM_DATASTORE_DIR'], kind: 'string' },
  { key: 'etcdEndpoints', flag: 'etcd-endpoints', env: ['GINGHAM_ETCD_ENDPOINTS', 'CALICO_ETCD_ENDPOINTS', 'ETCD_ENDPOINTS'], kind: 'string' },
  { key: 'etcdCaCertFile', flag: 'etcd-ca-cert-file', env: ['GINGHAM_ETCD_CA_CERT_FILE', 'CALICO_ETCD_CA_CERT_FILE', 'ETCD_CA_CERT_FILE'], kind: 'string' },
  { key: 'etcdCertFile', flag: 'etcd-cert-file', env: ['GINGHAM_ETCD_CERT_FILE', 'CALICO_ETCD_CERT_FILE', 'ETCD_CERT_FILE'], kind: 'string' },
  { key: 'etcdKeyFile', flag: 'etcd-key-file', env: ['GINGHAM_ETCD_KEY_FILE', 'CALICO_ETCD_KEY_FILE', 'ETCD_KEY_FILE'], kind: 'string' },
  { key: 'etcdUsername', flag: 'etcd-username', env: ['GINGHAM_ETCD_USERNAME', 'CALICO_ETCD_USERNAME', 'ETCD_USERNAME'], kind: 'string' },
  { key: 'etcdPassword', flag: 'etcd-password', env: ['GINGHAM_ETCD_PASSWORD', 'CALICO_ETCD_PASSWORD', 'ETCD_PASSWORD'], kind: 'string', secret: true },
  { key: 'kubeconfig', flag: 'kubeconfig', env: ['GINGHAM_KUBECONFIG', 'KUBECONFIG'], kind: 'string' },
  { key: 'openstackRegion', flag: 'openstack-region', env: ['GINGHAM_OPENSTACK_REGION'], kind: 'string' },
  { key: 'dataplane', flag: 'dataplane', env: ['GINGHAM_DATAPLANE'], kind: { oneOf: ['iptables', 'ebpf', 'none'] } },
  { key: 'iptablesBackend', flag: 'iptables-backend', env: ['GINGHAM_IPTABLES_BACKEND'], kind: { oneOf: ['default', 'nft', 'legacy'] } },
  { key: 'iptablesGroupDispatch', flag: 'iptables-group-dispatch', env: ['GINGHAM_IPTABLES_GROUP_DISPATCH'], kind: { oneOf: ['chain', 'ipset'] } },
  { key: 'ipv6', flag: 'ipv6', env: ['GINGHAM_IPV6'], kind: 'bool' },
  { key: 'interfacePrefixes', flag: 'interface-prefix', env: ['GINGHAM_INTERFACE_PREFIX', 'FELIX_INTERFACEPREFIX'], kind: 'list' },
  { key: 'bpffs', flag: 'bpffs', env: ['GINGHAM_BPFFS'], kind: 'string' },
  { key: 'ebpfInstance', flag: 'ebpf-instance', env: ['GINGHAM_EBPF_INSTANCE'], kind: 'string' },
  { key: 'ebpfMode', flag: 'ebpf-mode', env: ['GINGHAM_EBPF_MODE'], kind: { oneOf: ['auto', 'tcx', 'tc'] } },
  { key: 'wireguard', flag: 'wireguard', env: ['GINGHAM_WIREGUARD'], kind: 'bool' },
  { key: 'wireguardInterface', flag: 'wireguard-interface', env: ['GINGHAM_WIREGUARD_INTERFACE'], kind: 'string' },
  { key: 'wireguardKeyFile', flag: 'wireguard-key-file', env: ['GINGHAM_WIREGUARD_KEY_FILE'], kind: 'string' },
  { key: 'wireguardListenPort', flag: 'wireguard-listen-port', env: ['GINGHAM_WIREGUARD_LISTEN_PORT'], kind: 'int', min: 1, max: 65535 },
  { key: 'wireguardMode', flag: 'wireguard-mode', env: ['GINGHAM_WIREGUARD_MODE'], kind: { oneOf: ['auto', 'kernel', 'userspace'] } },
  { key: 'healthPort', flag: 'health-port', env: ['GINGHAM_HEALTH_PORT'], ...port },
  { key: 'healthHost', flag: 'health-host', env: ['GINGHAM_HEALTH_HOST'], kind: 'string' },
  { key: 'metricsPort', flag: 'metrics-port', env: ['GINGHAM_METRICS_PORT'], ...port },
  { key: 'metricsHost', flag: 'metrics-host', env: ['GINGHAM_METRICS_HOST'], kind: 'string' },
  { key: 'logLevel', flag: 'log-level', env: ['GINGHAM_LOG_LEVEL'], kind: { oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] } },
  { key: 'lockDir', flag: 'lock-dir', env: ['GINGHAM_LOCK_DIR'], kind: 'string' },
  { key: 'applyRetryInitialMs', flag: 'apply-retry-initial-ms', env: ['GINGHAM_APPLY_RETRY_INITIAL_MS'], kind: 'int', min: 1, max: 3_600_000 },
  { key: 'applyRetryMaxMs', flag: 'apply-retry-max-ms', env: ['GINGHAM_APPLY_RETRY_MAX_MS'], kind: 'int', min: 1, max: 3_600_000 },
  { key: 'livenessTimeoutMs', flag: 'liveness-timeout-ms', env: ['GINGHAM_LIVENESS_TIMEOUT_MS'], kind: 'int', min: 1000, max: 86_400_000 },
  { key: 'maxStalenessMs', flag: 'max-staleness-ms', env: ['GINGHAM_MAX_STALENESS_MS'], kind: 'int', min: 1000, max: 86_400_000 },
  { key: 'flowLogsEnabled', flag: 'flow-logs', env: ['GINGHAM_FLOW_LOGS_ENABLED', 'FELIX_FLOWLOGSENABLED'], kind: 'bool' },
  { key: 'flowLogsFileEnabled', flag: 'flow-logs-file-enabled', env: ['GINGHAM_FLOW_LOGS_FILE_ENABLED', 'FELIX_FLOWLOGSFILEENABLED'], kind: 'bool' },
  { key: 'flowLogsFile', flag: 'flow-logs-file', env: ['GINGHAM_FLOW_LOGS_FILE'], kind: 'string' },
  { key: 'flowLogsSocket', flag: 'flow-logs-socket', env: ['GINGHAM_FLOW_LOGS_SOCKET'], kind: 'string' },
  { key: 'flowLogsAggregationKindForAllowed', flag: 'flow-logs-aggregation-allowed', env: ['GINGHAM_FLOW_LOGS_AGGREGATION_KIND_FOR_ALLOWED', 'FELIX_FLOWLOGSFILEAGGREGATIONKINDFORALLOWED'], kind: 'int', min: 0, max: 3 },
  { key: 'flowLogsAggregationKindForDenied', flag: 'flow-logs-aggregation-denied', env: ['GINGHAM_FLOW_LOGS_AGGREGATION_KIND_FOR_DENIED', 'FELIX_FLOWLOGSFILEAGGREGATIONKINDFORDENIED'], kind: 'int', min: 0, max: 3 },
  { key: 'flowLogsFlushIntervalMs', flag: 'flow-logs-flush-interval-ms', env: ['GINGHAM_FLOW_LOGS_FLUSH_INTERVAL_MS'], kind: 'int', min: 1000, max: 3_600_000 },
];

export const DEFAULT_DATASTORE_DIR = '/etc/gingham/resources';
export const DEFAULT_HEALTH_PORT = 9099;
export const DEFAULT_METRICS_PORT = 9091;
export const DEFAULT_WIREGUARD_KEY_FILE = '/var/lib/gingham/wireguard.key';
export const DEFAULT_FLOW_LOGS_FILE = '/var/log/gingham/flows.jsonl';
/** The same as `@gingham/flows`' DEFAULT_FLOWS_SOCKET (what `gingham flows` reads by default). */
export const DEFAULT_FLOW_LOGS_SOCKET = '/run/gingham/flows.sock';

const DEFAULTS: Omit<AgentConfig, 'node' | 'interfacePrefixes'> = {
  datastore: 'dir',
  dir: DEFAULT_DATASTORE_DIR,
  dataplane: 'iptables',
  iptablesBackend: 'default',
  iptablesGroupDispatch: 'ipset',
  ipv6: false,
  ebpfInstance: 'default',
  ebpfMode: 'auto',
  wireguard: false,
  wireguardInterface: 'gingham-wg',
  wireguardKeyFile: DEFAULT_WIREGUARD_KEY_FILE,
  wireguardListenPort: 51820,
  wireguardMode: 'auto',
  healthPort: DEFAULT_HEALTH_PORT,
  healthHost: '127.0.0.1',
  metricsPort: DEFAULT_METRICS_PORT,
  metricsHost: '0.0.0.0',
  logLevel: 'info',
  lockDir: '/run/gingham/locks',
  applyRetryInitialMs: 250,
  applyRetryMaxMs: 30_000,
  livenessTimeoutMs: 90_000,
  maxStalenessMs: 60_000,
  flowLogsEnabled: false,
  flowLogsFileEnabled: true,
  flowLogsFile: DEFAULT_FLOW_LOGS_FILE,
  flowLogsSocket: DEFAULT_FLOW_LOGS_SOCKET,
  flowLogsAggregationKindForAllowed: 2,
  flowLogsAggregationKindForDenied: 1,
  flowLogsFlushIntervalMs: 15_000,
};

export interface ResolveAgentConfigInput {
  /** Flag values as given (`--health-port 9099` → `{ 'health-port': '9099' }`; booleans as true/false). */
  readonly flags?: Readonly<Record<string, string | boolean | undefined>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A YAML or JSON file of settings (`node: node-1`, `healthPort: 9099`, …). */
  readonly configFile?: string;
}

export interface ResolvedAgentConfig {
  readonly config: AgentConfig;
  readonly origins: Readonly<Partial<Record<keyof AgentConfig, ConfigOrigin>>>;
}

const configError = (message: string) => new AgentError('AGENT_CONFIG', message);

interface FileValue {
  readonly value: unknown;
  readonly where: string;
}

async function readConfigFile(path: string): Promise<Map<string, FileValue>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw configError(`cannot read the agent config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  const at = (offset: number | undefined): string => {
    const p = counter.linePos(offset ?? 0);
    return `${path}:${p.line}:${p.col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw configError(`${at(e.pos[0])}: not valid YAML or JSON: ${e.message.split('\n')[0]}`);
  }
  const out = new Map<string, FileValue>();
  if (doc.contents === null) return out;
  if (!isMap(doc.contents)) throw configError(`${at(doc.contents.range?.[0])}: the agent config file must be a mapping of settings`);
  const known = new Map(AGENT_FIELDS.map((f) => [f.key as string, f]));
  for (const pair of doc.contents.items) {
    const keyNode = pair.key as YamlNode | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const where = at(keyNode?.range?.[0]);
    if (!known.has(key)) {
      const near = [...known.keys()].find((k) => k.toLowerCase() === key.toLowerCase().replace(/[-_]/g, ''));
      throw configError(`${where}: unknown setting "${key}"${near ? `; did you mean ${near}?` : ` (known: ${[...known.keys()].join(', ')})`}`);
    }
    const valueNode = pair.value as YamlNode | null;
    out.set(key, { value: isScalar(valueNode) ? valueNode.value : valueNode?.toJSON(), where: at(valueNode?.range?.[0] ?? keyNode?.range?.[0]) });
  }
  return out;
}

function convert(def: FieldDef, raw: unknown, where: string): unknown {
  const bad = (why: string): never => {
    throw configError(`${where}: ${why}`);
  };
  const kind = def.kind;
  if (kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
    return bad(`expected true or false, got ${JSON.stringify(raw)}`);
  }
  if (kind === 'int') {
    const n = typeof raw === 'number' ? raw : /^\s*-?\d+\s*$/.test(String(raw)) ? Number(String(raw)) : Number.NaN;
    if (!Number.isInteger(n)) return bad(`expected a whole number, got ${JSON.stringify(raw)}`);
    if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) return bad(`${n} is outside ${def.min}..${def.max}`);
    return n;
  }
  if (kind === 'list') {
    const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
    const list = items.map((s) => s.trim()).filter((s) => s !== '');
    if (list.length === 0) return bad('expected at least one value');
    return list;
  }
  if (typeof raw === 'object' && raw !== null) return bad(`expected a single value, got ${Array.isArray(raw) ? 'a list' : 'a mapping'}`);
  const s = String(raw).trim();
  if (kind === 'string') {
    if (s === '') return bad('must not be empty');
    return s;
  }
  // Calico's DATASTORE_TYPE says etcdv3 for etcd.
  const v = def.key === 'datastore' && s === 'etcdv3' ? 'etcd' : s;
  if (!kind.oneOf.includes(v)) return bad(`"${s}" is not one of ${kind.oneOf.join(', ')}`);
  return v;
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const IFACE = /^[a-zA-Z0-9_.-]{1,15}$/;

/** Resolves the effective configuration: flags > environment > config file > defaults. */
export async function resolveAgentConfig(input: ResolveAgentConfigInput): Promise<ResolvedAgentConfig> {
  const flags = input.flags ?? {};
  const env = input.env ?? {};
  const file = input.configFile ? await readConfigFile(input.configFile) : new Map<string, FileValue>();
  const values: Record<string, unknown> = {};
  const origins: Partial<Record<keyof AgentConfig, ConfigOrigin>> = {};
  for (const def of AGENT_FIELDS) {
    const flag = flags[def.flag];
    if (flag !== undefined) {
      values[def.key] = convert(def, flag, `--${def.flag}`);
      origins[def.key] = 'flag';
      continue;
    }
    const envName = def.env.find((n) => env[n] !== undefined && env[n] !== '');
    if (envName) {
      values[def.key] = convert(def, env[envName], `${envName}=${def.secret ? '***' : JSON.stringify(env[envName])}`);
      origins[def.key] = `env ${envName}`;
      continue;
    }
    const fromFile = file.get(def.key);
    if (fromFile) {
      values[def.key] = convert(def, fromFile.value, `${fromFile.where}: ${def.key}`);
      origins[def.key] = `file ${input.configFile}`;
      continue;
    }
    if (def.key in DEFAULTS) {
      values[def.key] = DEFAULTS[def.key as keyof typeof DEFAULTS];
      origins[def.key] = 'default';
    }
  }
  const where = (key: keyof AgentConfig): string => {
    const o = origins[key];
    const def = AGENT_FIELDS.find((f) => f.key === key)!;
    return o === 'flag' ? `--${def.flag}` : o?.startsWith('env ') ? o.slice(4) : o?.startsWith('file ') ? `${o.slice(5)}: ${key}` : key;
  };
  if (values['node'] === undefined) throw configError('the node name is required: --node NAME (or GINGHAM_NODE / NODENAME, or node: in the config file)');
  if (!NODE_NAME.test(values['node'] as string)) throw configError(`${where('node')}: "${values['node']}" is not a valid node name (lower-case letters, digits, "-" and ".")`);
  if (values['interfacePrefixes'] === undefined) {
    values['interfacePrefixes'] = values['datastore'] === 'openstack' ? ['tap'] : ['cali'];
    origins.interfacePrefixes = 'default';
  }
  for (const p of values['interfacePrefixes'] as string[]) {
    if (!IFACE.test(p)) throw configError(`${where('interfacePrefixes')}: "${p}" is not an interface name prefix`);
  }
  if (!IFACE.test(values['wireguardInterface'] as string)) throw configError(`${where('wireguardInterface')}: "${values['wireguardInterface']}" is not an interface name`);
  if (!/^[a-z0-9-]{1,32}$/.test(values['ebpfInstance'] as string)) throw configError(`${where('ebpfInstance')}: the eBPF instance name is 1 to 32 of a-z, 0-9 and "-"`);
  const datastore = values['datastore'] as DatastoreKind;
  const etcdKeys = ['etcdEndpoints', 'etcdCaCertFile', 'etcdCertFile', 'etcdKeyFile', 'etcdUsername', 'etcdPassword'] as const;
  if (datastore !== 'etcd') {
    // Only settings given on purpose (flags, the file) are mistakes; Calico's ETCD_* names may be set for other tools.
    const given = etcdKeys.find((k) => origins[k] === 'flag' || origins[k]?.startsWith('file '));
    if (given) throw configError(`${where(given)} is for the etcd datastore, but the datastore is ${datastore} (${where('datastore')})`);
  }
  if (datastore !== 'dir' && (origins.dir === 'flag' || origins.dir?.startsWith('file '))) {
    throw configError(`${where('dir')} is for the directory datastore, but the datastore is ${datastore}`);
  }
  if (datastore !== 'kubernetes' && origins.kubeconfig === 'flag') throw configError(`--kubeconfig is for the kubernetes datastore, but the datastore is ${datastore}`);
  if (datastore !== 'openstack' && origins.openstackRegion === 'flag') throw configError(`--openstack-region is for the openstack datastore, but the datastore is ${datastore}`);
  if ((values['applyRetryMaxMs'] as number) < (values['applyRetryInitialMs'] as number)) {
    throw configError(`${where('applyRetryMaxMs')}: must be at least the initial retry delay (${values['applyRetryInitialMs']} ms)`);
  }
  if (values['flowLogsEnabled'] === true && values['dataplane'] === 'none') {
    throw configError(`${where('flowLogsEnabled')}: flow logs need a dataplane that enforces (iptables or ebpf); the dataplane is none (${where('dataplane')})`);
  }
  const anyHost = (h: unknown): boolean => h === '0.0.0.0' || h === '::';
  if (values['healthPort'] !== 0 && values['healthPort'] === values['metricsPort'] && (values['healthHost'] === values['metricsHost'] || anyHost(values['healthHost']) || anyHost(values['metricsHost']))) {
    throw configError(`${where('metricsPort')}: the metrics port ${values['metricsPort']} is the health port too; give them different ports`);
  }
  return { config: values as unknown as AgentConfig, origins };
}

/** The configuration with secrets replaced by `***`, for the start-up log and `agent status`. */
export function redactedConfig(config: AgentConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const def of AGENT_FIELDS) {
    const v = config[def.key];
    if (v === undefined) continue;
    out[def.key] = def.secret ? '***' : v;
  }
  return out;
}

/** The flags `parseArgs` needs for every setting (all strings, except the booleans). */
export function agentFlagOptions(): Record<string, { type: 'string' | 'boolean' }> {
  const out: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const def of AGENT_FIELDS) out[def.flag] = { type: def.kind === 'bool' ? 'boolean' : 'string' };
  return out;
}
