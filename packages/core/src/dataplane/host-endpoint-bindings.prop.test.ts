import { fc, test } from '@fast-check/vitest';
import { propRuns } from '@gingham/testkit';
import { describe, expect, it } from 'vitest';
import { bindHostEndpoints, type HostLink } from './host-endpoint-bindings.js';
import type { HostEndpointBinding, HostEndpointState } from './messages.js';

const hep = (id: string, binding: HostEndpointBinding, expectedIPs: string[] = []): HostEndpointState => ({
  id, node: 'n', binding, expectedIPs, ingressTiers: [], egressTiers: [], untrackedIngressTiers: [], untrackedEgressTiers: [],
  preDnatIngressTiers: [], forwardIngressTiers: [], forwardEgressTiers: [], profileIds: [], stagedPolicyIds: [],
  failsafeInbound: [], failsafeOutbound: [],
});
const isCali = (n: string): boolean => n.startsWith('cali');
const bind = (heps: HostEndpointState[], links: HostLink[]) => bindHostEndpoints(heps, links, { isWorkloadInterface: isCali });
const names = (m: ReadonlyMap<string, HostEndpointState>): Record<string, string> => Object.fromEntries([...m].map(([k, v]) => [k, v.id]));

const LINKS: HostLink[] = [
  { ifname: 'lo', addresses: ['127.0.0.1', '::1'] },
  { ifname: 'eth0', addresses: ['192.168.99.1'] },
  { ifname: 'eth1', addresses: ['10.0.0.1', 'fd00::1'] },
  { ifname: 'cali1', addresses: ['10.0.0.9'] },
];

describe('which interfaces a host endpoint governs', () => {
  it('an endpoint that names an interface binds it, whether or not it exists yet, and never reads the links', () => {
    const b = bindHostEndpoints([hep('a', { kind: 'interface', interfaceName: 'eth9' })], () => { throw new Error('must not list links'); }, { isWorkloadInterface: isCali });
    expect(names(b.interfaces)).toEqual({ eth9: 'a' });
    expect(b.allInterfaces).toBeUndefined();
    expect(b.allInterfacesLinks).toEqual([]);
  });

  it('without a name, an endpoint binds the interfaces carrying one of its expected IPs (any spelling of the address)', () => {
    const b = bind([hep('a', { kind: 'expected-ips' }, ['fd00:0::1', '192.168.99.1/32'])], LINKS);
    expect(names(b.interfaces)).toEqual({ eth0: 'a', eth1: 'a' });
  });

  it('a name beats an expected IP on the same interface, and the lowest id wins among equals', () => {
    const b = bind([
      hep('z-named', { kind: 'interface', interfaceName: 'eth1' }),
      hep('b-ip', { kind: 'expected-ips' }, ['10.0.0.1']),
      hep('c-ip', { kind: 'expected-ips' }, ['192.168.99.1']),
      hep('a-ip', { kind: 'expected-ips' }, ['192.168.99.1']),
      hep('y-named', { kind: 'interface', interfaceName: 'eth1' }),
    ], LINKS);
    expect(names(b.interfaces)).toEqual({ eth0: 'a-ip', eth1: 'y-named' });
  });

  it('a workload interface is never a host endpoint\'s, by name or by address', () => {
    const b = bind([hep('a', { kind: 'interface', interfaceName: 'cali1' }), hep('b', { kind: 'expected-ips' }, ['10.0.0.9'])], LINKS);
    expect(names(b.interfaces)).toEqual({});
  });

  it('`*` governs every other current interface except lo and the workloads; the lowest id of several', () => {
    const b = bind([hep('s2', { kind: 'all-interfaces' }), hep('s1', { kind: 'all-interfaces' }), hep('n', { kind: 'interface', interfaceName: 'eth0' })], LINKS);
    expect(b.allInterfaces?.id).toBe('s1');
    expect(names(b.interfaces)).toEqual({ eth0: 'n' });
    expect(b.allInterfacesLinks).toEqual(['eth1']);
  });
});

// Random endpoints and links over a small alphabet of names and addresses, so that claims collide.
const IFNAMES = ['lo', 'eth0', 'eth1', 'bond0', 'cali1', 'cali2'];
const IPS = ['10.0.0.1', '10.0.0.2', '192.168.1.1', 'fd00::1', 'fd00::2'];
const arbBinding: fc.Arbitrary<HostEndpointBinding> = fc.oneof(
  fc.constantFrom(...IFNAMES, 'eth9').map((interfaceName) => ({ kind: 'interface' as const, interfaceName })),
  fc.constant({ kind: 'all-interfaces' as const }),
  fc.constant({ kind: 'expected-ips' as const }),
);
const arbHeps = fc.uniqueArray(
  fc.record({ id: fc.stringMatching(/^[a-e][0-9]$/), binding: arbBinding, ips: fc.subarray(IPS) }).map((r) => hep(r.id, r.binding, r.ips)),
  { selector: (h) => h.id, maxLength: 6 },
);
const arbLinks = fc.uniqueArray(
  fc.record({ ifname: fc.constantFrom(...IFNAMES), addresses: fc.subarray(IPS) }),
  { selector: (l) => l.ifname, maxLength: IFNAMES.length },
);

describe('binding laws', () => {
  test.prop([arbHeps, arbLinks], { numRuns: propRuns(300) })('the answer does not depend on the order of endpoints or links', (heps, links) => {
    const a = bind(heps, links);
    const b = bind([...heps].reverse(), [...links].reverse());
    expect(names(b.interfaces)).toEqual(names(a.interfaces));
    expect([...b.interfaces.keys()]).toEqual([...a.interfaces.keys()].sort());
    expect(b.allInterfaces?.id).toBe(a.allInterfaces?.id);
    expect(b.allInterfacesLinks).toEqual(a.allInterfacesLinks);
  });

  test.prop([arbHeps, arbLinks], { numRuns: propRuns(300) })('each interface goes to the best claim: a name, else the lowest-id expected IP; `*` takes the rest', (heps, links) => {
    const b = bind(heps, links);
    const ids = (xs: HostEndpointState[]): string[] => xs.map((h) => h.id).sort();
    const candidates = new Set([...links.map((l) => l.ifname), ...heps.flatMap((h) => (h.binding.kind === 'interface' ? [h.binding.interfaceName] : []))]);
    for (const name of candidates) {
      const link = links.find((l) => l.ifname === name);
      const byName = ids(heps.filter((h) => h.binding.kind === 'interface' && h.binding.interfaceName === name));
      const byIp = ids(heps.filter((h) => h.binding.kind === 'expected-ips' && link !== undefined && h.expectedIPs.some((ip) => link.addresses.includes(ip))));
      const expected = isCali(name) ? undefined : (byName[0] ?? byIp[0]);
      expect(b.interfaces.get(name)?.id, name).toBe(expected);
    }
    for (const name of b.interfaces.keys()) expect(candidates.has(name)).toBe(true);
    const stars = ids(heps.filter((h) => h.binding.kind === 'all-interfaces'));
    expect(b.allInterfaces?.id).toBe(stars[0]);
    const rest = stars.length === 0 ? [] : links.map((l) => l.ifname).filter((n) => n !== 'lo' && !isCali(n) && !b.interfaces.has(n)).sort();
    expect(b.allInterfacesLinks).toEqual(rest);
  });
});
