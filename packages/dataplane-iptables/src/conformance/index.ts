/**
 * The shared dataplane conformance suite: real pods in network namespaces, real TCP and UDP,
 * every verdict compared with `evaluate()`. Any dataplane (iptables, eBPF) runs it by handing a
 * factory that builds its `Dataplane` for the node namespace:
 *
 *   testDataplane('iptables', ({ runner }) => createIptablesDataplane({ runner }), { mustRun: process.env.CI === 'true' });
 *
 * The suite owns the topology and cleans it up in afterAll even when cases fail. One dataplane
 * object at a time programs the node (an instance lock may enforce that): before each case the
 * previous one is `close()`d when it has that method; the last one is `clean()`ed at the end.
 * Fail closed: one case flips a label and its policy under a continuous probe loop; `kill -9` of
 * the dataplane's `gingham enforce` is a separate registration, `testCrashSafety(name, options)`
 * (fail-closed.ts), given how to run enforce and which child programs to shim.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { buildSnapshot, evaluate, loadManifests, type Resource } from '@gingham/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '@gingham/core';
import type { CommandRunner } from '@gingham/host';
import type { Dataplane } from '@gingham/core';
import { CASES, ECHO_PORT, HOST_ENDPOINT, HOST_POLICY, HOST_PREDNAT_POLICY, HOST_UNTRACKED_POLICY, NODE, NODE_TCP_PORTS, ONLY_DB_TO_WEB, podManifest, TCP_PORTS, UDP_PORTS, WORLD, WORLD_PODS, type ConformanceProbe } from './cases.js';
import { flows, policySet } from './differential.js';
import { checkFlipScenario, FLIP_STATES, flipUnderProbes } from './fail-closed.js';
import { FORWARD_CASES, FORWARD_WORLD, forwardPeerRef, OUTSIDE_TCP_PORTS, type ForwardPeer } from './forward-cases.js';
import { createTopology, probeTcp, probeUdp, startServers, type Topology } from './topology.js';

export { CASES, type ConformanceCase, type ConformanceProbe } from './cases.js';
export { FORWARD_CASES, type ForwardCase, type ForwardProbe } from './forward-cases.js';
export { createTopology, probeTcp, probeUdp, startServers, type PodHandle, type Topology, type TopologyPod } from './topology.js';
export { formatCell, probeCells, QUICKSTART_PORTS, quickstartModel, type QuickstartModel } from './quickstart.js';
export { FLIP_PROBES, FLIP_STATES, flipUnderProbes, testCrashSafety, type CrashSafetyOptions, type FlipProbe } from './fail-closed.js';
export { compareFlowLogResults, FLOW_LOG_CASES, normalizeFlowRecord, testFlowLogs, type FlowLogCapabilities, type FlowLogCase, type FlowLogDataplane, type FlowLogResults, type NormalizedFlowRecord } from './flow-logs.js';

export interface ConformanceEnv {
  /** Runs commands inside the node namespace. */
  readonly runner: CommandRunner;
  readonly nodeNamespace: string;
}

export type ConformanceDataplane = Dataplane & { clean?(): Promise<unknown>; close?(): void | Promise<void> };

export interface ConformanceCapabilities {
  /** Fail instead of skipping when the machine lacks root or tools (set from CI=true). */
  readonly mustRun?: boolean;
  /** Run the UDP probes (default true). */
  readonly udp?: boolean;
  /** Run the "conntrack keeps established flows" case (default true). */
  readonly conntrack?: boolean;
  /** Run the host endpoint cases (default true). */
  readonly hostEndpoints?: boolean;
  /** Run the forwarding cases: applyOnForward / pre-DNAT / untracked on forwarded traffic, the node and its own pods (default true). */
  readonly forwarding?: boolean;
  /** Runs of the differential property (random policies and flows vs `evaluate()`; default 15, 0 = off). */
  readonly differentialRuns?: number;
}

