/**
 * The apply loop's promises: nothing reaches the dataplane before the source's first in-sync or
 * during a relist; a lone update is applied on the next turn of the event loop (no timer); what
 * arrives during an apply is coalesced into one batch right after it; a failed apply is retried
 * (with an empty batch when nothing new came) and readiness waits for it; a contract violation
 * is fatal; `nextApply` is an event for the next successful apply; an interface re-check asks the dataplane for what changed, or for every hook when a
 * full one was requested, and a failed one is retried at the same depth.
 */
import { GinghamError, RecordingDataplane, type DataplaneMessage, type Resource, type SourceMessage } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { ApplyLoop, wrapDataplane, type AgentDataplane, type ApplyRecord } from '@gingham/agent';

const wep = (name: string, app: string, ip: number): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name, namespace: 'default', labels: { app } },
  spec: { node: 'n1', orchestrator: 'k8s', workload: name, endpoint: 'eth0', interfaceName: `cali${name}`, ipNetworks: [`10.0.0.${ip}/32`] },
});
const gnp = (name: string, selector: string): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec: { selector, ingress: [{ action: 'Allow', source: { selector: "app == 'db'" } }] },
});
const up = (resource: Resource): SourceMessage => ({ kind: 'upsert', resource });
const tick = () => new Promise((r) => setImmediate(r));

