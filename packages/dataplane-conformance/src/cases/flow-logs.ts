/**
 * Flow-log conformance: every dataplane's flow source, fed through the collector of
 * `@gingham/flows`, must turn real connections between pods into the records `evaluate()`
 * implies: per enforcement point that decided, a record with its reporter, action, enforced and
 * pending hits (`policyTraceHits(evaluate())`), and counters of the packets that really went
 * (each probe is one connection; allowed TCP ones complete). `testFlowLogs` registers the cases
 * for one dataplane and returns the normalized records per case, so a file that runs two
 * dataplanes can check that they agree (`compareFlowLogResults`).
 */
import { spawnSync } from 'node:child_process';
import { buildSnapshot, createEngine, evaluate, formatPolicyHit, policyTraceHits, type FlowRecord, type FlowSource, type Resource } from '@gingham/core';
import { createFlowCollector } from '@gingham/flows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECHO_PORT, loadResources, NODE, TCP_PORTS, UDP_PORTS, WORLD, WORLD_PODS, type ConformanceProbe } from './cases.js';
import { createTopology, type Topology } from '../topology/topology.js';
import { probeTcp, probeUdp } from '../topology/probes.js';
import { startServers } from '../topology/servers.js';
import type { ConformanceDataplane, ConformanceEnv } from '../suite/options.js';

export interface FlowLogCase {
  readonly name: string;
  readonly manifests: string;
  readonly probes: readonly ConformanceProbe[];
}

const tcp = (from: string, to: string, port: number, expect: boolean): ConformanceProbe => ({ from, to, protocol: 'TCP', port, expect });
const udp = (from: string, to: string, port: number, expect: boolean): ConformanceProbe => ({ from, to, protocol: 'UDP', port, expect });

const WEB_IN = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: 8080}]}]
`;

export const FLOW_LOG_CASES: readonly FlowLogCase[] = [
  {
    name: 'allowed: a Kubernetes policy rule at the destination, the namespace profile at the source; UDP too',
    manifests: WEB_IN,
    probes: [tcp('a/db', 'a/web', 8080, true), udp('a/web', 'a/db', 53, true)],
  },
  {
    name: 'denied: the end of a tier at the destination, an explicit Deny rule of a tier passed through at the source',
    manifests: `${WEB_IN}---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.no-client-https}
spec:
  tier: security
  selector: app == 'client'
  types: [Egress]
  egress: [{action: Deny, protocol: TCP, destination: {ports: [443]}}, {action: Pass}]
`,
    probes: [tcp('b/client', 'a/web', 8080, false), tcp('b/client', 'a/db', 443, false), tcp('b/client', 'a/db', 80, true)],
  },
  {
    name: 'pending: a staged policy that would deny what the profile allows today',
    manifests: `
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: web-lockdown, namespace: a}
spec:
  stagedAction: Set
  selector: app == 'web'
  types: [Ingress]
  ingress: [{action: Allow, source: {selector: app == 'db'}}]
