import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Flow } from '../evaluate/types.js';
import { flowLogRecords } from './flow-log.js';
import { serviceGraph } from './service-graph.js';
import { snapshotOf } from './test-fixtures.js';

const dir = fileURLToPath(new URL('../../../../examples/quickstart/', import.meta.url));
const inputs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => ({ file: f, text: readFileSync(dir + f, 'utf8') }));
const { snapshot } = snapshotOf(inputs);

const once = (flow: Flow, n = 1) => Array.from({ length: n }, (_, i) => ({ flow, time: 1_765_065_600 + 15 * i, connections: 2 }));
const { records } = flowLogRecords(snapshot, [
  ...once({ src: 'shop/frontend-0', dst: 'shop/backend-0', protocol: 'TCP', dstPort: 8080 }, 3),
  ...once({ src: 'shop/frontend-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }),
  ...once({ src: 'shop/backend-0', dst: '169.254.169.254', protocol: 'TCP', dstPort: 80 }),
  ...once({ src: 'monitoring/prometheus-0', dst: '8.8.8.8', protocol: 'UDP', dstPort: 53 }),
  ...once({ src: 'monitoring/prometheus-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }),
]);

describe('service graph', () => {
  const graph = serviceGraph(records);
  const edge = (id: string) => graph.edges.find((e) => e.id === id)!;

  it('has namespaces, workloads by prefix inside them, network sets and networks', () => {
    expect(graph.nodes.map((n) => `${n.kind} ${n.label}${n.parent ? ` in ${n.parent}` : ''}`)).toEqual([
      'namespace monitoring',
      'namespace shop',
      'network public network',
      'networkset cloud-metadata',
      'workload prometheus-* in namespace/monitoring',
      'workload backend-* in namespace/shop',
      'workload db-* in namespace/shop',
      'workload frontend-* in namespace/shop',
    ]);
  });

  it('counts an allowed pod-to-pod flow once (by its destination), and denials where they happen', () => {
    expect(edge('workload/shop/frontend-* -> workload/shop/backend-*')).toMatchObject({ allowed: { records: 3, connections: 6 }, deniedAtSource: { records: 0 }, deniedAtDest: { records: 0 }, ports: ['TCP 8080'] });
    expect(edge('workload/shop/frontend-* -> workload/shop/db-*')).toMatchObject({ allowed: { records: 0 }, deniedAtSource: { records: 1 } });
    expect(edge('workload/monitoring/prometheus-* -> workload/shop/db-*')).toMatchObject({ allowed: { records: 0 }, deniedAtSource: { records: 0 }, deniedAtDest: { records: 1 } });
    expect(edge('workload/monitoring/prometheus-* -> network/pub')).toMatchObject({ allowed: { records: 1 } });
    expect(edge('workload/shop/backend-* -> networkset/cloud-metadata')).toMatchObject({ deniedAtSource: { records: 1 }, policies: [{ policy: 'security|gnp:security.guardrails|deny|0', action: 'deny', records: 1 }] });
  });

  it('keeps the flows behind an edge for people to click through', () => {
    const e = edge('workload/monitoring/prometheus-* -> workload/shop/db-*');
    expect(e.flows.map((f) => `${f.reporter} ${f.action} ${f.source} -> ${f.dest} ${f.proto} ${f.port} ${f.policy}`)).toEqual([
      'dst deny monitoring/prometheus-* -> shop/db-* TCP 5432 security|gnp:security.guardrails|deny|0',
      'src allow monitoring/prometheus-* -> shop/db-* TCP 5432 __PROFILE__|pro:kns.monitoring|allow|0',
    ]);
  });

  it('collapses workloads into namespaces in the namespaces view', () => {
    const ns = serviceGraph(records, { view: 'namespaces' });
    expect(ns.edges.map((e) => e.id)).toEqual([
      'namespace/monitoring -> namespace/shop',
      'namespace/monitoring -> network/pub',
      'namespace/shop -> namespace/shop',
      'namespace/shop -> networkset/cloud-metadata',
    ]);
  });
});
