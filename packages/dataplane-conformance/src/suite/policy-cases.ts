/**
 * The policy part of the conformance suite, through the dataplane's in-process `Dataplane`:
 * the cases (profiles, default deny, tiers and Pass, order, named ports and ranges, nets and
 * network sets, namespace selectors), a label and its policy flipped under a continuous probe
 * loop, a live label change, host endpoints, forwarding, the differential property against
 * `evaluate()`, and conntrack. One dataplane object programs the node at a time: before each
 * case the previous one is `close()`d; the last is `clean()`ed, and nothing may be left.
 */
import { spawnSync } from 'node:child_process';
import { buildSnapshot, createEngine, evaluate, type Resource } from '@gingham/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CASES, ECHO_PORT, HOST_ENDPOINT, HOST_POLICY, HOST_PREDNAT_POLICY, HOST_UNTRACKED_POLICY, loadResources, NODE, NODE_TCP_PORTS, ONLY_DB_TO_WEB, podManifest, WORLD, type ConformanceProbe } from '../cases/cases.js';
import { flows, policySet } from '../cases/differential.js';
import { checkFlipScenario, FLIP_PORT, FLIP_STATES, flipUnderProbes } from '../cases/flip.js';
import { FORWARD_CASES, FORWARD_WORLD, forwardPeerRef, type ForwardPeer } from '../cases/forward-cases.js';
import { probeTcp, probeTcpFromPort, probeUdp, roundTrip } from '../topology/probes.js';
import type { ConformanceDataplane } from './options.js';
import type { SuiteContext } from './test-dataplane.js';

