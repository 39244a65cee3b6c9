import { describe, expect, it } from 'vitest';
import { GinghamError } from '../errors.js';
import { evaluate } from './evaluate.js';
import { explain } from './explain.js';
import { check, globalPolicy, hostEndpoint, namespace, pod, snap, stagedGlobalPolicy } from './test-fixtures.js';
import type { Flow } from './types.js';

// node-1 runs ns/web (10.0.0.2) and ns/db (10.0.0.3); its host has 192.168.0.10 on eth0 and
// 192.168.1.10 on eth1. 198.51.100.7 is outside; 10.9.0.5 is a pod on node-2.
const cluster = [
  namespace('ns'),
  pod('ns', 'web', '10.0.0.2', { app: 'web' }),
  pod('ns', 'db', '10.0.0.3', { app: 'db' }),
  pod('ns', 'far', '10.9.0.5', { app: 'far' }, { node: 'node-2' }),
];
/** Kubernetes-style auto host endpoint: `*`, no profile here (the setup). */
const star = hostEndpoint('node-1-all', ['192.168.0.10'], { 'host-endpoint': 'all' }, { node: 'node-1', interfaceName: '*' });
const eth0 = hostEndpoint('node-1-eth0', ['192.168.0.10'], { 'host-endpoint': 'eth0' }, { node: 'node-1', interfaceName: 'eth0' });
const eth1 = hostEndpoint('node-1-eth1', ['192.168.1.10'], { 'host-endpoint': 'eth1' }, { node: 'node-1', interfaceName: 'eth1' });
const denyPods = globalPolicy('deny-pods', { selector: 'has(app)', types: ['Ingress', 'Egress'] });
const aof = (name: string, selector: string, spec: Record<string, unknown>) => globalPolicy(name, { selector, applyOnForward: true, ...spec });
const tcp = (src: string, dst: string, dstPort: number, extra: Partial<Flow> = {}): Flow => ({ src, dst, protocol: 'TCP', dstPort, ...extra });

describe('a host and its own workloads', () => {
  it('host → own workload is allowed with a `*` host endpoint that has no policy (issue 15)', () => {
    const r = evaluate(snap(...cluster, star), tcp('node-1-all', 'ns/web', 80));
    expect(r.allowed).toBe(true);
    expect(r.trace.egress.decision).toEqual({ stage: 'local-host', action: 'Allow' });
    expect(r.trace.ingress.decision).toEqual({ stage: 'local-host', action: 'Allow' });
    expect(r.trace.flow.via).toEqual({ node: 'node-1', inferred: true });
  });

  it("host → own workload is never policed, not even by the workload's ingress policy", () => {
    expect(evaluate(snap(...cluster, star, denyPods), tcp('192.168.0.10', 'ns/web', 80)).allowed).toBe(true);
  });

  it("a Node resource's address counts as the host", () => {
    const node = { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-1' }, spec: { addresses: [{ address: '192.168.7.7' }] } };
    const s = snap(...cluster, denyPods, node as never);
    expect(evaluate(s, tcp('192.168.7.7', 'ns/web', 80)).trace.ingress.decision.stage).toBe('local-host');
    expect(evaluate(s, tcp('192.168.7.8', 'ns/web', 80)).allowed).toBe(false);
  });

  it("a host → a workload on another node meets the host endpoint's egress and the workload's ingress", () => {
    const r = evaluate(snap(...cluster, star), tcp('node-1-all', 'ns/far', 80));
    expect(r.allowed).toBe(false);
    expect(r.trace.egress.decision).toEqual({ stage: 'no-profiles', action: 'Deny' });
    expect(r.trace.flow.via).toBeUndefined();
  });

  it('workload → own host: its egress, then DefaultEndpointToHostAction (ACCEPT by default); host endpoint ingress policy does not apply', () => {
    const denyHost = globalPolicy('deny-host', { selector: "has(host-endpoint)", types: ['Ingress'] });
    const s = snap(...cluster, star, denyHost);
    const r = evaluate(s, tcp('ns/web', '192.168.0.10', 8080));
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress).toMatchObject({ endpoint: { kind: 'HostEndpoint', id: 'node-1-all' }, decision: { stage: 'endpoint-to-host', action: 'Allow' } });
    expect(evaluate(s, tcp('ns/web', '192.168.0.10', 8080), { endpointToHostAction: 'DROP' }).allowed).toBe(false);
    expect(evaluate(s, tcp('ns/web', '192.168.0.10', 8080), { endpointToHostAction: 'RETURN' }).allowed).toBe(true);
    expect(evaluate(snap(...cluster, star, denyPods), tcp('ns/web', '192.168.0.10', 8080)).trace.egress.decision.stage).toBe('end-of-tier');
  });

  it("workload → own host meets the `*` host endpoint's pre-DNAT policy on the way in", () => {
    const pre = globalPolicy('pre', { selector: "host-endpoint == 'all'", preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [9100] } }] });
    const s = snap(...cluster, star, pre);
    const r = evaluate(s, tcp('ns/web', '192.168.0.10', 9100));
    expect(r.allowed).toBe(false);
    expect(r.trace.via?.in).toMatchObject({ endpoint: { id: 'node-1-all' }, decision: { stage: 'pre-dnat', policyId: 'gnp/pre' } });
    expect(evaluate(s, tcp('ns/web', '192.168.0.10', 9101)).allowed).toBe(true);
  });
});

