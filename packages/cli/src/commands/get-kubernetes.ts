/**
 * `gingham get KIND [NAME] --datastore kubernetes [--kubeconfig FILE]`: calicoctl's get in
 * Kubernetes-datastore mode, read through `@gingham/k8s`'s source (WorkloadEndpoints from pods,
 * Profiles from namespaces and service accounts, Calico's CRDs as `projectcalico.org/v3`,
 * automatic host endpoints, and the Kubernetes policy kinds). A table for people, `-o yaml|json`
 * for machines. Composition only: the reading and deriving live in `@gingham/k8s`.
 *
 * `getKubernetesCommand` is the `kubernetes` reader of `gingham get`; where `gingham get` also
 * serves other datastores, it dispatches here for `--datastore kubernetes`
 * (or `DATASTORE_TYPE=kubernetes`). `@gingham/k8s` (and with it `@kubernetes/client-node`) is an
 * optional dependency of the CLI, imported only here.
 */
import { parseArgs } from 'node:util';
import { GinghamError, type Resource } from '@gingham/core';
import { stringify as stringifyYaml } from 'yaml';
import { UsageError, type CliIo } from '../io.js';
import { renderTable } from '../table.js';

export const getKubernetesHelp = `gingham get KIND [NAME] [-n NAMESPACE | -A] [-o yaml|json|wide] --datastore kubernetes [--kubeconfig FILE] [--context NAME]

Reads a cluster's Kubernetes API as calicoctl does with DATASTORE_TYPE=kubernetes.
KIND: networkpolicy (np), globalnetworkpolicy (gnp), stagednetworkpolicy (snp),
  stagedglobalnetworkpolicy (sgnp), stagedkubernetesnetworkpolicy (sknp), tier, networkset
  (netset), globalnetworkset (gnetset), hostendpoint (hep), workloadendpoint (wep), profile (pro),
  node (no), namespace (ns), pod (po), serviceaccount (sa), kubernetesnetworkpolicy (knp),
  adminnetworkpolicy (anp), baselineadminnetworkpolicy (banp), clusternetworkpolicy (cnp).
  workloadendpoint   derived from pods (<node>-k8s-<pod>-eth0)
  profile            derived from namespaces (kns.<ns>) and service accounts (ksa.<ns>.<sa>)
  hostendpoint       Calico's HostEndpoints; with --auto-host-endpoints also <node>-auto-hep from Nodes
  node               Calico's view of the Kubernetes Nodes (addresses, WireGuard keys)
Namespaced kinds default to namespace "default"; -A lists every namespace.

  --kubeconfig FILE        default: $KUBECONFIG, ~/.kube/config, or the pod's service account
  --context NAME           a context other than the kubeconfig's current one
  --auto-host-endpoints    show the automatic host endpoints the agent derives from Nodes
  --timeout SECONDS        give up when the API server has not answered (default 30)
  -o yaml|json|wide        the resources (a List without NAME), or more table columns; --json is -o json`;

type Column = [header: string, cell: (r: Resource) => string];
const spec = (r: Resource): Record<string, unknown> => (r.spec ?? {}) as Record<string, unknown>;
const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));
const list = (v: unknown): string => (Array.isArray(v) ? v.map(text).join(',') : text(v));
const labels = (l: Readonly<Record<string, string>> | undefined): string => Object.entries(l ?? {}).map(([k, v]) => `${k}=${v}`).join(',');

const NAME: Column = ['NAME', (r) => r.metadata.name];
const TIER: Column = ['TIER', (r) => text(spec(r)['tier']) || 'default'];
const ORDER: Column = ['ORDER', (r) => text(spec(r)['order'])];
const SELECTOR: Column = ['SELECTOR', (r) => text(spec(r)['selector'])];

/** calicoctl's columns (narrow, wide) per Calico kind; Kubernetes kinds show NAME (and LABELS wide). */
const COLUMNS: Record<string, [Column[], Column[]]> = {
  NetworkPolicy: [[NAME, TIER], [NAME, TIER, ORDER, SELECTOR]],
  GlobalNetworkPolicy: [[NAME, TIER], [NAME, TIER, ORDER, SELECTOR]],
  StagedNetworkPolicy: [[NAME, TIER], [NAME, TIER, ORDER, SELECTOR]],
  StagedGlobalNetworkPolicy: [[NAME, TIER], [NAME, TIER, ORDER, SELECTOR]],
  StagedKubernetesNetworkPolicy: [[NAME], [NAME]],
  Tier: [[NAME, ORDER], [NAME, ORDER, ['DEFAULTACTION', (r) => text(spec(r)['defaultAction'])]]],
  NetworkSet: [[NAME], [NAME, ['NETS', (r) => list(spec(r)['nets'])]]],
  GlobalNetworkSet: [[NAME], [NAME, ['NETS', (r) => list(spec(r)['nets'])]]],
  HostEndpoint: [
    [NAME, ['NODE', (r) => text(spec(r)['node'])]],
    [NAME, ['NODE', (r) => text(spec(r)['node'])], ['INTERFACE', (r) => text(spec(r)['interfaceName'])], ['IPS', (r) => list(spec(r)['expectedIPs'])], ['PROFILES', (r) => list(spec(r)['profiles'])]],
  ],
  WorkloadEndpoint: [
    [['WORKLOAD', (r) => text(spec(r)['pod'])], ['NODE', (r) => text(spec(r)['node'])], ['NETWORKS', (r) => list(spec(r)['ipNetworks'])], ['INTERFACE', (r) => text(spec(r)['interfaceName'])]],
    [NAME, ['WORKLOAD', (r) => text(spec(r)['pod'])], ['NODE', (r) => text(spec(r)['node'])], ['NETWORKS', (r) => list(spec(r)['ipNetworks'])], ['INTERFACE', (r) => text(spec(r)['interfaceName'])], ['PROFILES', (r) => list(spec(r)['profiles'])]],
  ],
  Profile: [[NAME], [NAME, ['LABELS', (r) => labels(spec(r)['labelsToApply'] as Record<string, string> | undefined)]]],
  Node: [
    [NAME],
    [
      NAME,
      ['IPV4', (r) => text((spec(r)['bgp'] as { ipv4Address?: string } | undefined)?.ipv4Address)],
      ['ADDRESSES', (r) => ((spec(r)['addresses'] ?? []) as { address: string }[]).map((a) => a.address).join(',')],
      ['WIREGUARDKEY', (r) => text((r.status as { wireguardPublicKey?: string } | undefined)?.wireguardPublicKey)],
    ],
  ],
};