/** A recording dataplane whose applies can be held open and made to fail. */
function controllable() {
  const recording = new RecordingDataplane();
  const batches: DataplaneMessage[][] = [];
  let gate: Promise<void> | undefined;
  let failWith: Error | undefined;
  const base = wrapDataplane('recording', recording);
  const dp: AgentDataplane = {
    ...base,
    async apply(messages) {
      batches.push([...messages]);
      await gate;
      if (failWith) throw failWith;
      await recording.apply(messages);
    },
  };
  return {
    dp,
    recording,
    batches,
    hold() {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
    fail(e: Error | undefined) {
      failWith = e;
    },
  };
}

describe('apply loop', () => {
  it('applies nothing before the first in-sync, and nothing while a relist is in progress', async () => {
    const c = controllable();
    const loop = new ApplyLoop({ node: 'n1', dataplane: c.dp, retryInitialMs: 5, retryMaxMs: 20 });
    loop.onSourceMessages([{ kind: 'resync-started' }, up(wep('a', 'web', 1))]);
    loop.onSourceMessages([up(gnp('p', "app == 'web'"))]);
    await tick();
    await loop.whenIdle();
    expect(c.batches).toHaveLength(0);
    expect(loop.syncState).toBe('wait-for-datastore');
    loop.onSourceMessages([{ kind: 'in-sync' }]);
    await loop.whenIdle();
    expect(c.batches).toHaveLength(1);
    expect(c.batches[0]!.at(-1)).toEqual({ kind: 'in-sync' });
    expect(loop.applied).toBe(true);
    loop.onSourceMessages([{ kind: 'resync-started' }, up(wep('a', 'db', 1))]);
    await tick();
    await loop.whenIdle();
    expect(c.batches).toHaveLength(1);
    expect(loop.syncState).toBe('resync');
    loop.onSourceMessages([{ kind: 'in-sync' }]);
    await loop.whenIdle();
    expect(c.batches).toHaveLength(2);
    expect(c.recording.violations).toEqual([]);
  });

  it('applies a lone update on the next turn of the event loop, with no timer', async () => {
    const c = controllable();
    const loop = new ApplyLoop({ node: 'n1', dataplane: c.dp, retryInitialMs: 5, retryMaxMs: 20 });
    loop.onSourceMessages([{ kind: 'resync-started' }, up(wep('a', 'web', 1)), up(gnp('p', "app == 'web'")), { kind: 'in-sync' }]);
    await loop.whenIdle();
    loop.onSourceMessages([up(wep('a', 'db', 1))]);
    expect(c.batches).toHaveLength(1);
    await tick();
    expect(c.batches).toHaveLength(2);
  });

  it('coalesces what arrives during an apply into one batch right after it', async () => {
    const c = controllable();
    const loop = new ApplyLoop({ node: 'n1', dataplane: c.dp, retryInitialMs: 5, retryMaxMs: 20 });
    loop.onSourceMessages([{ kind: 'resync-started' }, up(gnp('p', "app == 'web'")), { kind: 'in-sync' }]);
    await loop.whenIdle();
    const release = c.hold();
    loop.onSourceMessages([up(wep('w0', 'web', 100))]);
    await tick();
    expect(c.batches).toHaveLength(2); // running, held
    for (let i = 1; i <= 50; i++) loop.onSourceMessages([up(wep(`w${i}`, 'web', i))]);
    await tick();
    expect(c.batches).toHaveLength(2);
    release();
    await loop.whenIdle();
    expect(c.batches).toHaveLength(3);
    expect(c.batches[2]!.filter((m) => m.kind === 'workload-endpoint-upsert')).toHaveLength(50);
    expect(c.recording.state.workloadEndpoints.size).toBe(51);
  });

  it('retries a failed apply with backoff, and is not ready until it succeeds', async () => {
    const c = controllable();
    const failures: string[] = [];
    const loop = new ApplyLoop({ node: 'n1', dataplane: c.dp, retryInitialMs: 10, retryMaxMs: 40, hooks: { onFailed: (f) => failures.push(f.code) } });
    c.fail(new GinghamError('COMMAND_FAILED', 'iptables-restore: resource busy'));
    loop.onSourceMessages([{ kind: 'resync-started' }, up(wep('a', 'web', 1)), { kind: 'in-sync' }]);
    await loop.whenIdle();
    expect(loop.applied).toBe(false);
    expect(loop.failure).toMatchObject({ code: 'COMMAND_FAILED', attempts: 1 });
    await new Promise((r) => setTimeout(r, 60));
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(c.batches.slice(1).every((b) => b.length === 0)).toBe(true); // retries re-apply the state held
    c.fail(undefined);
    await new Promise((r) => setTimeout(r, 80));
    await loop.whenIdle();
    expect(loop.applied).toBe(true);
    expect(loop.lastApply).toMatchObject({ retry: true });
  });

  it('nextApply resolves with the record of the next successful apply, not with a failed one', async () => {
    const c = controllable();
    const loop = new ApplyLoop({ node: 'n1', dataplane: c.dp, retryInitialMs: 10, retryMaxMs: 40 });
    loop.onSourceMessages([{ kind: 'resync-started' }, up(wep('a', 'web', 1)), up(gnp('p', "app == 'web'")), { kind: 'in-sync' }]);
    const first = await loop.nextApply();
    expect(first).toMatchObject({ retry: false, changes: expect.objectContaining({ 'in-sync': 1 }) });
    c.fail(new GinghamError('COMMAND_FAILED', 'iptables-restore: resource busy'));
    let seen: ApplyRecord | undefined;
    const next = loop.nextApply().then((r) => (seen = r));
    loop.onSourceMessages([up(wep('a', 'db', 1))]);
    await loop.whenIdle();
    await tick();
    expect(loop.failure).toBeDefined();
    expect(seen).toBeUndefined();
    c.fail(undefined);
    await next;
    expect(seen).toMatchObject({ retry: true });
    expect(seen).toBe(loop.lastApply);
  });

  it('stops for good when the dataplane refuses a batch as breaking its contract', async () => {
    const c = controllable();
    let fatal: unknown;
    const loop = new ApplyLoop({ node: 'n1', dataplane: c.dp, retryInitialMs: 5, retryMaxMs: 20, hooks: { onFatal: (e) => (fatal = e) } });
    c.fail(new GinghamError('IPTABLES_CONTRACT_VIOLATION', 'a member delta for an unknown set'));
    loop.onSourceMessages([{ kind: 'resync-started' }, up(wep('a', 'web', 1)), { kind: 'in-sync' }]);
    await loop.whenIdle();
    expect(fatal).toMatchObject({ code: 'IPTABLES_CONTRACT_VIOLATION' });
    loop.onSourceMessages([up(wep('b', 'web', 2))]);
    await tick();
    expect(c.batches).toHaveLength(1);
  });

  it('an interface re-check is a quick one unless a full one was requested, and a failed one is retried as deep', async () => {
    const c = controllable();
    const syncs: (boolean | undefined)[] = [];
    let failSync = false;
    const dp: AgentDataplane = {
      ...c.dp,
      async syncInterfaces(o) {
        syncs.push(o?.full);
        if (failSync) throw new Error('attach failed');
      },
    };
    const loop = new ApplyLoop({ node: 'n1', dataplane: dp, retryInitialMs: 5, retryMaxMs: 20 });
    loop.onSourceMessages([{ kind: 'resync-started' }, up(wep('a', 'web', 1)), { kind: 'in-sync' }]);
    await loop.whenIdle();
    loop.requestInterfaceSync();
    await loop.whenIdle();
    expect(syncs).toEqual([undefined]);
    // A quick and a full request before the next run: one full re-check.
    loop.requestInterfaceSync(true);
    loop.requestInterfaceSync();
    await loop.whenIdle();
    expect(syncs).toEqual([undefined, true]);
    expect(loop.lastApply?.interfaceSync).toBe(true);
    // A full re-check that fails is retried as a full one.
    failSync = true;
    loop.requestInterfaceSync(true);
    await loop.whenIdle();
    failSync = false;
    await new Promise((r) => setTimeout(r, 30));
    await loop.whenIdle();
    expect(syncs.slice(2)).toEqual([true, true]);
  });

  it('a quick re-check names the reported interfaces while every request since named one, else checks all', async () => {
    const c = controllable();
    const seen: unknown[] = [];
    let failSync = false;
    const dp: AgentDataplane = {
      ...c.dp,
      async syncInterfaces(o) {
        seen.push(o?.full ? 'full' : o?.changed ? o.changed.map((x) => `${x.name}@${x.index ?? '?'}`) : 'all');
        if (failSync) throw new Error('attach failed');
      },
    };
    const loop = new ApplyLoop({ node: 'n1', dataplane: dp, retryInitialMs: 5, retryMaxMs: 20 });
    // Reports before the first sync are kept for the first re-check.
    loop.requestInterfaceSync(false, { name: 'early0', index: 3 });
    loop.onSourceMessages([{ kind: 'resync-started' }, up(wep('a', 'web', 1)), { kind: 'in-sync' }]);
    await loop.whenIdle();
    loop.requestInterfaceSync(false, { name: 'cali1', index: 7 });
    loop.requestInterfaceSync(false, { name: 'peer1', index: 8 });
    await loop.whenIdle();
    // A request that names nothing (an IPv6 address event) makes the re-check look at everything.
    loop.requestInterfaceSync(false, { name: 'cali2', index: 9 });
    loop.requestInterfaceSync();
    loop.requestInterfaceSync(false, { name: 'cali3', index: 10 });
    await loop.whenIdle();
    // A full request wins over reports.
    loop.requestInterfaceSync(false, { name: 'cali4', index: 11 });
    loop.requestInterfaceSync(true);
    await loop.whenIdle();
    expect(seen).toEqual([['early0@3'], ['cali1@7', 'peer1@8'], 'all', 'full']);
    // A failed reported re-check is retried looking at everything.
    failSync = true;
    loop.requestInterfaceSync(false, { name: 'cali5', index: 12 });
    await loop.whenIdle();
    failSync = false;
    await new Promise((r) => setTimeout(r, 30));
    await loop.whenIdle();
    expect(seen.slice(4)).toEqual([['cali5@12'], 'all']);
    // Hundreds of reports in one burst: one look at everything.
    for (let i = 0; i < 300; i++) loop.requestInterfaceSync(false, { name: `burst${i}`, index: 100 + i });
    await loop.whenIdle();
    expect(seen.slice(6)).toEqual(['all']);
  });
});
