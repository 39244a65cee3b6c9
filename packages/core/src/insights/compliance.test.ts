import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Flow } from '../evaluate/types.js';
import { evaluate } from '../evaluate/evaluate.js';
import { complianceReport } from './compliance.js';
import { flowLogRecords } from './flow-log.js';
import { serviceGraph } from './service-graph.js';
import { snapshotOf } from './test-fixtures.js';

const dir = fileURLToPath(new URL('../../../../examples/quickstart/', import.meta.url));
const inputs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => ({ file: f, text: readFileSync(dir + f, 'utf8') }));
const { snapshot } = snapshotOf(inputs);

describe('compliance reports on the quick-start shop', () => {
  it('inventory: who is governed by policy, and by which', () => {
    const r = complianceReport(snapshot, { type: 'inventory' });
    expect(r.endpoints.map((e) => `${e.endpoint} in:${e.ingressProtected} eg:${e.egressProtected}`)).toMatchInlineSnapshot(`
      [
        "monitoring/prometheus-0 in:true eg:true",
        "shop/backend-0 in:true eg:true",
        "shop/db-0 in:true eg:true",
        "shop/frontend-0 in:true eg:true",
      ]
    `);
    expect(r.summary).toMatchInlineSnapshot(`
      {
        "endpointsNumEgressProtected": 4,
        "endpointsNumEgressUnprotected": 0,
        "endpointsNumInScope": 4,
        "endpointsNumIngressProtected": 4,
        "endpointsNumIngressUnprotected": 0,
        "namespacesNumEgressProtected": 2,
        "namespacesNumInScope": 2,
        "namespacesNumIngressProtected": 2,
        "serviceAccountsNumInScope": 4,
      }
    `);
    expect(r.endpoints[0]).not.toHaveProperty('ingressFromInternet');
  });

  it('network-access: exposure with a witness evaluate() allows', () => {
    const r = complianceReport(snapshot, { type: 'network-access' });
    expect(r.endpoints.map((e) => `${e.endpoint} internet:${e.ingressFromInternet}/${e.egressToInternet} other-ns:${e.ingressFromOtherNamespace}/${e.egressToOtherNamespace}`)).toMatchInlineSnapshot(`
      [
        "monitoring/prometheus-0 internet:true/true other-ns:true/true",
        "shop/backend-0 internet:false/true other-ns:true/true",
        "shop/db-0 internet:false/true other-ns:true/true",
        "shop/frontend-0 internet:true/true other-ns:true/true",
      ]
    `);
    for (const e of r.endpoints) for (const w of Object.values(e.witnesses ?? {}) as Flow[]) expect(evaluate(snapshot, w).allowed, JSON.stringify(w)).toBe(true);
  });

  it('names a documentation address as the example from the internet, whatever the class order', () => {
    const r = complianceReport(snapshot, { type: 'network-access' });
    const frontend = r.endpoints.find((e) => e.endpoint === 'shop/frontend-0')!;
    expect(frontend.witnesses?.ingressFromInternet).toMatchObject({ src: '203.0.113.10', dst: 'shop/frontend-0', protocol: 'TCP', dstPort: 8080 });
    expect(frontend.witnesses?.egressToInternet?.dst).toBe('203.0.113.10');
  });

  it('scopes by namespace and selector', () => {
    expect(complianceReport(snapshot, { type: 'inventory', namespaces: ['monitoring'] }).endpoints.map((e) => e.endpoint)).toEqual(['monitoring/prometheus-0']);
    expect(complianceReport(snapshot, { type: 'inventory', selector: "app in {'db', 'backend'}" }).endpoints.map((e) => e.endpoint)).toEqual(['shop/backend-0', 'shop/db-0']);
    expect(() => complianceReport(snapshot, { type: 'inventory', selector: 'app ==' })).toThrow(/invalid scope selector/);
  });

  it('lists the peers the flow logs saw, by the service graph node', () => {
    const once = (flow: Flow) => ({ flow, time: 1_765_065_600, connections: 2 });
    const { records } = flowLogRecords(snapshot, [
      once({ src: 'shop/frontend-0', dst: 'shop/backend-0', protocol: 'TCP', dstPort: 8080 }),
      once({ src: 'monitoring/prometheus-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }),
    ]);
    const r = complianceReport(snapshot, { type: 'network-access', graph: serviceGraph(records, { maxFlowsPerEdge: 0 }) });
    const db = r.endpoints.find((e) => e.endpoint === 'shop/db-0')!;
    expect(db.trafficFrom).toEqual([{ peer: 'workload/monitoring/prometheus-*', allowed: 0, denied: 2 }]);
    const backend = r.endpoints.find((e) => e.endpoint === 'shop/backend-0')!;
    expect(backend.trafficFrom).toEqual([{ peer: 'workload/shop/frontend-*', allowed: 2, denied: 0 }]);
    expect(r.flows).toEqual({ records: records.length, start: 1_765_065_600, end: expect.any(Number) });
  });
});
