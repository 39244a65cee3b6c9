/**
 * The incremental paths equal the full ones, over random change sequences: a rendering through
 * the render cache (endpoint keys kept while nothing they name changed, chains reused) equals an
 * uncached rendering, and a plan made against the model and scope index the previous plan left
 * (scope-index.ts moved by the chains that differ) equals a plan made from fresh copies (the
 * scopes walked anew, the kernel model compared rule by rule). The scope index also equals the
 * full path walk (`pathScopes`) after every plan. Pure: no kernel. With `groupDispatch: 'ipset'`
 * (hand-built renderings until the renderer makes them: test/support/group-dispatch.ts) the same
 * over sequences of endpoints moving between groups, tiers appearing and endpoints coming and going.
 */
import { applyMessage, emptyDataplaneState, type CompiledPolicy, type CompiledRule, type DataplaneMessage, type HostEndpointState, type WorkloadEndpointState } from '@gingham/core';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveRenderOptions, type RenderOptions } from '../render/options.js';
import { createRenderCache, forgetSetMembers } from '../render/render-cache.js';
import { renderState } from '../render/render.js';
import type { Rendered } from '../render/rendered.js';
import { cloneKernelState, emptyKernelState, type KernelState } from './kernel-state.js';
import { endpointsBefore, movedRendering } from './group-moves.js';
import { pathScopes, planConverge } from './plan.js';
import { ScopeIndex, scopeIndex } from './scope-index.js';
import { gdMove, gdRender, gdWorld } from '../../test/support/group-dispatch.js';

const ENDPOINTS = 5;
const POLICIES = ['gnp/p0', 'gnp/p1', 'gnp/p2', 'gnp/p3', 'gnp/missing'];
const SETS = ['s:a', 's:b', 's:c'];
const addr = (i: number): string => `10.65.0.${i + 1}/32`;
const o = { setPrefix: 'gh', commentTag: 'gh:' };

const rule: fc.Arbitrary<CompiledRule> = fc.oneof(
  fc.record({ action: fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const), set: fc.constantFrom(...SETS), port: fc.integer({ min: 80, max: 82 }) }).map(({ action, set, port }) => ({ action, protocol: 6, source: { ipSetId: set }, destination: { ports: [{ min: port, max: port }] } })),
  fc.constantFrom('192.168.0.0/24', '192.168.1.0/24').map((net) => ({ action: 'Deny' as const, source: { nets: [net] }, destination: {} })),
);

const policy = (id: string): fc.Arbitrary<CompiledPolicy> =>
  fc.record({ ingress: fc.array(rule, { maxLength: 2 }), egress: fc.array(rule, { maxLength: 1 }), staged: fc.integer({ min: 0, max: 6 }).map((n) => n === 0) }).map((p) => ({ id, tier: 'default', ...p }));

const tiers = fc.subarray(POLICIES, { maxLength: 3 }).map((ids) => (ids.length > 0 ? [{ name: 'default', defaultAction: 'Deny' as const, policyIds: ids }] : []));

const endpoint = (i: number): fc.Arbitrary<WorkloadEndpointState> =>
  fc.record({ ingress: tiers, egress: tiers, profile: fc.boolean() }).map(({ ingress, egress, profile }) => ({
    id: `a/w${i}`,
    name: `w${i}`,
    node: 'n1',
    interfaceName: `cali${i}`,
    addresses: [addr(i)],
    ingressTiers: ingress,
    egressTiers: egress,
    profileIds: profile ? ['kns.a'] : [],
    stagedPolicyIds: [],
  }));

const hostEndpoint: fc.Arbitrary<HostEndpointState> = fc.record({ ingress: tiers, untracked: tiers, preDnat: tiers }).map((t) => ({
  id: 'n1/eth0',
  node: 'n1',
  binding: { kind: 'interface', interfaceName: 'eth0' },
  expectedIPs: [],
  ingressTiers: t.ingress,
  egressTiers: [],
  forwardIngressTiers: [],
  forwardEgressTiers: [],
  preDnatIngressTiers: t.preDnat,
  untrackedIngressTiers: t.untracked,
  untrackedEgressTiers: [],
  profileIds: [],
  stagedPolicyIds: [],
  failsafeInbound: [{ protocol: 'tcp', port: 22 }],
  failsafeOutbound: [],
}));

