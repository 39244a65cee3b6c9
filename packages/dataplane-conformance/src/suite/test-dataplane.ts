/**
 * The one entry point of the dataplane conformance suite, as Kysely runs one suite over every
 * dialect: each dataplane's kernel test file is a call
 *
 *   testDataplane('iptables', { factory, residue, command, capabilities });
 *
 * and gets, on ONE topology (a node namespace, the conformance pods and the quick-start pods
 * wired as Calico wires them, two outside namespaces), every part:
 *  - `cases`: the policy cases, host endpoints, forwarding, the label/policy flip under a
 *    continuous probe loop, conntrack, and the differential property against `evaluate()`, all
 *    through the in-process `Dataplane` the factory builds;
 *  - `quickstart`: `gingham enforce` of the quick-start example, all 48 cells probed with real
 *    packets, a converging second run, `--clean` leaving nothing;
 *  - `kill9`: per attach mode, `gingham enforce` killed at each child start and at random
 *    moments, from nothing (then `--clean` leaves nothing) and over enforced policy (no attempt
 *    at a flow both states deny ever passes; the next run converges).
 * The topology and everything the suite starts are removed in afterAll even when cases fail;
 * each part checks that the dataplane left nothing (`residue`) before the next one starts.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { BASE_TOOLS, detectCapabilities, requireCapabilities } from '../capabilities.js';
import { ECHO_PORT, NODE_TCP_PORTS, TCP_PORTS, UDP_PORTS, WORLD_PODS } from '../cases/cases.js';
import { FLIP_PORT } from '../cases/flip.js';
import { OUTSIDE_TCP_PORTS } from '../cases/forward-cases.js';
import { QUICKSTART_PORTS, quickstartExampleDir, quickstartModel } from '../cases/quickstart.js';
import { probeTcp } from '../topology/probes.js';
import { startOkServers, startServers } from '../topology/servers.js';
import { createTopology, type Topology, type TopologyPod } from '../topology/topology.js';
import { registerKill9Campaign } from './kill9-campaign.js';
import type { ConformanceEnv, SuitePart, TestDataplaneOptions } from './options.js';
import { registerPolicyCases } from './policy-cases.js';
import { registerQuickstart } from './quickstart-matrix.js';

/** What the parts share: the topology (once `beforeAll` made it) and the dataplane's options. */
export interface SuiteContext {
  readonly name: string;
  readonly options: TestDataplaneOptions;
  env(): ConformanceEnv;
}

/** Registers the conformance suite for one dataplane. */
export function testDataplane(name: string, options: TestDataplaneOptions): void {
  const caps = detectCapabilities({ tools: [...BASE_TOOLS, ...(options.capabilities?.tools ?? [])], ...(options.capabilities?.mustRun !== undefined ? { mustRun: options.capabilities.mustRun } : {}) });
  const parts = new Set<SuitePart>(options.parts ?? ['cases', 'quickstart', 'kill9']);
  const qs = quickstartModel(quickstartExampleDir());
  const title = `dataplane conformance: ${name}${options.parts ? ` (${[...parts].join(', ')})` : ''}`;
  describe.skipIf(!caps.run)(title, () => {
    let topo: Topology | undefined;
    const ctx: SuiteContext = {
      name,
      options,
      env: () => {
        if (!topo) throw new Error('the conformance topology was not created (see the beforeAll error)');
        return { runner: topo.nodeRunner, nodeNamespace: topo.node, topology: topo };
      },
    };

    beforeAll(async () => {
      requireCapabilities(caps);
      const pods: TopologyPod[] = [...WORLD_PODS, ...(parts.has('quickstart') ? qs.pods : [])];
      topo = createTopology(pods, `gh-${name.replace(/[^a-z0-9]/gi, '').slice(0, 4)}`);
      const t = topo;
      const tcp = [...new Set([...TCP_PORTS, ...QUICKSTART_PORTS.filter((p) => p.protocol === 'TCP').map((p) => p.port)])];
      const udp = [...new Set([...UDP_PORTS, ...QUICKSTART_PORTS.filter((p) => p.protocol === 'UDP').map((p) => p.port)])];
      await startServers(t, tcp, udp, ECHO_PORT);
      await startOkServers(t, FLIP_PORT);
      for (const port of NODE_TCP_PORTS) t.spawnIn(t.node, ['socat', `TCP-LISTEN:${port},reuseaddr,fork`, 'EXEC:/bin/echo ok']);
      for (const ns of [t.external.netns, t.external2.netns]) {
        for (const port of OUTSIDE_TCP_PORTS) t.spawnIn(ns, ['socat', `TCP-LISTEN:${port},reuseaddr,fork`, 'EXEC:/bin/echo ok']);
      }
      // Warm the neighbour tables (proxy ARP for 169.254.1.1, the node's ARP for each pod) with
      // one connection per pair before any rule exists, so that no probe's first packet is lost
      // to address resolution and read as a deny.
      const warm = await Promise.all(t.pods.flatMap((p) => t.pods.filter((q) => q !== p).map(async (q) => ((await probeTcp(t, p, q, 8080, 3000)) ? '' : `${p.name} -> ${q.name}`))));
      const cold = warm.filter(Boolean);
      if (cold.length > 0) throw new Error(`warm-up connections failed before any rule existed: ${cold.join(', ')}`);
    });
    afterAll(async () => {
      await topo?.destroy();
    });

    if (parts.has('cases')) registerPolicyCases(ctx);
    if (parts.has('quickstart')) registerQuickstart(ctx, qs);
    if (parts.has('kill9')) for (const mode of options.command.modes ?? [undefined]) registerKill9Campaign(ctx, mode);
  });
}