`,
    probes: [tcp('b/client', 'a/web', 80, true), tcp('a/db', 'a/web', 80, true)],
  },
];

/** What two dataplanes' records must share (counters compared within a tolerance). */
export interface NormalizedFlowRecord {
  readonly key: string;
  readonly action: FlowRecord['action'];
  readonly enforced: readonly string[];
  readonly pending: readonly string[];
  readonly packets_in: number;
  readonly packets_out: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly num_connections_started: number;
  readonly num_connections_completed: number;
}

export function normalizeFlowRecord(r: FlowRecord): NormalizedFlowRecord {
  return {
    key: `${r.reporter} ${r.source_namespace}/${r.source_name} -> ${r.dest_namespace}/${r.dest_name} ${r.proto}/${r.dest_port}`,
    action: r.action,
    enforced: r.policies.enforced.map(formatPolicyHit),
    pending: r.policies.pending.map(formatPolicyHit),
    packets_in: r.packets_in,
    packets_out: r.packets_out,
    bytes_in: r.bytes_in,
    bytes_out: r.bytes_out,
    num_connections_started: r.num_connections_started,
    num_connections_completed: r.num_connections_completed,
  };
}

export interface FlowLogDataplane {
  readonly dataplane: ConformanceDataplane;
  /** The dataplane's flow source (flow logs on). */
  readonly source: FlowSource;
}

export interface FlowLogCapabilities {
  readonly mustRun?: boolean;
}

/** Records of each case, by case name, filled as the cases run. */
export type FlowLogResults = Map<string, NormalizedFlowRecord[]>;

function missingTools(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const [t, arg] of [['ip', '-V'], ['socat', '-V'], ['conntrack', '--version']] as const) if (spawnSync(t, [arg], { stdio: 'ignore' }).status !== 0) missing.push(t);
  return missing;
}

/**
 * Registers the flow-log cases for one dataplane. `factory` makes the dataplane (flow logs on)
 * and its flow source for the node namespace; both are closed after each case.
 */
export function testFlowLogs(name: string, factory: (env: ConformanceEnv) => FlowLogDataplane | Promise<FlowLogDataplane>, caps: FlowLogCapabilities = {}): FlowLogResults {
  const results: FlowLogResults = new Map();
  const missing = missingTools();
  describe.skipIf(missing.length > 0 && caps.mustRun !== true)(`flow-log conformance: ${name}`, () => {
    let topo: Topology;
    let last: FlowLogDataplane | undefined;
    beforeAll(async () => {
      if (missing.length > 0) throw new Error(`missing capabilities: ${missing.join(', ')}`);
      topo = createTopology(WORLD_PODS, 'gh-fl');
      await startServers(topo, TCP_PORTS, UDP_PORTS, ECHO_PORT);
    });
    afterAll(async () => {
      try {
        await last?.dataplane.clean?.();
        await last?.dataplane.close?.();
      } finally {
        await topo?.destroy();
      }
    });

    for (const c of FLOW_LOG_CASES) {
      it(c.name, async () => {
        spawnSync('ip', ['netns', 'exec', topo.node, 'conntrack', '-F'], { stdio: 'ignore' });
        await last?.dataplane.close?.();
        last = undefined;
        const resources: Resource[] = loadResources(WORLD + (c.manifests ? `---\n${c.manifests}` : ''));
        const { snapshot } = buildSnapshot(resources);
        const made = await factory({ runner: topo.nodeRunner, nodeNamespace: topo.node, topology: topo });
        last = made;
        const engine = createEngine({ node: NODE, dataplane: made.dataplane });
        for (const r of resources) engine.upsert(r);
        await engine.flush();
        const collector = createFlowCollector({ source: made.source, snapshot: () => snapshot, timers: false, aggregation: { allowed: 2, denied: 2 }, countersIntervalMs: 1 });
        try {
          await collector.poll({ counters: true }); // drain what came before the probes
          await collector.flush();
          const expected: NormalizedFlowRecord[] = [];
          for (const p of c.probes) {
            const [fns, fname] = p.from.split('/') as [string, string];
            const [tns, tname] = p.to.split('/') as [string, string];
            const result = evaluate(snapshot, { src: p.from, dst: p.to, protocol: p.protocol, dstPort: p.port });
            expect(result.allowed, `evaluate() for ${p.from} -> ${p.to} ${p.protocol}/${p.port}`).toBe(p.expect);
            const ok = p.protocol === 'TCP' ? await probeTcp(topo, topo.pod(fns, fname), topo.pod(tns, tname), p.port) : await probeUdp(topo, topo.pod(fns, fname), topo.pod(tns, tname), p.port);
            expect(ok, `kernel verdict for ${p.from} -> ${p.to} ${p.protocol}/${p.port}`).toBe(p.expect);
            for (const reporter of ['src', 'dst'] as const) {
              const side = reporter === 'src' ? result.trace.egress : result.trace.ingress;
              if (reporter === 'dst' && !result.trace.egress.allowed) continue;
              const hits = policyTraceHits(result, reporter);
              expected.push({
                key: `${reporter} ${fns}/${fname} -> ${tns}/${tname} ${p.protocol.toLowerCase()}/${p.port}`,
                action: side.allowed ? 'allow' : 'deny',
                enforced: hits.enforced.map(formatPolicyHit),
                pending: hits.pending.map(formatPolicyHit),
                packets_in: 0, packets_out: 0, bytes_in: 0, bytes_out: 0, num_connections_started: 0, num_connections_completed: 0,
              });
            }
            await collector.poll();
          }
          // Closed TCP connections count as completed once idle after FIN (2 s in the eBPF source).
          await new Promise((r) => setTimeout(r, 2500));
          const w = await collector.flush();
          const got = w.records.map(normalizeFlowRecord).sort((a, b) => (a.key < b.key ? -1 : 1));
          results.set(c.name, got);
          const shape = (r: NormalizedFlowRecord) => ({ key: r.key, action: r.action, enforced: r.enforced, pending: r.pending });
          expect(got.map(shape)).toEqual(expected.map(shape).sort((a, b) => (a.key < b.key ? -1 : 1)));
          expect(w.summary.lost_events).toBe(0);
          const deniedAtDestination = new Set(got.filter((r) => r.key.startsWith('dst') && r.action === 'deny').map((r) => r.key.slice(4)));
          for (const r of got) {
            expect(r.num_connections_started, `${r.key}: connections started`).toBe(1);
            if (r.action === 'deny') {
              // Every denied packet (the first and its retransmissions) is seen where it was denied.
              expect(r.packets_in + r.packets_out, `${r.key}: denied packets`).toBeGreaterThanOrEqual(1);
              expect(r.bytes_in + r.bytes_out, `${r.key}: denied bytes`).toBeGreaterThanOrEqual(40);
            } else {
              const initiatorToResponder = r.key.startsWith('src') ? r.packets_out : r.packets_in;
              const replies = r.key.startsWith('src') ? r.packets_in : r.packets_out;
              expect(initiatorToResponder, `${r.key}: initiator packets`).toBeGreaterThanOrEqual(1);
              // Allowed here but denied at the destination: the first packet (and its
              // retransmissions) went out, nothing came back, and the connection never started.
              if (deniedAtDestination.has(r.key.slice(4))) {
                expect(replies, `${r.key}: reply packets`).toBe(0);
                continue;
              }
              expect(replies, `${r.key}: reply packets`).toBeGreaterThanOrEqual(1);
              if (r.key.includes(' tcp/')) expect(r.num_connections_completed, `${r.key}: completed`).toBe(1);
            }
          }
        } finally {
          await collector.close();
        }
      });
    }
  });
  return results;
}

/**
 * Two dataplanes' records of the same cases agree: same keys, actions and hits; counters within
 * `tolerance` (a retransmission or a delayed ACK may differ between runs).
 */
export function compareFlowLogResults(a: FlowLogResults, b: FlowLogResults, tolerance = { packets: 3, bytesRatio: 0.25 }): string[] {
  const problems: string[] = [];
  for (const [name, ra] of a) {
    const rb = b.get(name);
    if (!rb) {
      problems.push(`${name}: only one dataplane ran`);
      continue;
    }
    const byKey = new Map(rb.map((r) => [r.key, r]));
    for (const x of ra) {
      const y = byKey.get(x.key);
      if (!y) {
        problems.push(`${name}: ${x.key} missing`);
        continue;
      }
      byKey.delete(x.key);
      if (x.action !== y.action || x.enforced.join() !== y.enforced.join() || x.pending.join() !== y.pending.join()) problems.push(`${name}: ${x.key}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
      for (const f of ['packets_in', 'packets_out'] as const) if (Math.abs(x[f] - y[f]) > tolerance.packets) problems.push(`${name}: ${x.key}: ${f} ${x[f]} vs ${y[f]}`);
      for (const f of ['bytes_in', 'bytes_out'] as const) {
        const hi = Math.max(x[f], y[f]);
        if (hi > 0 && Math.abs(x[f] - y[f]) / hi > tolerance.bytesRatio) problems.push(`${name}: ${x.key}: ${f} ${x[f]} vs ${y[f]}`);
      }
      for (const f of ['num_connections_started', 'num_connections_completed'] as const) if (x[f] !== y[f]) problems.push(`${name}: ${x.key}: ${f} ${x[f]} vs ${y[f]}`);
    }
    for (const k of byKey.keys()) problems.push(`${name}: ${k} extra`);
  }
  return problems;
}
