/**
 * Throughput comparison between dataplanes (root only), `ebpf.iperf` rows: TCP throughput
 * (iperf3, IPERF_SECONDS per sample) between two pods through a node namespace with no policy,
 * with the empty program on the same tc hooks (the hooks' own cost), with the eBPF dataplane and
 * with the iptables dataplane, both holding the same 10k rules that apply to the pods (the policy
 * shape of `packages/dataplane-ebpf/src/ebpf.bench.ts`); IPERF_ROUNDS rounds of one sample each,
 * ratios are medians of per-round pairs (goal: eBPF ≥ 0.95× no policy). It lives here, not in a
 * dataplane package, because no dataplane depends on another.
 * It must never touch the root namespace (routes, iptables, tc) or the host's /sys/fs/bpf: the
 * eBPF dataplane pins into a bpffs mounted privately here, the topology's namespaces get unique
 * names, and processes (by pid), namespaces and the mount are removed in `finally` blocks.
 * Run: `npm run bench:ebpf` (after the eBPF dataplane's own rows), or `tsx scripts/bench.ts
 * dataplane-throughput` after a build. `GINGHAM_EBPF_BENCH=packet` skips it.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createTopology, iperf3Gbps, probeTcp, type Topology } from '@gingham/dataplane-conformance';
import { createEbpfDataplane } from '@gingham/dataplane-ebpf';
import { createIptablesDataplane } from '@gingham/dataplane-iptables';
import { attachTc, type Collection, createCollection, loadCollectionSpec, type TcLink } from '@gingham/ebpf-loader';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { benchEndpoint, benchObject, median, ruleMessages } from '../packages/dataplane-ebpf/src/ebpf.bench.js';

type Row = { bench: string; metric: string; value: number; unit: string };
type Emit = (row: Row) => void;

const IPERF_SECONDS = 3;
const IPERF_ROUNDS = 15;

const CLIENT_IP = '10.92.0.1';
const SERVER_IP = '10.92.0.2';
const IPERF_PORT = 5201; // rules 4201 and 9201: from s1 (the pods are in s1) to tcp/5201
const DENIED_PORT = 5202; // rules 4202 and 9202: from s2 only, so denied for the client

function waitListening(netns: string, ports: readonly number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = (): void => {
      const r = spawnSync('ip', ['netns', 'exec', netns, 'ss', '-Hltn'], { encoding: 'utf8' });
      if (ports.every((p) => (r.stdout ?? '').includes(`:${p} `))) resolve();
      else if (Date.now() > deadline) reject(new Error(`throughput bench: servers on ${ports.join(', ')} did not start in ${netns}`));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

/** One iperf3 run from the client pod: received Gbit/s. The client is killed by pid on timeout. */
function iperf(topo: Topology): Promise<number> {
  return iperf3Gbps(topo.pod('bench', 'client').netns, SERVER_IP, { port: IPERF_PORT, seconds: IPERF_SECONDS });
}

type Config = 'no_policy' | 'empty_program' | 'ebpf' | 'iptables';

