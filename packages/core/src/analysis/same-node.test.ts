import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import type { Snapshot } from '../model/types.js';
import { evaluate } from '../evaluate/evaluate.js';
import { globalPolicy, hostEndpoint, namespace, networkSet, pod, snap } from '../evaluate/test-fixtures.js';
import type { Flow } from '../evaluate/types.js';
import { diffSnapshots } from './diff.js';
import { reachability } from './reachability.js';
import { formatDiff } from './report.js';
import type { FlowChange } from './types.js';

// node-a runs n1/p0 (10.0.0.1) and n1/p1 (10.0.0.2); n1/far (10.0.9.1) is on node-b.
const pods = [namespace('n1'), pod('n1', 'p0', '10.0.0.1', { app: 'a' }, { node: 'node-a' }), pod('n1', 'p1', '10.0.0.2', { app: 'b' }, { node: 'node-a' }), pod('n1', 'far', '10.0.9.1', { app: 'a' }, { node: 'node-b' })];
const udp53 = (src: string, dst: string): Flow => ({ src, dst, protocol: 'UDP', srcPort: 49152, dstPort: 53 });
const tcp = (src: string, dst: string, dstPort: number): Flow => ({ src, dst, protocol: 'TCP', srcPort: 49152, dstPort });

function covering(changes: readonly FlowChange[], src: string, dst: string): FlowChange[] {
  return changes.filter((c) => (c.from.endpoints.includes(src) || c.from.outside.length > 0) && c.to.endpoints.includes(dst));
}

