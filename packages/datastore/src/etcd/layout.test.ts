import { SUPPORTED_KINDS, type Resource } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { KINDS, resolveKind } from '../kinds.js';
import { decodeKeyValue, encodeValue, etcdKey, parseEtcdKey } from './layout.js';

const P = '/calico/resources/v3/projectcalico.org';
const info = (kind: string) => KINDS.find((k) => k.apiVersion === 'projectcalico.org/v3' && k.kind === kind)!;

describe("Calico's etcd layout", () => {
  it('holds every kind core reads, and agrees with core on which are namespaced', () => {
    for (const c of SUPPORTED_KINDS) expect(KINDS.some((k) => k.apiVersion === c.apiVersion && k.kind === c.kind), `${c.apiVersion} ${c.kind}`).toBe(true);
    for (const k of KINDS.filter((x) => !x.initOnly)) {
      const c = SUPPORTED_KINDS.find((s) => s.apiVersion === k.apiVersion && s.kind === k.kind);
      expect(c, `${k.apiVersion} ${k.kind}`).toBeDefined();
      expect(c!.namespaced, `${k.kind}`).toBe(k.namespaced);
    }
  });

  it('puts namespaced kinds under <plural>/<namespace>/<name> and the rest under <plural>/<name>', () => {
    expect(etcdKey(info('NetworkPolicy'), { namespace: 'shop', name: 'web' })).toBe(`${P}/networkpolicies/shop/web`);
    expect(etcdKey(info('StagedKubernetesNetworkPolicy'), { namespace: 'a', name: 'b' })).toBe(`${P}/stagedkubernetesnetworkpolicies/a/b`);
    expect(etcdKey(info('WorkloadEndpoint'), { namespace: 'openstack', name: 'h-openstack-w-e' })).toBe(`${P}/workloadendpoints/openstack/h-openstack-w-e`);
    expect(etcdKey(info('NetworkSet'), { name: 'n' })).toBe(`${P}/networksets/default/n`);
    expect(etcdKey(info('GlobalNetworkSet'), { name: 'g' })).toBe(`${P}/globalnetworksets/g`);
    expect(etcdKey(info('HostEndpoint'), { name: 'eth0' })).toBe(`${P}/hostendpoints/eth0`);
    expect(parseEtcdKey(`${P}/networkpolicies/shop/web`)).toMatchObject({ namespace: 'shop', name: 'web', info: { kind: 'NetworkPolicy' } });
    // Wrong depth for the kind, unknown kinds, other trees: not ours.
    expect(parseEtcdKey(`${P}/networkpolicies/web`)).toBeUndefined();
    expect(parseEtcdKey(`${P}/globalnetworkpolicies/a/b`)).toBeUndefined();
    expect(parseEtcdKey(`${P}/felixconfigurations/default`)).toBeUndefined();
    expect(parseEtcdKey('/calico/ipam/v2/handle/x')).toBeUndefined();
  });

  it('encodes as libcalico-go does and decodes back to the same resource with resourceVersion = mod_revision', () => {
    const r: Resource = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'p', labels: { a: 'b' }, resourceVersion: '7', selfLink: '/x' } as Resource['metadata'],
      spec: { selector: 'all()', ingress: [{ action: 'Allow' }] },
    };
    const text = encodeValue(r, info('GlobalNetworkPolicy'));
    expect(JSON.parse(text)).toEqual({
      kind: 'GlobalNetworkPolicy',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'p', labels: { a: 'b' }, annotations: { 'projectcalico.org/metadata': '{"name":"p"}' } },
      spec: { selector: 'all()', ingress: [{ action: 'Allow' }] },
    });
    const d = decodeKeyValue(`${P}/globalnetworkpolicies/p`, text, '42');
    expect(d).toMatchObject({ kind: 'resource', resource: { metadata: { name: 'p', labels: { a: 'b' }, resourceVersion: '42' } } });
    expect((d as { resource: Resource }).resource.metadata.annotations).toBeUndefined();
  });

  it("restores policy names as determinePolicyName: the annotation first, else strip default. in the default tier", () => {
    const value = (name: string, tier?: string, annotation?: string) =>
      JSON.stringify({ metadata: { name, ...(annotation ? { annotations: { 'projectcalico.org/metadata': annotation, keep: 'me' } } : {}) }, spec: { ...(tier ? { tier } : {}), selector: 'all()' } });
    const name = (key: string, v: string) => {
      const d = decodeKeyValue(`${P}/globalnetworkpolicies/${key}`, v, '1');
      return d.kind === 'resource' ? d.resource.metadata.name : d.kind;
    };
    expect(name('default.web', value('default.web'))).toBe('web');
    expect(name('default.web', value('default.web', 'default'))).toBe('web');
    expect(name('sec.web', value('sec.web', 'sec'))).toBe('sec.web');
    expect(name('web', value('web', undefined, '{"name":"web"}'))).toBe('web');
    expect(name('default.web', value('default.web', undefined, '{"name":"default.web"}'))).toBe('default.web');
    const kept = decodeKeyValue(`${P}/globalnetworkpolicies/web`, value('web', undefined, '{"name":"web"}'), '1');
    expect((kept as { resource: Resource }).resource.metadata.annotations).toEqual({ keep: 'me' });
  });

  it('lets the key decide kind, namespace and name; reports values that do not fit', () => {
    const d = decodeKeyValue(`${P}/networksets/ns1/set1`, JSON.stringify({ kind: 'Whatever', metadata: { namespace: 'other' }, spec: { nets: ['10.0.0.0/8'] } }), '3');
    expect(d).toMatchObject({ kind: 'resource', resource: { apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet', metadata: { name: 'set1', namespace: 'ns1' } } });
    expect(decodeKeyValue(`${P}/networksets/ns1/set1`, JSON.stringify({ metadata: { name: 'other' } }), '3')).toMatchObject({ kind: 'invalid', message: expect.stringContaining('does not match') });
    expect(decodeKeyValue(`${P}/networksets/ns1/set1`, '[1]', '3')).toMatchObject({ kind: 'invalid' });
    expect(decodeKeyValue(`${P}/ippools/p`, '{', '3')).toEqual({ kind: 'ignored' });
  });

  it('resolves kinds as calicoctl spells them', () => {
    for (const [text, kind] of [
      ['pol', 'NetworkPolicy'],
      ['NetworkPolicies', 'NetworkPolicy'],
      ['networkpolicy.projectcalico.org', 'NetworkPolicy'],
      ['gnp', 'GlobalNetworkPolicy'],
      ['heps', 'HostEndpoint'],
      ['wep', 'WorkloadEndpoint'],
      ['gnetsets', 'GlobalNetworkSet'],
      ['clusterinfo', 'ClusterInformation'],
      ['sknp', 'StagedKubernetesNetworkPolicy'],
      ['nodes', 'Node'],
    ] as const) {
      expect(resolveKind(text)?.kind, text).toBe(kind);
    }
    expect(resolveKind('networkpolicies.networking.k8s.io')?.apiVersion).toBe('networking.k8s.io/v1');
    expect(resolveKind('felixconfiguration')).toBeUndefined();
  });
});
