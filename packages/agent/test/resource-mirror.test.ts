/**
 * The resources behind the flow collector's snapshot: upserts and deletes as the Engine takes
 * them (the Calico and Kubernetes kinds of one name kept apart), and a snapshot that is the same
 * object until something changed.
 */
import type { Resource } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { ResourceMirror } from '@gingham/agent';

const pod = (name: string, app: string, ip: string): Resource => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app } },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] },
  status: { podIP: ip },
});
const knp: Resource = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'db', namespace: 'shop' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
const cnp: Resource = { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'db', namespace: 'shop' }, spec: { selector: 'all()', types: ['Ingress'] } };

describe('ResourceMirror', () => {
  it('rebuilds the snapshot only after a change, once', () => {
    const m = new ResourceMirror();
    m.onMessages([{ kind: 'resync-started' }, { kind: 'upsert', resource: pod('web-0', 'web', '10.0.0.1') }, { kind: 'in-sync' }]);
    const first = m.snapshot();
    expect(first.workloadEndpoints.length).toBe(1);
    expect(m.snapshot()).toBe(first);
    expect(m.stats()).toMatchObject({ builds: 1, resources: 1 });
    m.onMessages([{ kind: 'upsert', resource: pod('web-0', 'frontend', '10.0.0.1') }, { kind: 'upsert', resource: pod('db-0', 'db', '10.0.0.2') }]);
    const second = m.snapshot();
    expect(second).not.toBe(first);
    expect(m.snapshot()).toBe(second);
    expect(m.stats().builds).toBe(2);
    expect(second.workloadEndpoints.map((w) => w.labels['app']).sort()).toEqual(['db', 'frontend']);
  });

  it('keeps the Calico and Kubernetes kinds of one name apart, and ignores deletes of what it does not hold', () => {
    const m = new ResourceMirror();
    m.onMessages([{ kind: 'upsert', resource: knp }, { kind: 'upsert', resource: cnp }]);
    expect(m.size).toBe(2);
    m.snapshot();
    m.onMessages([{ kind: 'delete', key: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'shop', name: 'db' } }]);
    expect(m.size).toBe(1);
    const s = m.snapshot();
    expect(m.stats().builds).toBe(2);
    m.onMessages([{ kind: 'delete', key: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'nobody' } }]);
    expect(m.snapshot()).toBe(s);
  });
});