const i = fc.integer({ min: 0, max: ENDPOINTS - 1 });
const message: fc.Arbitrary<DataplaneMessage> = fc.oneof(
  { weight: 4, arbitrary: i.chain((n) => endpoint(n)).map((endpoint): DataplaneMessage => ({ kind: 'workload-endpoint-upsert', endpoint })) },
  { weight: 1, arbitrary: i.map((n): DataplaneMessage => ({ kind: 'workload-endpoint-remove', id: `a/w${n}` })) },
  { weight: 2, arbitrary: fc.constantFrom(...POLICIES.slice(0, 4)).chain(policy).map((p): DataplaneMessage => ({ kind: 'policy-upsert', policy: p })) },
  { weight: 1, arbitrary: fc.constantFrom(...POLICIES.slice(0, 4)).map((id): DataplaneMessage => ({ kind: 'policy-remove', id })) },
  { weight: 3, arbitrary: fc.record({ id: fc.constantFrom(...SETS), n: i, add: fc.boolean() }).map(({ id, n, add }): DataplaneMessage => ({ kind: add ? 'ipset-add-members' : 'ipset-remove-members', id, members: [addr(n)] })) },
  { weight: 1, arbitrary: fc.record({ id: fc.constantFrom(...SETS), ns: fc.subarray([0, 1, 2, 3, 4]) }).map(({ id, ns }): DataplaneMessage => ({ kind: 'ipset-replace', id, type: 'nets', members: ns.map(addr) })) },
  { weight: 1, arbitrary: fc.array(rule, { maxLength: 1 }).map((ingress): DataplaneMessage => ({ kind: 'profile-upsert', profile: { id: 'kns.a', ingress, egress: [{ action: 'Allow', source: {}, destination: {} }] } })) },
  { weight: 1, arbitrary: hostEndpoint.map((endpoint): DataplaneMessage => ({ kind: 'host-endpoint-upsert', endpoint })) },
  { weight: 1, arbitrary: fc.constant<DataplaneMessage>({ kind: 'host-endpoint-remove', id: 'n1/eth0' }) },
);

/** A move: the label change the agent sends (endpoint to other policies, its address between sets). */
const move: fc.Arbitrary<DataplaneMessage[]> = fc.record({ n: i, from: fc.constantFrom(...SETS), to: fc.constantFrom(...SETS) }).chain(({ n, from, to }) =>
  endpoint(n).map((e): DataplaneMessage[] => [
    { kind: 'workload-endpoint-upsert', endpoint: e },
    { kind: 'ipset-remove-members', id: from, members: [addr(n)] },
    { kind: 'ipset-add-members', id: to, members: [addr(n)] },
  ]),
);

const setup: DataplaneMessage[] = [
  ...SETS.map((id, s): DataplaneMessage => ({ kind: 'ipset-replace', id, type: 'nets', members: [addr(s), addr(s + 1)] })),
  { kind: 'profile-upsert', profile: { id: 'kns.a', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [] } },
];

