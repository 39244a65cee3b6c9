/**
 * The kill -9 suite of `gingham enforce --dataplane ebpf`, per attach mode and phase (one test
 * file each keeps every file short on a busy machine): the real CLI under `ip netns exec` on the
 * quick-start node, killed at each child process's start (the child then exiting, or finishing
 * its change after its parent died) and at random moments (seeded: GINGHAM_KILL9_SEED; their
 * number scales with GINGHAM_PROP_SCALE).
 *
 *   takeover: over an enforced policy, runs alternating between two policies are killed at every
 *      point while probes hammer flows both policies deny: not one attempt may pass; then a run
 *      converges (exit 0, one generation, no pending marker or temporary pin, its policy enforced).
 *   first-attach: from nothing, a first attach is killed at every point; `--clean` then removes
 *      every hook, qdisc and pin (nothing is left in the node namespace or the bpffs); a re-run
 *      converges.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTcp, quickstartModel } from '@gingham/dataplane-iptables/conformance';
import { propRuns } from '@gingham/testkit';
import { canRun, listTree } from '../kernel-env.js';
import { createShims, describePoint, killCampaign, killPoints, randomDelays, runKillable, startProbeLoops, workWindow, type GuardedFlow, type KillPoint, type Shims } from './kill9.js';
import { createQuickstartNode, EXAMPLE, exampleVariant, FRONTEND_TO_DB, GINGHAM, IP, type QuickstartNode } from './quickstart-node.js';

/** Every program `gingham enforce --dataplane ebpf` may start (mount/mountpoint only for /sys/fs/bpf, never here). */
const TOOLS = ['tc', 'ip', 'nsenter', 'flock', 'mount', 'mountpoint'];
/** Children that change nothing (reads, the lock): one finishing after its parent died is the same case as one that exits. */
const READ_ONLY = (start: string): boolean => /^(flock|mountpoint|tc -j|ip -j) /.test(start);