describe('the analysis judges flows on one node as evaluate() does', () => {
  it('regression (first counterexample): a network set over a host endpoint address does not "open" host → own pod, which is never policed', () => {
    // The shrunk counterexample of diff.prop.test.ts on main: the host endpoint's address joins a
    // namespace's network set, so the ingress rule `namespaceSelector: all()` now matches it; but
    // host → own workload is allowed whatever the workload's ingress says (`local-host`).
    const resources: Resource[] = [
      namespace('n1'),
      pod('n1', 'p0', '10.0.0.1', {}, { node: 'node-a' }),
      { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'c0', namespace: 'n1' }, spec: { tier: 'default', selector: 'all()', types: ['Ingress'], ingress: [], egress: [] } } as Resource,
      globalPolicy('g0', { tier: 'default', selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Allow', source: { namespaceSelector: 'all()' }, destination: {} }], egress: [] }),
      hostEndpoint('hep0', ['10.0.2.1'], { 'host-endpoint': 'true' }, { node: 'node-a', interfaceName: 'eth0', profiles: [] }),
    ];
    const before = snap(...resources);
    const after = snap(...resources, networkSet('n1', 's0', ['10.0.2.0/28']));
    const flow = udp53('10.0.2.1', '10.0.0.1');
    expect(evaluate(before, flow).allowed).toBe(true);
    expect(evaluate(after, flow).allowed).toBe(true);
    const d = diffSnapshots(before, after);
    expect(d.changes.filter((c) => c.from.endpoints.includes('hep0'))).toEqual([]);
    // Outside addresses in the set do open to p0 (a real change, judged by its ingress).
    expect(d.changes.some((c) => c.change === 'opened' && c.from.outside.length > 0 && c.to.endpoints.includes('n1/p0'))).toBe(true);
    for (const c of d.changes) {
      expect(evaluate(before, c.witness).allowed).toBe(c.before.allowed);
      expect(evaluate(after, c.witness).allowed).toBe(c.after.allowed);
    }
  });

  it('regression (second counterexample): pod → its own host endpoint is allowed by DefaultEndpointToHostAction, not by the endpoint ingress', () => {
    const s = snap(...pods, hostEndpoint('h1', [], { role: 'node' }, { node: 'node-a', interfaceName: 'eth0', profiles: [] }));
    const r = reachability(s, { from: { namespace: 'n1' }, to: { endpoints: ['h1'] } });
    expect(r.reachable).toBe(true);
    const fromP1 = r.paths.filter((p) => p.from.endpoints.includes('n1/p1'));
    expect(fromP1.map((p) => p.verdict.ingress)).toContainEqual({ stage: 'endpoint-to-host', action: 'Allow' });
    // From another node the host endpoint's own ingress decides: no profiles, only failsafe ports.
    const fromFar = r.paths.filter((p) => p.from.endpoints.includes('n1/far'));
    expect(fromFar.length).toBeGreaterThan(0);
    for (const p of fromFar) expect(p.verdict.ingress.stage).toBe('failsafe');
    expect(evaluate(s, udp53('n1/p1', 'h1')).allowed).toBe(true);
    // With DROP, nothing on its node reaches it.
    const dropped = reachability(s, { from: { endpoints: ['n1/p0', 'n1/p1'] }, to: { endpoints: ['h1'] }, evaluate: { endpointToHostAction: 'DROP' } });
    expect(dropped.reachable).toBe(false);
  });

  it("a `*` host endpoint's applyOnForward policy closes pod → pod on its node only, and the change names the departure check", () => {
    const star = hostEndpoint('node-a-all', ['192.168.0.10'], { 'host-endpoint': 'all' }, { node: 'node-a', interfaceName: '*', profiles: ['projectcalico-default-allow'] });
    const before = snap(...pods, star);
    const aof = globalPolicy('fwd', { selector: "host-endpoint == 'all'", applyOnForward: true, types: ['Egress'], egress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [5432] } }, { action: 'Allow' }] });
    const after = snap(...pods, star, aof);
    const d = diffSnapshots(before, after);
    // (The policy also applies to the host endpoint's own egress: host → elsewhere closes too.)
    const closed = d.changes.filter((c) => c.change === 'closed' && !c.from.endpoints.includes('node-a-all'));
    // p0 → p1 and p1 → p0 on TCP 5432 (the far pod is on another node: unchanged).
    expect(closed.flatMap((c) => c.from.endpoints.map((f) => `${f}>${c.to.endpoints.join(',')}`)).sort()).toEqual(['n1/p0>n1/p1', 'n1/p1>n1/p0']);
    for (const c of closed) {
      expect(c.dstPorts).toEqual([{ from: 5432, to: 5432 }]);
      expect(c.after.out).toEqual({ stage: 'forward', action: 'Deny', tier: 'default', policyId: 'gnp/fwd', ruleIndex: 0 });
      expect(c.before.out).toEqual({ stage: 'forward-default', action: 'Allow' });
      expect(evaluate(after, c.witness).trace.via?.out?.decision).toEqual(c.after.out);
    }
    expect(covering(d.changes, 'n1/far', 'n1/p1')).toEqual([]);
    expect(formatDiff(d)).toContain('now denied by');
    expect(evaluate(after, tcp('n1/p0', 'n1/p1', 5432)).allowed).toBe(false);
    expect(evaluate(after, tcp('n1/far', 'n1/p1', 5432)).allowed).toBe(true);
  });

  it('a Node address is the host: Node address → own pod is allowed whatever the pod ingress, another address is not', () => {
    const node = { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-a' }, spec: { addresses: [{ address: '192.168.7.7' }] } } as unknown as Resource;
    const before = snap(...pods, node);
    const after = snap(...pods, node, globalPolicy('deny-in', { selector: 'has(app)', types: ['Ingress'] }));
    const d = diffSnapshots(before, after);
    const toP0 = d.changes.filter((c) => c.to.endpoints.includes('n1/p0'));
    expect(toP0.length).toBeGreaterThan(0);
    for (const c of toP0) expect(c.from.outside.some((o) => o === '192.168.7.7/32')).toBe(false);
    expect(evaluate(after, tcp('192.168.7.7', 'n1/p0', 80)).allowed).toBe(true);
    expect(evaluate(after, tcp('192.168.7.8', 'n1/p0', 80)).allowed).toBe(false);
    const r = reachability(after, { from: { outside: ['192.168.7.0/24'] }, to: { endpoints: ['n1/p0'] } });
    expect(new Set(r.paths.map((p) => p.from.outside.join(',')))).toEqual(new Set(['192.168.7.7/32']));
    for (const p of r.paths) expect(p.verdict.ingress).toEqual({ stage: 'local-host', action: 'Allow' });
  });
});
