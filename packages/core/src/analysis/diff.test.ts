import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import type { Snapshot } from '../model/types.js';
import { buildSnapshot } from '../convert/index.js';
import { evaluate } from '../evaluate/evaluate.js';
import { diffSnapshots } from './diff.js';
import { clone } from './test-fixtures.js';
import { formatDiff } from './report.js';

const dir = fileURLToPath(new URL('../../../../examples/quickstart/', import.meta.url));
const quickstart: Resource[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) => parseAllDocuments(readFileSync(`${dir}${f}`, 'utf8')).map((d) => d.toJSON() as Resource))
  .filter((r) => r !== null);

function build(resources: readonly Resource[]): Snapshot {
  const { snapshot, issues } = buildSnapshot(resources);
  expect(issues).toEqual([]);
  return snapshot;
}

/** The quick start with one resource replaced (matched by kind, API group and name). */
function edit(kind: string, name: string, change: (r: Resource) => Resource | undefined): Resource[] {
  const out: Resource[] = [];
  for (const r of quickstart) {
    if (r.kind === kind && r.metadata.name === name) {
      const next = change(structuredClone(r));
      if (next) out.push(next);
    } else out.push(r);
  }
  return out;
}

const before = build(quickstart);

describe('diffSnapshots on the quick start', () => {
  it('finds one port opened to one pod out of 65,535, and nothing else', () => {
    const after = build(
      edit('NetworkPolicy', 'db', (r) => {
        const spec = r.spec as { ingress: unknown[] };
        spec.ingress.push({ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 6000 }] });
        return r;
      }),
    );
    const d = diffSnapshots(before, after);
    expect(d.opened).toBe(1);
    expect(d.closed).toBe(0);
    const [c] = d.changes;
    expect(c).toMatchObject({
      change: 'opened',
      ipVersion: 4,
      from: { endpoints: ['monitoring/prometheus-0'], outside: [] },
      to: { endpoints: ['shop/db-0'], outside: [] },
      protocol: { number: 6, name: 'TCP' },
      srcPorts: [{ from: 1, to: 65535 }],
      dstPorts: [{ from: 6000, to: 6000 }],
      pairs: 1,
    });
    expect(c!.before.ingress).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'default' });
    expect(c!.after.ingress).toEqual({ stage: 'tier', action: 'Allow', tier: 'default', policyId: 'knp/shop/db', ruleIndex: 1 });
    expect(evaluate(after, c!.witness).allowed).toBe(true);
    expect(evaluate(before, c!.witness).allowed).toBe(false);
    expect(d.groups).toEqual([
      {
        change: 'opened',
        from: 'monitoring/prometheus',
        to: 'shop/db',
        protocol: 'TCP',
        ports: '6000',
        ipVersions: [4],
        pairs: 1,
        decidedBy: ['policy knp/shop/db rule 1 in tier default'],
        changes: [0],
      },
    ]);
  });

  it('reports a Deny added in a Calico tier as closed, decided by that tier (before the admin policy that allowed it)', () => {
    const after = build(
      edit('GlobalNetworkPolicy', 'security.guardrails', (r) => {
        const rule = (r.spec as { ingress: { destination: { ports: number[] } }[] }).ingress[0]!;
        rule.destination.ports = [5432, 9090];
        return r;
      }),
    );
    const d = diffSnapshots(before, after);
    expect(d.opened).toBe(0);
    expect(d.changes.map((c) => [c.change, c.from.endpoints.join(','), c.to.endpoints.join(','), c.dstPorts])).toEqual([
      ['closed', 'monitoring/prometheus-0', 'shop/db-0', [{ from: 9090, to: 9090 }]],
    ]);
    expect(d.changes[0]!.before.ingress).toMatchObject({ tier: 'kube-admin', policyId: 'kanp/allow-monitoring-scrape' });
    expect(d.changes[0]!.after.ingress).toMatchObject({ tier: 'security', policyId: 'gnp/security.guardrails', ruleIndex: 0, action: 'Deny' });
  });

  it('reports outside networks as CIDRs, exactly the range the rule opens', () => {
    const after = build(
      edit('NetworkPolicy', 'frontend', (r) => {
        (r.spec as { egress: unknown[] }).egress.push({ to: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }], ports: [{ protocol: 'TCP', port: 443 }] });
        return r;
      }),
    );
    const d = diffSnapshots(before, after);
    expect(d.changes).toHaveLength(1);
    expect(d.changes[0]).toMatchObject({
      change: 'opened',
      from: { endpoints: ['shop/frontend-0'], outside: [] },
      to: { endpoints: [], outside: ['203.0.113.0/25'] },
      dstPorts: [{ from: 443, to: 443 }],
    });
    expect(d.groups[0]).toMatchObject({ from: 'shop/frontend', to: 'outside', protocol: 'TCP', ports: '443' });
  });

  it('follows a label change through selectors and named ports on both sides', () => {
    // The backend pod is relabelled as a frontend: it loses what the backend had and gains what the frontend has.
    const after = build(
      edit('Pod', 'backend-0', (r) => ({ ...r, metadata: { ...r.metadata, labels: { app: 'frontend', tier: 'web' } } })),
    );
    const d = diffSnapshots(before, after);
    const lines = d.groups.map((g) => `${g.change} ${g.from} -> ${g.to} ${g.protocol} ${g.ports}`);
    expect(lines).toContain('closed shop/frontend -> shop/backend TCP 8080');
    expect(lines).toContain('closed shop/backend -> shop/db TCP 5432');
    // The frontend policy allows ingress on http from anywhere: the relabelled pod now takes it.
    expect(lines.some((l) => l.startsWith('opened') && l.includes('-> shop/backend TCP 8080'))).toBe(true);
  });

  it('lists endpoints that exist on one side only, and does not compare their flows', () => {
    const after = build(quickstart.filter((r) => !(r.kind === 'Pod' && r.metadata.name === 'frontend-0')));
    const d = diffSnapshots(before, after);
    expect(d.endpoints).toEqual({ added: [], removed: ['shop/frontend-0'], readdressed: [] });
    expect(d.changes).toEqual([]);
    expect(d.empty).toBe(false);
  });

  it('previews staged policies: a staged Pass in the security tier closes DNS and skips the metadata guardrail', () => {
    const staged: Resource = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'StagedGlobalNetworkPolicy',
      metadata: { name: 'security.block-dns' },
      spec: { tier: 'security', order: 5, selector: "app == 'frontend'", types: ['Egress'], egress: [{ action: 'Deny', protocol: 'UDP', destination: { ports: [53] } }, { action: 'Pass' }] },
    };
    const s = build([...quickstart, staged]);
    expect(diffSnapshots(s, s).empty).toBe(true);
    const d = diffSnapshots(s, s, { afterStaged: true });
    expect(d.groups.map((g) => `${g.change} ${g.from} -> ${g.to} ${g.protocol} ${g.ports} ${g.decidedBy.join()}`)).toEqual([
      // Pass leaves the security tier before guardrails' Deny of the metadata service: the DNS allow now decides.
      'opened shop/frontend -> outside TCP 53 policy knp/shop/allow-dns rule 0 in tier default',
      'closed shop/frontend -> outside UDP 53 policy sgnp/security.block-dns rule 0 in tier security',
      'closed shop/frontend -> monitoring/prometheus UDP 53 policy sgnp/security.block-dns rule 0 in tier security',
    ]);
    expect(d.changes[0]!.to.outside).toEqual(['169.254.169.254/32']);
  });

  it('reuses the before index when only policies changed (work proportional to the change)', () => {
    const changed = before.policies.map((p) => (p.id === 'knp/shop/db' ? { ...p, ingress: [...p.ingress, { action: 'Allow' as const, protocol: { number: 6, text: 'TCP' }, source: {}, destination: { ports: [{ kind: 'range' as const, min: 7000, max: 7010 }] } }] } : p));
    const after: Snapshot = { ...before, policies: changed };
    const d = diffSnapshots(before, after);
    expect(d.stats.sharedIndex).toBe(true);
    expect(d.stats.dirtyEgress).toBe(0);
    expect(d.stats.dirtyIngress).toBe(2); // shop/db-0 as an IPv4 peer and as an address-less IPv6 peer
    expect(d.changes.map((c) => `IPv${c.ipVersion} ${[...c.from.endpoints, ...c.from.outside].join(',')} -> ${c.to.endpoints.join(',')} ${c.dstPorts![0]!.from}-${c.dstPorts![0]!.to}`)).toEqual([
      'IPv4 0.0.0.0/0 -> shop/db-0 7000-7010',
      // shop/db-0 has no IPv6 address, and the new rule looks at none: outside IPv6 sources are let in too.
      'IPv6 ::/0 -> shop/db-0 7000-7010',
      'IPv4 monitoring/prometheus-0 -> shop/db-0 7000-7010',
    ]);
  });

  it('renders for people: groups, the deciding rule, and endpoints not compared', () => {
    const after = build(
      edit('NetworkPolicy', 'db', (r) => {
        (r.spec as { ingress: unknown[] }).ingress.push({ from: [{ namespaceSelector: {} }], ports: [{ port: 6000 }] });
        return r;
      }).filter((r) => !(r.kind === 'Pod' && r.metadata.name === 'frontend-0')),
    );
    const text = formatDiff(diffSnapshots(before, after));
    expect(text).toBe(
      [
        '1 group of flows opened, 0 closed',
        '',
        'OPENED (denied before, allowed after):',
        '  monitoring/prometheus -> shop/db  TCP 6000 (IPv4 only)  1 pair',
        '    now allowed by policy knp/shop/db rule 1 in tier default',
        '',
        'Endpoints not compared:',
        '  only before (removed): shop/frontend-0',
      ].join('\n'),
    );
    expect(formatDiff(diffSnapshots(before, before))).toMatch(/^no change/);
  });

  it('evaluates a program on the side it came from when both sides run the same policies for different endpoints', () => {
    // Found by the brute-force property: after the change, w0 runs exactly what w2 ran before.
    const wep = (i: number, labels: Record<string, string>): Snapshot['workloadEndpoints'][number] => ({
      kind: 'WorkloadEndpoint',
      id: `n1/w${i}`,
      name: `w${i}`,
      namespace: 'n1',
      node: 'node-1',
      interfaceName: `cali${i}`,
      addresses: [`10.0.0.${i + 1}/32`],
      labels: { ...labels, 'projectcalico.org/namespace': 'n1' },
      profiles: ['projectcalico-default-allow'],
      ports: [],
    });
    const policy = (id: string, tier: string, selector: string, ingress: Snapshot['policies'][number]['ingress']): Snapshot['policies'][number] => ({
      id: `gnp/${id}`,
      kind: 'GlobalNetworkPolicy',
      name: id,
      namespace: '',
      tier,
      selector,
      types: [],
      ingress,
      egress: [],
      doNotTrack: false,
      preDNAT: false,
      applyOnForward: false,
    });
    const base: Snapshot = {
      tiers: [
        { name: 'default', order: 1_000_000, defaultAction: 'Deny', declared: true },
        { name: 'kube-baseline', order: 10_000_000, defaultAction: 'Pass', declared: true },
      ],
      policies: [
        policy('p', 'kube-baseline', 'all()', [{ action: 'Allow', source: {}, destination: { notSelector: 'tier == "x"' } }]),
        policy('q', 'default', 'tier == "x"', []),
      ],
      profiles: [{ name: 'projectcalico-default-allow', labelsToApply: {}, ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] }],
      workloadEndpoints: [wep(0, { tier: 'x' }), wep(2, {})],
      hostEndpoints: [],
      networkSets: [],
      nodes: [],
    };
    const after: Snapshot = { ...base, policies: [base.policies[0]!, policy('q', 'default', 'app == "b"', [])] };
    for (const [b, a] of [
      [base, after],
      [clone(base), clone(after)],
    ] as const) {
      const d = diffSnapshots(b, a);
      const pairs = d.changes.filter((c) => c.ipVersion === 4 && c.protocol.name === 'TCP').map((c) => `${[...c.from.endpoints, ...c.from.outside]} -> ${[...c.to.endpoints, ...c.to.outside]}`);
      expect(pairs).toEqual(['0.0.0.0/0 -> n1/w0', 'n1/w0 -> 0.0.0.0/0', 'n1/w0 -> n1/w2', 'n1/w2 -> n1/w0']);
    }
  });
});
