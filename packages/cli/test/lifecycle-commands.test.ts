// gingham preview and gingham recommend on the quick-start example and its recorded flow log
// (examples/lifecycle): a staged Delete and a staged Set previewed with the deciding steps;
// a recommendation printed as YAML that lints, checked against the flows it came from, rerun
// into Stabilizing and Stable, with what it closes; gingham graph and gingham report; bad records
// named by file:line; usage mistakes exit 2.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './run-cli.js';

const quickstart = new URL('../../../examples/quickstart', import.meta.url).pathname;
const lifecycle = new URL('../../../examples/lifecycle/', import.meta.url).pathname;
const flows = `${lifecycle}flow-log.jsonl`;
const staged = `${lifecycle}staged-changes.yaml`;
const scratch = mkdtempSync(join(tmpdir(), 'gingham-lifecycle-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('gingham preview', () => {
  it('names what the staged Delete and Set would close, with the deciding step now and staged', async () => {
    const r = await run(['preview', '-f', quickstart, '-f', staged, '--flows', flows]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^579 record\(s\) from 1 file\(s\): 32 changed \(32 closed, 0 opened\), 0 uncertain, 547 unchanged, 0 unresolved/);
    expect(r.out).toContain(['  shop/backend-* -> private network  UDP 53  (source egress)  12 record(s), 12 connection(s)', '    now:    allow: policy knp/shop/allow-dns rule 1 in tier default', '    staged: deny: end of tier default: no policy allowed the traffic (default action Deny)'].join('\n'));
    expect(r.out).toContain('monitoring/prometheus-* -> public network  TCP 443  (source egress)');
  });

  it('--fail-on closed fails a CI job; --json has every group; --jsonl one line a record', async () => {
    expect((await run(['preview', '-f', quickstart, '-f', staged, '--flows', flows, '--fail-on', 'closed'])).code).toBe(1);
    const json = await run(['preview', '-f', quickstart, '-f', staged, '--flows', flows, '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ records: 579, closed: 32, staged: true, groups: expect.arrayContaining([expect.objectContaining({ from: 'shop/frontend-*', to: 'private network', port: 53 })]) });
    const lines = (await run(['preview', '-f', quickstart, '-f', staged, '--flows', flows, '--jsonl'])).out.trim().split('\n');
    expect(lines).toHaveLength(579);
    expect(JSON.parse(lines[0]!)).toMatchObject({ reporter: 'dst', outcome: 'unchanged' });
  });

  it('without staged policies nothing changes, and it says so', async () => {
    const r = await run(['preview', '-f', quickstart, '--flows', flows]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('the manifests have no staged policy');
  });

  it('a bad record is named by file:line and the rest is still previewed (exit 1)', async () => {
    const lines = readFileSync(flows, 'utf8').split('\n').slice(0, 5);
    lines.splice(2, 0, '{"source_name":"x","reporter":"fwd"}');
    const path = join(scratch, 'bad.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const r = await run(['preview', '-f', quickstart, '--flows', path]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^5 record\(s\)/);
    expect(r.err).toContain(`${path}:3:1: `);
    expect(r.err).toContain('1 bad record(s) were left out');
  });

  it('usage mistakes exit 2 with a pointer to --help', async () => {
    const r = await run(['preview', '-f', quickstart]);
    expect(r).toMatchObject({ code: 2 });
    expect(r.err).toContain("run 'gingham preview --help' for usage");
    expect((await run(['preview', '-f', quickstart, '--flows', flows, '--fail-on', 'maybe'])).code).toBe(2);
  });
});

describe('gingham recommend', () => {
  it('prints namespace-isolation policies for the unprotected namespace as YAML that lints, and checks them', async () => {
    const r = await run(['recommend', '-f', quickstart, '--flows', flows]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('kind: Tier\nmetadata:\n  name: namespace-isolation');
    expect(r.out).toContain('kind: StagedNetworkPolicy');
    expect(r.out).toContain("selector: projectcalico.org/namespace == 'monitoring'");
    expect(r.err).toContain('monitoring: Learning (rules changed), 3 egress and 1 ingress rule(s)');
    expect(r.err).toMatch(/check: enforced, the recommendations keep all (\d+) of \1 observed allowed flow\(s\)/);
    expect(r.err).toMatch(/closes: 33 set\(s\) of flows no record shows \(84 peer pair\(s\); exact, by gingham diff\)\n  monitoring\/prometheus -> outside  /);
    // The policies and the check come before the closure (a whole-cluster diff: slow on large clusters).
    expect(r.err.indexOf('check: enforced')).toBeLessThan(r.err.indexOf('measuring what the recommendations close'));
    expect(r.err.indexOf('measuring what the recommendations close')).toBeLessThan(r.err.indexOf('closes:'));
    const path = join(scratch, 'recs.yaml');
    writeFileSync(path, r.out);
    expect((await run(['lint', '-f', quickstart, '-f', path])).code).toBe(0);
  });

  it('--no-closure skips the whole-cluster diff (large clusters), the check still runs', async () => {
    const r = await run(['recommend', '-f', quickstart, '--flows', flows, '--no-closure']);
    expect(r.code).toBe(0);
    expect(r.err).toContain('check: enforced');
    expect(r.err).not.toContain('closes:');
  });

  it('staged as Set, preview shows it closes none of the recorded flows', async () => {
    const path = join(scratch, 'recs-set.yaml');
    expect((await run(['recommend', '-f', quickstart, '--flows', flows, '--staged-action', 'Set', '-o', path])).code).toBe(0);
    const r = await run(['preview', '-f', quickstart, '-f', path, '--flows', flows]);
    expect(r.out).toMatch(/: 0 changed \(0 closed, 0 opened\), 0 uncertain, 579 unchanged/);
    expect(r.out).toContain('no recorded flow changes');
  });

  it('rerun with its own output: Learning, then Stabilizing, then Stable', async () => {
    const first = join(scratch, 'first.yaml');
    await run(['recommend', '-f', quickstart, '--flows', flows, '-o', first]);
    const status = async (now: string) => {
      const r = await run(['recommend', '-f', quickstart, '-f', first, '--flows', flows, '--now', now, '--json']);
      return (JSON.parse(r.out) as { recommendations: { status: string }[] }).recommendations[0]!.status;
    };
    expect(await status('2025-12-07T01:00:00Z')).toBe('Learning');
    expect(await status('2025-12-07T01:05:00Z')).toBe('Stabilizing');
    expect(await status('2025-12-07T01:30:00Z')).toBe('Stable');
  });

  it('refuses to recommend from part of the traffic when a record is bad', async () => {
    const path = join(scratch, 'broken.jsonl');
    writeFileSync(path, `${readFileSync(flows, 'utf8').split('\n')[0]}\n{not json\n`);
    const r = await run(['recommend', '-f', quickstart, '--flows', path]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('refusing to recommend from part of the traffic');
    expect((await run(['recommend', '-f', quickstart, '--flows', flows, '--interval', 'soon'])).code).toBe(2);
  });
});

describe('gingham graph', () => {
  it('writes the picture as SVG and the graph as JSON, and names the denied edges', async () => {
    const svg = join(scratch, 'graph.svg');
    const r = await run(['graph', '--flows', flows, '-o', svg]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('579 record(s): 9 node(s), 13 edge(s), 2 with denied traffic');
    expect(r.out).toContain('  denied: frontend-* -> db-*  TCP 5432  (2 at source, 0 at destination)');
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(text.match(/data-edge="/g)).toHaveLength(13);
    const json = await run(['graph', '--flows', flows, '--json', '--view', 'namespaces']);
    expect(JSON.parse(json.out)).toMatchObject({ view: 'namespaces', records: 579 });
  });

  it('with -f, quiet pods appear too; names are escaped in the page', async () => {
    const lines = readFileSync(flows, 'utf8').split('\n').slice(0, 1);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    const path = join(scratch, 'odd.jsonl');
    writeFileSync(path, `${JSON.stringify({ ...record, source_name: '<script>alert(1)</script>', source_type: 'ns' })}\n`);
    const html = join(scratch, 'odd.html');
    expect((await run(['graph', '-f', quickstart, '--flows', path, '-o', html])).code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('data-node="workload/monitoring/prometheus-*"');
  });

  it('says what to write when -o is missing (exit 2)', async () => {
    const r = await run(['graph', '--flows', flows]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('-o FILE is required');
  });
});

describe('gingham report', () => {
  it('network-access: protection, exposure with an allowed example flow, and the peers the flow log saw', async () => {
    const html = join(scratch, 'report.html');
    const r = await run(['report', 'network-access', '-f', quickstart, '--flows', flows, '-o', html]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^network-access report: 4 endpoint\(s\) in 2 namespace\(s\)\n  ingress protected: 4\/4 endpoints, 2\/2 namespaces/);
    expect(r.out).toContain('reachable from the internet: 2, reach the internet: 4');
    expect(r.out).toContain('  shop/frontend-0: 203.0.113.10 -> shop/frontend-0 TCP 8080');
    expect(r.out).toMatch(/shop\/db-0 +protected +protected +5 +no +yes +yes +yes +3/);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<title>Gingham network-access report</title>');
    expect(page).toContain('workload/monitoring/prometheus-*');
    expect(page).not.toMatch(/<script|https?:\/\//);
  });

  it('--json for machines: the summary in Calico\'s column names and a witness per exposure', async () => {
    const r = await run(['report', 'network-access', '-f', quickstart, '--flows', flows, '--json']);
    const report = JSON.parse(r.out);
    expect(report.summary).toMatchObject({ endpointsNumInScope: 4, endpointsNumIngressFromInternet: 2, endpointsNumIngressProtected: 4 });
    const db = report.endpoints.find((e: { endpoint: string }) => e.endpoint === 'shop/db-0');
    expect(db.trafficFrom).toContainEqual({ peer: 'workload/shop/frontend-*', allowed: 0, denied: expect.any(Number) });
    expect(db.witnesses.ingressFromOtherNamespace).toMatchObject({ src: 'monitoring/prometheus-0', dst: 'shop/db-0' });
  });

  it('inventory scoped by namespace and selector; no flows, no traffic columns', async () => {
    const json = join(scratch, 'inventory.json');
    const r = await run(['report', 'inventory', '-f', quickstart, '--namespace', 'shop', '--selector', "app != 'db'", '-o', json]);
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.endpoints.map((e: { endpoint: string }) => e.endpoint)).toEqual(['shop/backend-0', 'shop/frontend-0']);
    expect(report.endpoints[0]).not.toHaveProperty('trafficFrom');
    expect(report.endpoints[0]).not.toHaveProperty('ingressFromInternet');
  });

  it('a pod no policy selects is UNPROTECTED, and the next step is named', async () => {
    const pod = join(scratch, 'lonely.yaml');
    writeFileSync(pod, ['apiVersion: v1', 'kind: Namespace', 'metadata: { name: lab }', '---', 'apiVersion: v1', 'kind: Pod', 'metadata: { name: lonely-0, namespace: lab }', 'spec: { nodeName: node-1 }', 'status: { podIP: 10.65.9.9 }', ''].join('\n'));
    const r = await run(['report', 'inventory', '-f', pod]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/lab\/lonely-0 +UNPROTECTED +UNPROTECTED +0/);
    expect(r.out).toContain('next: 1 endpoint(s) rely on profiles alone');
  });

  it('usage mistakes exit 2 with a pointer to --help', async () => {
    for (const args of [['report'], ['report', 'audit', '-f', quickstart], ['report', 'inventory'], ['report', 'inventory', '-f', quickstart, '-o', 'x.txt'], ['report', 'inventory', '-f', quickstart, '--selector', 'app ==']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain("gingham report --help");
    }
  });
});
