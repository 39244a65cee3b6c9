import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { buildSnapshot } from '../convert/index.js';
import { check } from './test-fixtures.js';

const dir = fileURLToPath(new URL('../../../../examples/quickstart/', import.meta.url));
const resources: Resource[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) => parseAllDocuments(readFileSync(`${dir}${f}`, 'utf8')).map((d) => d.toJSON() as Resource))
  .filter((r) => r !== null);

describe('the quick-start example behaves as its README says', () => {
  const { snapshot, issues } = buildSnapshot(resources);

  it('converts without issues', () => {
    expect(issues).toEqual([]);
  });

  it('Prometheus may scrape 9090 in the default-deny shop namespace (ANP in kube-admin)', () => {
    for (const pod of ['shop/frontend-0', 'shop/backend-0', 'shop/db-0']) {
      const r = check(snapshot, 'monitoring/prometheus-0', pod, 9090);
      expect(r.allowed).toBe(true);
      expect(r.trace.ingress.decision).toMatchObject({ tier: 'kube-admin', policyId: 'kanp/allow-monitoring-scrape', ruleName: 'scrape-metrics' });
    }
  });

  it('Prometheus may not reach the database port: the security tier denies it first', () => {
    expect(check(snapshot, 'monitoring/prometheus-0', 'shop/db-0', 5432).trace.ingress.decision).toMatchObject({
      stage: 'tier',
      tier: 'security',
      policyId: 'gnp/security.guardrails',
      ruleIndex: 0,
    });
  });

  it('the frontend may reach the backend but not the database', () => {
    expect(check(snapshot, 'shop/frontend-0', 'shop/backend-0', 8080).allowed).toBe(true);
    const r = check(snapshot, 'shop/frontend-0', 'shop/db-0', 5432);
    expect(r.allowed).toBe(false);
    expect(r.trace.egress.decision).toEqual({ stage: 'end-of-tier', action: 'Deny', tier: 'default' });
  });

  it('the backend reaches the database by the named port postgres', () => {
    expect(check(snapshot, 'shop/backend-0', 'shop/db-0', 5432).allowed).toBe(true);
  });

  it('no pod may reach the cloud metadata service', () => {
    expect(check(snapshot, 'monitoring/prometheus-0', '169.254.169.254', 80).trace.egress.decision).toMatchObject({ tier: 'security', action: 'Deny' });
  });
});
