// The law every source keeps (docs/sources.md), against the test cloud over real HTTP: whatever
// Neutron did (ports and groups added, changed, moved, deleted; server errors and dropped
// connections; incremental polls and full relists), once a full list succeeds the Engine fed by
// the source is in exactly the state of an Engine fed the final objects converted from files,
// in both the controller mode (every port in full) and the agent mode (this host in full).
import { applySourceMessages, canonicalDataplaneState, createEngine, RecordingDataplane, type SourceMessage } from '@gingham/core';
import { convertNeutron, createOpenStackSource, type NeutronPort, type NeutronSecurityGroup } from '@gingham/openstack';
import { createTestCloud, securityGroup, testUuid, vmPort } from '@gingham/openstack/testing';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const NODE = 'compute-1';
const HOSTS = ['compute-1', 'compute-2'];
const SGS = [0, 1, 2].map((i) => testUuid(`prop-sg:${i}`));
const portId = (n: number): string => testUuid(`prop-port:${n}`);

type Op =
  | { op: 'port'; n: number; host: number; ip: number; groups: number[] }
  | { op: 'delPort'; n: number }
  | { op: 'group'; g: number; name: string; rules: number }
  | { op: 'delGroup'; g: number }
  | { op: 'fault'; kind: 'status' | 'drop'; path: string }
  | { op: 'poll' }
  | { op: 'full' };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('port' as const), n: fc.nat(5), host: fc.nat(1), ip: fc.nat(5), groups: fc.uniqueArray(fc.nat(2), { maxLength: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delPort' as const), n: fc.nat(5) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('group' as const), g: fc.nat(2), name: fc.constantFrom('web', 'db', 'ssh admins'), rules: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delGroup' as const), g: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('fault' as const), kind: fc.constantFrom('status' as const, 'drop' as const), path: fc.constantFrom('/network/v2.0/ports', '/network/v2.0/security-groups', '/identity/v3') }) },
  { weight: 4, arbitrary: fc.constant({ op: 'poll' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'full' as const }) },
);

/** Rule sets: a group that allows ssh from itself, web from another group, a CIDR, or nothing in. */
function group(g: number, name: string, rules: number): NeutronSecurityGroup {
  const id = SGS[g]!;
  const other = SGS[(g + 1) % SGS.length]!;
  const variants = [
    [{ protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: id }],
    [{ protocol: 'tcp', port_range_min: 80, port_range_max: 81, remote_group_id: other }],
    [{ protocol: 'udp', port_range_min: 53, port_range_max: 53, remote_ip_prefix: '10.9.0.0/16' }, { direction: 'egress', protocol: 'tcp', remote_group_id: other }],
    [],
  ] as const;
  return securityGroup(id, name, [{ direction: 'egress' }, ...variants[rules]!]);
}

async function run(ops: readonly Op[], agent: boolean): Promise<void> {
  let t = Date.parse('2031-03-01T00:00:00Z');
  const cloud = await createTestCloud({ now: () => t });
  const source = createOpenStackSource({
    keystone: { authUrl: cloud.authUrl, credentials: { kind: 'password', username: 'admin', password: 'secret', projectName: 'admin' } },
    autoPoll: false,
    now: () => t,
    changedSinceSlackMs: 1000,
    resyncIntervalMs: 3_600_000,
    timeoutMs: 2000,
    ...(agent ? { host: NODE } : {}),
  });
  const live = new RecordingDataplane({ keepBatches: false });
  const engine = createEngine({ node: NODE, dataplane: live });
  const pending: SourceMessage[][] = [];
  try {
    await source.start((ms) => pending.push([...ms]));
    const drain = async (): Promise<void> => {
      for (const ms of pending.splice(0)) applySourceMessages(engine, ms);
      await engine.flush();
    };
    /** The Engine state for the cloud's objects right now, converted as files would be. */
    const expected = async (): Promise<unknown> => {
      const final = convertNeutron({ ports: cloud.list<NeutronPort>('ports'), securityGroups: cloud.list<NeutronSecurityGroup>('securityGroups'), networks: [], subnets: [], floatingIps: [], qosPolicies: [], projects: [] });
      expect(final.problems.filter((p) => p.severity === 'error')).toEqual([]);
      const fresh = new RecordingDataplane({ keepBatches: false });
      const reference = createEngine({ node: NODE, dataplane: fresh });
      for (const r of final.resources) reference.upsert(r.resource);
      await reference.flush();
      if (!agent) expect(source.status().resources).toBe(final.resources.length);
      return canonicalDataplaneState(fresh.state);
    };
    for (const o of ops) {
      t += 3000;
      switch (o.op) {
        case 'port': {
          const p: NeutronPort = vmPort({ id: portId(o.n), host: HOSTS[o.host]!, ip: `10.0.0.${10 + o.ip}`, securityGroups: o.groups.map((g) => SGS[g]!) });
          cloud.put('ports', p);
          break;
        }
        case 'delPort':
          cloud.remove('ports', portId(o.n));
          break;
        case 'group':
          cloud.put('securityGroups', group(o.g, o.name, o.rules));
          break;
        case 'delGroup':
          cloud.remove('securityGroups', SGS[o.g]!);
          break;
        case 'fault':
          cloud.inject(o.kind === 'drop' ? { path: o.path, drop: true } : { path: o.path, status: 500 });
          if (o.path === '/identity/v3') cloud.expireTokens();
          break;
        case 'poll':
          await source.pollNow();
          await drain();
          break;
        case 'full':
          // Every successful full list lands exactly on the cloud's current state.
          if (await source.pollNow({ full: true })) {
            await drain();
            expect(canonicalDataplaneState(live.state)).toEqual(await expected());
          }
          break;
      }
    }
    // Faults left in the queue fail polls; a full list eventually succeeds.
    t += 3000;
    let ok = false;
    for (let i = 0; i < 10 && !ok; i++) ok = await source.pollNow({ full: true });
    expect(ok).toBe(true);
    await drain();
    expect(canonicalDataplaneState(live.state)).toEqual(await expected());
  } finally {
    await source.close();
    await cloud.close();
  }
}

describe('OpenStack source law', () => {
  it('an Engine fed by the source ends in the state of an Engine fed the final objects, for random histories', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbOp, { minLength: 1, maxLength: 25 }), fc.boolean(), (ops, agent) => run(ops, agent)),
      { numRuns: propRuns(30) },
    );
  });
});
