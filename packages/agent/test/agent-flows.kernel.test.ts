/**
 * `gingham agent --flow-logs` as a real process in a node namespace, with a real etcd and the
 * eBPF dataplane (the ring buffer + flowstats, its pins in a bpffs this test mounts and
 * unmounts; written for each dataplane, iptables to be added back once it can run in the agent): a real TCP connection that policy allows and one it
 * denies, read back with `gingham flows --json` through the agent's unix-socket stream, each with
 * the enforced trace (policy and rule) the kernel decided and the pending trace of a staged
 * policy. Pods: client (app=client), web (app=web, the only one policy selects), denied
 * (app=denied). Policy: web admits app=client on 80; a StagedGlobalNetworkPolicy ordered before it
 * would deny client → web. The agent and every helper process are killed by PID in afterAll.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowRecord, Resource } from '@gingham/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRun, CLI, createAgentNode, NAMESPACE_PROFILE, probeTcp, stopAgent, wep, type AgentNode, type AgentProcess } from './support/agent-node.js';

const missing = canRun();
const PODS = [
  { namespace: 'default', name: 'client', ip: '10.65.0.2', iface: 'caliclient' },
  { namespace: 'default', name: 'web', ip: '10.65.0.3', iface: 'caliweb' },
  { namespace: 'default', name: 'denied', ip: '10.65.0.4', iface: 'calidenied' },
];
const policy: Resource = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: 'web-from-client' },
  spec: { selector: "app == 'web'", ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: "app == 'client'" }, destination: { ports: [80] } }] },
};
const staged: Resource = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'StagedGlobalNetworkPolicy',
  metadata: { name: 'web-lockdown' },
  spec: { stagedAction: 'Set', order: 1, selector: "app == 'web'", types: ['Ingress'], ingress: [{ action: 'Deny', source: { selector: "app == 'client'" } }] },
};

// iptables is refused with --flow-logs for now (its flow source aborts inside the agent process).
describe.skipIf(missing.length > 0).each(['ebpf'] as const)('gingham agent --flow-logs with etcd and %s, real connections', (dataplane) => {
  let n: AgentNode;
  let agent: AgentProcess | undefined;
  let sock: string;
  let bpffs: string | undefined;
  const instance = `afl${process.pid}`;
  const dataplaneArgs = (): string[] => (dataplane === 'ebpf' ? ['--dataplane', 'ebpf', '--bpffs', bpffs!, '--ebpf-instance', instance] : ['--dataplane', 'iptables']);
  const fail = (what: string) => new Error(`${what}\n--- agent output ---\n${agent?.output().slice(-6000)}`);
  const flows = (...args: string[]): FlowRecord[] => {
    const r = spawnSync(process.execPath, [CLI, 'flows', '--json', '--all', '--socket', sock, ...args], { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) throw fail(`gingham flows exited ${r.status}: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as FlowRecord);
  };

  beforeAll(async () => {
    n = await createAgentNode(PODS, dataplane === 'ebpf' ? 'gh-afe' : 'gh-afi');
    sock = join(n.dir, 'flows.sock');
    if (dataplane === 'ebpf') {
      // A bpffs of our own: the pins live (and are removed) here, never under /sys/fs/bpf.
      bpffs = join(n.dir, 'bpffs');
      mkdirSync(bpffs);
      const m = spawnSync('mount', ['-t', 'bpf', 'bpffs', bpffs], { encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`mount -t bpf: ${m.stderr}`);
    }
    await n.apply([NAMESPACE_PROFILE, ...PODS.map((p) => wep(n.topo.node, p.name, p.ip, { app: p.name }, p.iface)), policy, staged]);
    agent = n.startAgent([...dataplaneArgs(), '--flow-logs', '--flow-logs-socket', sock, '--flow-logs-file', join(n.dir, 'flows.jsonl'), '--flow-logs-flush-interval-ms', '1000', '--flow-logs-aggregation-allowed', '1']);
    await n.waitReady(60_000).catch((e: Error) => {
      throw fail(e.message);
    });
  });
  afterAll(async () => {
    if (agent) await stopAgent(agent, 'SIGKILL');
    if (n) {
      spawnSync('nsenter', [`--net=/run/netns/${n.topo.node}`, process.execPath, CLI, 'agent', '--clean', '--node', n.topo.node, '--lock-dir', join(n.dir, 'locks'), ...dataplaneArgs()], { encoding: 'utf8', timeout: 60_000 });
      if (bpffs) spawnSync('umount', [bpffs]);
      await n.destroy();
    }
  });

  it('shows an allowed and a denied TCP connection with the deciding policy and rule, and the staged verdict', async () => {
    expect(await probeTcp(n.topo, n.pod('client'), n.pod('web'), 80, 1000)).toBe(true);
    expect(await probeTcp(n.topo, n.pod('denied'), n.pod('web'), 80, 1000)).toBe(false);
    const find = (records: FlowRecord[], from: string, action: string) => records.find((r) => r.reporter === 'dst' && r.source_name === from && r.dest_name === 'web' && r.dest_port === 80 && r.action === action);
    let records: FlowRecord[] = [];
    await expect
      .poll(() => {
        records = flows('--to', 'default/web');
        return Boolean(find(records, 'client', 'allow') && find(records, 'denied', 'deny'));
      }, { timeout: 20_000, interval: 500 })
      .toBe(true)
      .catch(() => {
        throw fail(`records: ${JSON.stringify(records, null, 1).slice(0, 4000)}`);
      });

    const allowed = find(records, 'client', 'allow')!;
    expect(allowed).toMatchObject({ source_namespace: 'default', dest_namespace: 'default', proto: 'tcp' });
    expect(allowed.policies.enforced.at(-1)).toMatchObject({ kind: 'GlobalNetworkPolicy', tier: 'default', name: 'web-from-client', action: 'allow', rule_index: 0 });
    expect(allowed.policies.pending.at(-1)).toMatchObject({ kind: 'StagedGlobalNetworkPolicy', tier: 'default', name: 'web-lockdown', action: 'deny', rule_index: 0 });
    expect(allowed.num_connections_started).toBeGreaterThanOrEqual(1);

    const denied = find(records, 'denied', 'deny')!;
    // No rule of the default tier matched: its end-of-tier deny, triggered by the policy that selects web.
    expect(denied.policies.enforced.at(-1)).toMatchObject({ tier: 'default', action: 'deny', rule_index: -1 });
    expect(denied.policies.pending.at(-1)).toMatchObject({ tier: 'default', action: 'deny', rule_index: -1 });

    // The client's own egress end: allowed by the namespace's profile.
    expect(records.length).toBeGreaterThanOrEqual(2);
    const src = flows('--from', 'default/client', '--reporter', 'src').find((r) => r.dest_name === 'web');
    expect(src?.policies.enforced.at(-1)).toMatchObject({ kind: 'Profile', name: 'kns.default', action: 'allow' });

    // The filters of the stream: --pending shows the flow a staged policy would change.
    expect(flows('--pending', '--to', 'default/web').some((r) => r.source_name === 'client' && r.reporter === 'dst')).toBe(true);

    const status = n.status()!;
    expect(status['flowLogs']).toMatchObject({ source: dataplane, socket: sock, lostEvents: 0 });
    expect((status['health'] as { reporters: { name: string; ready: boolean }[] }).reporters.find((r) => r.name === 'flow-logs')).toMatchObject({ ready: true });
  });

  it('SIGTERM flushes the last window to the file and removes the socket', async () => {
    const r = await stopAgent(agent!);
    agent = undefined;
    expect(r.code).toBe(0);
    const file = spawnSync('cat', [join(n.dir, 'flows.jsonl')], { encoding: 'utf8' }).stdout;
    expect(file).toContain('"dest_name":"web"');
    expect(spawnSync('test', ['-e', sock]).status).not.toBe(0);
  });
});