export function describeKill9(mode: 'tcx' | 'tc', phase: 'takeover' | 'first-attach'): void {
  describe.skipIf(!canRun)(`kill -9 of gingham enforce --dataplane ebpf --mode ${mode}: ${phase}`, () => {
    let node: QuickstartNode;
    let shims: Shims;
    const variant = exampleVariant(FRONTEND_TO_DB);
    const policies = [EXAMPLE, variant.path] as const;
    const seed = Number(process.env.GINGHAM_KILL9_SEED ?? Date.now() % 2 ** 31);

    const enforceArgv = (policy: 0 | 1): string[] =>
      [IP, 'netns', 'exec', node.topo.node, process.execPath, GINGHAM, ...node.enforceArgv('-f', policies[policy], '--node', 'node-1', '--mode', mode)];
    const run = (policy: 0 | 1, point?: KillPoint) => runKillable(enforceArgv(policy), shims.env(point), point);
    const clean = () => node.ipNetnsExec(node.enforceArgv('--clean'));
    const instanceTree = (): string[] => listTree(join(node.bpffs.path, 'gingham', node.name));

    beforeAll(async () => {
      node = await createQuickstartNode(`k9${mode === 'tc' ? 'c' : 'x'}${phase === 'takeover' ? 't' : 'f'}`);
      shims = createShims(TOOLS);
    });
    afterAll(async () => {
      try {
        await node?.destroy();
      } finally {
        shims?.release();
        variant.release();
      }
    });

    it.runIf(phase === 'takeover')('killed at each child start and at random moments, no flow both policies deny ever passes; the next run converges', async () => {
      const first = await run(0);
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      // Flows both policies deny (TCP), one per source pod at most.
      const b = quickstartModel(variant.path);
      const denied = node.model.cells.filter((c) => c.protocol === 'TCP' && !c.allowed && !b.cells.find((x) => x.from === c.from && x.to === c.to && x.port === c.port)!.allowed);
      const flows: GuardedFlow[] = [];
      for (const c of denied) {
        if (flows.length === 3 || flows.some((f) => f.name.startsWith(`${c.from} `))) continue;
        const [fns, fname] = c.from.split('/') as [string, string];
        const [tns, tname] = c.to.split('/') as [string, string];
        const to = node.topo.pod(tns, tname);
        flows.push({ name: `${c.from} -> ${c.to}:${c.port}`, netns: node.topo.pod(fns, fname).netns, ip: to.ip, port: c.port! });
      }
      expect(flows).toHaveLength(3);
      const probes = startProbeLoops((ns, argv) => node.topo.spawnIn(ns, argv), flows);
      await new Promise((r) => setTimeout(r, 500));
      // One uninterrupted takeover run (probed too) counts the child starts to kill at, and
      // times the part of a run worth killing in.
      const counted = await run(1);
      expect(counted.status).toBe(0);
      const children = shims.starts().length;
      expect(children).toBeGreaterThanOrEqual(1); // flock at least; tc mode adds its two tc runs
      const window = workWindow(counted, shims.starts());
      const points = killPoints(shims.starts(), randomDelays(seed, propRuns(mode === 'tc' ? 2 : 4), window.from, window.to), READ_ONLY);
      let steps;
      try {
        steps = await killCampaign({ points, shims, run: (point, i) => run((i % 2) as 0 | 1, point) });
      } finally {
        const outcomes = await probes.stop();
        const passed = [...outcomes].filter(([, o]) => o.allow > 0).map(([f, o]) => `${f}: ${o.allow} of ${o.allow + o.deny} attempts passed`);
        expect(passed, `seed ${seed}`).toEqual([]);
        expect([...outcomes.values()].reduce((n, o) => n + o.deny, 0)).toBeGreaterThan(20);
      }
      // Every kill at a child start killed the run; a delay may outlast it (then it succeeded).
      for (const s of steps) {
        const ok = s.result.killed || (s.point.kind === 'delay' && s.result.status === 0);
        expect(ok, `${describePoint(s.point)} (seed ${seed}): status ${s.result.status} ${s.result.stderr}`).toBe(true);
      }

      const final = await run(0);
      expect(final.stderr).toBe('');
      expect(final.status).toBe(0);
      expect(final.stdout).toMatch(/hooks 8; pinned in /);
      const tree = instanceTree();
      expect(tree.filter((f) => /^(g\d+|tmp)\/$/.test(f))).toHaveLength(1);
      expect(tree.filter((f) => f.startsWith('tmp/') || f.startsWith('tc/pending-'))).toEqual([]);
      // The policy of the final run, where the two disagree and where it allows (the full matrix
      // after a run under ip netns exec: quickstart.kernel.test.ts).
      const tcp = (from: [string, string], to: [string, string], port: number) => probeTcp(node.topo, node.topo.pod(...from), node.topo.pod(...to), port, 1000);
      expect(await tcp(['shop', 'frontend-0'], ['shop', 'db-0'], 5432)).toBe(false);
      expect(await tcp(['shop', 'frontend-0'], ['shop', 'backend-0'], 8080)).toBe(true);
    });

    it.runIf(phase === 'first-attach')('--clean after a first attach killed at each point removes every hook, qdisc and pin; a re-run converges', async () => {
      expect(clean().status).toBe(0);
      expect(node.residue()).toEqual([]);
      const counted = await run(0);
      expect(counted.status).toBe(0);
      const starts = shims.starts();
      expect(clean().status).toBe(0);
      const points = killPoints(starts, randomDelays(seed + 1, propRuns(mode === 'tc' ? 2 : 3), workWindow(counted, starts).from, counted.durationMs), READ_ONLY);
      await killCampaign({
        points,
        shims,
        run: (point) => run(0, point),
        after: ({ point, result }) => {
          const c = clean();
          const what = `${describePoint(point)} (seed ${seed}; the run: status ${result.status}, ${result.stderr.trim() || 'no error'})`;
          expect(c.status, `${what}: --clean: ${c.stderr}`).toBe(0);
          expect(node.residue(), what).toEqual([]);
        },
      });
      const final = await run(0);
      expect(final.status).toBe(0);
      expect(await probeTcp(node.topo, node.topo.pod('shop', 'frontend-0'), node.topo.pod('shop', 'db-0'), 5432, 1000)).toBe(false);
      expect(clean().status).toBe(0);
      expect(node.residue()).toEqual([]);
    });
  });
}
