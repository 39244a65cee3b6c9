/**
 * `gingham get KIND [NAME] [-n NS|-A] [-o yaml|json|wide]`: calicoctl's get against the
 * directory or etcd datastore. Kinds by Calico's names (plural and short forms as calicoctl
 * accepts them); a table with calicoctl's columns for people (NAMESPACE first with -A, more
 * columns with -o wide), the resources with their resourceVersion for -o yaml/json.
 */
import { parseArgs } from 'node:util';
import { resolveKind, type KindInfo, type StoredResource } from '@gingham/datastore';
import { stringify as stringifyYaml } from 'yaml';
import { UsageError, type CliIo } from '../io.js';
import { escapeText } from '../term.js';
import { renderTable } from '../table.js';
import { DATASTORE_HELP, DATASTORE_OPTIONS, describeDatastore, openDatastore, problemLines } from './datastore-options.js';

export const getHelp = `gingham get KIND [NAME] [-n NAMESPACE | -A] [-o yaml|json|wide] [datastore options]

Lists resources of one kind, or shows one by name. KIND as calicoctl takes it: networkpolicy
(np, pol, policies), globalnetworkpolicy (gnp), stagednetworkpolicy (snp),
stagedglobalnetworkpolicy (sgnp), stagedkubernetesnetworkpolicy (sknp), tier, networkset
(netsets), globalnetworkset (gnetsets), hostendpoint (hep), workloadendpoint (wep), profile
(pro), node (no), clusterinformation (clusterinfo); in a directory datastore also namespace (ns),
pod (po), serviceaccount (sa), kubernetesnetworkpolicy (knp), adminnetworkpolicy (anp),
baselineadminnetworkpolicy (banp), clusternetworkpolicy (cnp).
Namespaced kinds default to namespace "default"; -A lists every namespace.
-o yaml|json prints the resources with metadata.resourceVersion (a list when no NAME is given),
ready for 'gingham replace -f' as a compare-and-swap; --json is -o json.

${DATASTORE_HELP}`;

type Column = [header: string, cell: (r: StoredResource) => string];

const spec = (r: StoredResource): Record<string, unknown> => (r.spec ?? {}) as Record<string, unknown>;
const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));
const list = (v: unknown): string => (Array.isArray(v) ? v.map(str).join(',') : str(v));
const labels = (v: unknown): string =>
  v && typeof v === 'object' ? Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${str(x)}`).join(',') : '';

const NAME: Column = ['NAME', (r) => r.metadata.name];
const TIER: Column = ['TIER', (r) => str(spec(r)['tier']) || 'default'];
const ORDER: Column = ['ORDER', (r) => str(spec(r)['order'])];
const SELECTOR: Column = ['SELECTOR', (r) => str(spec(r)['selector'])];
const NETS: Column = ['NETS', (r) => list(spec(r)['nets'])];

/** calicoctl's columns per kind (`calicoctl/resourcemgr/*.go`): narrow, then wide. */
const COLUMNS: Record<string, [Column[], Column[]]> = {
  Tier: [[NAME, ORDER], [NAME, ORDER, ['DEFAULTACTION', (r) => str(spec(r)['defaultAction'])]]],
  NetworkPolicy: [[NAME, TIER], [NAME, TIER, ORDER, SELECTOR]],
  GlobalNetworkPolicy: [[NAME, TIER], [NAME, TIER, ORDER, SELECTOR]],
  StagedNetworkPolicy: [[NAME, TIER], [NAME, TIER, ORDER, SELECTOR]],
  StagedGlobalNetworkPolicy: [[NAME, TIER], [NAME, TIER, ORDER, SELECTOR]],
  StagedKubernetesNetworkPolicy: [[NAME], [NAME, ['PODSELECTOR', (r) => str(spec(r)['podSelector'])]]],
  NetworkSet: [[NAME], [NAME, NETS]],
  GlobalNetworkSet: [[NAME], [NAME, NETS]],
  HostEndpoint: [
    [NAME, ['NODE', (r) => str(spec(r)['node'])]],
    [NAME, ['NODE', (r) => str(spec(r)['node'])], ['INTERFACE', (r) => str(spec(r)['interfaceName'])], ['IPS', (r) => list(spec(r)['expectedIPs'])], ['PROFILES', (r) => list(spec(r)['profiles'])]],
  ],
  WorkloadEndpoint: [
    [
      ['WORKLOAD', (r) => str(spec(r)['workload'] ?? spec(r)['pod'])],
      ['NODE', (r) => str(spec(r)['node'])],
      ['NETWORKS', (r) => list(spec(r)['ipNetworks'])],
      ['INTERFACE', (r) => str(spec(r)['interfaceName'])],
    ],
    [
      NAME,
      ['WORKLOAD', (r) => str(spec(r)['workload'] ?? spec(r)['pod'])],
      ['NODE', (r) => str(spec(r)['node'])],
      ['NETWORKS', (r) => list(spec(r)['ipNetworks'])],
      ['INTERFACE', (r) => str(spec(r)['interfaceName'])],
      ['PROFILES', (r) => list(spec(r)['profiles'])],
      ['NATS', (r) => (Array.isArray(spec(r)['ipNATs']) ? (spec(r)['ipNATs'] as { internalIP?: string; externalIP?: string }[]).map((n) => `${n.internalIP}:${n.externalIP}`).join(',') : '')],
    ],
  ],
  Profile: [[NAME], [NAME, ['LABELS', (r) => labels(spec(r)['labelsToApply'])]]],
  Node: [
    [NAME],
    [
      NAME,
      ['ASN', (r) => str((spec(r)['bgp'] as { asNumber?: unknown } | undefined)?.asNumber)],
      ['IPV4', (r) => str((spec(r)['bgp'] as { ipv4Address?: unknown } | undefined)?.ipv4Address)],
      ['IPV6', (r) => str((spec(r)['bgp'] as { ipv6Address?: unknown } | undefined)?.ipv6Address)],
    ],
  ],
  ClusterInformation: [
    [NAME, ['CLUSTERGUID', (r) => str(spec(r)['clusterGUID'])], ['CLUSTERTYPE', (r) => str(spec(r)['clusterType'])], ['CALICOVERSION', (r) => str(spec(r)['calicoVersion'])], ['DATASTOREREADY', (r) => str(spec(r)['datastoreReady'])]],
    [NAME, ['CLUSTERGUID', (r) => str(spec(r)['clusterGUID'])], ['CLUSTERTYPE', (r) => str(spec(r)['clusterType'])], ['CALICOVERSION', (r) => str(spec(r)['calicoVersion'])], ['DATASTOREREADY', (r) => str(spec(r)['datastoreReady'])]],
  ],
};

