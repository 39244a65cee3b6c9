import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { makeUniqueId } from '../hash/index.js';
import { parseSelector } from '../selector/index.js';
import { RecordingDataplane, type DataplaneMessage } from '../dataplane/index.js';
import { createEngine, namedPortSetId } from './index.js';

const ns = (name: string, labels: Record<string, string> = {}): Resource => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const pod = (name: string, labels: Record<string, string>, ip: string, node = 'n1', namespace = 'default'): Resource =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { nodeName: node, containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: 'Running', podIP: ip },
  }) as Resource;
const gnp = (name: string, spec: Record<string, unknown>): Resource => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec });

function setup(node?: string) {
  const dp = new RecordingDataplane();
  const engine = createEngine({ dataplane: dp, ...(node !== undefined ? { node } : {}) });
  return { dp, engine };
}

const kinds = (batch: readonly DataplaneMessage[]) => batch.map((m) => m.kind);

describe('Engine', () => {
  it('accepts policies before tiers and pods before namespaces, and ends in sync on the first flush', () => {
    const { dp, engine } = setup('n1');
    engine.upsert(gnp('sec.deny-web', { tier: 'sec', order: 1, selector: "app == 'web'", ingress: [{ action: 'Deny', source: { selector: "app == 'db'" } }] }));
    engine.upsert(pod('web', { app: 'web' }, '10.0.0.1'));
    engine.upsert(pod('db', { app: 'db' }, '10.0.0.2', 'n2'));
    engine.upsert({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'sec' }, spec: { order: 10, defaultAction: 'Pass' } });
    engine.upsert(ns('default'));
    engine.flush();
    expect(dp.violations).toEqual([]);
    expect(dp.state.inSync).toBe(true);
    const web = dp.state.workloadEndpoints.get('default/web')!;
    expect(web.ingressTiers).toEqual([{ name: 'sec', defaultAction: 'Pass', policyIds: ['gnp/sec.deny-web'] }]);
    expect(web.profileIds).toEqual(['kns.default', 'ksa.default.default']);
    const setId = parseSelector("app == 'db'").uniqueId;
    expect([...dp.state.ipSets.get(setId)!.members]).toEqual(['10.0.0.2/32']);
    // Remote endpoints are IP set members but never endpoints of this host.
    expect(dp.state.workloadEndpoints.has('default/db')).toBe(false);
    engine.flush();
    expect(dp.batches).toHaveLength(1);
  });

  it('adds before referencing and unreferences before deleting when a policy switches selectors', () => {
    const { dp, engine } = setup();
    engine.upsert(pod('web', { app: 'web' }, '10.0.0.1'));
    engine.upsert(pod('a', { role: 'a' }, '10.0.0.2'));
    engine.upsert(pod('b', { role: 'b' }, '10.0.0.3'));
    engine.upsert(gnp('p', { selector: "app == 'web'", ingress: [{ action: 'Allow', source: { selector: "role == 'a'" } }] }));
    engine.flush();
    engine.upsert(gnp('p', { selector: "app == 'web'", ingress: [{ action: 'Allow', source: { selector: "role == 'b'" } }] }));
    engine.upsert(gnp('q', { selector: "role == 'a'", ingress: [{ action: 'Deny' }] }));
    engine.flush();
    const batch = dp.batches[1]!;
    expect(kinds(batch)).toEqual(['ipset-replace', 'policy-upsert', 'policy-upsert', 'workload-endpoint-upsert', 'ipset-delete']);
    engine.delete('GlobalNetworkPolicy', '', 'q');
    engine.flush();
    expect(kinds(dp.batches[2]!)).toEqual(['workload-endpoint-upsert', 'policy-remove']);
    expect(dp.violations).toEqual([]);
  });

  it('shares one IP set between equal selectors spelled differently', () => {
    const { dp, engine } = setup();
    engine.upsert(pod('web', { app: 'web' }, '10.0.0.1'));
    engine.upsert(gnp('p1', { selector: 'all()', ingress: [{ action: 'Allow', source: { selector: "app=='x'&&tier=='y'" } }] }));
    engine.upsert(gnp('p2', { selector: 'all()', ingress: [{ action: 'Allow', source: { selector: 'app == "x"   &&  tier == "y"' } }] }));
    engine.flush();
    const ids = [...dp.state.policies.values()].map((p) => p.ingress[0]!.source.ipSetId);
    expect(ids[0]).toBeDefined();
    expect(new Set(ids).size).toBe(1);
    expect(dp.state.ipSets.size).toBe(1);
  });

  it("names named-port sets makeUniqueId('n', '<selectorId>,<proto>,<name>') and fills them with address,proto:port", () => {
    const { dp, engine } = setup();
    engine.upsert(pod('web', { app: 'web' }, '10.0.0.1'));
    engine.upsert(gnp('p', { selector: 'all()', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: "app == 'web'", ports: ['http'] } }] }));
    engine.flush();
    const sel = parseSelector("app == 'web'").uniqueId;
    const id = namedPortSetId(sel, 6, 'http');
    expect(id).toBe(makeUniqueId('n', `${sel},tcp,http`));
    expect(dp.state.ipSets.get(id)).toEqual({ type: 'net-port-proto', members: new Set(['10.0.0.1/32,tcp:8080']) });
  });

  it('a label change evaluates only the selectors filed under the old or new labels', () => {
    const { dp, engine } = setup('n1');
    for (let i = 0; i < 1000; i++) {
      engine.upsert(gnp(`p${i}`, { selector: `app == 'app-${i}'`, ingress: [{ action: 'Allow', source: { selector: `peer == 'p-${i}'` } }] }));
    }
    for (let i = 0; i < 200; i++) engine.upsert(pod(`pod${i}`, { app: `app-${i}`, peer: `p-${i}` }, `10.0.${i >> 8}.${i & 255}`));
    engine.flush();
    const before = engine.state().selectorEvaluations;
    engine.upsert(pod('pod7', { app: 'app-8', peer: 'p-9' }, '10.0.0.7'));
    engine.flush();
    expect(engine.state().selectorEvaluations - before).toBeLessThan(10);
    const ep = dp.state.workloadEndpoints.get('default/pod7')!;
    expect(ep.ingressTiers[0]!.policyIds).toEqual(['gnp/p8']);
    expect(dp.state.ipSets.get(parseSelector("peer == 'p-9'").uniqueId)!.members).toEqual(new Set(['10.0.0.7/32', '10.0.0.9/32']));
    expect(dp.violations).toEqual([]);
  });

  it('namespace labels reach endpoints through profile inheritance', () => {
    const { dp, engine } = setup();
    engine.upsert(ns('shop', { team: 'red' }));
    engine.upsert(pod('a', {}, '10.0.0.1', 'n1', 'shop'));
    engine.upsert(gnp('p', { selector: 'all()', namespaceSelector: "team == 'red'", ingress: [{ action: 'Deny' }] }));
    engine.flush();
    expect(dp.state.workloadEndpoints.get('shop/a')!.ingressTiers).toHaveLength(1);
    engine.upsert(ns('shop', { team: 'blue' }));
    engine.flush();
    expect(dp.state.workloadEndpoints.get('shop/a')!.ingressTiers).toEqual([]);
    expect(dp.state.policies.size).toBe(0);
    expect(dp.violations).toEqual([]);
  });

  it('binds host endpoints by interface name, all interfaces, or expected IPs, and sends host metadata', () => {
    const { dp, engine } = setup('n1');
    const hep = (name: string, iface?: string): Resource => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name, labels: { host: 'yes' } },
      spec: { node: 'n1', expectedIPs: ['172.16.0.1'], ...(iface ? { interfaceName: iface } : {}) },
    });
    engine.upsert(hep('eth', 'eth0'));
    engine.upsert(hep('all', '*'));
    engine.upsert(hep('ips'));
    engine.upsert({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '172.16.0.1' }] } } as Resource);
    engine.flush();
    expect(dp.state.hostEndpoints.get('eth')!.binding).toEqual({ kind: 'interface', interfaceName: 'eth0' });
    expect(dp.state.hostEndpoints.get('all')!.binding).toEqual({ kind: 'all-interfaces' });
    expect(dp.state.hostEndpoints.get('ips')!.binding).toEqual({ kind: 'expected-ips' });
    expect(dp.state.hostEndpoints.get('eth')!.failsafeInbound.length).toBeGreaterThan(0);
    expect(dp.state.hosts.get('n1')!.addresses).toEqual(['172.16.0.1']);
  });

  it('deleting everything leaves no IP sets, policies, profiles or endpoints', () => {
    const { dp, engine } = setup();
    const rs = [ns('default'), pod('a', { app: 'a' }, '10.0.0.1'), gnp('p', { selector: 'all()', ingress: [{ action: 'Allow', source: { selector: "app == 'a'" } }] })];
    for (const r of rs) engine.upsert(r);
    engine.flush();
    for (const r of rs) engine.delete(r.kind, r.metadata.namespace ?? '', r.metadata.name);
    engine.flush();
    expect(dp.violations).toEqual([]);
    expect([dp.state.ipSets.size, dp.state.policies.size, dp.state.profiles.size, dp.state.workloadEndpoints.size]).toEqual([0, 0, 0, 0]);
  });
});