describe('incremental rendering and planning', () => {
  it('equal the full rendering and the plan from fresh copies, for random change sequences', () => {
    let moved = 0;
    fc.assert(
      fc.property(
        fc.constantFrom<RenderOptions>({}, { flowLogs: true }, { groupDispatch: 'ipset' }, { groupDispatch: 'ipset', flowLogs: true }),
        fc.array(fc.oneof(move, fc.array(message, { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 2, max: 4 }),
        (options, batches, every) => {
          // An index moved only every few renderings (as when plans that need no scopes leave it
          // behind): catching up over several changes at once must land where full walks do.
          const lagging = new Map<4 | 6, ScopeIndex>();
          const state = emptyDataplaneState();
          const cache = createRenderCache();
          const k = new Map<4 | 6, KernelState>([
            [4, emptyKernelState()],
            [6, emptyKernelState()],
          ]);
          const prev = new Map<4 | 6, Rendered>();
          const canonical = new Map<4 | 6, Rendered>();
          for (const [step, batch] of [setup, ...batches].entries()) {
            const epsBefore = endpointsBefore(state, batch);
            for (const m of batch) applyMessage(state, m);
            forgetSetMembers(cache, batch.flatMap((m) => ('id' in m && m.kind.startsWith('ipset-') ? [m.id] : [])));
            for (const family of [4, 6] as const) {
              const at = `step ${step}, IPv${family}`;
              const r = renderState(state, family, options, {}, cache);
              expect(r, at).toEqual(renderState(state, family, options));
              // A batch of group moves, brought into the last rendering without rendering
              // (group-moves.ts), gives exactly the rendering.
              const base = canonical.get(family);
              const quick = epsBefore && base ? movedRendering(state, epsBefore, batch, base, family, resolveRenderOptions(options)) : undefined;
              if (quick) {
                moved++;
                expect(quick.sets, `${at}: moved sets`).toEqual(r.sets);
                expect(quick.chains.map((c) => [c.table, c.name, c.rules]), `${at}: moved chains`).toEqual(r.chains.map((c) => [c.table, c.name, c.rules]));
                expect(quick.hooks, `${at}: moved hooks`).toEqual(r.hooks);
              }
              canonical.set(family, r);
              const before = prev.get(family);
              const inc = planConverge(k.get(family)!, r, o, before);
              const fresh = planConverge(cloneKernelState(k.get(family)!), r, o, before && { ...before });
              expect(inc.steps, at).toEqual(fresh.steps);
              expect(inc.stats, at).toEqual(fresh.stats);
              expect(cloneKernelState(inc.next), at).toEqual(cloneKernelState(fresh.next));
              // The index the plans share, moved from the rendering in force to the new one, against
              // full walks of both: the current scopes and the journaled ones (the planner's "old").
              const idx = scopeIndex(before ?? inc.rendered);
              idx.journal();
              idx.moveTo(inc.rendered);
              const was = before ? pathScopes({ ...before }) : undefined;
              const now = pathScopes({ ...inc.rendered });
              for (const [view, full, name] of [[idx.journaled(), was, 'old'], [idx, now, 'new']] as const) {
                if (!full) continue;
                for (const n of new Set([...(was?.sets.keys() ?? []), ...now.sets.keys()])) expect(view.sets.get(n), `${at}: ${name} set ${n}`).toEqual(full.sets.get(n));
                for (const n of new Set([...(was?.chains.keys() ?? []), ...now.chains.keys()])) expect(view.chains.get(n), `${at}: ${name} chain ${n}`).toEqual(full.chains.get(n));
              }
              idx.settle();
              let lag = lagging.get(family);
              if (!lag) lagging.set(family, (lag = new ScopeIndex()));
              if (step % every === 0 || step === batches.length) {
                lag.moveTo(inc.rendered);
                for (const n of now.sets.keys()) expect(lag.sets.get(n), `${at}: lagging index, set ${n}`).toEqual(now.sets.get(n));
                for (const n of now.chains.keys()) expect(lag.chains.get(n), `${at}: lagging index, chain ${n}`).toEqual(now.chains.get(n));
              }
              k.set(family, inc.next);
              prev.set(family, inc.rendered);
            }
          }
        },
      ),
      { numRuns: propRuns(150) },
    );
    // The quick path was taken (moves between existing groups are common in these sequences).
    if (propRuns(150) >= 100) expect(moved).toBeGreaterThan(0);
  }, 60_000);
});

describe('incremental planning with group dispatch by IP set', () => {
  it('equals the plan from fresh copies, and the scope index a full walk, over moves between groups', () => {
    fc.assert(
      fc.property(
        gdWorld(SETS, [addr(0), addr(1)]).chain((w0) => fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }).map((kinds) => [w0, kinds] as const)),
        fc.infiniteStream(fc.integer()),
        ([w0, kinds], seeds) => {
          const k = new Map<4 | 6, KernelState>([
            [4, emptyKernelState()],
            [6, emptyKernelState()],
          ]);
          const prev = new Map<4 | 6, Rendered>();
          let w = w0;
          const worlds = [w0];
          // A step is a move (most) or a new world (endpoints and tiers come and go); picked from the seed stream.
          for (const [n, moveOnly] of kinds.entries()) {
            const seed = seeds.next().value as number;
            w = fc.sample(moveOnly ? gdMove(w) : gdWorld(SETS, [addr(0), addr(1)]), { numRuns: 1, seed: seed + n })[0]!;
            worlds.push(w);
          }
          for (const [step, world] of worlds.entries()) {
            for (const family of [4, 6] as const) {
              const at = `step ${step}, IPv${family}`;
              const r = gdRender(world, family);
              const before = prev.get(family);
              const inc = planConverge(k.get(family)!, r, o, before);
              const fresh = planConverge(cloneKernelState(k.get(family)!), r, o, before && { ...before });
              expect(inc.steps, at).toEqual(fresh.steps);
              expect(inc.stats, at).toEqual(fresh.stats);
              const idx = scopeIndex(before ?? inc.rendered);
              idx.journal();
              idx.moveTo(inc.rendered);
              const was = before ? pathScopes({ ...before }) : undefined;
              const now = pathScopes({ ...inc.rendered });
              for (const [view, full, name] of [[idx.journaled(), was, 'old'], [idx, now, 'new']] as const) {
                if (!full) continue;
                for (const n of new Set([...(was?.sets.keys() ?? []), ...now.sets.keys()])) expect(view.sets.get(n), `${at}: ${name} set ${n}`).toEqual(full.sets.get(n));
                for (const n of new Set([...(was?.chains.keys() ?? []), ...now.chains.keys()])) expect(view.chains.get(n), `${at}: ${name} chain ${n}`).toEqual(full.chains.get(n));
              }
              idx.settle();
              k.set(family, inc.next);
              prev.set(family, inc.rendered);
            }
          }
        },
      ),
      { numRuns: propRuns(150) },
    );
  }, 60_000);
});
