/**
 * Generators for the differential property: small random Calico policy sets over the fixed
 * three-pod world (tiers with Pass and Deny defaults, orders with ties, Allow/Deny/Pass/Log,
 * selectors, nets/notNets, port lists and ranges) and TCP flows between the pods.
 */
import fc from 'fast-check';
import { TCP_PORTS, WORLD_PODS } from './cases.js';

const SELECTORS = ["app == 'web'", "app == 'db'", "app == 'client'", 'all()', "app in {'web', 'db'}", "!has(app)"];
const NETS = ['10.65.0.11/32', '10.65.0.12/32', '10.65.0.13/32', '10.65.0.0/24', '10.0.0.0/8', '192.168.0.0/16'];
const PORTS: (number | string)[] = [80, 443, 8080, 9005, '9000:9010', '1:100'];

const side = fc.record(
  {
    selector: fc.constantFrom(...SELECTORS),
    notSelector: fc.constantFrom(...SELECTORS),
    nets: fc.uniqueArray(fc.constantFrom(...NETS), { minLength: 1, maxLength: 2 }),
    notNets: fc.uniqueArray(fc.constantFrom(...NETS), { minLength: 1, maxLength: 2 }),
  },
  { requiredKeys: [] },
);

const rule = fc
  .record({
    action: fc.constantFrom('Allow', 'Deny', 'Pass', 'Log'),
    source: side,
    destination: side,
    ports: fc.option(fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 1, maxLength: 3 }), { nil: undefined }),
    notPorts: fc.option(fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  })
  .map((r) => {
    const destination: Record<string, unknown> = { ...r.destination };
    const out: Record<string, unknown> = { action: r.action, source: r.source, destination };
    if (r.ports) destination.ports = r.ports;
    if (r.notPorts) destination.notPorts = r.notPorts;
    if (r.ports || r.notPorts) out.protocol = 'TCP';
    return out;
  });

const policy = fc.record({
  tier: fc.constantFrom('default', 'pass', 'deny'),
  order: fc.option(fc.constantFrom(1, 2, 3), { nil: undefined }),
  selector: fc.constantFrom(...SELECTORS),
  types: fc.constantFrom<readonly string[]>(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
  ingress: fc.array(rule, { maxLength: 2 }),
  egress: fc.array(rule, { maxLength: 2 }),
});

/** Manifests (JSON documents, which YAML accepts) for 1–3 random policies plus the two extra tiers. */
export const policySet = fc.array(policy, { minLength: 1, maxLength: 3 }).map((ps) => {
  const docs: unknown[] = [
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'pass' }, spec: { order: 100, defaultAction: 'Pass' } },
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'deny' }, spec: { order: 200, defaultAction: 'Deny' } },
  ];
  ps.forEach((p, i) => {
    const name = p.tier === 'default' ? `p${i}` : `${p.tier}.p${i}`;
    docs.push({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name },
      spec: {
        tier: p.tier,
        ...(p.order !== undefined ? { order: p.order } : {}),
        selector: p.selector,
        types: p.types,
        ...(p.types.includes('Ingress') ? { ingress: p.ingress } : {}),
        ...(p.types.includes('Egress') ? { egress: p.egress } : {}),
      },
    });
  });
  return docs.map((d) => JSON.stringify(d)).join('\n---\n');
});

const podIds = WORLD_PODS.map((p) => `${p.namespace}/${p.name}`);

export const flows = fc.uniqueArray(
  fc.record({ from: fc.constantFrom(...podIds), to: fc.constantFrom(...podIds), port: fc.constantFrom(...TCP_PORTS) }).filter((f) => f.from !== f.to),
  { minLength: 3, maxLength: 5, selector: (f) => `${f.from}>${f.to}:${f.port}` },
);
