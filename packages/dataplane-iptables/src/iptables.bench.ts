/**
 * iptables dataplane benchmarks (root only; everything happens in scratch network namespaces
 * created and removed here, processes stopped by pid). JSON lines via `emit`:
 *  - full apply time and rendered line count for 250 local endpoints × 1k and 10k policies,
 *    against a flat rendering of the same policies (no IP sets, no per-policy chains: selector
 *    members expanded into one rule each, every policy inlined in every endpoint chain);
 *  - the apply time of one label change (an IP set delta, through the persistent ipset session):
 *    the first after the full apply, and the median of 21 more, vs. the full apply (goal ≤ 1/100);
 *  - the median apply time of a label move (one address leaves a set and joins another): between
 *    sets that guard different endpoints (in place) and between sets that guard the same ones
 *    (in place it could be seen half-done, so both sets are versioned and the chains naming them
 *    rewritten in one commit), and of a policy change (one policy's port);
 *  - first-packet TCP connect latency with 10 vs. 10k policies in the dataplane (goal ≤ 1.3×).
 * Run: `npx tsx packages/dataplane-iptables/src/iptables.bench.ts`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { applyMessage, emptyDataplaneState, type CompiledPolicy, type DataplaneMessage, type WorkloadEndpointState } from '@gingham/core';
import { createLocalRunner, createNetnsRunner, type CommandRunner } from '@gingham/host';
import { createIptablesDataplane } from './apply/dataplane.js';
import { createTopology, type Topology } from '@gingham/dataplane-conformance';
import { formatIptablesRestore } from './render/format.js';
import { renderState } from './render/render.js';

function stateOf(messages: readonly DataplaneMessage[]) {
  const st = emptyDataplaneState();
  for (const m of messages) applyMessage(st, m);
  return st;
}

type Row = { bench: string; metric: string; value: number; unit: string };
type Emit = (row: Row) => void;

const ENDPOINTS = 250;
const SETS = 200;
const MEMBERS = 10;
const GROUPS = 50;
const LABEL_CHANGES = 21;

const ip = (a: number, i: number): string => `10.${a}.${(i >> 8) & 255}.${i & 255}/32`;
const iface = (i: number): string => `cali${i.toString(16).padStart(11, '0')}`;

/** Policy j: allow TCP to `port` from set sel<j mod 200>, deny from 192.168.<j>.0/24. */
function benchPolicy(j: number, port: number): CompiledPolicy {
  return {
    id: `gnp/bench-${j}`,
    tier: 'default',
    staged: false,
    egress: [],
    ingress: [
      { action: 'Allow', protocol: 6, source: { ipSetId: `s:sel${j % SETS}` }, destination: { ports: [{ min: port, max: port }] } },
      { action: 'Deny', source: { nets: [`192.168.${j % 256}.0/24`] }, destination: {} },
    ],
  };
}

/** Local endpoint i, selected by the policies of `group` (policy j applies to group j mod 50). */
function benchEndpoint(i: number, group: number, policies: number): WorkloadEndpointState {
  const mine: string[] = [];
  for (let j = group; j < policies; j += GROUPS) mine.push(`gnp/bench-${j}`);
  return {
    id: `bench/ep-${i}`,
    name: `ep-${i}`,
    node: 'n1',
    interfaceName: iface(i),
    addresses: [ip(90, i)],
    ingressTiers: mine.length > 0 ? [{ name: 'default', defaultAction: 'Deny', policyIds: mine }] : [],
    egressTiers: [],
    profileIds: ['kns.bench'],
    stagedPolicyIds: [],
  };
}

function syntheticMessages(policies: number, extraEndpoints: WorkloadEndpointState[] = [], extraPolicies: CompiledPolicy[] = []): DataplaneMessage[] {
  const msgs: DataplaneMessage[] = [];
  for (let s = 0; s < SETS; s++) {
    msgs.push({ kind: 'ipset-replace', id: `s:sel${s}`, type: 'nets', members: Array.from({ length: MEMBERS }, (_, m) => ip(80, s * MEMBERS + m)) });
  }
  msgs.push({ kind: 'profile-upsert', profile: { id: 'kns.bench', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } });
  for (let j = 0; j < policies; j++) msgs.push({ kind: 'policy-upsert', policy: benchPolicy(j, 80 + (j % 100)) });
  for (const p of extraPolicies) msgs.push({ kind: 'policy-upsert', policy: p });
  for (let i = 0; i < ENDPOINTS - extraEndpoints.length; i++) msgs.push({ kind: 'workload-endpoint-upsert', endpoint: benchEndpoint(i, i % GROUPS, policies) });
  for (const e of extraEndpoints) msgs.push({ kind: 'workload-endpoint-upsert', endpoint: e });
  return msgs;
}

