/**
 * `gingham agent`: a thin command over `@gingham/agent`. Runs the agent in the foreground until
 * SIGTERM or SIGINT (enforcement stays in the kernel), `--clean` removes what it made, `agent
 * status` asks a running agent what it is doing. Settings: flags > environment > `--config FILE`
 * > defaults; the effective configuration is logged at start with secrets redacted.
 */
import { parseArgs } from 'node:util';
import { agentFlagOptions, cleanAgent, createAgent, DEFAULT_HEALTH_PORT, fetchAgentStatus, formatAgentStatus, resolveAgentConfig } from '@gingham/agent';
import { UsageError, type CliIo } from '../io.js';

export const agentHelp = `Usage: gingham agent --node NAME [--datastore etcd|dir|kubernetes|openstack] [options]
       gingham agent --clean --node NAME [--dataplane iptables|ebpf] [--wireguard ...]
       gingham agent status [--health-host HOST] [--health-port PORT] [--json]

Runs the host agent for node NAME in this network namespace: watches the datastore, keeps the
node's policy enforced in the kernel as things change (new endpoints, labels, policies, new or
recreated interfaces), and with --wireguard keeps a WireGuard mesh to the other nodes. Logs are
JSON lines on stdout. SIGTERM or SIGINT stops the agent and leaves enforcement in place; restart
it to resume, or run --clean to remove everything it made. One agent per node: a second refuses.

Datastore:
  --datastore KIND           dir (default), etcd, kubernetes or openstack (also DATASTORE_TYPE)
  --dir PATH                 directory datastore (default /etc/gingham/resources)
  --etcd-endpoints URLS      etcd (also ETCD_ENDPOINTS); --etcd-ca-cert-file, --etcd-cert-file,
                             --etcd-key-file, --etcd-username, --etcd-password (prefer ETCD_PASSWORD)
  --kubeconfig FILE          kubernetes (default $KUBECONFIG, ~/.kube/config, in-cluster)
  --openstack-region R       openstack (Keystone from the OS_* variables of an openrc)
Dataplane:
  --dataplane KIND           iptables (default), ebpf or none (compute only)
  --iptables-backend B       default, nft or legacy;  --ipv6  also program ip6tables
  --iptables-group-dispatch D  ipset (default: label changes need no iptables commit) or chain
  --interface-prefix P,...   workload interface prefixes (default cali; tap for openstack)
  --bpffs PATH, --ebpf-instance NAME, --ebpf-mode auto|tcx|tc       eBPF pins and attach mode
WireGuard:
  --wireguard                encrypt traffic to the other nodes (peers from Node resources)
  --wireguard-interface N    (default gingham-wg)   --wireguard-key-file F (default /var/lib/gingham/wireguard.key)
  --wireguard-listen-port N  (default 51820)        --wireguard-mode auto|kernel|userspace
Flow logs (read them with gingham flows):
  --flow-logs                collect flow logs: every connection with the policy and rule that decided it and
                             what staged policies would decide (iptables or ebpf; FELIX_FLOWLOGSENABLED=true too)
  --flow-logs-socket PATH    the local stream gingham flows reads (default /run/gingham/flows.sock)
  --flow-logs-file PATH      JSON lines, rotated (default /var/log/gingham/flows.jsonl;
                             GINGHAM_FLOW_LOGS_FILE_ENABLED=false or flowLogsFileEnabled: false for none)
  --flow-logs-aggregation-allowed N, --flow-logs-aggregation-denied N
                             Calico's levels 0-3 (defaults 2 and 1); --flow-logs-flush-interval-ms N (default 15000)
Operation:
  --health-port N            /livez, /readyz, /status, /flows (default ${DEFAULT_HEALTH_PORT}; 0 off); --health-host H (default 127.0.0.1)
  --metrics-port N           Prometheus /metrics (default 9091; 0 off); --metrics-host H (default 0.0.0.0)
  --log-level L              trace, debug, info (default), warn, error
  --lock-dir DIR             instance locks (default /run/gingham/locks)
  --config FILE              settings file (YAML/JSON, the same names in camelCase: healthPort, etcdEndpoints, ...)
  --clean                    remove every rule, program and pin the dataplane made (and the WireGuard interface)
Environment: GINGHAM_<SETTING> (GINGHAM_NODE, GINGHAM_DATAPLANE, GINGHAM_HEALTH_PORT, ...), and Calico's
NODENAME, DATASTORE_TYPE, ETCD_*, KUBECONFIG. Flags win over the environment, which wins over the file.
See docs/agent.md.`;

async function statusCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'health-host': { type: 'string' }, 'health-port': { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  const env = io.env ?? process.env;
  const portText = values['health-port'] ?? env['GINGHAM_HEALTH_PORT'] ?? String(DEFAULT_HEALTH_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--health-port ${portText} is not a port number`);
  const status = await fetchAgentStatus(values['health-host'] ?? env['GINGHAM_HEALTH_HOST'] ?? '127.0.0.1', port);
  io.stdout(values.json ? JSON.stringify(status, null, 2) : formatAgentStatus(status));
  return status.ready ? 0 : 1;
}

export async function agentCommand(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'status') return statusCommand(argv.slice(1), io);
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...agentFlagOptions(), config: { type: 'string' }, clean: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (the only subcommand is status)`);
  const { config: configFile, clean, json, ...flags } = values;
  const env = io.env ?? process.env;
  const { config, origins } = await resolveAgentConfig({ flags, env, ...(configFile !== undefined ? { configFile } : {}) });

  if (clean) {
    const lines = await cleanAgent(config);
    io.stdout(json ? JSON.stringify({ node: config.node, removed: lines }) : lines.map((l) => `gingham agent: ${l}`).join('\n'));
    return 0;
  }

  const agent = createAgent({ config, origins, env });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= agent.stop());
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve(s));
  });
  try {
    await agent.start();
  } catch (err) {
    await stop();
    throw err;
  }
  const outcome = await Promise.race([signalled.then((s) => ({ signal: s })), agent.fatal.then((e) => ({ fatal: e }))]);
  await stop();
  if ('fatal' in outcome) {
    io.stderr(`gingham agent: ${(outcome.fatal as Error).message.replace(/^gingham: /, '')}`);
    // Whatever handle a library left open must not keep a stopped agent alive.
    setTimeout(() => process.exit(1), 2000).unref();
    return 1;
  }
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}
