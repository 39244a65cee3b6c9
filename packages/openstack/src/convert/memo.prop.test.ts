// A conversion that reuses earlier results (the memo a live source keeps) gives exactly the
// output of a fresh conversion, whatever changed in between: ports, groups, names, subnets,
// networks, floating IPs, QoS policies, projects, and invalid objects coming and going.
import { fc, test } from '@fast-check/vitest';
import { propRuns } from '@gingham/testkit';
import { describe, expect } from 'vitest';
import type { NeutronPort } from '../neutron-types.js';
import { securityGroup, testUuid, vmPort } from '../testing/fixtures.js';
import { convertNeutron, createConversionMemo } from './convert.js';

const SG = [0, 1].map((i) => testUuid(`memo-sg:${i}`));
const arbPort = fc
  .record({ n: fc.nat(6), host: fc.constantFrom('compute-1', 'compute-2', 'Bad_Host'), ip: fc.nat(5), groups: fc.subarray([0, 1]), subnet: fc.constantFrom('s1', 's2'), qos: fc.option(fc.constantFrom('q1', 'q2')) })
  .map((p): NeutronPort => vmPort({ id: testUuid(`memo-port:${p.n}`), host: p.host, ip: `10.0.0.${p.ip + 2}`, securityGroups: p.groups.map((g) => SG[g]!), subnetId: p.subnet, networkId: 'n1', projectId: 'p1', ...(p.qos ? { qosPolicyId: p.qos } : {}) }));

/** Group versions made once, so that steps share the very objects (as a source's cache does). */
const GROUP_SETS = ['web', 'db', ''].flatMap((name) =>
  [true, false].map((tcp) => SG.map((id, i) => securityGroup(id, `${name}${i}`, tcp ? [{ protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SG[1 - i]! }] : [{ ethertype: i === 0 ? 'IPv4' : 'IPv6' }]))),
);

/** Everything but the ports: a step of the cloud's history. */
const arbContext = fc.record({
  securityGroups: fc.constantFrom(...GROUP_SETS),
  subnets: fc.constantFrom('10.0.0.1', '10.0.0.254').map((gw) => [{ id: 's1', gateway_ip: gw }, { id: 's2', gateway_ip: null }]),
  networks: fc.constantFrom('net', 'other net').map((name) => [{ id: 'n1', name }]),
  floatingIps: fc.nat(6).map((n) => [{ id: 'f', port_id: testUuid(`memo-port:${n}`), fixed_ip_address: '10.0.0.2', floating_ip_address: '203.0.113.9' }]),
  qosPolicies: fc.nat(3).map((k) => [{ id: 'q1', rules: [{ type: 'bandwidth_limit', direction: 'egress', max_kbps: 1000 * (k + 1) }] }]),
  projects: fc.constantFrom('Shop', 'Lab').map((name) => [{ id: 'p1', name, parent_id: 'default' }]),
  region: fc.constantFrom(undefined, 'r1'),
});

/** Ports are picked from one pool, so the same port objects meet changed contexts, as in a source's cache. */
const arbHistory = fc.uniqueArray(arbPort, { selector: (p) => p.id, minLength: 1, maxLength: 6 }).chain((pool) =>
  fc.array(fc.tuple(fc.subarray(pool), arbContext), { minLength: 1, maxLength: 6 }).map((steps) => steps.map(([ports, ctx]) => ({ ports, ...ctx }))),
);

describe('conversion memo', () => {
  test.prop([arbHistory], { numRuns: propRuns(200) })('reusing earlier results changes nothing in the output', (steps) => {
    const memo = createConversionMemo();
    for (const { region, ...inputs } of steps) {
      const options = region ? { region } : {};
      // The pool's objects first (last seen in another context), fresh copies, then the pool's again, twice.
      for (const [k, input] of [inputs, structuredClone(inputs), inputs, inputs].entries()) {
        expect(convertNeutron(input, { ...options, memo })).toEqual(convertNeutron(input, options));
        if (k === 3) expect(memo.converted).toBe(0); // the very same objects: nothing converted again
      }
    }
  });
});
