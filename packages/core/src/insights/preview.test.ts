import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { arbCluster, arbFlow, propRuns } from '@gingham/testkit';
import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../convert/index.js';
import { evaluate } from '../evaluate/evaluate.js';
import type { Flow } from '../evaluate/types.js';
import { flowLogRecords } from './flow-log.js';
import { createFlowPreview, createFlowPreviewPerPair, previewFlows } from './preview.js';
import { knownFlows, observe, snapshotOf } from './test-fixtures.js';
import type { Resource } from '../model/resources.js';

/** A random small cluster and traffic over it. */
const arbClusterTraffic: fc.Arbitrary<{ resources: Resource[]; flows: Flow[] }> = fc.record({
  resources: arbCluster,
  flows: fc.array(arbFlow, { minLength: 5, maxLength: 40 }) as fc.Arbitrary<Flow[]>,
});

const dir = fileURLToPath(new URL('../../../../examples/quickstart/', import.meta.url));
const inputs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => ({ file: f, text: readFileSync(dir + f, 'utf8') }));

const STAGED = `
apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: { name: allow-dns, namespace: shop }
spec: { stagedAction: Delete }
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: { name: monitoring-egress, namespace: monitoring }
spec:
  stagedAction: Set
  selector: app == 'prometheus'
  types: [Egress]
  egress:
    - action: Allow
      protocol: TCP
      destination: { ports: [9090] }
`;

