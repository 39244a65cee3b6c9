/**
 * The kill -9 part of the conformance suite, one campaign per attach mode: the dataplane's real
 * `gingham enforce` (unmodified, PATH shims in front of the programs it starts) moves the node
 * between the flip scenario's two states and is SIGKILLed at the start of each child it spawns
 * (the child then exiting, or running on after its parent died) and at random moments (seeded:
 * GINGHAM_KILL9_SEED, printed with every failure).
 *
 *  - first attach: from nothing, a run killed at every point; `--clean` then exits 0 and leaves
 *    nothing (`residue`: no hook, qdisc, pin, chain or set); a final run enforces and converges.
 *  - takeover: over enforced policy, while continuous probers try every flow both states deny,
 *    runs toward the other state are killed at every point; after each kill the flows both
 *    states deny are denied and those both allow are allowed, and the next run converges (exit
 *    0, the target state's verdicts); not one attempt at a doubly-denied flow passes.
 *
 * Each phase counts its kill points once (an uninterrupted run's child starts and duration) and
 * spreads them over three tests — the child exiting, the child running on, random moments — so
 * that each test stays well under the per-test timeout on a busy 2-core machine.
 *
 * Everything runs on the suite's topology; the shims and manifest files live in a temporary
 * directory removed in afterAll, and the node is `--clean`ed there even when a case fails.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadResources, NODE } from '../cases/cases.js';
import { expectedFlip, expectOldOrNew, FLIP_PORT, FLIP_STATES, probeFlip, steadyFlows } from '../cases/flip.js';
import { killCampaign, killPoints, randomDelays, workWindow, type KillableResult } from '../crash/kill-runs.js';
import { createShims, describePoint, type KillPoint, type Shims } from '../crash/shims.js';
import { startProber, type Prober } from '../topology/probes.js';
import { describeRun, runInNode } from './node-command.js';
import type { EnforceMode } from './options.js';
import type { SuiteContext } from './test-dataplane.js';

type State = 'A' | 'B';

/**
 * Each kill point costs a killed run, a `--clean` or a full run, and probes: one to a few seconds
 * on an idle machine, over ten under a load of 24 on 2 cores, where an iptables group of child
 * starts took more than the kernel project's 180 s. A test that times out keeps running in the
 * background and disturbs the next, so the campaign's tests get their own, larger timeout.
 */
const KILL9_TEST_TIMEOUT_MS = 600_000;
const other = (s: State): State => (s === 'A' ? 'B' : 'A');