export function registerPolicyCases(ctx: SuiteContext): void {
  const { factory, capabilities: caps } = ctx.options;
  describe('policy cases (in-process Dataplane)', () => {
    const topo = () => ctx.env().topology;
    let current: ConformanceDataplane | undefined;
    const make = async (): Promise<ConformanceDataplane> => {
      await current?.close?.();
      current = undefined;
      current = await factory(ctx.env());
      return current;
    };
    afterAll(async () => {
      // When the last case did not get to clean up (it failed), leave nothing for the next part.
      const dp = current;
      current = undefined;
      try {
        await dp?.clean?.();
      } finally {
        await dp?.close?.();
      }
    });

    const probe = async (p: ConformanceProbe): Promise<boolean> => {
      const [fns, fname] = p.from.split('/') as [string, string];
      const [tns, tname] = p.to.split('/') as [string, string];
      const from = topo().pod(fns, fname);
      const to = topo().pod(tns, tname);
      return p.protocol === 'TCP' ? probeTcp(topo(), from, to, p.port) : probeUdp(topo(), from, to, p.port);
    };
    const flushConntrack = (): void => {
      spawnSync('ip', ['netns', 'exec', topo().node, 'conntrack', '-F'], { stdio: 'ignore' });
    };
    const check = async (resources: readonly Resource[], probes: readonly ConformanceProbe[]): Promise<void> => {
      const { snapshot } = buildSnapshot(resources);
      const got: string[] = [];
      const want: string[] = [];
      for (const p of probes) {
        if (p.protocol === 'UDP' && caps?.udp === false) continue;
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
      const r = await flipUnderProbes(topo(), async (state) => {
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

    it.skipIf(caps?.hostEndpoints === false)('host endpoints: failsafes always admit; untracked, pre-DNAT, normal policy and no-profile default in order', async () => {
      flushConntrack();
      const ext = topo().external;
      const nodeHandle = { ...ext, name: 'node', ip: topo().nodeIp, netns: topo().node };
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
          const reference = evaluate(snapshot, { src: ext.ip, dst: topo().nodeIp, protocol: 'TCP', dstPort: port }).allowed;
          expect(reference, `evaluate() for port ${port}`).toBe(expected[port]);
          want.push(`${port}: ${reference ? 'allow' : 'deny'}`);
          got.push(`${port}: ${(await probeTcp(topo(), ext, nodeHandle, port)) ? 'allow' : 'deny'}`);
        }
        expect(got).toEqual(want);
      }
    });

    for (const c of FORWARD_CASES) {
      it.skipIf(caps?.forwarding === false)(`forwarding: ${c.name}`, async () => {
        flushConntrack();
        const resources = loadResources(`${WORLD}---\n${FORWARD_WORLD}---\n${c.manifests}`);
        await enforce(await make(), resources);
        const { snapshot } = buildSnapshot(resources);
        const handle = (peer: ForwardPeer) =>
          peer === 'node'
            ? { ...topo().external, name: 'node', ip: topo().nodeIp, netns: topo().node }
            : peer === 'ext'
              ? topo().external
              : peer === 'ext2'
                ? topo().external2
                : topo().pod(...(peer.split('/') as [string, string]));
        const got: string[] = [];
        const want: string[] = [];
        for (const p of c.probes) {
          const flow = { src: forwardPeerRef(p.from), dst: forwardPeerRef(p.to), protocol: 'TCP', dstPort: p.port, ...(p.via !== undefined ? { via: p.via } : {}) };
          const reference = evaluate(snapshot, flow).allowed;
          expect(reference, `evaluate() disagrees with the case's intent for ${p.from} -> ${p.to} TCP/${p.port}`).toBe(p.expect);
          const line = `${p.from} -> ${p.to} TCP/${p.port}`;
          want.push(`${line}: ${reference ? 'allow' : 'deny'}`);
          got.push(`${line}: ${(await probeTcp(topo(), handle(p.from), handle(p.to), p.port)) ? 'allow' : 'deny'}`);
        }
        expect(got).toEqual(want);
      });
    }

    it.skipIf((caps?.differentialRuns ?? 15) === 0)('differential: every kernel verdict equals evaluate() for random policies and flows', async () => {
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
            const kernel = await probeTcp(topo(), topo().pod(fns, fname), topo().pod(tns, tname), f.port, 800);
            if (kernel !== reference) {
              throw new Error(`${f.from} -> ${f.to} TCP/${f.port}: kernel ${kernel ? 'allows' : 'denies'}, evaluate() ${reference ? 'allows' : 'denies'}\n${manifests}`);
            }
          }
        }),
        { numRuns: caps?.differentialRuns ?? 15, endOnFailure: true },
      );
    });

    it.skipIf(caps?.conntrack === false)('conntrack keeps an established flow after a deny policy is added', async () => {
      flushConntrack();
      const dp = await make();
      const world = loadResources(WORLD);
      const engine = await enforce(dp, world);
      const client = topo().pod('b', 'client');
      const web = topo().pod('a', 'web');
      const conn = topo().spawnIn(client.netns, ['socat', '-', `TCP:${web.ip}:${ECHO_PORT}`]);
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

    it.skipIf(caps?.conntrack === false)('conntrack: a recycled 5-tuple (same source port, server closed first) is decided by the policy now in force, not by the closed connection it reuses', async () => {
      flushConntrack();
      const engine = await enforce(await make(), loadResources(WORLD));
      const client = topo().pod('b', 'client');
      const web = topo().pod('a', 'web');
      const flow = { src: 'b/client', dst: 'a/web', protocol: 'TCP', dstPort: FLIP_PORT };
      const denyAll = loadResources(`${WORLD}---\n${ONLY_DB_TO_WEB}`);
      expect(evaluate(buildSnapshot(loadResources(WORLD)).snapshot, flow).allowed, 'evaluate() before the deny').toBe(true);
      expect(evaluate(buildSnapshot(denyAll).snapshot, flow).allowed, 'evaluate() after the deny').toBe(false);
      const port = 41_000 + Math.floor(Math.random() * 1000);
      // Twice while allowed: the second connection reuses the first one's closed 5-tuple, so
      // the recycling this case depends on really happens here.
      expect(await probeTcpFromPort(client, web, FLIP_PORT, port), 'first connection from the fixed port').toBe(true);
      expect(await probeTcpFromPort(client, web, FLIP_PORT, port), 'the same 5-tuple again, still allowed').toBe(true);
      for (const r of loadResources(ONLY_DB_TO_WEB)) engine.upsert(r);
      await engine.flush();
      // The closed connection's state (Linux conntrack's TIME_WAIT/CLOSE, the eBPF datapath's
      // closing entry) is still there: a new SYN on it must meet the deny.
      expect(await probeTcpFromPort(client, web, FLIP_PORT, port), 'the recycled 5-tuple after the deny').toBe(false);
      expect(await probeTcpFromPort(client, web, FLIP_PORT, port + 1000), 'a fresh source port after the deny').toBe(false);
      for (const r of loadResources(ONLY_DB_TO_WEB)) engine.delete(r.kind, r.metadata.namespace ?? '', r.metadata.name, r.apiVersion);
      await engine.flush();
      expect(await probeTcpFromPort(client, web, FLIP_PORT, port), 'the recycled 5-tuple once the deny is gone').toBe(true);
    });

    it('clean() removes everything the dataplane made', async () => {
      const dp = current ?? (await make());
      current = undefined;
      try {
        await dp.clean?.();
      } finally {
        await dp.close?.();
      }
      expect(ctx.options.residue(ctx.env())).toEqual([]);
    });
  });
}
