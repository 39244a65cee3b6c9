/**
 * Policy-group chains (src/render/policy-groups.ts) against the semantics: worlds with many
 * policies per tier (4 to 12, so groups run past the 5-policy return stride, with Allow, Deny and
 * Pass rules anywhere in the run) give every pod-to-pod flow `evaluate()`'s verdict, and a change
 * that moves pods between runs (labels, policies) gives each flow its old or its new verdict at
 * every kernel step, leaving exactly the group chains the new endpoint chains jump to.
 */
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { change, changeSteps, expectOldOrNew, labels, policy, reference, resources, verdicts, type World } from './fail-closed-world.js';
import type { SimKernel } from './support/kernel-sim.js';

const manyPolicies: fc.Arbitrary<World> = fc.record({ labels, policies: fc.array(policy, { minLength: 4, maxLength: 12 }) });

/** Group chains in the filter table, and those some rule jumps to. */
function groups(k: SimKernel): { held: string[]; jumped: string[] } {
  const filter = k.tables.get('filter')!;
  const isGroup = (n: string): boolean => /^gh-g[io]-/.test(n);
  const jumped = new Set<string>();
  for (const rules of filter.values()) for (const r of rules) for (let i = 0; i < r.length - 1; i++) if (r[i] === '-j' && isGroup(r[i + 1]!)) jumped.add(r[i + 1]!);
  return { held: [...filter.keys()].filter(isGroup).sort(), jumped: [...jumped].sort() };
}

describe('policy-group chains', () => {
  it('give evaluate()\'s verdicts with many policies per tier, and old-or-new verdicts while pods move between groups', async () => {
    let sawGroups = 0;
    await fc.assert(
      fc.asyncProperty(
        manyPolicies.chain((old) => fc.oneof(labels.map((l) => ({ ...old, labels: l })), change(old)).map((next) => ({ old, next }))),
        async ({ old, next }) => {
          const oldRs = resources(old);
          const newRs = resources(next);
          const { sim, dp, before, after, steps } = await changeSteps(oldRs, newRs);
          expect(before).toEqual(reference(oldRs));
          expect(after).toEqual(reference(newRs));
          if (groups(sim.kernel).held.length > 0) sawGroups++;
          steps.forEach((k, i) => expectOldOrNew(`step ${i + 1} of ${steps.length}`, verdicts(k), before, after));
          const g = groups(sim.kernel);
          expect(g.held, 'group chains left are exactly those jumped to').toEqual(g.jumped);
          await dp.close();
        },
      ),
      { numRuns: propRuns(30) },
    );
    expect(sawGroups, 'some worlds made group chains').toBeGreaterThan(0);
  }, 600_000);
});