const TRAFFIC: Flow[] = [
  { src: 'shop/frontend-0', dst: 'shop/backend-0', protocol: 'TCP', dstPort: 8080 },
  { src: 'shop/backend-0', dst: '10.96.0.10', protocol: 'UDP', dstPort: 53 },
  { src: 'monitoring/prometheus-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 9090 },
  { src: 'monitoring/prometheus-0', dst: '8.8.8.8', protocol: 'UDP', dstPort: 53 },
];

describe('staged-policy preview', () => {
  const { snapshot: recorded } = snapshotOf(inputs);
  const { records } = flowLogRecords(recorded, observe(TRAFFIC));
  const { snapshot } = snapshotOf([...inputs, { file: 'staged.yaml', text: STAGED }]);
  const { records: previews, summary } = previewFlows(snapshot, records);

  it('previews a staged Delete: the DNS the deleted policy allowed would be denied', () => {
    const i = records.findIndex((r) => r.source_name === 'backend-*' && r.dest_port === 53);
    expect(previews[i]).toMatchObject({
      outcome: 'changed',
      recorded: 'allow',
      before: { action: 'allow', decidedBy: ['policy knp/shop/allow-dns rule 1 in tier default'] },
      after: { action: 'deny', decidedBy: ['end of tier default: no policy allowed the traffic (default action Deny)'] },
      drift: false,
    });
  });

  it('previews a staged Set: Prometheus keeps its scrapes and loses its DNS', () => {
    const scrape = records.findIndex((r) => r.source_name === 'prometheus-*' && r.reporter === 'src' && r.dest_port === 9090);
    const dns = records.findIndex((r) => r.source_name === 'prometheus-*' && r.dest_port === 53);
    expect(previews[scrape]).toMatchObject({ outcome: 'unchanged', after: { action: 'allow', decidedBy: ['policy snp/monitoring/monitoring-egress rule 0 in tier default'] } });
    expect(previews[dns]).toMatchObject({ outcome: 'changed', before: { action: 'allow' }, after: { action: 'deny' } });
  });

  it('summarises by group, counting what closes', () => {
    expect(summary).toMatchObject({ staged: true, unresolved: 0, opened: 0, drift: 0 });
    expect(summary.closed).toBe(summary.changed);
    expect(summary.groups.map((g) => `${g.outcome} ${g.from} -> ${g.to} ${g.protocol}/${g.port} ${g.reporter}`)).toEqual([
      'changed monitoring/prometheus-* -> public network UDP/53 src',
      'changed shop/backend-* -> private network UDP/53 src',
    ]);
  });

  it('flags drift and unresolved names', () => {
    const web = records.find((x) => x.source_name === 'frontend-*' && x.reporter === 'dst')!;
    const r = { ...web, action: 'deny' as const };
    const gone = { ...web, source_name: 'gone-*' };
    const { records: out, summary: s } = previewFlows(snapshot, [r, gone]);
    expect(out.map((o) => [o.outcome, o.drift])).toEqual([['unchanged', true], ['unresolved', false]]);
    expect(s).toMatchObject({ drift: 1, unresolved: 1 });
  });
});

describe('preview properties', () => {
  it('agrees with evaluating each observed flow under the staged view', () => {
    fc.assert(
      fc.property(arbClusterTraffic, ({ resources, flows }) => {
        const { snapshot } = buildSnapshot(resources);
        // Records carry neither source ports nor the node a flow crossed: ask about flows as recorded.
        const plain = knownFlows(snapshot, flows.map(({ srcPort: _s, via: _v, ...f }) => f));
        const { records } = flowLogRecords(snapshot, observe(plain));
        const { records: previews } = previewFlows(snapshot, records);
        const keyOf = (x: (typeof records)[number]): string => [x.reporter, x.source_namespace, x.source_name, x.dest_namespace, x.dest_name, x.proto, x.dest_port].join('|');
        const byKey = new Map(records.map((r, i) => [keyOf(r), previews[i]!]));
        for (const flow of plain) {
          const result = evaluate(snapshot, flow);
          const staged = result.staged ?? result;
          // The records this one flow makes, and what the preview says about each.
          for (const own of flowLogRecords(snapshot, [{ flow, time: 0 }]).records) {
            const p = byKey.get(keyOf(own))!;
            const [before, after] = own.reporter === 'src' ? [result.trace.egress.allowed, staged.trace.egress.allowed] : [result.trace.ingress.allowed, staged.trace.ingress.allowed];
            const reporter = own.reporter;
            expect(p.outcome, JSON.stringify(flow)).not.toBe('unresolved');
            if (p.before.action !== 'mixed') expect(p.before.action, `before ${reporter} ${JSON.stringify(flow)}`).toBe(before ? 'allow' : 'deny');
            if (p.after.action !== 'mixed') expect(p.after.action, `after ${reporter} ${JSON.stringify(flow)}`).toBe(after ? 'allow' : 'deny');
            if (p.outcome === 'changed') expect(before, JSON.stringify(flow)).not.toBe(after);
            if (p.outcome === 'unchanged') expect(before, JSON.stringify(flow)).toBe(after);
          }
        }
      }),
      { numRuns: propRuns(60) },
    );
  });

  it('one evaluation per pair of peer classes gives what evaluating every pair gives', () => {
    fc.assert(
      fc.property(arbClusterTraffic, fc.integer({ min: 1, max: 4 }), ({ resources, flows }, maxPeersPerSide) => {
        const { snapshot } = buildSnapshot(resources);
        const plain = knownFlows(snapshot, flows.map(({ srcPort: _s, via: _v, ...f }) => f));
        const { records } = flowLogRecords(snapshot, observe(plain));
        // Also every record as the other side would have reported it (names resolve on both sides).
        const all = [...records, ...records.map((r) => ({ ...r, reporter: r.reporter === 'src' ? ('dst' as const) : ('src' as const) }))];
        for (const options of [{}, { maxPeersPerSide }]) {
          const byClass = createFlowPreview(snapshot, options);
          const perPair = createFlowPreviewPerPair(snapshot, options);
          for (const r of all) expect(byClass.preview(r), JSON.stringify(r)).toEqual(perPair.preview(r));
          expect(byClass.summary()).toEqual(perPair.summary());
        }
      }),
      { numRuns: propRuns(60) },
    );
  });
});