describe('forwarded traffic through a host endpoint', () => {
  const fromOutside = (port: number, extra: Partial<Flow> = {}): Flow => tcp('198.51.100.7', 'ns/web', port, { via: 'node-1', ...extra });

  it('with no applyOnForward policy, forwarded traffic is allowed (only the workload decides)', () => {
    const r = evaluate(snap(...cluster, star), fromOutside(80));
    expect(r.allowed).toBe(true);
    expect(r.trace.via?.in).toMatchObject({ direction: 'ingress', endpoint: { id: 'node-1-all' }, decision: { stage: 'forward-default' } });
    expect(r.trace.via?.out).toMatchObject({ direction: 'egress', endpoint: { id: 'node-1-all' }, decision: { stage: 'forward-default' } });
  });

  it('normal (not applyOnForward) host policy never applies to forwarded traffic', () => {
    const denyHost = globalPolicy('deny-host', { selector: 'has(host-endpoint)', types: ['Ingress', 'Egress'] });
    expect(evaluate(snap(...cluster, star, denyHost), fromOutside(80)).allowed).toBe(true);
  });

  it("applyOnForward ingress policy of the arrival host endpoint: its rules decide, then the tier's default Deny", () => {
    const s = snap(...cluster, star, aof('web-only', 'has(host-endpoint)', { types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }] }));
    expect(evaluate(s, fromOutside(80)).allowed).toBe(true);
    const r = evaluate(s, fromOutside(81));
    expect(r.allowed).toBe(false);
    expect(r.trace.via?.in?.decision).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'default' });
    expect(r.trace.via?.in?.stages.map((st) => st.stage)).toEqual(['forward']);
  });

  it("the workload's own policy still applies after the host endpoint allowed", () => {
    const s = snap(...cluster, star, denyPods);
    const r = evaluate(s, fromOutside(80));
    expect(r.allowed).toBe(false);
    expect(r.trace.via?.in?.allowed).toBe(true);
    expect(r.trace.ingress.allowed).toBe(false);
  });

  it('pre-DNAT: an Allow skips the applyOnForward ingress tiers, a Deny drops before them', () => {
    const denyFwd = aof('deny-fwd', 'has(host-endpoint)', { types: ['Ingress'], ingress: [{ action: 'Deny' }] });
    const pre = globalPolicy('pre', {
      selector: 'has(host-endpoint)', preDNAT: true, applyOnForward: true,
      ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } }, { action: 'Deny', protocol: 'TCP', destination: { ports: [9090] } }],
    });
    const s = snap(...cluster, star, denyFwd, pre);
    expect(evaluate(s, fromOutside(8080)).trace.via?.in?.decision).toMatchObject({ stage: 'pre-dnat', action: 'Allow' });
    expect(evaluate(s, fromOutside(8080)).allowed).toBe(true);
    expect(evaluate(s, fromOutside(9090)).trace.via?.in?.decision).toMatchObject({ stage: 'pre-dnat', action: 'Deny' });
    expect(evaluate(s, fromOutside(80)).trace.via?.in?.decision).toMatchObject({ stage: 'forward', policyId: 'gnp/deny-fwd' });
    expect(evaluate(s, fromOutside(80)).trace.via?.in?.stages.map((st) => st.stage)).toEqual(['pre-dnat', 'forward']);
  });

  it("the `*` host endpoint's applyOnForward egress policy applies on the way to a local workload", () => {
    const s = snap(...cluster, star, aof('fwd-out', 'has(host-endpoint)', { types: ['Egress'], egress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [5432] } }, { action: 'Allow' }] }));
    expect(evaluate(s, fromOutside(5432)).trace.via?.out?.decision).toMatchObject({ stage: 'forward', action: 'Deny' });
    expect(evaluate(s, fromOutside(80)).allowed).toBe(true);
  });

  it('between two local workloads, the `*` host endpoint forward policy applies on both interfaces (inferred crossing)', () => {
    const s = snap(...cluster, star, aof('no-db', 'has(host-endpoint)', { types: ['Ingress'], ingress: [{ action: 'Deny', destination: { selector: "app == 'db'" } }, { action: 'Allow' }] }));
    const r = evaluate(s, tcp('ns/web', 'ns/db', 5432));
    expect(r.allowed).toBe(false);
    expect(r.trace.via).toMatchObject({ node: 'node-1', from: 'workload', to: 'workload', in: { decision: { stage: 'forward', action: 'Deny' } } });
    expect(evaluate(s, tcp('ns/db', 'ns/web', 80)).allowed).toBe(true);
    // Without a `*` host endpoint the workloads' veths carry no host policy.
    expect(evaluate(snap(...cluster, eth0), tcp('ns/web', 'ns/db', 5432)).trace.via).toMatchObject({ node: 'node-1' });
    expect(evaluate(snap(...cluster, eth0), tcp('ns/web', 'ns/db', 5432)).trace.via?.in).toBeUndefined();
  });

  it('forwarded between two host interfaces: ingress tiers of the arrival endpoint, egress tiers of the departure one', () => {
    const inOnly = aof('in-eth0', "host-endpoint == 'eth0'", { types: ['Ingress', 'Egress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [443] } }], egress: [{ action: 'Deny' }] });
    const outOnly = aof('out-eth1', "host-endpoint == 'eth1'", { types: ['Ingress', 'Egress'], ingress: [{ action: 'Deny' }], egress: [{ action: 'Allow', destination: { nets: ['203.0.113.0/24'] } }] });
    const s = snap(...cluster, eth0, eth1, inOnly, outOnly);
    const via = { in: 'node-1-eth0', out: 'node-1-eth1' };
    const r = evaluate(s, tcp('198.51.100.7', '203.0.113.9', 443, { via }));
    expect(r.allowed).toBe(true);
    expect(r.trace.flow.via).toEqual({ node: 'node-1', inferred: false, in: 'node-1-eth0', out: 'node-1-eth1' });
    expect(r.trace.via?.in?.decision).toMatchObject({ stage: 'forward', policyId: 'gnp/in-eth0' });
    expect(r.trace.via?.out?.decision).toMatchObject({ stage: 'forward', policyId: 'gnp/out-eth1' });
    expect(evaluate(s, tcp('198.51.100.7', '203.0.113.9', 444, { via })).trace.via?.in?.allowed).toBe(false);
    expect(evaluate(s, tcp('198.51.100.7', '203.0.114.9', 443, { via })).trace.via?.out?.allowed).toBe(false);
    // The other way round, each endpoint's other direction applies.
    expect(evaluate(s, tcp('203.0.113.9', '198.51.100.7', 443, { via: { in: 'node-1-eth1', out: 'node-1-eth0' } })).allowed).toBe(false);
  });

  it('an interface with no host endpoint (and no `*`) is not policed', () => {
    const s = snap(...cluster, eth0, aof('deny-all', 'has(host-endpoint)', { types: ['Ingress', 'Egress'], ingress: [{ action: 'Deny' }], egress: [{ action: 'Deny' }] }));
    const r = evaluate(s, tcp('198.51.100.7', '203.0.113.9', 443, { via: 'node-1' }));
    expect(r.allowed).toBe(true);
    expect(r.trace.via).toEqual({ node: 'node-1', from: 'remote', to: 'remote' });
    expect(evaluate(s, tcp('198.51.100.7', '203.0.113.9', 443, { via: { in: 'node-1-eth0' } })).allowed).toBe(false);
  });

  it('untracked ingress policy of the arrival endpoint applies to forwarded traffic; an Allow skips pre-DNAT and forward tiers', () => {
    const raw = globalPolicy('raw', { selector: "host-endpoint == 'eth0'", doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Allow', protocol: 'UDP' }, { action: 'Deny', protocol: 'TCP', destination: { ports: [23] } }] });
    const denyFwd = aof('deny-fwd', "host-endpoint == 'eth0'", { types: ['Ingress'], ingress: [{ action: 'Deny' }] });
    const s = snap(...cluster, eth0, raw, denyFwd);
    const via = { in: 'node-1-eth0' };
    expect(evaluate(s, { src: '198.51.100.7', dst: 'ns/web', protocol: 'UDP', dstPort: 53, via }).trace.via?.in?.decision).toMatchObject({ stage: 'untracked', action: 'Allow' });
    expect(evaluate(s, tcp('198.51.100.7', 'ns/web', 23, { via })).trace.via?.in?.decision).toMatchObject({ stage: 'untracked', action: 'Deny' });
    expect(evaluate(s, tcp('198.51.100.7', 'ns/web', 80, { via })).trace.via?.in?.decision).toMatchObject({ stage: 'forward', action: 'Deny' });
  });

  it('failsafe ports guard the host only: forwarded SSH meets applyOnForward policy', () => {
    const s = snap(...cluster, star, aof('deny-fwd', 'has(host-endpoint)', { types: ['Ingress'], ingress: [{ action: 'Deny' }] }));
    expect(evaluate(s, fromOutside(22)).allowed).toBe(false);
  });

  it('doNotTrack policy is ignored on a `*` host endpoint (Calico does not support it there)', () => {
    const raw = globalPolicy('raw', { selector: 'has(host-endpoint)', doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny' }] });
    const s = snap(...cluster, star, raw);
    expect(evaluate(s, fromOutside(80)).allowed).toBe(true);
    expect(evaluate(s, tcp('198.51.100.7', 'node-1-all', 80)).trace.ingress.stages.map((st) => st.stage)).not.toContain('untracked');
  });

  it('remote → the host via a named interface: that interface endpoint\'s normal ingress policy', () => {
    const allowEth1 = globalPolicy('eth1-web', { selector: "host-endpoint == 'eth1'", ingress: [{ action: 'Allow' }] });
    const s = snap(...cluster, eth0, eth1, allowEth1);
    expect(evaluate(s, tcp('198.51.100.7', '192.168.0.10', 8080)).allowed).toBe(false);
    const r = evaluate(s, tcp('198.51.100.7', '192.168.0.10', 8080, { via: { in: 'node-1-eth1' } }));
    expect(r.allowed).toBe(true);
    expect(r.trace.ingress.endpoint).toEqual({ kind: 'HostEndpoint', id: 'node-1-eth1' });
  });

  it('a staged applyOnForward policy gives a staged preview', () => {
    const s = snap(...cluster, star, stagedGlobalPolicy('fwd', { selector: 'has(host-endpoint)', applyOnForward: true, types: ['Ingress'], ingress: [{ action: 'Deny' }] }));
    const r = evaluate(s, fromOutside(80));
    expect(r.allowed).toBe(true);
    expect(r.staged?.allowed).toBe(false);
    expect(r.staged?.trace.via?.in?.decision).toMatchObject({ stage: 'forward', policyId: 'sgnp/fwd' });
  });

  it('rejects an unknown node, an unknown host endpoint and a host endpoint of another node', () => {
    const s = snap(...cluster, star, eth0);
    const code = (via: Flow['via']): string | undefined => {
      try {
        evaluate(s, tcp('198.51.100.7', 'ns/web', 80, { via }));
        return undefined;
      } catch (e) {
        return e instanceof GinghamError ? `${e.code}: ${e.message.replace(/^gingham: /, "")}` : String(e);
      }
    };
    expect(code('node-9')).toMatch(/INVALID_FLOW: via: unknown node "node-9"/);
    expect(code({ in: 'nope' })).toMatch(/INVALID_FLOW: via.in: unknown host endpoint "nope"/);
    expect(code({ node: 'node-2', in: 'node-1-eth0' })).toMatch(/is on node "node-1", not "node-2"/);
    expect(code({})).toMatch(/name a node/);
  });

  it('explain() shows the arrival and departure checks in the order the packet meets them', () => {
    const s = snap(...cluster, star, aof('web-only', 'has(host-endpoint)', { types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }] }));
    const text = explain(evaluate(s, fromOutside(81))).split('\n');
    expect(text[0]).toBe('DENIED: arrival at node node-1: ingress denied by end of tier default: no policy allowed the traffic (default action Deny)');
    expect(text[2]).toBe('via node node-1');
    expect(text[3]).toBe('egress of outside address: ALLOW by not an endpoint: no policy applies');
    expect(text[4]).toBe('arrival at node node-1: ingress of host endpoint node-1-all: DENY by end of tier default: no policy allowed the traffic (default action Deny)');
    expect(text[5]).toBe('  applyOnForward tiers:');
    expect(text.at(-1)).toBe('departure from node node-1: egress of host endpoint node-1-all: ALLOW by forwarded, and no applyOnForward policy decided (allowed by default)');
    const local = explain(check(s, 'ns/web', 'ns/db', 81)).split('\n');
    const heads = local.filter((l) => !l.startsWith(' '));
    expect(heads[2]).toBe('via node node-1 (both ends are on it)');
    expect(heads[3]).toMatch(/^arrival at node node-1: ingress of host endpoint node-1-all: DENY/);
    expect(heads[4]).toMatch(/^egress of workload ns\/web/);
    expect(heads[5]).toMatch(/^ingress of workload ns\/db/);
    expect(heads[6]).toMatch(/^departure from node node-1: egress of host endpoint node-1-all/);
  });
});