const LABELS: Column = ['LABELS', (r) => labels(r.metadata.labels)];
function columnsFor(info: KindInfo, wide: boolean): Column[] {
  const known = COLUMNS[info.kind];
  if (known && info.apiVersion === 'projectcalico.org/v3') return known[wide ? 1 : 0];
  return wide ? [NAME, LABELS] : [NAME];
}

export async function getCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      ...DATASTORE_OPTIONS,
    },
    allowPositionals: true,
    strict: true,
  });
  const [kindText, name, ...extra] = positionals;
  if (!kindText) throw new UsageError('which kind? e.g. gingham get globalnetworkpolicies');
  if (extra.length > 0) throw new UsageError(`one NAME at most (got ${positionals.length - 1})`);
  const info = resolveKind(kindText);
  if (!info) throw new UsageError(`unknown kind "${escapeText(kindText)}" (e.g. networkpolicy, gnp, tier, hostendpoint, wep; see --help)`);
  const output = values.json ? 'json' : (values.output ?? 'table');
  if (!['table', 'wide', 'yaml', 'json'].includes(output)) throw new UsageError(`-o ${escapeText(output)}: use yaml, json or wide`);
  if (values['all-namespaces'] && values.namespace !== undefined) throw new UsageError('use either -n NAMESPACE or -A, not both');
  if (values['all-namespaces'] && name !== undefined) throw new UsageError('a NAME needs one namespace (-n), not -A');
  if (!info.namespaced && values.namespace !== undefined) throw new UsageError(`${info.kind} is cluster-scoped: -n does not apply`);
  const all = !info.namespaced || values['all-namespaces'] === true;
  const namespace = all ? undefined : (values.namespace ?? 'default');

  const ds = await openDatastore(values);
  try {
    let items: StoredResource[];
    let revision: string | undefined;
    if (name !== undefined) {
      const found = await ds.get({ apiVersion: info.apiVersion, kind: info.kind, name, ...(namespace ? { namespace } : {}) });
      if (!found) {
        io.stderr(`gingham get: ${info.kind} ${namespace ? `${escapeText(namespace)}/` : ''}${escapeText(name)} not found in ${escapeText(describeDatastore(ds))}`);
        return 1;
      }
      items = [found];
    } else {
      const res = await ds.list({ kind: info, ...(namespace ? { namespace } : {}) });
      items = res.items;
      revision = res.revision;
      for (const line of problemLines(res.problems)) io.stderr(line);
    }

    if (output === 'yaml' || output === 'json') {
      const doc = name !== undefined ? items[0] : { apiVersion: info.apiVersion, kind: `${info.kind}List`, metadata: revision ? { resourceVersion: revision } : {}, items };
      io.stdout(output === 'json' ? JSON.stringify(doc, null, 2) : stringifyYaml(doc).trimEnd());
      return 0;
    }
    if (items.length === 0) {
      io.stdout(`no ${info.plural.split('.')[0]} found${namespace ? ` in namespace ${escapeText(namespace)}` : ''} (${escapeText(describeDatastore(ds))})`);
      return 0;
    }
    const cols = [...(info.namespaced && all ? ([['NAMESPACE', (r: StoredResource) => r.metadata.namespace ?? '']] as Column[]) : []), ...columnsFor(info, output === 'wide')];
    io.stdout(renderTable([cols.map(([h]) => h), ...items.map((r) => cols.map(([, cell]) => escapeText(cell(r))))]).replace(/ +$/gm, ''));
    return 0;
  } finally {
    await ds.close();
  }
}
