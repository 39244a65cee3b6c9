import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildSnapshot, validateResource } from '@gingham/core';
import { arbCluster, arbUpdateStream, generateCluster } from './index.js';

const small = { seed: 3, namespaces: 5, endpoints: 200, nodes: 6, policies: 60, networkSets: 6, hostEndpoints: 4, localNode: 'me', localEndpoints: 25 };

describe('generateCluster', () => {
  it('gives the same resources for the same options', () => {
    expect(JSON.stringify(generateCluster(small))).toBe(JSON.stringify(generateCluster(small)));
    expect(JSON.stringify(generateCluster({ ...small, seed: 4 }))).not.toBe(JSON.stringify(generateCluster(small)));
  });

  it('produces resources that validate and convert without errors', () => {
    const c = generateCluster(small);
    for (const r of c.resources) expect(validateResource(r).filter((i) => i.severity === 'error')).toEqual([]);
    const { snapshot, issues } = buildSnapshot(c.resources);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(snapshot.workloadEndpoints).toHaveLength(200);
    expect(snapshot.hostEndpoints).toHaveLength(4);
    expect(snapshot.policies).toHaveLength(60);
    expect(snapshot.tiers.map((t) => t.name)).toEqual(expect.arrayContaining(['security', 'platform']));
  });

  it('puts exactly localEndpoints pods on the local node, and unique addresses on every pod', () => {
    const c = generateCluster(small);
    expect(c.pods.filter((p) => (p.spec as { nodeName: string }).nodeName === 'me')).toHaveLength(25);
    const ips = c.pods.map((p) => (p.status as { podIP: string }).podIP);
    expect(new Set(ips).size).toBe(ips.length);
  });

  it('writes Pass and Deny rules in several tiers', () => {
    const json = JSON.stringify(generateCluster(small).policies);
    expect(json).toContain('"action":"Pass"');
    expect(json).toContain('"action":"Deny"');
  });
});

describe('arbitraries', () => {
  it('generate only valid resources', () => {
    for (const cluster of fc.sample(arbCluster, { numRuns: 60, seed: 11 })) {
      for (const r of cluster) expect({ r, issues: validateResource(r).filter((i) => i.severity === 'error') }).toEqual({ r, issues: [] });
    }
    for (const ops of fc.sample(arbUpdateStream, { numRuns: 30, seed: 12 })) {
      for (const o of ops) if (o.op === 'upsert') expect(validateResource(o.resource).filter((i) => i.severity === 'error')).toEqual([]);
    }
  });
});
