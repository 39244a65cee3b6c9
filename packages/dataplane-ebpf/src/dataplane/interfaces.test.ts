import { emptyDataplaneState, type HostEndpointState, type WorkloadEndpointState } from '@gingham/core';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { wantedInterfaces } from './interfaces.js';
import { decodeIfname, encodeIfname } from './pins.js';

const workload = (id: string, interfaceName: string, addresses: string[]): WorkloadEndpointState => ({
  id, name: id, node: 'n', interfaceName, addresses, ingressTiers: [], egressTiers: [], profileIds: [], stagedPolicyIds: [],
});
const host = (id: string, binding: HostEndpointState['binding'], expectedIPs: string[] = []): HostEndpointState => ({
  id, node: 'n', binding, expectedIPs, ingressTiers: [], egressTiers: [], untrackedIngressTiers: [], untrackedEgressTiers: [],
  preDnatIngressTiers: [], forwardIngressTiers: [], forwardEgressTiers: [], profileIds: [], stagedPolicyIds: [],
  failsafeInbound: [], failsafeOutbound: [],
});
const LINKS = [
  { ifname: 'lo', addresses: ['127.0.0.1'] },
  { ifname: 'eth0', addresses: ['192.168.99.1'] },
  { ifname: 'eth1', addresses: ['10.0.0.1', 'fd00::1'] },
  { ifname: 'cali1', addresses: [] },
];

describe('which interfaces get the program', () => {
  it('workload interfaces, named host interfaces, and no namespace read when nothing needs it', () => {
    const s = emptyDataplaneState();
    s.workloadEndpoints.set('a/x', workload('a/x', 'cali1', ['10.65.0.1/32']));
    s.workloadEndpoints.set('a/y', workload('a/y', '', ['10.65.0.2/32']));
    s.hostEndpoints.set('h', host('h', { kind: 'interface', interfaceName: 'eth0' }));
    expect(wantedInterfaces(s, () => { throw new Error('must not list links'); })).toEqual(['cali1', 'eth0']);
  });

  it('`*` means every interface except lo and the workload interfaces', () => {
    const s = emptyDataplaneState();
    s.workloadEndpoints.set('a/x', workload('a/x', 'cali1', ['10.65.0.1/32']));
    s.hostEndpoints.set('h', host('h', { kind: 'all-interfaces' }));
    expect(wantedInterfaces(s, () => LINKS)).toEqual(['cali1', 'eth0', 'eth1']);
  });

  it('no interface name means the interfaces carrying an expected IP', () => {
    const s = emptyDataplaneState();
    s.hostEndpoints.set('h', host('h', { kind: 'expected-ips' }, ['fd00:0::1']));
    expect(wantedInterfaces(s, () => LINKS)).toEqual(['eth1']);
  });
});

describe('interface names in pin names', () => {
  it('escapes the dot bpffs rejects', () => {
    expect(encodeIfname('eth0.100')).toBe('eth0%2e100');
    expect(encodeIfname('cali12ab-x_y')).toBe('cali12ab-x_y');
  });
  test.prop([fc.string({ minLength: 1, maxLength: 15, unit: 'grapheme' })])('decode(encode(name)) is the name, with no dot or slash in between', (name) => {
    const e = encodeIfname(name);
    expect(e).not.toMatch(/[./]/);
    expect(decodeIfname(e)).toBe(name);
  });
});