function toolsMissing(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const [t, arg] of [
    ['ip', '-V'],
    ['socat', '-V'],
    ['ipset', 'version'],
    ['conntrack', '--version'],
    ['ss', '-V'],
  ] as const) {
    if (spawnSync(t, [arg], { stdio: 'ignore' }).status !== 0) missing.push(t);
  }
  return missing;
}

export function loadResources(text: string): Resource[] {
  const r = loadManifests([{ file: 'conformance.yaml', text }]);
  if (!r.ok) throw new Error(`conformance manifests: ${r.issues.map((i) => i.message).join('; ')}`);
  return r.resources.map((x) => x.resource);
}

/** Registers the conformance suite for one dataplane. */
export function testDataplane(name: string, factory: (env: ConformanceEnv) => ConformanceDataplane | Promise<ConformanceDataplane>, caps: ConformanceCapabilities = {}): void {
  const missing = toolsMissing();
  const run = missing.length === 0 || caps.mustRun === true;
  describe.skipIf(!run)(`dataplane conformance: ${name}`, () => {
    let topo: Topology;
    const env = (): ConformanceEnv => ({ runner: topo.nodeRunner, nodeNamespace: topo.node });
    let current: ConformanceDataplane | undefined;
    const make = async (): Promise<ConformanceDataplane> => {
      await current?.close?.();
      current = undefined;
      current = await factory(env());
      return current;
    };

    beforeAll(async () => {
      if (missing.length > 0) throw new Error(`missing capabilities: ${missing.join(', ')}`);
      topo = createTopology(WORLD_PODS);
      await startServers(topo, TCP_PORTS, UDP_PORTS, ECHO_PORT);
      for (const port of NODE_TCP_PORTS) topo.spawnIn(topo.node, ['socat', `TCP-LISTEN:${port},reuseaddr,fork`, 'EXEC:/bin/echo ok']);
    });
    afterAll(async () => {
      try {
        await current?.clean?.();
        await current?.close?.();
      } finally {
        await topo?.destroy();
      }
    });

    const probe = async (p: ConformanceProbe): Promise<boolean> => {
      const [fns, fname] = p.from.split('/') as [string, string];
      const [tns, tname] = p.to.split('/') as [string, string];
      const from = topo.pod(fns, fname);
      const to = topo.pod(tns, tname);
      return p.protocol === 'TCP' ? probeTcp(topo, from, to, p.port) : probeUdp(topo, from, to, p.port);
    };
    const flushConntrack = (): void => {
      spawnSync('ip', ['netns', 'exec', topo.node, 'conntrack', '-F'], { stdio: 'ignore' });
    };
    const check = async (resources: readonly Resource[], probes: readonly ConformanceProbe[]): Promise<void> => {
      const { snapshot } = buildSnapshot(resources);
      const got: string[] = [];
      const want: string[] = [];
      for (const p of probes) {
        if (p.protocol === 'UDP' && caps.udp === false) continue;
        const reference = evaluate(snapshot, { src: p.from, dst: p.to, protocol: p.protocol, dstPort: p.port }).allowed;
        expect(reference, `evaluate() disagrees with the case's intent for ${p.from} -> ${p.to} ${p.protocol}/${p.port}`).toBe(p.expect);
        const kernel = await probe(p);
        const line = `${p.from} -> ${p.to} ${p.protocol}/${p.port}`;
        got.push(`${line}: ${kernel ? 'allow' : 'deny'}`);
        want.push(`${line}: ${reference ? 'allow' : 'deny'}`);
      }
      expect(got).toEqual(want);
    };
    const enforce = async (dp: ConformanceDataplane, resources: readonly Resource[]) => {
      const engine = createEngine({ node: NODE, dataplane: dp });
      for (const r of resources) engine.upsert(r);
      await engine.flush();
      return engine;
    };

    for (const c of CASES) {
      it(c.name, async () => {
        flushConntrack();
        const resources = loadResources(WORLD + (c.manifests ? `---\n${c.manifests}` : ''));
        await enforce(await make(), resources);
        await check(resources, c.probes);
      });
    }

    it('fail closed: a label and the policy matching it flip in one apply under a continuous probe loop (no doubly-denied flow connects, no doubly-allowed one fails)', async () => {
      flushConntrack();
      checkFlipScenario(loadResources);
      const states = { A: loadResources(FLIP_STATES.A), B: loadResources(FLIP_STATES.B) };
      const engine = createEngine({ node: NODE, dataplane: await make() });
      const r = await flipUnderProbes(topo, async (state) => {
        for (const x of states[state]) engine.upsert(x);
        await engine.flush();
      });
      expect(r.denied.ok, 'b/client -> a/web connections (denied before and after every apply) that got through').toBe(0);
      expect(r.allowed.fail, 'a/db -> a/web connections (allowed before and after every apply) that failed').toBe(0);
      expect(r.denied.fail, 'attempts of the denied prober').toBeGreaterThan(50);
      expect(r.allowed.ok, 'attempts of the allowed prober').toBeGreaterThan(50);
    });

    it('a label change flips the verdict live', async () => {
      flushConntrack();
      const resources = loadResources(`${WORLD}---\n${ONLY_DB_TO_WEB}`);
      const engine = await enforce(await make(), resources);
      await check(resources, [{ from: 'b/client', to: 'a/web', protocol: 'TCP', port: 80, expect: false }]);
      const relabelled = loadResources(podManifest('b', 'client', '10.65.0.13', { app: 'db' }));
      for (const r of relabelled) engine.upsert(r);
      await engine.flush();
      const after = loadResources(`${WORLD}---\n${ONLY_DB_TO_WEB}${podManifest('b', 'client', '10.65.0.13', { app: 'db' })}`.replace(
        podManifest('b', 'client', '10.65.0.13', { app: 'client' }),
        '',
      ));
      await check(after, [{ from: 'b/client', to: 'a/web', protocol: 'TCP', port: 80, expect: true }]);
    });

    it.skipIf(caps.hostEndpoints === false)('host endpoints: failsafes always admit; untracked, pre-DNAT, normal policy and no-profile default in order', async () => {
      flushConntrack();
      const ext = topo.external;
      const nodeHandle = { ...ext, name: 'node', ip: topo.nodeIp, netns: topo.node };
      for (const [extra, expected] of [
        [HOST_ENDPOINT, { 22: true, 80: false, 8080: false }],
        [`${HOST_ENDPOINT}---\n${HOST_POLICY}`, { 22: true, 80: false, 8080: true }],
        [`${HOST_ENDPOINT}---\n${HOST_POLICY}---\n${HOST_PREDNAT_POLICY}`, { 22: true, 80: true, 8080: false }],
        [`${HOST_ENDPOINT}---\n${HOST_POLICY}---\n${HOST_UNTRACKED_POLICY}`, { 22: true, 80: false, 8080: false }],
      ] as const) {
        flushConntrack();
        const resources = loadResources(`${WORLD}---\n${extra}`);
        await enforce(await make(), resources);
        const { snapshot } = buildSnapshot(resources);
        const got: string[] = [];
        const want: string[] = [];
        for (const port of NODE_TCP_PORTS) {
          const reference = evaluate(snapshot, { src: ext.ip, dst: topo.nodeIp, protocol: 'TCP', dstPort: port }).allowed;
          expect(reference, `evaluate() for port ${port}`).toBe(expected[port]);
          want.push(`${port}: ${reference ? 'allow' : 'deny'}`);
          got.push(`${port}: ${(await probeTcp(topo, ext, nodeHandle, port)) ? 'allow' : 'deny'}`);
        }
        expect(got).toEqual(want);
      }
    });

    let outsideServers = false;
    for (const c of FORWARD_CASES) {
      it.skipIf(caps.forwarding === false)(`forwarding: ${c.name}`, async () => {
        if (!outsideServers) {
          for (const ns of [topo.external.netns, topo.external2.netns]) {
            for (const port of OUTSIDE_TCP_PORTS) topo.spawnIn(ns, ['socat', `TCP-LISTEN:${port},reuseaddr,fork`, 'EXEC:/bin/echo ok']);
          }
          outsideServers = true;
          await new Promise((res) => setTimeout(res, 300));
        }
        flushConntrack();
        const resources = loadResources(`${WORLD}---\n${FORWARD_WORLD}---\n${c.manifests}`);
        await enforce(await make(), resources);
        const { snapshot } = buildSnapshot(resources);
        const handle = (peer: ForwardPeer) =>
          peer === 'node'
            ? { ...topo.external, name: 'node', ip: topo.nodeIp, netns: topo.node }
            : peer === 'ext'
              ? topo.external
              : peer === 'ext2'
                ? topo.external2
                : topo.pod(...(peer.split('/') as [string, string]));
        const got: string[] = [];
        const want: string[] = [];
        for (const p of c.probes) {
          const flow = { src: forwardPeerRef(p.from), dst: forwardPeerRef(p.to), protocol: 'TCP', dstPort: p.port, ...(p.via !== undefined ? { via: p.via } : {}) };
          const reference = evaluate(snapshot, flow).allowed;
          expect(reference, `evaluate() disagrees with the case's intent for ${p.from} -> ${p.to} TCP/${p.port}`).toBe(p.expect);
          const line = `${p.from} -> ${p.to} TCP/${p.port}`;
          want.push(`${line}: ${reference ? 'allow' : 'deny'}`);
          got.push(`${line}: ${(await probeTcp(topo, handle(p.from), handle(p.to), p.port)) ? 'allow' : 'deny'}`);
        }
        expect(got).toEqual(want);
      });
    }

    it.skipIf((caps.differentialRuns ?? 15) === 0)('differential: every kernel verdict equals evaluate() for random policies and flows', async () => {
      await fc.assert(
        fc.asyncProperty(policySet, flows, async (manifests, fs) => {
          flushConntrack();
          const resources = loadResources(`${WORLD}---\n${manifests}`);
          await enforce(await make(), resources);
          const { snapshot } = buildSnapshot(resources);
          for (const f of fs) {
            const reference = evaluate(snapshot, { src: f.from, dst: f.to, protocol: 'TCP', dstPort: f.port }).allowed;
            const [fns, fname] = f.from.split('/') as [string, string];
            const [tns, tname] = f.to.split('/') as [string, string];
            const kernel = await probeTcp(topo, topo.pod(fns, fname), topo.pod(tns, tname), f.port, 800);
            if (kernel !== reference) {
              throw new Error(`${f.from} -> ${f.to} TCP/${f.port}: kernel ${kernel ? 'allows' : 'denies'}, evaluate() ${reference ? 'allows' : 'denies'}\n${manifests}`);
            }
          }
        }),
        { numRuns: caps.differentialRuns ?? 15, endOnFailure: true },
      );
    });

    it.skipIf(caps.conntrack === false)('conntrack keeps an established flow after a deny policy is added', async () => {
      flushConntrack();
      const dp = await make();
      const world = loadResources(WORLD);
      const engine = await enforce(dp, world);
      const client = topo.pod('b', 'client');
      const web = topo.pod('a', 'web');
      const conn = topo.spawnIn(client.netns, ['socat', '-', `TCP:${web.ip}:${ECHO_PORT}`]);
      try {
        expect(await roundTrip(conn, 'one')).toBe(true);
        for (const r of loadResources(ONLY_DB_TO_WEB)) engine.upsert(r);
        await engine.flush();
        expect(await roundTrip(conn, 'two')).toBe(true);
        await check(loadResources(`${WORLD}---\n${ONLY_DB_TO_WEB}`), [{ from: 'b/client', to: 'a/web', protocol: 'TCP', port: 80, expect: false }]);
      } finally {
        conn.kill('SIGKILL');
      }
    });
  });
}

function roundTrip(conn: ChildProcess, text: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      conn.stdout?.off('data', onData);
      resolve(ok);
    };
    const onData = (b: Buffer): void => {
      buf += b.toString('utf8');
      if (buf.includes(text)) done(true);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    conn.stdout?.on('data', onData);
    conn.stdin?.write(`${text}\n`);
  });
}