/** The naive baseline: every policy's rules inlined per endpoint, selector members expanded. */
function flatRestore(messages: DataplaneMessage[]): string {
  const st = stateOf(messages);
  const out = ['*filter', ':flat-FORWARD - [0:0]'];
  const rules: string[] = [];
  for (const e of st.workloadEndpoints.values()) {
    const chain = `flat-tw-${e.interfaceName}`;
    out.push(`:${chain} - [0:0]`);
    rules.push(`-A flat-FORWARD -o ${e.interfaceName} -g ${chain}`);
    rules.push(`-A ${chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    for (const t of e.ingressTiers) {
      for (const id of t.policyIds) {
        for (const r of st.policies.get(id)?.ingress ?? []) {
          const verdict = r.action === 'Allow' ? 'ACCEPT' : 'DROP';
          const port = r.destination.ports?.[0] ? ` -p tcp --dport ${r.destination.ports[0].min}` : '';
          const sources = r.source.ipSetId ? [...(st.ipSets.get(r.source.ipSetId)?.members ?? [])] : (r.source.nets ?? ['0.0.0.0/0']);
          for (const s of sources) rules.push(`-A ${chain} -s ${s}${port} -j ${verdict}`);
        }
      }
    }
    rules.push(`-A ${chain} -j DROP`);
  }
  return `${[...out, ...rules, 'COMMIT'].join('\n')}\n`;
}

/** A runner that counts what it writes: lines of `iptables-restore` input and of `ipset` input (one-shot and session), and the time restores take. */
function countingRunner(inner: CommandRunner): CommandRunner & { restoreLines: number; ipsetLines: number; restoreMs: number; reset(): void } {
  const c = {
    restoreLines: 0,
    ipsetLines: 0,
    restoreMs: 0,
    reset() {
      c.restoreLines = 0;
      c.ipsetLines = 0;
      c.restoreMs = 0;
    },
    description: inner.description,
    async run(argv: readonly string[], options?: Parameters<CommandRunner['run']>[1]) {
      const lines = options?.input === undefined ? 0 : options.input.split('\n').filter((l) => l !== '').length;
      const restore = /tables(-nft|-legacy)?-restore$/.test(argv[0] ?? '');
      if (restore) c.restoreLines += lines;
      else if (argv[0] === 'ipset') c.ipsetLines += lines;
      const t = process.hrtime.bigint();
      try {
        return await inner.run(argv, options);
      } finally {
        if (restore) c.restoreMs += ms(t);
      }
    },
    spawn: (argv: readonly string[], options?: Parameters<CommandRunner['spawn']>[1]) => inner.spawn(argv, options),
    async open(argv: readonly string[]) {
      const p = await inner.open(argv);
      if (argv[0] !== 'ipset') return p;
      const write = p.write.bind(p);
      return Object.assign(p, {
        write: (text: string) => {
          c.ipsetLines += text.split('\n').filter((l) => l !== '' && !l.startsWith('help ')).length;
          return write(text);
        },
      });
    },
  };
  return c;
}

/**
 * Endpoint moves (the agent bench's label change: a local endpoint's `app` changes): one batch
 * upserts the endpoint with the other group's policies and moves its address from the set its
 * old group's source selector names to the new one's. Endpoint i of group g moves to g + 7
 * (mod 50) and back; its address is in set sel<g+1 mod 50> (put there before timing).
 */
async function runEndpointMoveBench(emit: Emit, policies: number, samples: number): Promise<void> {
  const ns = netns();
  const runner = countingRunner(createNetnsRunner(ns.name));
  const dp = createIptablesDataplane({ runner });
  try {
    await dp.apply(syntheticMessages(policies));
    const groupOf = new Map<number, number>();
    const epAt = (i: number, group: number): DataplaneMessage => ({ kind: 'workload-endpoint-upsert', endpoint: benchEndpoint(i, group, policies) });
    const moved = Array.from({ length: Math.ceil(samples / 2) }, (_, k) => (k * 37) % ENDPOINTS);
    for (const i of moved) groupOf.set(i, i % GROUPS);
    await dp.apply(moved.map((i) => ({ kind: 'ipset-add-members', id: `s:sel${(groupOf.get(i)! + 1) % GROUPS}`, members: [ip(90, i)] })));
    const times: number[] = [];
    const restoreMs: number[] = [];
    let restoreLines = 0;
    let ipsetLines = 0;
    let chains = 0;
    let versioned = 0;
    for (let k = 0; k < samples; k++) {
      const i = moved[k >> 1]!;
      const from = groupOf.get(i)!;
      const to = k % 2 === 0 ? (from + 7) % GROUPS : (from + GROUPS - 7) % GROUPS;
      runner.reset();
      const t = process.hrtime.bigint();
      await dp.apply([
        epAt(i, to),
        { kind: 'ipset-remove-members', id: `s:sel${(from + 1) % GROUPS}`, members: [ip(90, i)] },
        { kind: 'ipset-add-members', id: `s:sel${(to + 1) % GROUPS}`, members: [ip(90, i)] },
      ]);
      times.push(ms(t));
      restoreMs.push(runner.restoreMs);
      groupOf.set(i, to);
      restoreLines = Math.max(restoreLines, runner.restoreLines);
      ipsetLines = Math.max(ipsetLines, runner.ipsetLines);
      chains = Math.max(chains, dp.stats().chainsWritten);
      versioned = Math.max(versioned, dp.stats().setsVersioned);
    }
    const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
    const b = `iptables.${policies}`;
    emit({ bench: b, metric: 'endpoint_move_apply_p50', value: pct(times, 50), unit: 'ms' });
    emit({ bench: b, metric: 'endpoint_move_apply_max', value: Math.max(...times), unit: 'ms' });
    emit({ bench: b, metric: 'endpoint_move_restore_p50', value: pct(restoreMs, 50), unit: 'ms' });
    emit({ bench: b, metric: 'endpoint_move_restore_lines', value: restoreLines, unit: 'lines' });
    emit({ bench: b, metric: 'endpoint_move_ipset_lines', value: ipsetLines, unit: 'lines' });
    emit({ bench: b, metric: 'endpoint_move_chains_written', value: chains, unit: 'chains' });
    emit({ bench: b, metric: 'endpoint_move_sets_versioned', value: versioned, unit: 'sets' });
    // The fixed cost of one restore child: an empty filter commit next to this table, and in an
    // empty namespace; and what a re-read of the table (which the dataplane does not do per apply) would cost.
    const timed = async (r: CommandRunner, argv: string[], input?: string): Promise<number> => {
      const ts: number[] = [];
      for (let k = 0; k < 5; k++) {
        const t = process.hrtime.bigint();
        const res = await r.run(argv, input === undefined ? {} : { input });
        if (res.code !== 0) throw new Error(`${argv.join(' ')} failed: ${res.stderr}`);
        ts.push(ms(t));
      }
      return pct(ts, 50);
    };
    const empty = netns();
    try {
      emit({ bench: b, metric: 'restore_empty_commit', value: await timed(runner, ['iptables-restore', '--noflush'], '*filter\nCOMMIT\n'), unit: 'ms' });
      emit({ bench: b, metric: 'restore_empty_commit_empty_netns', value: await timed(createNetnsRunner(empty.name), ['iptables-restore', '--noflush'], '*filter\nCOMMIT\n'), unit: 'ms' });
      emit({ bench: b, metric: 'save_filter', value: await timed(runner, ['iptables-save', '-t', 'filter']), unit: 'ms' });
    } finally {
      empty.destroy();
    }
  } finally {
    await dp.close();
    ns.destroy();
  }
}

function netns(): { name: string; destroy(): void } {
  const name = `gh-ipt-bench-${randomBytes(3).toString('hex')}`;
  const r = spawnSync('ip', ['netns', 'add', name]);
  if (r.status !== 0) throw new Error(`ip netns add ${name} failed`);
  return { name, destroy: () => void spawnSync('ip', ['netns', 'del', name]) };
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

async function connectLatency(topo: Topology, samples: number): Promise<number> {
  const client = topo.pod('bench', 'client');
  const web = topo.pod('bench', 'web');
  const times: number[] = [];
  const runner = createLocalRunner();
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    const r = await runner.run(['ip', 'netns', 'exec', client.netns, 'socat', '-T2', '-t2', '-', `TCP:${web.ip}:80,connect-timeout=2`], { input: '' });
    if (!r.stdout.includes('ok')) throw new Error(`bench connect failed: ${r.stderr}`);
    times.push(ms(t0));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function runIptablesBench(emit: Emit): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('iptables bench needs root (it works only inside scratch network namespaces)');
  let fullApply10k = 0;
  for (const policies of [1000, 10000]) {
    const messages = syntheticMessages(policies);
    const st = stateOf(messages);
    let t0 = process.hrtime.bigint();
    const text = formatIptablesRestore(renderState(st, 4));
    emit({ bench: `iptables.${policies}`, metric: 'render', value: ms(t0), unit: 'ms' });
    emit({ bench: `iptables.${policies}`, metric: 'lines', value: text.split('\n').length, unit: 'lines' });
    const ns = netns();
    try {
      const dp = createIptablesDataplane({ runner: createNetnsRunner(ns.name) });
      t0 = process.hrtime.bigint();
      await dp.apply(messages);
      const full = ms(t0);
      emit({ bench: `iptables.${policies}`, metric: 'full_apply', value: full, unit: 'ms' });
      try {
        // Label changes: IP set deltas through the persistent ipset session (started by the full
        // apply). The first one alone, then the median of LABEL_CHANGES more (alternating add/del).
        // Change i adds member i>>1 to a set (even i) or removes it again (odd i): one line each.
        const change = async (i: number): Promise<number> => {
          const k = i >> 1;
          const member = `10.81.${(k >> 8) & 255}.${k & 255}/32`;
          const t = process.hrtime.bigint();
          await dp.apply([{ kind: i % 2 === 0 ? 'ipset-add-members' : 'ipset-remove-members', id: `s:sel${7 + (k % 50)}`, members: [member] }]);
          const took = ms(t);
          const st = dp.stats();
          if (st.setMembersChanged !== 1 || st.chainsWritten !== 0) throw new Error(`label change ${i} did not change exactly one member: ${JSON.stringify(st)}`);
          return took;
        };
        const first = await change(0);
        emit({ bench: `iptables.${policies}`, metric: 'label_change_first_apply', value: first, unit: 'ms' });
        emit({ bench: `iptables.${policies}`, metric: 'label_change_chains_written', value: dp.stats().chainsWritten, unit: 'chains' });
        const times: number[] = [];
        for (let i = 1; i <= LABEL_CHANGES; i++) times.push(await change(i));
        times.sort((a, b) => a - b);
        const p50 = times[Math.floor(times.length / 2)]!;
        emit({ bench: `iptables.${policies}`, metric: 'label_change_apply', value: p50, unit: 'ms' });
        emit({ bench: `iptables.${policies}`, metric: 'label_change_ratio', value: p50 / full, unit: 'ratio' });
        emit({ bench: `iptables.${policies}`, metric: 'label_change_session', value: dp.ipsetSessionPid() === undefined ? 0 : 1, unit: 'bool' });

        // Label moves: address 10.80.0.<k> leaves set sel<k> and joins sel<k+1> (both named by
        // policies), then moves back. Policy changes: policy j's port moves by one, then back.
        const median = async (n: number, one: (i: number) => Promise<void>): Promise<number> => {
          const ts: number[] = [];
          for (let i = 0; i < n; i++) {
            const t = process.hrtime.bigint();
            await one(i);
            ts.push(ms(t));
          }
          ts.sort((a, b) => a - b);
          return ts[Math.floor(ts.length / 2)]!;
        };
        const member = (s: number): string => ip(80, s * MEMBERS);
        // The expensive changes (a render each) get fewer samples at 10k policies.
        const samples = policies >= 10000 ? 8 : LABEL_CHANGES;
        const moveBy = (distance: number) => (i: number) => {
          const s = 20 + (i >> 1);
          const [from, to] = i % 2 === 0 ? [s, s + distance] : [s + distance, s];
          return dp.apply([
            { kind: 'ipset-add-members', id: `s:sel${to}`, members: [member(s)] },
            { kind: 'ipset-remove-members', id: `s:sel${from}`, members: [member(s)] },
          ]);
        };
        // sel<s> and sel<s+1> guard different endpoint groups (policy j names sel<j mod 200> and
        // applies to group j mod 50); sel<s> and sel<s+50> guard the same group, so one packet's
        // path names both and the move cannot be done in place.
        // An even number of moves: every address ends where it started.
        let written = 0;
        const counted = (distance: number) => async (i: number) => {
          await moveBy(distance)(i);
          written = Math.max(written, dp.stats().chainsWritten);
        };
        const move = await median(LABEL_CHANGES - 1, counted(1));
        emit({ bench: `iptables.${policies}`, metric: 'label_move_apply', value: move, unit: 'ms' });
        emit({ bench: `iptables.${policies}`, metric: 'label_move_ratio', value: move / full, unit: 'ratio' });
        emit({ bench: `iptables.${policies}`, metric: 'label_move_chains_written', value: written, unit: 'chains' });
        written = 0;
        const moveMeet = await median(samples - (samples % 2), counted(50));
        emit({ bench: `iptables.${policies}`, metric: 'label_move_same_endpoints_apply', value: moveMeet, unit: 'ms' });
        emit({ bench: `iptables.${policies}`, metric: 'label_move_same_endpoints_ratio', value: moveMeet / full, unit: 'ratio' });
        emit({ bench: `iptables.${policies}`, metric: 'label_move_same_endpoints_chains_written', value: written, unit: 'chains' });
        const policyChange = await median(samples, async (i) => {
          const j = 3 + 2 * (i >> 1);
          await dp.apply([{ kind: 'policy-upsert', policy: benchPolicy(j, 80 + (j % 100) + (i % 2 === 0 ? 1000 : 0)) }]);
        });
        emit({ bench: `iptables.${policies}`, metric: 'policy_change_apply', value: policyChange, unit: 'ms' });
        emit({ bench: `iptables.${policies}`, metric: 'policy_change_ratio', value: policyChange / full, unit: 'ratio' });
      } finally {
        await dp.close();
      }
      if (policies === 10000) fullApply10k = full;
    } finally {
      ns.destroy();
    }
    await runEndpointMoveBench(emit, policies, policies >= 10000 ? 8 : LABEL_CHANGES - 1);
    const flat = flatRestore(messages);
    emit({ bench: `iptables.flat.${policies}`, metric: 'lines', value: flat.split('\n').length, unit: 'lines' });
    {
      const fns = netns();
      try {
        t0 = process.hrtime.bigint();
        const r = await createNetnsRunner(fns.name).run(['iptables-restore', '--noflush'], { input: flat, timeoutMs: 600_000 });
        if (r.code !== 0) throw new Error(`flat restore failed: ${r.stderr}`);
        emit({ bench: `iptables.flat.${policies}`, metric: 'full_apply', value: ms(t0), unit: 'ms' });
      } finally {
        fns.destroy();
      }
    }
  }
  void fullApply10k;

  // First-packet latency: web is selected by 1/50 of the policies, then allows the client last.
  const topo = createTopology([
    { namespace: 'bench', name: 'client', ip: '10.91.0.1' },
    { namespace: 'bench', name: 'web', ip: '10.91.0.2' },
  ], 'gh-ipt-bench');
  try {
    topo.spawnIn(topo.pod('bench', 'web').netns, ['socat', 'TCP-LISTEN:80,reuseaddr,fork', 'EXEC:/bin/echo ok']);
    await new Promise((r) => setTimeout(r, 300));
    const results: Record<number, number> = {};
    for (const policies of [10, 10000]) {
      const allowClient: CompiledPolicy = {
        id: 'gnp/allow-client',
        tier: 'default',
        staged: false,
        egress: [],
        ingress: [{ action: 'Allow', source: { nets: ['10.91.0.1/32'] }, destination: {} }],
      };
      const webPolicies: string[] = [];
      for (let j = 0; j < policies; j += GROUPS) webPolicies.push(`gnp/bench-${j}`);
      const ep = (name: string, ipAddr: string, ingress: string[]): WorkloadEndpointState => ({
        id: `bench/${name}`,
        name,
        node: 'n1',
        interfaceName: topo.pod('bench', name).iface,
        addresses: [`${ipAddr}/32`],
        ingressTiers: ingress.length > 0 ? [{ name: 'default', defaultAction: 'Deny', policyIds: ingress }] : [],
        egressTiers: [],
        profileIds: ['kns.bench'],
        stagedPolicyIds: [],
      });
      const messages = syntheticMessages(policies, [ep('client', '10.91.0.1', []), ep('web', '10.91.0.2', [...webPolicies, 'gnp/allow-client'])], [allowClient]);
      const dp = createIptablesDataplane({ runner: topo.nodeRunner });
      try {
        await dp.apply(messages);
        await connectLatency(topo, 3);
        results[policies] = await connectLatency(topo, 25);
        emit({ bench: `iptables.connect.${policies}`, metric: 'connect_p50', value: results[policies]!, unit: 'ms' });
      } finally {
        await dp.clean();
        await dp.close();
      }
    }
    emit({ bench: 'iptables.connect', metric: 'ratio_10k_vs_10', value: results[10000]! / results[10]!, unit: 'ratio' });
  } finally {
    await topo.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'endpoint-move') {
  // Only the endpoint-move rows (1k policies), for before/after comparisons.
  if (process.getuid?.() !== 0) throw new Error('iptables bench needs root (it works only inside scratch network namespaces)');
  await runEndpointMoveBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`), 1000, Number(process.argv[3] ?? LABEL_CHANGES - 1));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runIptablesBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`));
}
