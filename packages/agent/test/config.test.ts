import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redactedConfig, resolveAgentConfig } from '@gingham/agent';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const file = async (text: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'gingham-agent-config-'));
  dirs.push(dir);
  const path = join(dir, 'agent.yaml');
  await writeFile(path, text);
  return path;
};

describe('agent configuration', () => {
  it('takes flags over the environment over the file over defaults, and says where each came from', async () => {
    const configFile = await file('node: from-file\nhealthPort: 9100\nmetricsPort: 9200\nlogLevel: debug\n');
    const { config, origins } = await resolveAgentConfig({
      flags: { 'health-port': '9300' },
      env: { GINGHAM_METRICS_PORT: '9400', NODENAME: 'from-env' },
      configFile,
    });
    expect(config).toMatchObject({ node: 'from-env', healthPort: 9300, metricsPort: 9400, logLevel: 'debug', dataplane: 'iptables', datastore: 'dir' });
    expect(origins).toMatchObject({ node: 'env NODENAME', healthPort: 'flag', metricsPort: 'env GINGHAM_METRICS_PORT', logLevel: `file ${configFile}`, dataplane: 'default' });
  });

  it("reads Calico's names: DATASTORE_TYPE=etcdv3 and ETCD_ENDPOINTS", async () => {
    const { config } = await resolveAgentConfig({ flags: { node: 'n1' }, env: { DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: 'http://10.0.0.1:2379' } });
    expect(config).toMatchObject({ datastore: 'etcd', etcdEndpoints: 'http://10.0.0.1:2379' });
  });

  it('takes the iptables group dispatch from a flag, the environment or the file, and refuses other values', async () => {
    expect((await resolveAgentConfig({ flags: { node: 'n1' } })).config.iptablesGroupDispatch).toBe('ipset');
    expect((await resolveAgentConfig({ flags: { node: 'n1', 'iptables-group-dispatch': 'chain' } })).config.iptablesGroupDispatch).toBe('chain');
    expect((await resolveAgentConfig({ flags: { node: 'n1' }, env: { GINGHAM_IPTABLES_GROUP_DISPATCH: 'chain' } })).config.iptablesGroupDispatch).toBe('chain');
    const configFile = await file('node: n1\niptablesGroupDispatch: jump\n');
    await expect(resolveAgentConfig({ configFile })).rejects.toMatchObject({ code: 'AGENT_CONFIG', message: expect.stringContaining(`${configFile}:2:`) });
  });

  it('names the file, line, column and setting of a bad value', async () => {
    const configFile = await file('node: n1\nhealthPort: lots\n');
    await expect(resolveAgentConfig({ configFile })).rejects.toMatchObject({ code: 'AGENT_CONFIG', message: expect.stringContaining(`${configFile}:2:13: healthPort: expected a whole number`) });
  });

  it('refuses an unknown setting in the file, suggesting the right one', async () => {
    const configFile = await file('node: n1\nhealth-port: 9099\n');
    await expect(resolveAgentConfig({ configFile })).rejects.toMatchObject({ code: 'AGENT_CONFIG', message: expect.stringMatching(/:2:1: unknown setting "health-port"; did you mean healthPort\?/) });
  });

  it('refuses etcd settings given for another datastore, a missing node name and clashing ports', async () => {
    await expect(resolveAgentConfig({ flags: { node: 'n1', 'etcd-endpoints': 'http://x:2379' } })).rejects.toThrow(/--etcd-endpoints is for the etcd datastore/);
    await expect(resolveAgentConfig({ flags: {} })).rejects.toThrow(/node name is required/);
    await expect(resolveAgentConfig({ flags: { node: 'N_1' } })).rejects.toThrow(/not a valid node name/);
    await expect(resolveAgentConfig({ flags: { node: 'n1', 'metrics-port': '9099' } })).rejects.toThrow(/is the health port too/);
    // ETCD_* in the environment is fine with another datastore: other tools read it too.
    await expect(resolveAgentConfig({ flags: { node: 'n1' }, env: { ETCD_ENDPOINTS: 'http://x:2379' } })).resolves.toBeDefined();
  });

  it('uses the tap prefix for OpenStack and never shows a password', async () => {
    const os = await resolveAgentConfig({ flags: { node: 'compute-1', datastore: 'openstack' } });
    expect(os.config.interfacePrefixes).toEqual(['tap']);
    const etcd = await resolveAgentConfig({ flags: { node: 'n1', datastore: 'etcd' }, env: { ETCD_PASSWORD: 's3cret' } });
    expect(etcd.config.etcdPassword).toBe('s3cret');
    expect(JSON.stringify(redactedConfig(etcd.config))).not.toContain('s3cret');
    await expect(resolveAgentConfig({ flags: { node: 'n1', 'health-port': 'x' }, env: {} })).rejects.toThrow(/--health-port: expected a whole number/);
  });
  it('reads the flow-log settings from flags, Felix-like environment names and the file, with their defaults', async () => {
    const { config: defaults } = await resolveAgentConfig({ flags: { node: 'n1' }, env: {} });
    expect(defaults).toMatchObject({
      flowLogsEnabled: false,
      flowLogsFileEnabled: true,
      flowLogsFile: '/var/log/gingham/flows.jsonl',
      flowLogsSocket: '/run/gingham/flows.sock',
      flowLogsAggregationKindForAllowed: 2,
      flowLogsAggregationKindForDenied: 1,
      flowLogsFlushIntervalMs: 15_000,
    });
    const configFile = await file('node: n1\nflowLogsFileEnabled: false\nflowLogsAggregationKindForDenied: 0\nflowLogsFlushIntervalMs: 5000\n');
    const { config, origins } = await resolveAgentConfig({
      flags: { 'flow-logs-socket': '/tmp/f.sock', 'flow-logs-aggregation-allowed': '3', dataplane: 'ebpf' },
      env: { FELIX_FLOWLOGSENABLED: 'true' },
      configFile,
    });
    expect(config).toMatchObject({ flowLogsEnabled: true, flowLogsFileEnabled: false, flowLogsSocket: '/tmp/f.sock', flowLogsAggregationKindForAllowed: 3, flowLogsAggregationKindForDenied: 0, flowLogsFlushIntervalMs: 5000 });
    expect(origins).toMatchObject({ flowLogsEnabled: 'env FELIX_FLOWLOGSENABLED', flowLogsSocket: 'flag', flowLogsFileEnabled: `file ${configFile}` });
  });

  it('refuses flow logs without an enforcing dataplane, and aggregation levels outside 0..3, naming where', async () => {
    await expect(resolveAgentConfig({ flags: { node: 'n1', 'flow-logs': true, dataplane: 'none' }, env: {} })).rejects.toThrow(/--flow-logs: flow logs need a dataplane that enforces .*--dataplane/);
    // Both enforcing dataplanes take flow logs (iptables' default included).
    await expect(resolveAgentConfig({ flags: { node: 'n1', 'flow-logs': true }, env: {} })).resolves.toMatchObject({ config: { dataplane: 'iptables', flowLogsEnabled: true } });
    await expect(resolveAgentConfig({ flags: { node: 'n1' }, env: { GINGHAM_FLOW_LOGS_AGGREGATION_KIND_FOR_DENIED: '4' } })).rejects.toThrow(/GINGHAM_FLOW_LOGS_AGGREGATION_KIND_FOR_DENIED="4": 4 is outside 0\.\.3/);
    const configFile = await file('node: n1\nflowLogsFlushIntervalMs: 10\n');
    await expect(resolveAgentConfig({ flags: {}, env: {}, configFile })).rejects.toThrow(new RegExp(`${configFile}:2:26: flowLogsFlushIntervalMs: 10 is outside 1000\\.\\.3600000`));
  });
});