async function iperfBench(emit: Emit, bpffs: ScratchBpffs): Promise<void> {
  const bench = 'ebpf.iperf';
  const topo = createTopology([
    { namespace: 'bench', name: 'client', ip: CLIENT_IP },
    { namespace: 'bench', name: 'server', ip: SERVER_IP },
  ], 'gh-ebpf-bench');
  const pids: number[] = [];
  let emptyProgram: Collection | undefined;
  try {
    emptyProgram = createCollection(loadCollectionSpec(benchObject('empty')));
    const empty = emptyProgram.program('bench_empty');
    const client = topo.pod('bench', 'client');
    const server = topo.pod('bench', 'server');
    for (const argv of [['iperf3', '-s', '-p', String(IPERF_PORT)], ['socat', `TCP-LISTEN:${DENIED_PORT},reuseaddr,fork`, 'EXEC:/bin/echo ok']]) {
      const p = topo.spawnIn(server.netns, argv);
      if (p.pid !== undefined) pids.push(p.pid);
    }
    await waitListening(server.netns, [IPERF_PORT, DENIED_PORT]);
    // Both pods are endpoints with the 10k-rule policy on ingress, and members of s1.
    const messages = ruleMessages(10_000, [benchEndpoint('client', client.iface, CLIENT_IP), benchEndpoint('server', server.iface, SERVER_IP)], { 1: [`${CLIENT_IP}/32`, `${SERVER_IP}/32`] });

    /** One sample of `config`: installs it, checks that it enforces (or not), runs iperf3, removes it. */
    const sample = async (config: Config): Promise<number> => {
      let remove = async (): Promise<void> => {};
      try {
        if (config === 'ebpf') {
          const dp = createEbpfDataplane({ netns: topo.node, bpffs: bpffs.path, name: `bench-${randomBytes(3).toString('hex')}` });
          remove = async () => {
            await dp.clean();
            await dp.close();
          };
          await dp.apply(messages);
          const st = dp.stats();
          if (st.attached.length !== 4 || st.pendingInterfaces.length > 0) throw new Error(`throughput bench: the eBPF dataplane is not on both pods' hooks: ${JSON.stringify(st)}`);
        } else if (config === 'empty_program') {
          // The tc hooks' own cost: the empty program on the same four hooks the dataplane uses.
          const links: TcLink[] = [];
          remove = async () => {
            for (const l of links) l.detach();
          };
          for (const pod of [client, server]) {
            for (const direction of ['ingress', 'egress'] as const) {
              links.push(attachTc({ program: empty, direction, ifname: pod.iface, netns: topo.node, bpffs: bpffs.path }));
            }
          }
        } else if (config === 'iptables') {
          const dp = createIptablesDataplane({ runner: topo.nodeRunner });
          remove = async () => {
            await dp.clean();
            await dp.close(); // releases the instance lock for the next sample's dataplane
          };
          await dp.apply(messages);
        }
        const enforced = !(await probeTcp(topo, client, server, DENIED_PORT, 1000));
        if (enforced !== (config === 'ebpf' || config === 'iptables')) throw new Error(`throughput bench: ${config}: tcp/${DENIED_PORT} (no rule allows it) is ${enforced ? 'denied' : 'allowed'}`);
        return await iperf(topo);
      } finally {
        await remove();
      }
    };

    await iperf(topo); // warm-up
    const configs: Config[] = ['no_policy', 'empty_program', 'ebpf', 'iptables'];
    const got: Record<Config, number[]> = { no_policy: [], empty_program: [], ebpf: [], iptables: [] };
    const overNoPolicy: number[] = [];
    const overIptables: number[] = [];
    // Rounds of one sample per configuration, the order rotated each round: the machine's drift
    // hits every configuration alike, and each round gives paired ratios of samples taken
    // seconds apart.
    for (let round = 0; round < IPERF_ROUNDS; round++) {
      const r = {} as Record<Config, number>;
      for (let i = 0; i < configs.length; i++) {
        const config = configs[(i + round) % configs.length]!;
        r[config] = await sample(config);
        got[config].push(r[config]);
      }
      process.stderr.write(`throughput bench: iperf3 round ${round + 1}: ${configs.map((c) => `${c} ${r[c].toFixed(2)}`).join(', ')} Gbit/s\n`);
      overNoPolicy.push(r.ebpf / r.no_policy);
      overIptables.push(r.ebpf / r.iptables);
    }
    for (const c of configs) {
      emit({ bench, metric: c === 'ebpf' || c === 'iptables' ? `${c}_10k_rules` : c, value: median(got[c]), unit: 'Gbit/s' });
    }
    const spread = (xs: number[]): number => (Math.max(...xs) - Math.min(...xs)) / median(xs);
    emit({ bench, metric: 'no_policy_spread', value: spread(got.no_policy), unit: 'ratio' });
    emit({ bench, metric: 'ebpf_over_no_policy', value: median(overNoPolicy), unit: 'ratio' });
    emit({ bench, metric: 'ebpf_over_no_policy_min', value: Math.min(...overNoPolicy), unit: 'ratio' });
    emit({ bench, metric: 'ebpf_over_iptables', value: median(overIptables), unit: 'ratio' });
    const paired = (a: Config, b: Config): number => median(got[a].map((x, i) => x / got[b][i]!));
    emit({ bench, metric: 'iptables_over_no_policy', value: paired('iptables', 'no_policy'), unit: 'ratio' });
    emit({ bench, metric: 'empty_program_over_no_policy', value: paired('empty_program', 'no_policy'), unit: 'ratio' });
    emit({ bench, metric: 'ebpf_over_empty_program', value: paired('ebpf', 'empty_program'), unit: 'ratio' });
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await topo.destroy();
    emptyProgram?.close();
  }
}

export async function runDataplaneThroughputBench(emit: Emit): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('dataplane throughput bench needs root (scratch network namespaces, a private bpffs, both dataplanes)');
  if (process.env.GINGHAM_EBPF_BENCH === 'packet') return;
  const bpffs = mountScratchBpffs('gh-tput-bench-bpffs-');
  try {
    await iperfBench(emit, bpffs);
  } finally {
    bpffs.release();
  }
}
