import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Resource } from '../model/resources.js';
import { buildSnapshot } from '../convert/index.js';
import { reachability } from './reachability.js';
import { formatReachability } from './report.js';

const dir = fileURLToPath(new URL('../../../../examples/quickstart/', import.meta.url));
const resources: Resource[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) => parseAllDocuments(readFileSync(`${dir}${f}`, 'utf8')).map((d) => d.toJSON() as Resource))
  .filter((r) => r !== null);
const { snapshot } = buildSnapshot(resources);

const summary = (r: ReturnType<typeof reachability>): string[] =>
  r.paths.map((p) => `${[...p.from.endpoints, ...p.from.outside].join(',')} -> ${[...p.to.endpoints, ...p.to.outside].join(',')} ${p.protocol.name} ${(p.dstPorts ?? []).map((x) => (x.from === x.to ? x.from : `${x.from}-${x.to}`)).join(',')}`);

describe('reachability on the quick start', () => {
  it('the database accepts the backend on 5432 and Prometheus on 9090, nothing else', () => {
    const r = reachability(snapshot, { from: { namespace: ['shop', 'monitoring'] }, to: { endpoints: ['shop/db-0'] } });
    expect(summary(r)).toEqual(['monitoring/prometheus-0 -> shop/db-0 TCP 9090', 'shop/backend-0 -> shop/db-0 TCP 5432']);
    expect(r.paths[1]!.verdict.ingress).toMatchObject({ policyId: 'knp/shop/db', ruleIndex: 0 });
  });

  it('proves there is no path from the frontend to the database, on any protocol or port', () => {
    const r = reachability(snapshot, { from: "app == 'frontend'", to: "app == 'db'" });
    expect(r).toMatchObject({ reachable: false, paths: [], matched: { from: 2, to: 2 } });
    expect(formatReachability(r)).toBe('no path: no flow from the 2 source peer(s) to the 2 destination peer(s) is allowed');
  });

  it('shop pods reach outside addresses only on DNS, never the metadata service', () => {
    const r = reachability(snapshot, { from: { namespace: 'shop' }, to: { outside: ['0.0.0.0/0'] } });
    expect(r.reachable).toBe(true);
    for (const p of r.paths) {
      expect(p.dstPorts).toEqual([{ from: 53, to: 53 }]);
      expect(p.to.outside).not.toContain('0.0.0.0/0');
    }
    expect(r.paths.flatMap((p) => p.to.outside)).toContain('169.254.169.255/32');
    const metadata = reachability(snapshot, { from: { namespace: 'shop' }, to: { outside: ['169.254.169.254/32'] } });
    expect(metadata.reachable).toBe(false);
  });

  it('limits the question to ports and protocols', () => {
    const r = reachability(snapshot, { from: { namespace: 'monitoring' }, to: { namespace: 'shop' }, ports: [{ protocol: 'TCP', port: 9000, endPort: 9100 }] });
    expect(summary(r)).toEqual(['monitoring/prometheus-0 -> shop/backend-0,shop/db-0,shop/frontend-0 TCP 9090']);
    expect(reachability(snapshot, { from: { namespace: 'monitoring' }, to: { namespace: 'shop' }, ports: [{ protocol: 'UDP' }] }).reachable).toBe(false);
  });

  it('rejects malformed questions with a typed error', () => {
    expect(() => reachability(snapshot, { from: 'app ==', to: 'all()' })).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
    expect(() => reachability(snapshot, { from: 'all()', to: { outside: ['10.0.0.0/33'] } })).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
    expect(() => reachability(snapshot, { from: 'all()', to: 'all()', ports: [{ protocol: 'ICMP', port: 8 }] })).toThrow(/has no ports/);
    expect(() => reachability(snapshot, { from: { endpoints: ['shop/nope'] }, to: 'all()' })).toThrow(expect.objectContaining({ code: 'UNKNOWN_PEER' }));
  });
});
