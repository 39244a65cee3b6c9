// `npm run bench[:suite]`: runs benchmark suites and prints one JSON object a line:
// {"bench": ..., "metric": ..., "value": ..., "unit": ...}. Progress goes to stderr.
// Ratios are only meaningful between rows of the same run (the machine is shared and noisy).
type Row = { bench: string; metric: string; value: number; unit: string };
type Emit = (row: Row) => void;

const suites: Record<string, () => Promise<(emit: Emit) => Promise<void>>> = {
  selector: async () => (await import('../packages/core/src/selector/selector.bench.js')).runSelectorBench,
  evaluate: async () => (await import('../packages/core/src/evaluate/evaluate.bench.js')).runEvaluateBench,
  engine: async () => (await import('../packages/core/src/engine/engine.bench.js')).runEngineBench,
  iptables: async () => (await import('../packages/dataplane-iptables/src/iptables.bench.js')).runIptablesBench,
  'iptables-label-change': async () => (await import('../packages/dataplane-iptables/src/label-change.bench.js')).runLabelChangeBench,
  'iptables-restore-cost': async () => (await import('../packages/dataplane-iptables/src/restore-cost.bench.js')).runRestoreCostBench,
  'iptables-commit-shape': async () => (await import('../packages/dataplane-iptables/src/commit-shape.bench.js')).runCommitShapeBench,
  'iptables-flows': async () => (await import('../packages/dataplane-iptables/src/flows.bench.js')).runIptablesFlowsBench,
  wireguard: async () => (await import('../packages/wireguard/src/wireguard.bench.js')).runWireguardBench,
  'ebpf-move': async () => (await import('../packages/dataplane-ebpf/src/move.bench.js')).runMoveBench,
  'ebpf-new-interface': async () => (await import('../packages/dataplane-ebpf/src/new-interface.bench.js')).runNewInterfaceBench,
  'ebpf-datapath': async () => (await import('../packages/dataplane-ebpf/src/ebpf.bench.js')).runEbpfBench,
  'ebpf-fill': async () => (await import('../packages/dataplane-ebpf/src/fill.bench.js')).runEbpfFillBench,
  'dataplane-throughput': async () => (await import('./dataplane-throughput.bench.js')).runDataplaneThroughputBench,
  flows: async () => (await import('../packages/dataplane-ebpf/src/flows.bench.js')).runFlowsBench,
  datastore: async () => (await import('../packages/datastore/src/datastore.bench.js')).runDatastoreBench,
  input: async () => (await import('../packages/cli/test/input.bench.js')).runInputBench,
  openstack: async () => (await import('../packages/openstack/src/openstack.bench.js')).runOpenStackBench,
  k8s: async () => (await import('../packages/k8s/src/k8s.bench.js')).runK8sBench,
  agent: async () => (await import('../packages/agent/src/agent.bench.js')).runAgentBench,
  'agent-flows': async () => (await import('../packages/agent/src/flow-snapshot.bench.js')).runAgentFlowsBench,
  'insights-diff': async () => (await import('../packages/core/src/analysis/diff.bench.js')).runInsightsBench,
  'insights-flows': async () => (await import('../packages/core/src/insights/insights.bench.js')).runInsightsFlowsBench,
  testkit: async () => (await import('../packages/testkit/src/testkit.bench.js')).runTestkitBench,
};
const groups: Record<string, string[]> = { core: ['selector', 'evaluate'], ebpf: ['ebpf-datapath', 'dataplane-throughput'], sources: ['k8s', 'openstack'], insights: ['insights-diff', 'insights-flows'] };

// `--dataplane iptables|ebpf`: the dataplane of the suites that run one (agent).
const args = process.argv.slice(2);
const dp = args.indexOf('--dataplane');
if (dp >= 0) {
  process.env['GINGHAM_BENCH_DATAPLANE'] = args[dp + 1] ?? '';
  args.splice(dp, 2);
}
const wanted = args.flatMap((name) => groups[name] ?? [name]);
if (wanted.length === 0) wanted.push(...groups.core!);

const emit: Emit = (row) => {
  const value = Number.isInteger(row.value) ? row.value : Number(row.value.toPrecision(6));
  process.stdout.write(`${JSON.stringify({ ...row, value })}\n`);
};

for (const name of wanted) {
  const load = suites[name];
  if (!load) {
    process.stderr.write(`bench: unknown suite ${name}; known: ${Object.keys(suites).join(', ')}\n`);
    process.exit(2);
  }
  process.stderr.write(`bench: running ${name}\n`);
  await (await load())(emit);
}