export function registerKill9Campaign(ctx: SuiteContext, mode: EnforceMode): void {
  const { command, residue } = ctx.options;
  const seed = Number(process.env.GINGHAM_KILL9_SEED ?? Date.now() % 2 ** 31);
  const randomKills = command.randomKills ?? 4;

  describe(`kill -9 of gingham enforce${mode !== undefined ? ` --mode ${mode}` : ''}`, () => {
    let dir: string | undefined;
    let shims: Shims | undefined;
    const sh = (): Shims => shims!;
    const env = () => ctx.env();
    /** One run toward `state`, through the shims (which count its child starts), killed at `point`. */
    const run = (state: State, point?: KillPoint): Promise<KillableResult> => runInNode(env(), command.enforce({ dir: join(dir!, state), node: NODE, mode }), sh().env(point), point);
    /** A run that must succeed: exit 0, the state's verdicts. */
    const full = async (state: State, why: string): Promise<KillableResult> => {
      const r = await run(state);
      expect(r.status, `${why}: a run to ${state}: ${describeRun(r)}`).toBe(0);
      expect(await probeFlip(env().topology), `${why}: after a run to ${state}`).toEqual(expectedFlip(state));
      return r;
    };
    const clean = async (why: string): Promise<void> => {
      const c = await runInNode(env(), command.clean({ mode }));
      expect(c.status, `${why}: --clean: ${describeRun(c)}`).toBe(0);
      expect(residue(env()), `${why}: left after --clean`).toEqual([]);
    };
    const at = (point: KillPoint, r: KillableResult): string => `${describePoint(point)} (seed ${seed}; the run: ${describeRun(r)})`;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'gh-conformance-kill9-'));
      for (const s of ['A', 'B'] as const) {
        mkdirSync(join(dir, s));
        writeFileSync(join(dir, s, 'world.yaml'), FLIP_STATES[s]);
      }
      shims = createShims(command.childTools);
    });
    afterAll(async () => {
      try {
        if (dir) await runInNode(env(), command.clean({ mode }));
      } finally {
        shims?.release();
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });

    /** The kill points of `group`: the child starts where the child exits, where it runs on, or the random delays. */
    type Group = 'child exits' | 'child runs on' | 'random moments';
    const GROUPS: readonly Group[] = ['child exits', 'child runs on', 'random moments'];
    const select = (points: readonly KillPoint[], group: Group): KillPoint[] =>
      points.filter((p) => (group === 'random moments' ? p.kind === 'delay' : p.kind === 'child' && p.then === (group === 'child exits' ? 'exit' : 'run')));

    // Counting runs (once per phase, shared by its tests): an uninterrupted run's child starts
    // are the kill points, and its duration bounds the random ones.
    let firstAttach: Promise<KillPoint[]> | undefined;
    const countFirstAttach = (): Promise<KillPoint[]> =>
      (firstAttach ??= (async () => {
        await clean('before the campaign');
        const counted = await full('A', 'a first attach');
        const starts = sh().starts();
        expect(starts.length, 'child starts of a first attach').toBeGreaterThan(0);
        command.report?.enforced?.(counted.stdout, env(), mode);
        await clean('after a first attach');
        const window = workWindow(counted, starts);
        return killPoints(starts, randomDelays(seed + 1, randomKills, window.from, window.to), command.readOnly);
      })());
    let takeover: Promise<KillPoint[]> | undefined;
    const countTakeover = (): Promise<KillPoint[]> =>
      (takeover ??= (async () => {
        await clean('before the campaign');
        await full('A', 'the scenario');
        const counted = await full('B', 'the scenario');
        const starts = sh().starts();
        expect(starts.length, 'child starts of a run from A to B').toBeGreaterThan(0);
        const again = await full('B', 'a repeated run');
        command.report?.converged?.(again.stdout, env(), mode);
        // The campaign alternates directions; the kill points of one fit the other.
        await full('A', 'the scenario');
        const tools = (list: readonly string[]) => list.map((l) => l.split(' ')[3]);
        expect(tools(sh().starts()), 'the programs a run from B to A starts, against those of a run from A to B').toEqual(tools(starts));
        const window = workWindow(counted, starts);
        return killPoints(starts, randomDelays(seed, randomKills, window.from, window.to), command.readOnly);
      })());

    for (const group of GROUPS) {
      it(`first attach killed at each point (${group}): --clean then leaves nothing; a re-run converges`, async () => {
        const points = select(await countFirstAttach(), group);
        await killCampaign({
          points,
          shims: sh(),
          run: (point) => run('A', point),
          after: async ({ point, result }) => {
            const ok = result.killed || (point.kind === 'delay' && result.status === 0);
            expect(ok, `${at(point, result)}: the run ended before it`).toBe(true);
            await clean(at(point, result));
          },
        });
        await full('A', 'after the campaign');
        await clean('after the campaign');
      }, KILL9_TEST_TIMEOUT_MS);
    }

    for (const group of GROUPS) {
      it(`takeover killed at each point (${group}): no attempt at a flow both states deny passes; after each kill flows both states deny or allow keep their verdict, and the next run converges`, async () => {
        const topo = env().topology;
        const points = select(await countTakeover(), group);
        const steady = steadyFlows(loadResources);
        const denied = steady.filter((f) => !f.allowed);
        expect(denied.length, 'flows both states deny').toBeGreaterThanOrEqual(2);
        expect(steady.some((f) => f.allowed), 'flows both states allow').toBe(true);
        const pod = (id: string) => topo.pod(...(id.split('/') as [string, string]));
        let state: State = 'A';
        await full(state, 'before the campaign');
        const probers: [string, Prober][] = [];
        try {
          for (const f of denied) probers.push([`${f.from} -> ${f.to}:${FLIP_PORT}`, await startProber(topo, pod(f.from), pod(f.to), FLIP_PORT, { everyMs: 20, timeoutMs: 400 })]);
          await killCampaign({
            points,
            shims: sh(),
            run: (point) => run(other(state), point),
            after: async ({ point, result }) => {
              const what = `${at(point, result)}, from ${state} to ${other(state)}`;
              const ok = result.killed || (point.kind === 'delay' && result.status === 0);
              expect(ok, `${what}: the run ended before it`).toBe(true);
              expectOldOrNew(await probeFlip(topo), what);
              state = other(state);
              await full(state, `${what}, then a full run`);
            },
          });
        } finally {
          const passed: string[] = [];
          let attempts = 0;
          for (const [flow, prober] of probers) {
            const counts = await prober.stop();
            attempts += counts.ok + counts.fail;
            if (counts.ok > 0) passed.push(`${flow}: ${counts.ok} of ${counts.ok + counts.fail} attempts passed`);
          }
          expect(passed, `flows both states deny (seed ${seed})`).toEqual([]);
          if (probers.length === denied.length && points.length > 0) expect(attempts, 'attempts of the probers').toBeGreaterThan(20);
        }
        const converged = await full(state, 'a repeated run after the campaign');
        command.report?.converged?.(converged.stdout, env(), mode);
        await clean('after the campaign');
      }, KILL9_TEST_TIMEOUT_MS);
    }
  });
}
