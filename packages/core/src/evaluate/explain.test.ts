import { describe, expect, it } from 'vitest';
import { GinghamError } from '../errors.js';
import { check, globalPolicy, hostEndpoint, k8sPolicy, namespace, pod, snap, stagedGlobalPolicy, tier } from './test-fixtures.js';
import { evaluate, resolvePeer } from './evaluate.js';
import { explain } from './explain.js';
import { matrix } from './matrix.js';

const s = snap(
  namespace('ns'),
  pod('ns', 'client', '10.0.0.1', { app: 'client' }),
  pod('ns', 'server', '10.0.0.2', { app: 'server' }, { ports: [{ name: 'http', containerPort: 8080 }] }),
  hostEndpoint('h1', ['192.168.0.1']),
  tier('sec', 10),
  globalPolicy('sec-pass', { tier: 'sec', selector: 'has(app)', ingress: [{ action: 'Deny', protocol: 'UDP' }, { action: 'Pass' }] }),
  k8sPolicy('ns', 'server', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ ports: [{ port: 'http' }] }] }),
  stagedGlobalPolicy('tighten', { selector: "app == 'server'", ingress: [{ action: 'Deny' }] }),
);

describe('explain', () => {
  it('renders the verdict, the flow and every tier, policy and rule visited', () => {
    const text = explain(check(s, 'ns/client', 'ns/server', 9090));
    expect(text.split('\n').slice(0, 3)).toEqual([
      'DENIED: ingress denied by end of tier default: no policy allowed the traffic (default action Deny)',
      'ns/client (10.0.0.1) -> ns/server (10.0.0.2)  TCP dport 9090',
      'egress of workload ns/client: ALLOW by profile kns.ns rule 0',
    ]);
    expect(text).toContain('ingress of workload ns/server: DENY by end of tier default');
    expect(text).toContain('    tier sec (default Deny): Pass → next tier');
    expect(text).toContain('        rule 0 Deny: no match (protocol TCP is not UDP)');
    expect(text).toContain('      policy knp/ns/server (order 1000): no rule matched');
    expect(text).toContain('        rule 0 Allow: no match (destination port 9090 not in [http])');
    expect(text).toContain('staged preview (staged policies enforced): DENIED');
    expect(text).not.toMatch(/ +$/m);
  });

  it('describes outside addresses and allowed flows', () => {
    const text = explain(check(s, '192.0.2.1', 'ns/server', 8080));
    expect(text.split('\n')[0]).toBe('ALLOWED: egress and ingress both allow');
    expect(text).toContain('egress of outside address: ALLOW by not an endpoint: no policy applies');
  });
});

describe('resolvePeer', () => {
  it('resolves workload ids, endpoint names, endpoint addresses and outside addresses', () => {
    expect(resolvePeer(s, 'ns/client')).toEqual({ ref: 'ns/client', kind: 'workload', endpointId: 'ns/client', addresses: ['10.0.0.1'] });
    expect(resolvePeer(s, 'client')).toMatchObject({ kind: 'workload', endpointId: 'ns/client' });
    expect(resolvePeer(s, 'h1')).toMatchObject({ kind: 'host', endpointId: 'h1' });
    expect(resolvePeer(s, '10.0.0.2')).toMatchObject({ kind: 'workload', endpointId: 'ns/server', address: '10.0.0.2' });
    expect(resolvePeer(s, '192.168.0.1')).toMatchObject({ kind: 'host', endpointId: 'h1' });
    expect(resolvePeer(s, '2001:DB8::1')).toEqual({ ref: '2001:DB8::1', kind: 'address', addresses: ['2001:db8::1'], address: '2001:db8::1' });
  });

  it('rejects unknown peers and protocols with GinghamError', () => {
    expect(() => resolvePeer(s, 'ns/nope')).toThrow(GinghamError);
    expect(() => evaluate(s, { src: 'ns/client', dst: 'ns/server', protocol: 'GRE' })).toThrow(/unknown protocol/);
    expect(() => evaluate(s, { src: 'ns/client', dst: 'ns/server', protocol: 'TCP', dstPort: 70000 })).toThrow(/invalid destination port/);
  });

  it('accepts protocol names in any case and as numbers', () => {
    const a = evaluate(s, { src: 'ns/client', dst: 'ns/server', protocol: 'udp', dstPort: 53 });
    const b = evaluate(s, { src: 'ns/client', dst: 'ns/server', protocol: 17, dstPort: 53 });
    const c = evaluate(s, { src: 'ns/client', dst: 'ns/server', protocol: '17', dstPort: 53 });
    expect(a.trace.flow.protocol).toBe(17);
    expect(b).toEqual(c);
    expect(a.allowed).toBe(b.allowed);
  });
});

describe('matrix', () => {
  it('lists every ordered pair of distinct peers for every port, skipping self pairs', () => {
    const cells = matrix(s, ['ns/client', 'ns/server'], [{ port: 8080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }]);
    expect(cells).toEqual([
      { from: 'ns/client', to: 'ns/server', port: 8080, protocol: 'TCP', allowed: true },
      { from: 'ns/server', to: 'ns/client', port: 8080, protocol: 'TCP', allowed: true },
      { from: 'ns/client', to: 'ns/server', port: 53, protocol: 'UDP', allowed: false },
      { from: 'ns/server', to: 'ns/client', port: 53, protocol: 'UDP', allowed: false },
    ]);
  });
});
