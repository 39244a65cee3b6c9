/**
 * `gingham openstack`: Neutron ports and security groups as the Calico resources the OpenStack
 * driver writes. `convert` reads saved API bodies; `fetch` asks a live cloud once (credentials
 * from the OS_* variables of an OpenStack RC file). Both print one `List` on stdout and every
 * problem on stderr; with any error nothing is printed on stdout and the exit code is 1.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Resource, SourceMessage } from '@gingham/core';
import {
  convertNeutron,
  createOpenStackSource,
  formatLocatedProblem,
  formatResourceList,
  keystoneOptionsFromEnv,
  readBodies,
  type BodyInput,
  type ListFormat,
  type NeutronCollection,
} from '@gingham/openstack';
import { UsageError, type CliIo } from '../io.js';

export const openstackHelp = `gingham openstack: Neutron ports and security groups as Calico's OpenStack driver maps them

Usage:
  gingham openstack convert --ports FILE --security-groups FILE [options]   from saved API bodies
  gingham openstack fetch [--host NAME] [options]                           from the cloud, once

convert reads the JSON the APIs return (each flag may repeat, for paginated saves):
  --ports FILE              GET /v2.0/ports            {"ports": [...]}
  --security-groups FILE    GET /v2.0/security-groups  {"security_groups": [...]} with their rules
  --security-group-rules F  GET /v2.0/security-group-rules (when rules were saved separately)
  --networks FILE           GET /v2.0/networks         network name labels
  --subnets FILE            GET /v2.0/subnets          gateways
  --floating-ips FILE       GET /v2.0/floatingips      NAT
  --qos-policies FILE       GET /v2.0/qos/policies     qosControls
  --projects FILE           GET /v3/projects (Keystone) project name and parent labels

fetch authenticates with OS_AUTH_URL and OS_USERNAME/OS_PASSWORD/OS_PROJECT_NAME (or
OS_APPLICATION_CREDENTIAL_ID/_SECRET), honours OS_REGION_NAME and OS_INTERFACE, and lists
everything above; --host NAME lists that host's ports in full and the rest slim, as an agent does.
  --neutron-url URL         use this Neutron endpoint instead of the catalog's

Both:
  --region R                [calico] openstack_region: namespace openstack-region-R
  -o, --output json|yaml    the List's encoding (default json; --json is the same as -o json)

Example (save the API bodies, convert, check):
  TOKEN=$(openstack token issue -f value -c id)
  NEUTRON=$(openstack endpoint list --service network --interface public -f value -c URL)
  curl -s -H "X-Auth-Token: $TOKEN" "$NEUTRON/v2.0/ports" > ports.json
  curl -s -H "X-Auth-Token: $TOKEN" "$NEUTRON/v2.0/security-groups" > sgs.json
  gingham openstack convert --ports ports.json --security-groups sgs.json -o yaml > calico.yaml
  gingham lint -f calico.yaml`;

const FILE_FLAGS: Readonly<Record<string, NeutronCollection>> = {
  ports: 'ports',
  'security-groups': 'securityGroups',
  'security-group-rules': 'securityGroupRules',
  networks: 'networks',
  subnets: 'subnets',
  'floating-ips': 'floatingIps',
  'qos-policies': 'qosPolicies',
  projects: 'projects',
};

function outputFormat(value: string | undefined, json: boolean | undefined): ListFormat {
  if (json && value !== undefined && value !== 'json') throw new UsageError(`--json and -o ${value} disagree`);
  if (value === undefined || value === 'json' || value === 'yaml') return value ?? 'json';
  throw new UsageError(`-o must be json or yaml, not ${JSON.stringify(value)}`);
}

function summary(resources: readonly Resource[], namespace: string): string {
  const count = (kind: string) => resources.filter((r) => r.kind === kind).length;
  return `${count('WorkloadEndpoint')} WorkloadEndpoints and ${count('NetworkPolicy')} NetworkPolicies in namespace ${namespace}`;
}

async function convert(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(FILE_FLAGS).map((f) => [f, { type: 'string' as const, multiple: true as const }])),
      region: { type: 'string' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const format = outputFormat(values.output as string | undefined, values.json as boolean | undefined);
  const files = values as Record<string, string[] | undefined>;
  if (!files.ports?.length) throw new UsageError('--ports FILE is required (the body of GET /v2.0/ports)');
  if (!files['security-groups']?.length) throw new UsageError('--security-groups FILE is required (the body of GET /v2.0/security-groups)');
  const bodies: BodyInput[] = [];
  for (const [flag, collection] of Object.entries(FILE_FLAGS)) {
    for (const file of files[flag] ?? []) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'ENOENT' || code === 'EISDIR') throw new UsageError(`--${flag}: no such file: ${file}`);
        throw e;
      }
      bodies.push({ collection, file, text });
    }
  }
  const read = readBodies(bodies);
  if (read.problems.length > 0) {
    for (const p of read.problems) io.stderr(formatLocatedProblem(p));
    io.stderr(`${read.problems.length} error(s) in the input; nothing converted`);
    return 1;
  }
  const region = values.region as string | undefined;
  const result = convertNeutron(read.inputs, region ? { region } : {});
  const problems = read.locate(result.problems);
  for (const p of problems) io.stderr(formatLocatedProblem(p));
  const errors = problems.filter((p) => p.severity === 'error').length;
  if (errors > 0) {
    io.stderr(`${errors} error(s); nothing printed. Fix the objects named above (or remove them from the input) and run again.`);
    return 1;
  }
  const resources = result.resources.map((r) => r.resource);
  io.stdout(formatResourceList(resources, format));
  io.stderr(`converted ${read.inputs.ports.length} ports and ${read.inputs.securityGroups.length} security groups: ${summary(resources, result.namespace)}`);
  return 0;
}

async function fetchOnce(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { host: { type: 'string' }, region: { type: 'string' }, 'neutron-url': { type: 'string' }, output: { type: 'string', short: 'o' }, json: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const format = outputFormat(values.output, values.json);
  let keystone: ReturnType<typeof keystoneOptionsFromEnv>;
  try {
    keystone = keystoneOptionsFromEnv(process.env);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^gingham: /, ''));
  }
  const source = createOpenStackSource({
    keystone,
    autoPoll: false,
    ...(values.host ? { host: values.host } : {}),
    ...(values.region ? { region: values.region } : {}),
    ...(values['neutron-url'] ? { neutronUrl: values['neutron-url'] } : {}),
  });
  const resources: Resource[] = [];
  await source.start((ms: readonly SourceMessage[]) => {
    for (const m of ms) if (m.kind === 'upsert') resources.push(m.resource);
  });
  try {
    const ok = await source.pollNow({ full: true });
    const status = source.status();
    for (const p of status.problems) io.stderr(`${p.where}: ${p.message}`);
    if (!ok) {
      io.stderr(`gingham openstack fetch: ${status.lastError?.message ?? 'the cloud did not answer'}`);
      return 1;
    }
    if (status.lastError) io.stderr(`warning: ${status.lastError.message}`);
    io.stdout(formatResourceList(resources, format));
    const namespace = resources[0]?.metadata.namespace ?? (values.region ? `openstack-region-${values.region}` : 'openstack');
    io.stderr(`fetched ${summary(resources, namespace)}${status.problems.length > 0 ? `; ${status.problems.length} object(s) left out (above)` : ''}`);
    return 0;
  } finally {
    await source.close();
  }
}

export async function openstackCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'convert') return convert(rest, io);
  if (sub === 'fetch') return fetchOnce(rest, io);
  throw new UsageError(sub === undefined ? 'which one: convert or fetch?' : `unknown subcommand "${sub}" (convert, fetch)`);
}