/** Text from the cluster made safe for a terminal: control characters as \xNN. */
const safe = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** The datastore `gingham get` was asked for: `--datastore`, else `DATASTORE_TYPE`/`CALICO_DATASTORE_TYPE`. */
export function requestedDatastore(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  let value: string | undefined;
  argv.forEach((a, i) => {
    if (a === '--datastore' && argv[i + 1] !== undefined) value = argv[i + 1];
    else if (a.startsWith('--datastore=')) value = a.slice('--datastore='.length);
  });
  return value ?? (env['CALICO_DATASTORE_TYPE'] || env['DATASTORE_TYPE'] || undefined);
}

/** `@gingham/k8s`, loaded only for `--datastore kubernetes` (an optional dependency of the CLI). */
async function importKubernetes(): Promise<typeof import('@gingham/k8s')> {
  try {
    return await import('@gingham/k8s');
  } catch (cause) {
    const e = cause as { code?: unknown; message?: unknown };
    if (e.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes("'@gingham/k8s'")) throw cause;
    throw new GinghamError('K8S_SOURCE_MISSING', 'the Kubernetes datastore is not installed (@gingham/k8s is an optional dependency of @gingham/cli): npm install @gingham/k8s', { cause });
  }
}

export async function getKubernetesCommand(argv: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      datastore: { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      'auto-host-endpoints': { type: 'boolean' },
      timeout: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const datastore = requestedDatastore(argv, env);
  if (datastore !== 'kubernetes') throw new UsageError(`this build reads --datastore kubernetes${datastore ? ` (not "${safe(datastore)}")` : ''}`);
  const [kindText, name, ...extra] = positionals;
  if (!kindText) throw new UsageError('which kind? e.g. gingham get workloadendpoints --datastore kubernetes');
  if (extra.length > 0) throw new UsageError(`one NAME at most (got ${positionals.length - 1})`);
  const { readKubernetesResources, resolveKubernetesKind } = await importKubernetes();
  const kind = resolveKubernetesKind(kindText);
  if (!kind) throw new UsageError(`unknown kind "${safe(kindText)}" (e.g. networkpolicy, gnp, wep, profile, hep, node, knp, anp; see --help)`);
  const output = values.json ? 'json' : (values.output ?? 'table');
  if (!['table', 'wide', 'yaml', 'json'].includes(output)) throw new UsageError(`-o ${safe(output)}: use yaml, json or wide`);
  if (values['all-namespaces'] && values.namespace !== undefined) throw new UsageError('use either -n NAMESPACE or -A, not both');
  if (values['all-namespaces'] && name !== undefined) throw new UsageError('a NAME needs one namespace (-n), not -A');
  if (!kind.namespaced && values.namespace !== undefined) throw new UsageError(`${kind.kind} is cluster-scoped: -n does not apply`);
  const timeout = values.timeout === undefined ? 30 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout ${safe(values.timeout ?? '')}: a number of seconds`);
  const all = !kind.namespaced || values['all-namespaces'] === true;
  const namespace = all ? undefined : (values.namespace ?? 'default');

  const result = await readKubernetesResources({
    kind,
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    autoHostEndpoints: values['auto-host-endpoints'] === true,
    timeoutMs: timeout * 1000,
  });
  for (const p of result.problems) io.stderr(`warning: ${safe(p.where)}: ${safe(p.message)}`);
  const where = namespace ? ` in namespace ${safe(namespace)}` : '';
  if (name !== undefined && result.items.length === 0) {
    io.stderr(`gingham get: ${kind.kind} ${namespace ? `${safe(namespace)}/` : ''}${safe(name)} not found in the cluster`);
    return 1;
  }
  if (output === 'yaml' || output === 'json') {
    const doc = name !== undefined ? result.items[0] : { apiVersion: kind.apiVersion, kind: `${kind.kind}List`, metadata: result.revision ? { resourceVersion: result.revision } : {}, items: result.items };
    io.stdout(output === 'json' ? JSON.stringify(doc, null, 2) : stringifyYaml(doc).trimEnd());
    return 0;
  }
  if (result.items.length === 0) {
    io.stdout(`no ${kind.names[1]} found${where}`);
    return 0;
  }
  const known = kind.apiVersion === 'projectcalico.org/v3' ? COLUMNS[kind.kind] : undefined;
  const base: Column[] = known ? known[output === 'wide' ? 1 : 0] : output === 'wide' ? [NAME, ['LABELS', (r) => labels(r.metadata.labels)]] : [NAME];
  const cols: Column[] = [...(kind.namespaced && all ? ([['NAMESPACE', (r: Resource) => r.metadata.namespace ?? '']] as Column[]) : []), ...base];
  io.stdout(renderTable([cols.map(([h]) => h), ...result.items.map((r) => cols.map(([, cell]) => safe(cell(r))))]).replace(/ +$/gm, ''));
  return 0;
}
