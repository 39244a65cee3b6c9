/**
 * The quick-start part of the conformance suite (the README's "done when"): the example of
 * `npm start`, enforced by the dataplane's real `gingham enforce` run with `ip netns exec` in the
 * node namespace, reproduces the model's matrix with real packets — all 48 cells (4 pods × 3
 * peers × 8080/TCP, 5432/TCP, 9090/TCP, 53/UDP) — after the command exited; a second run
 * converges and the matrix still holds; `--clean` leaves nothing, a second `--clean` finds
 * nothing, and a flow the model denies flows again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { formatCell, probeCells, quickstartExampleDir, type QuickstartModel } from '../cases/quickstart.js';
import { probeTcp } from '../topology/probes.js';
import { describeRun, runInNode } from './node-command.js';
import type { SuiteContext } from './test-dataplane.js';

export function registerQuickstart(ctx: SuiteContext, model: QuickstartModel): void {
  const { command, residue } = ctx.options;
  describe('the quick-start example with gingham enforce', () => {
    const mode = undefined;
    const example = quickstartExampleDir();
    let done = false;
    afterAll(async () => {
      // The case failed half-way: leave nothing for the next part.
      if (!done) await runInNode(ctx.env(), command.clean({ mode }));
    });

    it('the model has the 48 cells of the quick-start matrix, 9 of them allowed', () => {
      expect(model.pods.map((p) => p.id)).toEqual(['monitoring/prometheus-0', 'shop/backend-0', 'shop/db-0', 'shop/frontend-0']);
      expect(model.cells).toHaveLength(48);
      expect(model.cells.filter((c) => c.allowed)).toHaveLength(9);
    });

    it('reproduces every cell of the model matrix with real packets after the command exited, converges on a second run, then cleans up', async () => {
      const env = ctx.env();
      const topo = env.topology;
      expect(residue(env), 'left by an earlier part').toEqual([]);
      const enforce = command.enforce({ dir: example, node: 'node-1', mode });
      const cells = model.cells.map(formatCell);

      const r = await runInNode(env, enforce);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/node node-1: 4 endpoints/);
      command.report?.enforced?.(r.stdout, env, mode);
      expect((await probeCells(topo, model)).map(formatCell)).toEqual(cells);

      const again = await runInNode(env, enforce);
      expect(again.stderr).toBe('');
      expect(again.status).toBe(0);
      command.report?.converged?.(again.stdout, env, mode);
      expect((await probeCells(topo, model)).map(formatCell)).toEqual(cells);

      const clean = await runInNode(env, command.clean({ mode }));
      expect(clean.stderr).toBe('');
      expect(clean.status, describeRun(clean)).toBe(0);
      command.report?.cleaned?.(clean.stdout, env, mode);
      expect(residue(env)).toEqual([]);
      const twice = await runInNode(env, command.clean({ mode }));
      expect(twice.status, describeRun(twice)).toBe(0);
      expect(twice.stdout).toMatch(/nothing of Gingham's (was )?found/);
      // With our enforcement gone, a flow the model denies flows again.
      expect(model.cells.find((c) => c.from === 'shop/frontend-0' && c.to === 'shop/db-0' && c.port === 5432)?.allowed).toBe(false);
      expect(await probeTcp(topo, topo.pod('shop', 'frontend-0'), topo.pod('shop', 'db-0'), 5432, 1000)).toBe(true);
      done = true;
    });
  });
}
