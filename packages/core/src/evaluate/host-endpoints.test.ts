import { describe, expect, it } from 'vitest';
import { allowed, check, globalPolicy, hostEndpoint, namespace, pod, snap } from './test-fixtures.js';
import { evaluate } from './evaluate.js';
import { parseFailsafePorts } from './failsafe.js';

const base = [
  namespace('ns'),
  pod('ns', 'client', '10.0.0.1', { app: 'client' }),
  hostEndpoint('node-1-eth0', ['192.168.0.10'], { role: 'node' }),
  hostEndpoint('node-2-eth0', ['192.168.0.20'], { role: 'node' }, { profiles: ['projectcalico-default-allow'] }),
];
const denyAllHosts = globalPolicy('deny-hosts', { selector: "role == 'node'", types: ['Ingress', 'Egress'] });

describe('host endpoints', () => {
  it('a host endpoint without policy and without profiles is denied', () => {
    const r = check(snap(...base), 'ns/client', 'node-1-eth0', 8080);
    expect(r.allowed).toBe(false);
    expect(r.trace.ingress.decision).toEqual({ stage: 'no-profiles', action: 'Deny' });
  });

  it('the projectcalico-default-allow profile makes a host endpoint default-allow', () => {
    expect(allowed(snap(...base), 'ns/client', 'node-2-eth0', 8080)).toBe(true);
  });

  it('an expectedIP resolves to its host endpoint', () => {
    const r = check(snap(...base), 'ns/client', '192.168.0.20', 8080);
    expect(r.trace.flow.dst).toMatchObject({ kind: 'host', endpointId: 'node-2-eth0', address: '192.168.0.20' });
  });

  it('inbound failsafe tcp:22 is allowed despite a deny-all policy', () => {
    const s = snap(...base, denyAllHosts);
    const r = check(s, 'ns/client', 'node-2-eth0', 22);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.decision).toEqual({ stage: 'failsafe', action: 'Allow', failsafe: 'tcp:22' });
    expect(allowed(s, 'ns/client', 'node-2-eth0', 2222)).toBe(false);
  });

  it('inbound failsafes match protocol too (udp:22 is not failsafe)', () => {
    expect(allowed(snap(...base, denyAllHosts), 'ns/client', 'node-2-eth0', 22, 'UDP')).toBe(false);
  });

  it('outbound failsafe udp:53 from a host endpoint is allowed', () => {
    const s = snap(...base, denyAllHosts);
    expect(check(s, 'node-2-eth0', '8.8.8.8', 53, 'UDP').trace.egress.decision).toMatchObject({ stage: 'failsafe' });
    expect(allowed(s, 'node-2-eth0', '8.8.8.8', 53, 'TCP')).toBe(false);
  });

  it('failsafes do not apply to workloads', () => {
    const s = snap(...base, globalPolicy('deny-pods', { selector: 'has(app)', ingress: [] , types: ['Ingress'] }));
    expect(allowed(s, '192.0.2.1', 'ns/client', 22)).toBe(false);
  });

  it('failsafes can be replaced or disabled', () => {
    const s = snap(...base, denyAllHosts);
    const flow = { src: 'ns/client', dst: 'node-2-eth0', protocol: 'TCP', dstPort: 22 } as const;
    expect(evaluate(s, flow, { failsafeInbound: [] }).allowed).toBe(false);
    expect(evaluate(s, { ...flow, dstPort: 2022 }, { failsafeInbound: parseFailsafePorts('tcp:2022') }).allowed).toBe(true);
  });

  it('a failsafe entry with a CIDR matches only sources in it', () => {
    const s = snap(...base, denyAllHosts);
    const flow = { src: 'ns/client', dst: 'node-2-eth0', protocol: 'TCP', dstPort: 22 } as const;
    expect(evaluate(s, flow, { failsafeInbound: parseFailsafePorts('tcp:10.0.0.0/24:22') }).allowed).toBe(true);
    expect(evaluate(s, flow, { failsafeInbound: parseFailsafePorts('tcp:10.9.0.0/24:22') }).allowed).toBe(false);
  });

  it('parses Felix failsafe syntax', () => {
    expect(parseFailsafePorts('22, udp:68,,tcp:[fd00::/64]:443')).toEqual([
      { protocol: 'tcp', port: 22 },
      { protocol: 'udp', port: 68 },
      { protocol: 'tcp', port: 443, net: 'fd00::/64' },
    ]);
    expect(() => parseFailsafePorts('icmp:1')).toThrow(/invalid failsafe/);
  });

  it('an untracked Deny decides before normal policy', () => {
    const s = snap(
      ...base,
      globalPolicy('allow', { selector: "role == 'node'", ingress: [{ action: 'Allow' }] }),
      globalPolicy('raw-deny', { selector: "role == 'node'", doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [8080] } }] }),
    );
    const r = check(s, 'ns/client', 'node-2-eth0', 8080);
    expect(r.allowed).toBe(false);
    expect(r.trace.ingress.decision).toMatchObject({ stage: 'untracked', policyId: 'gnp/raw-deny' });
    expect(allowed(s, 'ns/client', 'node-2-eth0', 8081)).toBe(true);
  });

  it('an untracked Allow decides: the normal tiers are not consulted', () => {
    const s = snap(
      ...base,
      denyAllHosts,
      globalPolicy('raw-allow', { selector: "role == 'node'", doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
    );
    expect(check(s, 'ns/client', 'node-2-eth0', 8080).trace.ingress.decision).toMatchObject({ stage: 'untracked', action: 'Allow' });
  });

  it('untracked and pre-DNAT tiers end in Pass, never in a drop', () => {
    const s = snap(
      ...base,
      globalPolicy('raw', { selector: "role == 'node'", doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny', protocol: 'UDP' }] }),
      globalPolicy('pre', { selector: "role == 'node'", preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny', protocol: 'UDP' }] }),
    );
    const r = check(s, 'ns/client', 'node-2-eth0', 8080);
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.stages.map((st) => st.stage)).toEqual(['failsafe', 'untracked', 'pre-dnat', 'profiles']);
  });

  it('pre-DNAT policy applies to ingress only', () => {
    const s = snap(
      ...base,
      globalPolicy('pre', { selector: "role == 'node'", preDNAT: true, applyOnForward: true, types: ['Ingress'], ingress: [{ action: 'Deny' }] }),
    );
    expect(allowed(s, 'ns/client', 'node-2-eth0', 8080)).toBe(false);
    expect(allowed(s, 'node-2-eth0', 'ns/client', 8080)).toBe(true);
  });

  it('pre-DNAT Allow decides before the normal tiers', () => {
    const s = snap(
      ...base,
      denyAllHosts,
      globalPolicy('pre', { selector: "role == 'node'", preDNAT: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
    );
    expect(check(s, 'ns/client', 'node-2-eth0', 8080).trace.ingress.decision).toMatchObject({ stage: 'pre-dnat', action: 'Allow' });
  });

  it('untracked and pre-DNAT policies never apply to workloads', () => {
    const s = snap(
      ...base,
      globalPolicy('raw', { selector: 'all()', doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
      globalPolicy('pre', { selector: 'all()', preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
    );
    expect(allowed(s, 'node-2-eth0', 'ns/client', 8080)).toBe(true);
  });

  it('a GNP selector all() selects host endpoints as well as workloads', () => {
    const s = snap(...base, globalPolicy('all', { selector: 'all()', types: ['Ingress'] }));
    expect(allowed(s, '192.0.2.1', 'ns/client', 8080)).toBe(false);
    expect(allowed(s, '192.0.2.1', 'node-2-eth0', 8080)).toBe(false);
  });

  it('normal host policy with an Allow rule lets the flow through after failsafes', () => {
    const s = snap(...base, globalPolicy('web', { selector: "role == 'node'", ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [443] } }] }));
    expect(allowed(s, 'ns/client', 'node-1-eth0', 443)).toBe(true);
    expect(allowed(s, 'ns/client', 'node-1-eth0', 444)).toBe(false);
  });
});
